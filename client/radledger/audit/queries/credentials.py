"""Credential queries: a subject's attestations as their events tell them (made, superseded, revoked),
and where the subject stood for each schema at a time (latest wins per issuer, as ``hasValidCredential``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import CREDENTIALS, Found, hex0x, show_time, synced_time
from radledger.registries.credentials.client import subject_address, subject_id
from radledger.registries.credentials.types import CredentialStatus


@dataclass(frozen=True)
class CredentialEntry(Found):
    """An attestation as its events tell it: made, superseded, revoked."""

    uid: bytes
    subject: bytes
    schema_id: int
    schema_name: str
    issuer: str
    data_hash: bytes
    value: int
    valid_from: int
    valid_until: int
    ref_uid: bytes
    revocable: bool
    revoked: EventRow | None = None
    superseded_by: EventRow | None = None

    @property
    def sequence(self) -> int:
        return int.from_bytes(self.uid[-4:], "big")

    @property
    def attested_at(self) -> int:
        return self.source.timestamp

    @property
    def revoked_at(self) -> int:
        return self.revoked.timestamp if self.revoked else 0

    @property
    def latest(self) -> bool:
        return self.superseded_by is None

    def status_at(self, at: int) -> CredentialStatus:
        """As ``isValidAt`` (revocation ends validity at its block time), and missing before it was attested."""
        if at < self.attested_at:
            return CredentialStatus.MISSING
        if self.revoked is not None and at >= self.revoked_at:
            return CredentialStatus.REVOKED
        if at < self.valid_from:
            return CredentialStatus.NOT_YET_VALID
        if at >= self.valid_until:
            return CredentialStatus.EXPIRED
        return CredentialStatus.VALID

    def fields(self) -> dict[str, Any]:
        physician = subject_address(self.subject)
        return {
            "uid": hex0x(self.uid),
            "subject": hex0x(self.subject),
            "subject_address": physician or "",
            "schema_id": self.schema_id,
            "schema": self.schema_name,
            "issuer": self.issuer,
            "data_hash": hex0x(self.data_hash),
            "value": self.value,
            "valid_from": show_time(self.valid_from),
            "valid_until": show_time(self.valid_until),
            "sequence": self.sequence,
            "revoked_at": show_time(self.revoked_at or None),
            "revoked_by": self.revoked.args["revoker"] if self.revoked else "",
            "revocation_reason": self.revoked.args["reasonCode"] if self.revoked else "",
            "superseded_by": hex0x(self.superseded_by.args["uid"]) if self.superseded_by else "",
        }


def schema_names(index: AuditIndex) -> dict[int, tuple[str, bool]]:
    """Schema id → (name, revocable), from ``SchemaRegistered``."""
    return {
        int(r.args["schema"]): (str(r.args["name"]), bool(r.args["revocable"]))
        for r in index.events(["SchemaRegistered"], contract=CREDENTIALS)
    }


def credential_history(index: AuditIndex, subject: Any = None) -> list[CredentialEntry]:
    """Every attestation about `subject` (an address or a 32-byte subject; None: every subject), oldest first."""
    where = {"t2": hex0x(subject_id(subject))} if subject is not None else None
    attested = index.events(["CredentialAttested"], contract=CREDENTIALS, where=where)
    if not attested:
        return []
    names = schema_names(index)
    uids = {hex0x(r.args["uid"]) for r in attested}
    revocations = {
        hex0x(r.args["uid"]): r
        for r in index.events(["CredentialRevoked"], contract=CREDENTIALS)
        if hex0x(r.args["uid"]) in uids
    }
    successors: dict[bytes, EventRow] = {}
    by_uid = {bytes(r.args["uid"]): r for r in attested}
    for uid, row in by_uid.items():
        sequence = int.from_bytes(uid[-4:], "big")
        if sequence > 1:
            successors[uid[:28] + (sequence - 1).to_bytes(4, "big")] = row
    out = []
    for row in attested:
        a = row.args
        name, revocable = names.get(int(a["schema"]), (f"schema {a['schema']}", True))
        out.append(
            CredentialEntry(
                row, a["uid"], a["subject"], int(a["schema"]), name, a["issuer"], a["dataHash"], int(a["value"]),
                int(a["validFrom"]), int(a["validUntil"]), a["refUid"], revocable,
                revocations.get(hex0x(a["uid"])), successors.get(bytes(a["uid"])),
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class CredentialStanding:
    """Where a subject stood for one schema at a time: its latest attestation then, and that one's status."""

    subject: bytes
    schema_id: int
    schema_name: str
    at: int
    status: CredentialStatus
    entry: CredentialEntry | None

    @property
    def ok(self) -> bool:
        return self.status is CredentialStatus.VALID

    def provenance(self) -> dict[str, Any]:
        if self.entry is None:
            return {"block_number": "", "block_hash": "", "tx_hash": "", "log_index": ""}
        return self.entry.provenance()

    def row(self) -> dict[str, Any]:
        return {
            **self.provenance(),
            "time": show_time(self.entry.time) if self.entry else "",
            "subject": hex0x(self.subject),
            "schema_id": self.schema_id,
            "schema": self.schema_name,
            "at": show_time(self.at),
            "status": self.status.value,
            "uid": hex0x(self.entry.uid) if self.entry else "",
            "valid_from": show_time(self.entry.valid_from) if self.entry else "",
            "valid_until": show_time(self.entry.valid_until) if self.entry else "",
            "issuer": self.entry.issuer if self.entry else "",
        }


def credential_standing(
    index: AuditIndex, subject: Any, at: int | None = None, schemas: Iterable[int] | None = None
) -> list[CredentialStanding]:
    """For each schema (default: every schema the subject was ever attested under), the latest attestation
    made at or before `at` and its status at `at`: what ``hasValidCredential`` answered then."""
    raw_subject = subject_id(subject)
    when = synced_time(index) if at is None else int(at)
    history = credential_history(index, raw_subject)
    names = schema_names(index)
    wanted = sorted(set(schemas) if schemas is not None else {e.schema_id for e in history})
    out = []
    for schema in wanted:
        made = [e for e in history if e.schema_id == schema and e.attested_at <= when]
        # Latest wins per issuer (issue 11): each issuer's latest, the first issuer's (the primary) first;
        # the standing is a valid one if any, else the primary issuer's latest (the contract's latestCredential).
        per_issuer: dict[str, CredentialEntry] = {}
        for e in made:
            per_issuer[e.issuer] = e  # an update keeps the issuer's place (first attested first)
        latest = next((e for e in per_issuer.values() if e.status_at(when) is CredentialStatus.VALID), None)
        if latest is None and per_issuer:
            latest = next(iter(per_issuer.values()))
        status = latest.status_at(when) if latest else CredentialStatus.MISSING
        name = names.get(schema, (f"schema {schema}", True))[0]
        out.append(CredentialStanding(raw_subject, schema, name, when, status, latest))
    return out
