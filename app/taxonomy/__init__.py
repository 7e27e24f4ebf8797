"""The category tree of a project: names, guidelines, colors and keyboard shortcuts."""
