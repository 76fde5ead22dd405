"""Use cases: one function each, reading top to bottom: load, check, append, project, commit."""
