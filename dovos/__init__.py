"""Dovos: search and evaluate an archive of AI chat conversations on one PostgreSQL store."""

__version__ = "0.1.0"
