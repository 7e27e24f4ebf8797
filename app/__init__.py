"""Curator: self-hosted curation of image training sets."""
