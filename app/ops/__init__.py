"""Operations on a whole install: backup and restore.

This package sits above the domains (it may import them); nothing imports it except
the command line.
"""
