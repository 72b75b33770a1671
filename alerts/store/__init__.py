"""The warning store: SQLAlchemy tables, Alembic migrations, and one repository per kind of record."""
