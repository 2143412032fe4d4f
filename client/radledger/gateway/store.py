"""The gateway's local store (SQLite): the study map and the access log. Never on chain.

- `studies`: StudyInstanceUID → record id, patient address, content hash and version as
  registered, the DICOM PatientID and the PACS's own study id (Orthanc's) seen at registration
  (two studies can share a StudyInstanceUID in a PACS: only the registered one is served), and
  `instances`: the (SOPInstanceUID, series, SHA-256) list the hash was made from, so a later
  difference can be told apart (a new series is an amendment, a changed or missing instance is
  tampering).
- `access_log`: every answer the gateway gave about a study (who, which record, purpose, basis,
  resource, status), and for the accesses put on the chain's trail the transaction or the error.
- `meta`: the fingerprint of the site salt the record ids were made with (a store opened with
  another salt is refused), the PACS change-feed cursor.

Back the store up with the salt file: together they are the only link between a study and its
record id.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eth_typing import ChecksumAddress
from eth_utils import keccak

from radledger.chain import validation
from radledger.gateway.errors import SaltMismatch
from radledger.gateway.sqlite import Database
from radledger.registries.common import Purpose
from radledger.registries.consent.types import AccessBasis

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    study_uid     TEXT PRIMARY KEY,
    record_id     BLOB NOT NULL UNIQUE,
    patient       TEXT NOT NULL,
    content_hash  BLOB NOT NULL,
    version       INTEGER NOT NULL,
    registered_at REAL NOT NULL,
    updated_at    REAL NOT NULL,
    patient_id    TEXT,
    pacs_id       TEXT
);
CREATE INDEX IF NOT EXISTS studies_patient ON studies (patient);
CREATE TABLE IF NOT EXISTS instances (
    study_uid  TEXT NOT NULL REFERENCES studies (study_uid) ON DELETE CASCADE,
    sop_uid    TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    sha256     BLOB NOT NULL,
    PRIMARY KEY (study_uid, sop_uid)
);
CREATE TABLE IF NOT EXISTS access_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,
    grantee     TEXT NOT NULL,
    study_uid   TEXT NOT NULL,
    record_id   BLOB NOT NULL,
    purpose     INTEGER NOT NULL,
    basis       INTEGER NOT NULL,
    resource    TEXT NOT NULL,
    status      INTEGER NOT NULL,
    chain_due   INTEGER NOT NULL DEFAULT 0,
    tx_hash     TEXT,
    block       INTEGER,
    chain_error TEXT
);
CREATE INDEX IF NOT EXISTS access_log_trail ON access_log (grantee, record_id, purpose, at);
"""

SALT_KEY = "salt_id"


def salt_id(salt: bytes) -> str:
    """A fingerprint of a site salt that reveals nothing about it."""
    return "0x" + keccak(b"radledger site salt id" + validation.bytes32(salt, "site salt"))[:8].hex()


@dataclass(frozen=True)
class InstanceDigest:
    sop_uid: str
    series_uid: str
    sha256: bytes


@dataclass(frozen=True)
class StudyEntry:
    study_uid: str
    record_id: bytes
    patient: ChecksumAddress
    content_hash: bytes
    version: int
    registered_at: float
    updated_at: float
    patient_id: str | None = None
    """The DICOM PatientID the study had at registration (None: registered before it was kept)."""
    pacs_id: str | None = None
    """The PACS's own id of the study (Orthanc's), when known."""


@dataclass(frozen=True)
class LoggedAccess:
    id: int
    at: float
    grantee: ChecksumAddress
    study_uid: str
    record_id: bytes
    purpose: Purpose
    basis: AccessBasis
    resource: str
    status: int
    chain_due: bool
    tx_hash: str | None
    block: int | None
    chain_error: str | None


