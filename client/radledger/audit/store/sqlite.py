"""The embedded default: one SQLite file (standard library ``sqlite3``, WAL journal) holds one deployment.

Writers take ``BEGIN IMMEDIATE`` (one writer at a time, readers go on reading the last commit,
WAL); a sync holds an advisory lock on ``<file>.lock`` so that two syncs of the same file take
turns; a reader's snapshot is a deferred read transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from radledger.audit.store.base import Row, Store, render_schema

try:  # POSIX; elsewhere a sync of a file is only serialised within the process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MEMORY = ":memory:"
BUSY_TIMEOUT_SECONDS = 120.0
"""How long a writer waits for another one (a range of 100,000 events takes a few seconds)."""


class SqliteStore(Store):
    dialect: ClassVar[str] = "sqlite"
    types: ClassVar[dict[str, str]] = {"int": "INTEGER", "bytes": "BLOB"}

    def __init__(self, path: Path | str, schema: str) -> None:
        self.location = str(path)
        self._memory = self.location == MEMORY
        if not self._memory:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.location, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        self.db.execute("PRAGMA journal_mode = MEMORY" if self._memory else "PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(render_schema(schema, self))
        self._local_lock = threading.Lock()

    @property
    def deployment(self) -> str | None:
        return "main"

    def deployments(self) -> list[str]:
        return ["main"]

    def use(self, chain_id: int, addresses: Iterable[str]) -> str:
        return "main"  # the file is the deployment; AuditIndex.bind_chain refuses another chain

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self.db.execute(sql, tuple(params)).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.db.execute(sql, tuple(params)).rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.db.in_transaction:  # already inside one: it is the snapshot
            yield
            return
        self.db.execute("BEGIN DEFERRED")
        try:
            self.db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # WAL: the snapshot starts at the first read
            yield
        finally:
            self.db.execute("COMMIT")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._local_lock:
            if self._memory or fcntl is None:
                yield
                return
            with open(self.location + ".lock", "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self.db.close()
