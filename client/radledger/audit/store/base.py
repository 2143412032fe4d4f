"""The storage behind the audit index: one small interface, two backends.

:class:`radledger.audit.index.AuditIndex` writes its SQL once (``?`` placeholders, the portable
subset SQLite and PostgreSQL share: ``INSERT ... ON CONFLICT ... DO UPDATE``, ``CASE``, no
``INSERT OR REPLACE``, no two-argument ``MAX``) and hands it to a :class:`Store`, which knows
its database: how to connect, how to run a transaction, how to give a reader one consistent
snapshot, how to keep two writers of the same deployment apart, and where a deployment's
tables live (a SQLite file holds one deployment; a PostgreSQL database holds one schema per
deployment, see :mod:`radledger.audit.store.postgres`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from radledger.chain.errors import ConfigurationError, RadledgerError

Row = tuple[Any, ...]


class NotInIndex(RadledgerError):
    """The index holds nothing about what was asked (not synced yet, or it does not exist)."""


class AmbiguousDeployment(ConfigurationError):
    """The database holds several deployments and the reader named none of them."""

    def __init__(self, location: str, deployments: Sequence[str]) -> None:
        self.location = location
        self.deployments = tuple(deployments)
        super().__init__(
            f"{location} holds {len(self.deployments)} deployments ({', '.join(self.deployments)}): "
            "name one with ?deployment=<chainId>:<address> in the URL"
        )


class UnknownDeployment(ConfigurationError):
    """The deployment the URL names is not in the database (or the target belongs to another one)."""

    def __init__(self, location: str, deployment: str) -> None:
        self.location = location
        self.deployment = deployment
        super().__init__(f"{location} holds no deployment {deployment}")


class DeploymentConflict(ConfigurationError):
    """The audit target's contracts are indexed under more than one deployment of the database."""

    def __init__(self, location: str, deployments: Sequence[str]) -> None:
        self.location = location
        self.deployments = tuple(deployments)
        super().__init__(
            f"{location}: the target's contracts belong to several deployments ({', '.join(self.deployments)})"
        )


class Store(ABC):
    """A database connection for the index: SQL in, rows out, transactions, snapshots and a writer lock."""

    dialect: ClassVar[str]
    """``sqlite`` or ``postgresql``."""
    types: ClassVar[Mapping[str, str]]
    """Column types for the schema template: ``int`` (64-bit) and ``bytes``."""

    location: str
    """Where the index is, printable (a path, or a URL without its password)."""

    @property
    @abstractmethod
    def deployment(self) -> str | None:
        """The deployment whose tables the connection reads and writes (None before one is chosen)."""

    @abstractmethod
    def deployments(self) -> list[str]:
        """The deployments the database holds (their keys)."""

    @abstractmethod
    def use(self, chain_id: int, addresses: Iterable[str]) -> str:
        """Choose (creating it when new) the deployment that audits `addresses` on chain `chain_id`;
        returns its key. Creates the index tables when they do not exist yet."""

    def require(self) -> None:
        """Raise (:class:`NotInIndex`, :class:`AmbiguousDeployment`, ...) unless a deployment is chosen."""
        return None

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows that do not exist yet (the fastest bulk path the backend has)."""
        marks = ",".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction: everything inside commits together or not at all."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """A read-only view of one moment: a sync committing meanwhile is not seen half-way."""

    @abstractmethod
    def exclusive(self) -> AbstractContextManager[None]:
        """Held by a sync: a second sync of the same deployment waits until the first is done."""

    @abstractmethod
    def close(self) -> None: ...


def render_schema(template: str, store: Store) -> str:
    return template.format(**store.types)


__all__: Sequence[str] = [
    "AmbiguousDeployment",
    "DeploymentConflict",
    "NotInIndex",
    "Row",
    "Store",
    "UnknownDeployment",
    "render_schema",
]
