"""The auditor's event index: every event of a deployment in one SQLite file (standard library sqlite3)
or in one schema of a PostgreSQL database (:mod:`radledger.audit.store`); the SQL is written once, here.

Tables:

- ``events``: one row per log, keyed by (block number, log index): block hash, transaction
  hash and index, address, contract and event names, the first three indexed arguments as text
  (``t1``..``t3``, for lookups), all arguments as JSON (``args``, for people and SQL) and the raw
  topics (concatenated) and data as blobs (what the arguments are decoded from when read back).
- ``blocks``: number, hash and time of every block holding an indexed event and of the last
  block of every synced range: the hashes that reorg detection compares.
- ``contracts``: each audited address with its name, first block and how far it is synced
  (a contract added to a deployment later is back-filled from its first block).
- ``meta``: the chain id and the format version.

Writes happen one synced range at a time, each in one transaction together with the
checkpoint, so an interrupted sync resumes where it stopped and never leaves half a range.
See :mod:`radledger.audit.syncer` for how ranges are read and reorgs undone, and
:mod:`radledger.audit.store` for the two backends (one deployment a SQLite file; one deployment a
schema of a PostgreSQL database, several deployments side by side).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radledger.audit.store import NotInIndex, Store, is_database_url, open_store
from radledger.chain.errors import ConfigurationError
from radledger.chain.events.decoding import EventDecoder, RawLog, to_json
from radledger.chain.events.sources import BlockRef

FORMAT_VERSION = "2"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contracts (
    address TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    start_block {int} NOT NULL,
    synced_to {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (number {int} PRIMARY KEY, hash TEXT NOT NULL, timestamp {int} NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    block_number {int} NOT NULL,
    log_index {int} NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    tx_index {int} NOT NULL,
    timestamp {int} NOT NULL,
    address TEXT NOT NULL,
    contract TEXT,
    event TEXT,
    t1 TEXT,
    t2 TEXT,
    t3 TEXT,
    args TEXT NOT NULL,
    topics {bytes} NOT NULL,
    data {bytes} NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_t1 ON events (event, t1);
CREATE INDEX IF NOT EXISTS events_t2 ON events (event, t2);
CREATE INDEX IF NOT EXISTS events_t3 ON events (event, t3);
CREATE INDEX IF NOT EXISTS events_time ON events (event, timestamp);
CREATE INDEX IF NOT EXISTS events_address ON events (address, block_number);
"""
"""The tables, with ``{int}`` (64-bit) and ``{bytes}`` filled in by the store's dialect."""

EVENT_COLUMNS = (
    "block_number", "log_index", "block_hash", "tx_hash", "tx_index", "timestamp", "address", "contract", "event",
    "t1", "t2", "t3", "args", "topics", "data",
)  # fmt: skip


@dataclass(frozen=True)
class EventRow:
    """One indexed event: where it is on the chain (provenance), and what it says."""

    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    tx_index: int
    timestamp: int
    address: str
    contract: str | None
    event: str | None
    args: dict[str, Any]

    def provenance(self) -> dict[str, Any]:
        return {
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "tx_hash": self.tx_hash,
            "log_index": self.log_index,
        }

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


@dataclass(frozen=True)
class WatchedContract:
    address: str
    name: str
    start_block: int
    synced_to: int


