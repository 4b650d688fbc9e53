"""Alembic migrations of the server's database (``fl.migrate`` runs them)."""
