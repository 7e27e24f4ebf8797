"""Imports: uploads, zips, folders and labels files into a project, at once or as a job.

Sits above images, taxonomy and labeling: it stores images, creates categories and writes
imported labels as annotations.
"""
