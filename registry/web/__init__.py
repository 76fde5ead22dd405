"""Server-rendered pages, Chinese first."""
