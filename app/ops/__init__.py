"""Operations on a whole install, run from the command line (backup, restore, ...).

This package sits above the domains (it may import them); nothing imports it except
the command line.
"""
