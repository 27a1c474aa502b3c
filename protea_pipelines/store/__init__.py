"""The relational store: SQLAlchemy models, engine and schema migrations."""
