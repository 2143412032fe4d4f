"""PostgreSQL (psycopg 3) for shared, multi-deployment indexes: ``postgresql://user@host/db``.

Each deployment lives in its own schema (``d<chainId>_<address>``, the chain id and the smallest
contract address the deployment had when it was first synced), holding exactly the tables of the
SQLite file, so every query of the index runs unchanged there. Two tables in ``public`` say which
deployments the database holds and which contract belongs to which:

- ``radledger_audit_deployments (key, chain_id, schema_name)``: the key is ``<chainId>:<address>``;
- ``radledger_audit_contracts (chain_id, address, deployment)``: a contract (lower-case address)
  belongs to one deployment only, so nothing is indexed, or counted, twice.

A sync finds its deployment by its contracts: one already known on that chain names it (a contract
added to the deployment later joins it and is back-filled); none known makes a new one. Several
syncs of different deployments write into one database at once (different schemas, no shared row);
two syncs of the same deployment take turns (a session advisory lock on the deployment, held for
the whole sync); readers read while a sync runs (MVCC: each range commits with its checkpoint in
one transaction, and :meth:`PostgresStore.snapshot` gives a reader one REPEATABLE READ view).

Readers choose a deployment with ``?deployment=<chainId>:<address>`` (any of its contracts) in the
URL; without it the database's only deployment is read, and with several the reader is asked to
name one (:class:`AmbiguousDeployment`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from radledger.audit.store.base import (
    AmbiguousDeployment,
    DeploymentConflict,
    NotInIndex,
    Row,
    Store,
    UnknownDeployment,
    render_schema,
)
from radledger.chain.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql", "postgres")
DEPLOYMENT_PARAMETER = "deployment"
REGISTRY_LOCK = 0x7261646C65646772  # "radledgr": serialises creating deployments and their tables

REGISTRY = """
CREATE TABLE IF NOT EXISTS public.radledger_audit_deployments (
    key TEXT PRIMARY KEY,
    chain_id BIGINT NOT NULL,
    schema_name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.radledger_audit_contracts (
    chain_id BIGINT NOT NULL,
    address TEXT NOT NULL,
    deployment TEXT NOT NULL REFERENCES public.radledger_audit_deployments (key),
    PRIMARY KEY (chain_id, address)
);
"""


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and urlsplit(location).scheme in SCHEMES


def deployment_key(chain_id: int, address: str) -> str:
    return f"{int(chain_id)}:{address.lower()}"


def schema_name(chain_id: int, address: str) -> str:
    """``d<chainId>_<40 hex digits>``: at most 62 characters (PostgreSQL allows 63)."""
    return f"d{int(chain_id)}_{address.lower().removeprefix('0x')}"


def parse_selector(text: str) -> tuple[int, str]:
    """``<chainId>:<address>`` → (chain id, lower-case address)."""
    chain, _, address = text.partition(":")
    if not chain.isdigit() or len(address) != 42 or not address.startswith("0x"):
        raise ValidationError(f"deployment {text!r}: expected <chainId>:<0x address>")
    try:
        int(address, 16)
    except ValueError as exc:
        raise ValidationError(f"deployment {text!r}: expected <chainId>:<0x address>") from exc
    return int(chain), address.lower()


def split_url(url: str) -> tuple[str, str | None, str]:
    """(libpq URL without our parameter, the deployment it names or None, a printable location)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    chosen = [v for k, v in params if k == DEPLOYMENT_PARAMETER]
    rest = [(k, v) for k, v in params if k != DEPLOYMENT_PARAMETER]
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    printable = urlunsplit(parts._replace(netloc=netloc))
    return conninfo, (chosen[-1] if chosen else None), printable


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for a deployment key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class PostgresStore(Store):
    dialect: ClassVar[str] = "postgresql"
    types: ClassVar[dict[str, str]] = {"int": "BIGINT", "bytes": "BYTEA"}

    def __init__(self, url: str, schema: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # the [postgres] extra
            raise ConfigurationError("a PostgreSQL index needs psycopg: pip install 'radledger[postgres]'") from exc
        conninfo, self._selector, self.location = split_url(url)
        self._schema_ddl = render_schema(schema, self)
        self._sql: dict[str, str] = {}
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConfigurationError(f"cannot connect to {self.location}: {exc}".strip()) from exc
        self._key: str | None = None
        with self.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK,))
            self.conn.execute(REGISTRY)
        if self._selector is not None:
            chain_id, address = parse_selector(self._selector)
            found = self._deployment_of(chain_id, [address])
            if found:
                self._enter(found[0])
        else:
            known = self.deployments()
            if len(known) == 1:
                self._enter(known[0])

    # ----------------------------------------------------------- deployments

    @property
    def deployment(self) -> str | None:
        return self._key

    def deployments(self) -> list[str]:
        rows = self.conn.execute("SELECT key FROM public.radledger_audit_deployments ORDER BY key").fetchall()
        return [str(r[0]) for r in rows]

    def require(self) -> None:
        """Raise unless a deployment is chosen: there is none, the URL names an unknown one, or several."""
        if self._key is not None:
            return
        if self._selector is not None:
            raise UnknownDeployment(self.location, self._selector)
        known = self.deployments()
        if not known:
            raise NotInIndex(f"{self.location} holds no deployment yet: run `radledger audit sync` first")
        raise AmbiguousDeployment(self.location, known)

    def _deployment_of(self, chain_id: int, addresses: Sequence[str]) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT deployment FROM public.radledger_audit_contracts"
            " WHERE chain_id = %s AND address = ANY(%s) ORDER BY deployment",
            (chain_id, [a.lower() for a in addresses]),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _schema_of(self, key: str) -> str:
        row = self.conn.execute(
            "SELECT schema_name FROM public.radledger_audit_deployments WHERE key = %s", (key,)
        ).fetchone()
        if row is None:
            raise UnknownDeployment(self.location, key)
        return str(row[0])

    def _enter(self, key: str) -> None:
        schema = self._schema_of(key)
        self.conn.execute(f'SET search_path TO "{schema}"')
        self._key = key

    def use(self, chain_id: int, addresses: Iterable[str]) -> str:
        wanted = sorted({a.lower() for a in addresses})
        if not wanted:
            raise ConfigurationError("nothing to audit: no contract address given")
        with self.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK,))
            found = self._deployment_of(chain_id, wanted)
            named: str | None = None
            if self._selector is not None:
                sel_chain, sel_address = parse_selector(self._selector)
                named_found = self._deployment_of(sel_chain, [sel_address])
                if named_found:
                    named = named_found[0]
                elif sel_chain != chain_id or sel_address not in wanted:
                    raise UnknownDeployment(self.location, self._selector)
            if len(found) > 1:
                raise DeploymentConflict(self.location, found)
            if named is not None and found and found[0] != named:
                raise DeploymentConflict(self.location, [named, found[0]])
            key = found[0] if found else named
            if key is not None:
                known_chain = self.conn.execute(
                    "SELECT chain_id FROM public.radledger_audit_deployments WHERE key = %s", (key,)
                ).fetchone()
                if known_chain is not None and int(known_chain[0]) != chain_id:
                    raise ConfigurationError(f"{self.location}: deployment {key} is on chain {known_chain[0]}")
            else:
                key = deployment_key(chain_id, wanted[0])
                schema = schema_name(chain_id, wanted[0])
                self.conn.execute(
                    "INSERT INTO public.radledger_audit_deployments (key, chain_id, schema_name) VALUES (%s, %s, %s)",
                    (key, chain_id, schema),
                )
                self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO public.radledger_audit_contracts (chain_id, address, deployment) VALUES (%s, %s, %s)"
                    " ON CONFLICT (chain_id, address) DO NOTHING",
                    [(chain_id, a, key) for a in wanted],
                )
            self._enter(key)
            self.conn.execute(self._schema_ddl)
        return key

    # ------------------------------------------------------------------- SQL

    def _pg(self, sql: str) -> str:
        converted = self._sql.get(sql)
        if converted is None:
            converted = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return converted

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.require()
        with self.conn.cursor() as cur:
            cur.execute(self._pg(sql), tuple(params))  # type: ignore[arg-type]
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.require()
        with self.conn.cursor() as cur:
            cur.execute(self._pg(sql), tuple(params))  # type: ignore[arg-type]
            return int(cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.require()
        with self.conn.cursor() as cur:
            cur.executemany(self._pg(sql), [tuple(r) for r in rows])  # type: ignore[arg-type]

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY: several times faster than INSERTs for a range of thousands of events."""
        self.require()
        if not rows:
            return
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:  # type: ignore[arg-type]
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.conn.info.transaction_status != 0:  # already inside a transaction: it is the snapshot
            yield
            return
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self.require()
        assert self._key is not None
        lock = _lock_id(self._key)
        self.conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def close(self) -> None:
        self.conn.close()
