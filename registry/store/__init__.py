"""Storage: SQLAlchemy models, the append-only log, projections and the unit of work."""
