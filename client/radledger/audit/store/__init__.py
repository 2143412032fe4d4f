"""Where the audit index keeps its tables: SQLite (the embedded default) or PostgreSQL.

    open_store("audit.sqlite", SCHEMA)                          # a file, or ":memory:"
    open_store("postgresql://auditor@db.example/audit", SCHEMA)  # psycopg 3, the [postgres] extra

The interface is :class:`radledger.audit.store.base.Store`; the queries live once, in
:mod:`radledger.audit.index`.
"""

from __future__ import annotations

from pathlib import Path

from radledger.audit.store.base import (
    AmbiguousDeployment,
    DeploymentConflict,
    NotInIndex,
    Store,
    UnknownDeployment,
)
from radledger.audit.store.postgres import PostgresStore, is_postgres_url
from radledger.audit.store.sqlite import SqliteStore


def open_store(location: Path | str, schema: str) -> Store:
    """A PostgreSQL store for a ``postgresql://`` (or ``postgres://``) URL, else a SQLite file (or ``:memory:``)."""
    if is_postgres_url(location):
        return PostgresStore(str(location), schema)
    return SqliteStore(location, schema)


def is_database_url(location: object) -> bool:
    """True for a location that is a server URL rather than a file."""
    return is_postgres_url(location)


__all__ = [
    "AmbiguousDeployment",
    "DeploymentConflict",
    "NotInIndex",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "UnknownDeployment",
    "is_database_url",
    "open_store",
]