class GatewayStore:
    def __init__(self, path: Path | str, salt: bytes | None = None) -> None:
        self.db = Database(path, _migrated(path))
        if salt is not None:
            self.bind_salt(salt)

    # ------------------------------------------------------------------ meta

    def meta(self, key: str) -> str | None:
        rows = self.db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def bind_salt(self, salt: bytes) -> None:
        """Remember which salt this store's record ids come from; refuse another one."""
        given = salt_id(salt)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (SALT_KEY,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (SALT_KEY, given))
            elif row[0] != given:
                raise SaltMismatch(str(row[0]), given)

    # --------------------------------------------------------------- studies

    def study(self, study_uid: str) -> StudyEntry | None:
        rows = self.db.query("SELECT * FROM studies WHERE study_uid = ?", (study_uid,))
        return _study(rows[0]) if rows else None

    def study_of_record(self, record_id: bytes) -> StudyEntry | None:
        rows = self.db.query("SELECT * FROM studies WHERE record_id = ?", (bytes(record_id),))
        return _study(rows[0]) if rows else None

    def studies_of_patient(self, patient: str) -> list[StudyEntry]:
        rows = self.db.query("SELECT * FROM studies WHERE patient = ? ORDER BY registered_at", (patient,))
        return [_study(r) for r in rows]

    def studies(self) -> list[StudyEntry]:
        return [_study(r) for r in self.db.query("SELECT * FROM studies ORDER BY registered_at, study_uid")]

    def instances(self, study_uid: str) -> dict[str, InstanceDigest]:
        rows = self.db.query("SELECT sop_uid, series_uid, sha256 FROM instances WHERE study_uid = ?", (study_uid,))
        return {r["sop_uid"]: InstanceDigest(r["sop_uid"], r["series_uid"], bytes(r["sha256"])) for r in rows}

    def save_study(
        self,
        study_uid: str,
        record_id: bytes,
        patient: str,
        content_hash: bytes,
        version: int,
        instances: Iterable[InstanceDigest],
        patient_id: str | None = None,
        pacs_id: str | None = None,
    ) -> StudyEntry:
        """Insert or replace a study's entry and its instance list (one transaction)."""
        now = time.time()
        rid = validation.bytes32(record_id, "record id")
        who = validation.nonzero_address(patient, "patient")
        digest = validation.bytes32(content_hash, "content hash")
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT registered_at, patient_id, pacs_id FROM studies WHERE study_uid = ?", (study_uid,)
            ).fetchone()
            registered_at = float(row[0]) if row else now
            if row is not None:
                patient_id = patient_id if patient_id is not None else row[1]
                pacs_id = pacs_id if pacs_id is not None else row[2]
            conn.execute("DELETE FROM instances WHERE study_uid = ?", (study_uid,))
            conn.execute(
                "INSERT OR REPLACE INTO studies (study_uid, record_id, patient, content_hash, version, registered_at, "
                "updated_at, patient_id, pacs_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (study_uid, rid, who, digest, version, registered_at, now, patient_id, pacs_id),
            )
            conn.executemany(
                "INSERT INTO instances (study_uid, sop_uid, series_uid, sha256) VALUES (?, ?, ?, ?)",
                [(study_uid, i.sop_uid, i.series_uid, i.sha256) for i in instances],
            )
        return StudyEntry(study_uid, rid, who, digest, version, registered_at, now, patient_id, pacs_id)

    # ------------------------------------------------------------ access log

    def log_access(
        self,
        grantee: str,
        study: StudyEntry,
        purpose: Purpose,
        basis: AccessBasis,
        resource: str,
        status: int,
        trail_window: float | None = None,
        now: float | None = None,
    ) -> LoggedAccess:
        """Log an answer; with `trail_window`, a served access is due on chain unless the same
        grantee, record and purpose was put (or is being put) there within the window."""
        at = time.time() if now is None else now
        with self.db.transaction() as conn:
            due = False
            if trail_window is not None and status < 400:
                recent = conn.execute(
                    "SELECT 1 FROM access_log WHERE grantee = ? AND record_id = ? AND purpose = ? AND chain_due = 1 "
                    "AND chain_error IS NULL AND at >= ? LIMIT 1",
                    (grantee, study.record_id, int(purpose), at - trail_window),
                ).fetchone()
                due = recent is None
            cursor = conn.execute(
                "INSERT INTO access_log (at, grantee, study_uid, record_id, purpose, basis, resource, status, "
                "chain_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, grantee, study.study_uid, study.record_id, int(purpose), int(basis), resource, status, int(due)),
            )
            row_id = int(cursor.lastrowid or 0)
        return LoggedAccess(
            row_id, at, validation.address(grantee), study.study_uid, study.record_id, Purpose(purpose),
            AccessBasis(basis), resource, status, due, None, None, None,
        )  # fmt: skip

    def set_chain_result(
        self, access_id: int, tx_hash: str | None, block: int | None, error: str | None = None
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE access_log SET tx_hash = ?, block = ?, chain_error = ? WHERE id = ?",
                (tx_hash, block, error, access_id),
            )

    def accesses(self, chain_due_only: bool = False) -> list[LoggedAccess]:
        sql = "SELECT * FROM access_log" + (" WHERE chain_due = 1" if chain_due_only else "") + " ORDER BY id"
        return [_access(r) for r in self.db.query(sql)]

    def close(self) -> None:
        self.db.close()


def _study(r: sqlite3.Row) -> StudyEntry:
    return StudyEntry(
        r["study_uid"], bytes(r["record_id"]), validation.address(r["patient"]), bytes(r["content_hash"]),
        int(r["version"]), float(r["registered_at"]), float(r["updated_at"]), r["patient_id"], r["pacs_id"],
    )  # fmt: skip


def _migrated(path: Path | str) -> str:
    """The schema, after adding the columns a store made by an older version lacks."""
    if str(path) == ":memory:" or not Path(path).is_file():
        return SCHEMA
    conn = sqlite3.connect(str(path))
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(studies)")}
        if columns:
            for name in ("patient_id", "pacs_id"):
                if name not in columns:
                    conn.execute(f"ALTER TABLE studies ADD COLUMN {name} TEXT")
            conn.commit()
    finally:
        conn.close()
    return SCHEMA


def _access(r: sqlite3.Row) -> LoggedAccess:
    return LoggedAccess(
        int(r["id"]), float(r["at"]), validation.address(r["grantee"]), r["study_uid"], bytes(r["record_id"]),
        Purpose(r["purpose"]), AccessBasis(r["basis"]), r["resource"], int(r["status"]), bool(r["chain_due"]),
        r["tx_hash"], r["block"], r["chain_error"],
    )  # fmt: skip
