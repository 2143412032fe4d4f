"""What the relay sent: one row per transaction, with the signed messages it carried (SQLite).

Kept so that the outcome and the consent receipt of a transaction can be given later, and as the
site's own log of relayed consents. Holds pseudonymous addresses and signed messages only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radledger.chain.eip712 import SignedMessage
from radledger.portal.errors import UnknownTransaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    tx_hash TEXT PRIMARY KEY,
    patient TEXT NOT NULL,
    signer TEXT NOT NULL,
    client TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    messages TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_patient ON submissions (patient);
"""


@dataclass(frozen=True)
class StoredMessage:
    signed: SignedMessage
    prior: dict[str, Any] | None
    """The terms of the grant a revocation ended (scopes, purposes, validFrom, validUntil), for its receipt."""


@dataclass(frozen=True)
class StoredSubmission:
    tx_hash: str
    patient: str
    signer: str
    client: str
    submitted_at: float
    messages: tuple[StoredMessage, ...]


class SubmissionStore:
    def __init__(self, path: Path | str = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def add(
        self,
        tx_hash: str,
        patient: str,
        signer: str,
        client: str,
        messages: list[tuple[SignedMessage, dict[str, Any] | None]],
    ) -> None:
        doc = json.dumps([{"signed": json.loads(s.to_json()), "prior": prior} for s, prior in messages])
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
                (tx_hash.lower(), patient, signer, client, time.time(), doc),
            )

    def get(self, tx_hash: str) -> StoredSubmission:
        with self._lock:
            row = self.db.execute("SELECT * FROM submissions WHERE tx_hash = ?", (tx_hash.lower(),)).fetchone()
        if row is None:
            raise UnknownTransaction(tx_hash)
        tx, patient, signer, client, at, doc = row
        messages = tuple(
            StoredMessage(SignedMessage.from_json(json.dumps(m["signed"])), m["prior"]) for m in json.loads(doc)
        )
        return StoredSubmission(tx, patient, signer, client, float(at), messages)

    def close(self) -> None:
        self.db.close()
