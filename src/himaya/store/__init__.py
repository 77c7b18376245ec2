"""The case store (SQLAlchemy models, migrations) and the encrypted blob store."""
