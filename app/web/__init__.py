"""HTTP plumbing shared by every domain: templates, CSRF, flash messages, errors."""
