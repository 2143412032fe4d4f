"""The audit index on both backends: every test that takes `new_index` (or a fixture built on
`audit_backend`) runs once on SQLite and once on PostgreSQL (a real server, started once per run
in a temporary directory by :mod:`tests.postgres_server`)."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from radledger.audit import AuditIndex
from tests.postgres_server import REQUIRE_ENV, PostgresServer, PostgresUnavailable

BACKENDS = ("sqlite", "postgres")
_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    """The run's PostgreSQL server, or None when the machine has none (the tests then skip)."""
    try:
        import psycopg  # noqa: F401

        server = PostgresServer.start()
    except (ImportError, PostgresUnavailable) as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but PostgreSQL is unavailable: {exc}")
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


def _server_or_skip(server: PostgresServer | None) -> PostgresServer:
    if server is None:
        pytest.skip(f"PostgreSQL is not installed (set {REQUIRE_ENV}=1 to fail instead)")
    return server


class IndexFactory:
    """Makes indexes (and their locations) of one backend; closes them at the end."""

    def __init__(self, backend: str, server: PostgresServer | None, folder: Path) -> None:
        self.backend = backend
        self.server = _server_or_skip(server) if backend == "postgres" else None
        self.folder = folder
        self.named: dict[str, str] = {}
        self.opened: list[AuditIndex] = []

    def location(self, name: str | None = None) -> str:
        """A fresh location (a SQLite file, or a new PostgreSQL database); the same `name` gives the same one."""
        if name is not None and name in self.named:
            return self.named[name]
        if self.server is not None:
            where = self.server.create_database(f"audit_{os.getpid()}_{next(_numbers)}")
        else:
            where = str(self.folder / f"{name or 'index'}-{next(_numbers)}.sqlite")
        if name is not None:
            self.named[name] = where
        return where

    def __call__(self, name: str | None = None) -> AuditIndex:
        """An index: in memory for SQLite without a name, else at :meth:`location`."""
        where = ":memory:" if self.server is None and name is None else self.location(name)
        index = AuditIndex(where)
        self.opened.append(index)
        return index

    def close(self) -> None:
        for index in self.opened:
            with contextlib.suppress(Exception):  # already closed by the test
                index.close()


NewIndex = IndexFactory
"""The type of the `new_index` fixture: ``new_index()`` a fresh index, ``new_index.location(name)`` a place."""


@pytest.fixture(scope="module", params=BACKENDS)
def audit_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_index(audit_backend: str, postgres_server: PostgresServer | None, tmp_path: Path) -> Iterator[IndexFactory]:
    factory = IndexFactory(audit_backend, postgres_server, tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_indexes(
    audit_backend: str, postgres_server: PostgresServer | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexFactory]:
    factory = IndexFactory(audit_backend, postgres_server, tmp_path_factory.mktemp("audit"))
    yield factory
    factory.close()
