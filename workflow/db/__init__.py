"""The database: SQLAlchemy models, the engine and start-up lock, Alembic migrations."""
