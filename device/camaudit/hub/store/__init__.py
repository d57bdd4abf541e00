"""The hub store: HubStore (SQLite or PostgreSQL through one SQL port, sql.py), its schema and migrations."""