class AuditIndex:
    """An event index in a SQLite file (a path, or ``":memory:"``) or a PostgreSQL database
    (a ``postgresql://`` URL; ``?deployment=<chainId>:<address>`` picks one of several deployments)."""

    def __init__(self, path: Path | str = ":memory:", decoder: EventDecoder | None = None) -> None:
        self.store: Store = open_store(path, SCHEMA)
        self.path = self.store.location
        self.decoder = decoder or EventDecoder.from_artifacts()
        self._checked = False
        if self.store.deployment is not None:
            self._check_format()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> AuditIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_format(self) -> None:
        version = self._meta("format")
        if version is None:
            self._set_meta("format", FORMAT_VERSION)
        elif version != FORMAT_VERSION:
            raise ConfigurationError(f"{self.path}: index format {version}, this radledger reads {FORMAT_VERSION}")
        self._checked = True

    def snapshot(self) -> AbstractContextManager[None]:
        """Read inside one consistent view: a sync committing ranges meanwhile is seen not at all, or whole."""
        return self.store.snapshot()

    def exclusive(self) -> AbstractContextManager[None]:
        """Held by :func:`radledger.audit.sync`: a second sync of the same deployment waits for the first."""
        return self.store.exclusive()

    # ------------------------------------------------------------------- meta

    def _meta(self, key: str) -> str | None:
        row = self.store.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.store.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def deployment(self) -> str | None:
        """The deployment the index reads (PostgreSQL: ``<chainId>:<address>``; a SQLite file: ``main``)."""
        return self.store.deployment

    @property
    def chain_id(self) -> int | None:
        value = self._meta("chain_id")
        return None if value is None else int(value)

    def bind_chain(self, chain_id: int) -> None:
        """Tie the index to chain `chain_id`; an index of another chain is refused."""
        known = self.chain_id
        if known is None:
            self._set_meta("chain_id", str(chain_id))
        elif known != chain_id:
            raise ConfigurationError(f"{self.path} indexes chain {known}, not chain {chain_id}: use another --db")

    def bind_deployment(self, chain_id: int, addresses: Iterable[str]) -> str:
        """Choose the deployment of `addresses` on chain `chain_id` (PostgreSQL: its schema, made when new),
        then tie it to the chain; returns the deployment's key."""
        key = self.store.use(chain_id, addresses)
        if not self._checked:
            self._check_format()
        self.bind_chain(chain_id)
        return key

    # -------------------------------------------------------------- contracts

    def watch(self, name: str, address: str, start_block: int) -> WatchedContract:
        """Audit `address` (named `name`) from `start_block`; a known address keeps its progress."""
        row = self.store.one("SELECT name, start_block, synced_to FROM contracts WHERE address = ?", (address,))
        if row is None:
            self.store.execute(
                "INSERT INTO contracts (address, name, start_block, synced_to) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                (address, name, start_block, start_block - 1),
            )
            return WatchedContract(address, name, start_block, start_block - 1)
        if row[0] != name:
            with self.store.transaction():
                self.store.execute("UPDATE contracts SET name = ? WHERE address = ?", (name, address))
                self.store.execute("UPDATE events SET contract = ? WHERE address = ?", (name, address))
        return WatchedContract(address, name, int(row[1]), int(row[2]))

    def contracts(self) -> list[WatchedContract]:
        rows = self.store.query("SELECT address, name, start_block, synced_to FROM contracts ORDER BY name")
        return [WatchedContract(str(a), str(n), int(s), int(t)) for a, n, s, t in rows]

    def address_of(self, name: str) -> str | None:
        row = self.store.one("SELECT address FROM contracts WHERE name = ? ORDER BY start_block", (name,))
        return None if row is None else str(row[0])

    @property
    def checkpoint(self) -> int:
        """The last block every watched contract is synced to (-1 before any sync)."""
        row = self.store.one("SELECT MIN(synced_to) FROM contracts")
        return -1 if row is None or row[0] is None else int(row[0])

    # ----------------------------------------------------------------- writes

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.store.transaction():
            yield

    def store_range(
        self,
        addresses: Sequence[str],
        end: int,
        logs: Iterable[RawLog],
        blocks: dict[int, BlockRef],
        start: int | None = None,
    ) -> int:
        """Store a synced range's logs and block hashes and move `addresses` to `end`, atomically.
        What the index held for `addresses` in blocks `start`..`end` is replaced (a range read again
        never counts twice). Returns the number of events stored."""
        names: dict[str, str] = {str(a): str(n) for a, n in self.store.query("SELECT address, name FROM contracts")}
        rows = []
        for log in logs:
            contract = names.get(log.address)
            decoded = self.decoder.decode(log, contract)
            stamp = log.timestamp if log.timestamp is not None else blocks[log.block_number].timestamp
            rows.append(
                (
                    log.block_number, log.log_index, log.block_hash, log.tx_hash, log.tx_index, stamp, log.address,
                    contract or (decoded.contract if decoded else None), decoded.event if decoded else None,
                    *(decoded.indexed_text if decoded else (None, None, None)),
                    json.dumps(to_json(decoded.args) if decoded else {}, sort_keys=True),
                    b"".join(log.topics), log.data,
                )
            )  # fmt: skip
        first = start if start is not None else min((r[0] for r in rows), default=end + 1)
        with self._transaction():
            marks = ",".join("?" * len(addresses))
            if addresses:
                self.store.execute(
                    f"DELETE FROM events WHERE address IN ({marks}) AND block_number >= ? AND block_number <= ?",
                    (*addresses, first, end),
                )
            self.store.insert_rows("events", EVENT_COLUMNS, rows)
            self.store.executemany(
                "INSERT INTO blocks (number, hash, timestamp) VALUES (?, ?, ?)"
                " ON CONFLICT (number) DO UPDATE SET hash = excluded.hash, timestamp = excluded.timestamp",
                [(b.number, b.hash, b.timestamp) for b in blocks.values()],
            )
            self.store.executemany(
                "UPDATE contracts SET synced_to = ? WHERE address = ? AND synced_to < ?",
                [(end, a, end) for a in addresses],
            )
        return len(rows)

    def rewind(self, to_block: int) -> int:
        """Forget everything above block `to_block` (a reorg replaced it); returns the events dropped."""
        with self._transaction():
            dropped = self.store.execute("DELETE FROM events WHERE block_number > ?", (to_block,))
            self.store.execute("DELETE FROM blocks WHERE number > ?", (to_block,))
            self.store.execute(
                "UPDATE contracts SET synced_to = CASE WHEN start_block - 1 > ? THEN start_block - 1 ELSE ? END"
                " WHERE synced_to > ?",
                (to_block, to_block, to_block),
            )
        return int(dropped)

    # ------------------------------------------------------------------ reads

    def stored_blocks(self) -> list[BlockRef]:
        rows = self.store.query("SELECT number, hash, timestamp FROM blocks ORDER BY number")
        return [BlockRef(int(n), str(h), int(t)) for n, h, t in rows]

    def top_block(self) -> BlockRef | None:
        row = self.store.one("SELECT number, hash, timestamp FROM blocks ORDER BY number DESC LIMIT 1")
        return None if row is None else BlockRef(int(row[0]), str(row[1]), int(row[2]))

    def latest_time(self) -> int | None:
        """The time of the last synced block (what "now" is for the index)."""
        top = self.top_block()
        return None if top is None else top.timestamp

    def count(self, event: str | None = None) -> int:
        if event is None:
            row = self.store.one("SELECT COUNT(*) FROM events")
        else:
            row = self.store.one("SELECT COUNT(*) FROM events WHERE event = ?", (event,))
        return 0 if row is None else int(row[0])

    def counts(self) -> dict[tuple[str | None, str | None], int]:
        """(contract, event) → number of events."""
        rows = self.store.query(
            "SELECT contract, event, COUNT(*) FROM events GROUP BY contract, event ORDER BY contract, event"
        )
        return {(c, e): int(n) for c, e, n in rows}

    def raw_sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Ad-hoc SQL over the index's tables (``?`` placeholders on both backends)."""
        return self.store.query(sql, params)

    def events(
        self,
        events: Sequence[str] | None = None,
        contract: str | None = None,
        where: dict[str, str] | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[EventRow]:
        """Events in chain order, filtered by name(s), contract, indexed argument text (``{"t1": ...}``)
        and block time (`since` inclusive, `until` exclusive)."""
        clauses: list[str] = []
        params: list[Any] = []
        if events:
            clauses.append(f"event IN ({','.join('?' * len(events))})")
            params += list(events)
        if contract:
            clauses.append("contract = ?")
            params.append(contract)
        for column, value in (where or {}).items():
            if column not in ("t1", "t2", "t3"):
                raise ValueError(f"cannot filter on {column}")
            clauses.append(f"{column} = ?")
            params.append(value)
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(since)
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(until)
        sql = f"SELECT {','.join(EVENT_COLUMNS)} FROM events" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return [self._row(r) for r in self.store.query(sql + " ORDER BY block_number, log_index", params)]

    def raw_logs(self, address: str | None = None) -> list[RawLog]:
        """The stored logs as raw logs (what :mod:`radledger.registries.consent.events` replays)."""
        sql = (
            "SELECT block_number, block_hash, tx_hash, tx_index, log_index, address, topics, data, timestamp"
            " FROM events"
        )
        params: tuple[Any, ...] = ()
        if address:
            sql += " WHERE address = ?"
            params = (address,)
        out = []
        for bn, bh, th, ti, li, addr, topics, data, ts in self.store.query(
            sql + " ORDER BY block_number, log_index", params
        ):
            out.append(
                RawLog(
                    int(bn), str(bh), str(th), int(ti), int(li), str(addr),
                    _topics(topics), bytes(data), int(ts),
                )
            )  # fmt: skip
        return out

    def _row(self, r: tuple[Any, ...]) -> EventRow:
        (bn, li, bh, th, ti, ts, addr, contract, event, _t1, _t2, _t3, _args, topics, data) = r
        raw = RawLog(
            int(bn), str(bh), str(th), int(ti), int(li), str(addr),
            _topics(topics), bytes(data), int(ts),
        )  # fmt: skip
        decoded = self.decoder.decode(raw, contract)
        args = decoded.args if decoded else {}
        return EventRow(int(bn), int(li), str(bh), str(th), int(ti), int(ts), str(addr), contract, event, args)


AUDIT_DB_ENV = "RADLEDGER_AUDIT_DB"
DEFAULT_DB = "radledger-audit.sqlite"


def index_location(location: Path | str | None = None) -> str:
    """Where the index is: `location` (a path, ``:memory:`` or a ``postgresql://`` URL), else
    ``$RADLEDGER_AUDIT_DB``, else ``./radledger-audit.sqlite``."""
    return str(location or os.environ.get(AUDIT_DB_ENV) or DEFAULT_DB)


def open_index(location: Path | str | None = None, *, must_exist: bool = False) -> AuditIndex:
    """The index at :func:`index_location` (`location`); with `must_exist`, a SQLite file that does not
    exist yet is refused (:class:`ConfigurationError`) instead of created (a reader asking a typo'd path)."""
    where = index_location(location)
    if must_exist and not is_database_url(where) and where != ":memory:" and not Path(where).is_file():
        raise ConfigurationError(f"no audit index at {where}: run `radledger audit sync` first (or pass --db)")
    return AuditIndex(where)


def _topics(blob: bytes) -> tuple[bytes, ...]:
    raw = bytes(blob)
    return tuple(raw[i : i + 32] for i in range(0, len(raw), 32))


__all__ = [
    "AUDIT_DB_ENV",
    "DEFAULT_DB",
    "EVENT_COLUMNS",
    "FORMAT_VERSION",
    "SCHEMA",
    "AuditIndex",
    "EventRow",
    "NotInIndex",
    "WatchedContract",
    "index_location",
    "open_index",
]
