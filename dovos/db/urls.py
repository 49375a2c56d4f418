"""Database URL forms: libpq (`postgresql://`) for psycopg, `postgresql+psycopg://` for SQLAlchemy."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)


def to_libpq_url(url: str) -> str:
    """The URL psycopg and psql accept."""
    return _SCHEME.sub("postgresql://", url, count=1)


def to_sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy needs to pick the psycopg 3 driver."""
    return _SCHEME.sub("postgresql+psycopg://", url, count=1)


def redact(url: str) -> str:
    """The URL with any password replaced, for logs and status output."""
    return re.sub(r"(://[^:/@]+):[^@/]+@", r"\1:***@", url)
