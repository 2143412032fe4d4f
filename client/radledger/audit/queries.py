"""An auditor's questions, answered from the event index alone (no node needed).

- :func:`consent_history`: everything that happened to a patient's consents, in order.
- :func:`who_could_access`: who could access record X at time T, and under which grant (the
  record's own, or the patient's wildcard), made by the patient or a guardian, or by break-glass.
- :func:`access_trail`: the recorded accesses of a record (``AccessRecorded``).
- :func:`break_glass_events`: emergency accesses in a period, with reason codes.
- :func:`credential_history` and :func:`credential_standing`: a subject's attestations, and
  which were valid on a date (latest wins per issuer, as ``hasValidCredential``).
- :func:`payer_requests`: a payer's prior-authorization requests and what was decided.

Every answer row keeps the provenance of the event it comes from (block number and hash,
transaction hash, log index), which the exports print in every row. Times are block times
(unix seconds); "at T" means after every block whose time is at most T.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radledger import validation
from radledger.audit.index import AuditIndex, EventRow, NotInIndex
from radledger.credentials import subject_address, subject_id
from radledger.models import (
    FOREVER,
    AccessBasis,
    ClaimStatus,
    CredentialStatus,
    PreauthRequest,
    PreauthStatus,
    Purpose,
    RecordKind,
    Scope,
)
from radledger.preauth import PreauthEvent, procedure_text, replay

WILDCARD = bytes(32)
MAX_DATETIME = 253402300799
"""9999-12-31T23:59:59Z: later uint40 times (a grant "forever") show as `never`."""

CONSENT = "ConsentRegistry"
RECORDS = "RecordRegistry"
CREDENTIALS = "CredentialRegistry"
PREAUTH = "PreauthRegistry"


# ------------------------------------------------------------------------------ formatting


def show_time(timestamp: int | None) -> str:
    """ISO 8601 UTC, `never` for the largest uint40, empty for None."""
    if timestamp is None:
        return ""
    if timestamp >= FOREVER or timestamp > MAX_DATETIME:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hex0x(value: bytes | None) -> str:
    return "" if value is None else "0x" + bytes(value).hex()


def scope_names(scopes: int) -> str:
    """`images|reports`; names as the CLI takes them."""
    names = {Scope.IMAGES: "images", Scope.REPORTS: "reports", Scope.SAFETY_PROFILE: "safety-profile"}
    return "|".join(n for flag, n in names.items() if int(flag) & int(scopes))


def purpose_names(purposes: int) -> str:
    """`TREAT|HPAYMT`: HL7 PurposeOfUse codes."""
    return "|".join(p.name or "" for p in Purpose if p.name != "ALL" and int(p) & int(purposes))


def basis_name(basis: AccessBasis) -> str:
    return {
        AccessBasis.NONE: "none",
        AccessBasis.RECORD_GRANT: "record-grant",
        AccessBasis.WILDCARD_GRANT: "wildcard-grant",
        AccessBasis.BREAK_GLASS: "break-glass",
    }[basis]


def show_record(record_id: bytes) -> str:
    return "all records" if record_id == WILDCARD else hex0x(record_id)


@dataclass(frozen=True)
class Found:
    """A query answer row: the event it rests on, and what it says (``fields``)."""

    source: EventRow

    def provenance(self) -> dict[str, Any]:
        return self.source.provenance()

    @property
    def time(self) -> int:
        return self.source.timestamp

    def fields(self) -> dict[str, Any]:  # pragma: no cover - every subclass says what it holds
        raise NotImplementedError

    def row(self) -> dict[str, Any]:
        """Provenance columns first, then the event's time, then the answer's fields (all text or numbers)."""
        return {**self.provenance(), "time": show_time(self.time), **self.fields()}


# ---------------------------------------------------------------------------- consents


@dataclass(frozen=True)
class ConsentChange(Found):
    """One event of a patient's consent history."""

    action: str
    patient: str
    counterpart: str | None = None
    record_id: bytes | None = None
    scopes: int = 0
    purposes: int = 0
    valid_from: int | None = None
    valid_until: int | None = None
    actor: str | None = None
    reason_code: int | None = None

    @property
    def by_guardian(self) -> bool:
        return self.actor is not None and self.actor != self.patient

    def describe(self) -> str:
        who = self.counterpart or ""
        record = show_record(self.record_id) if self.record_id is not None else ""
        by = f" by guardian {self.actor}" if self.by_guardian else ""
        if self.action == "granted":
            return (
                f"granted {who} {scope_names(self.scopes)} for {purpose_names(self.purposes)} on {record}, "
                f"{_window(self.valid_from, self.valid_until)}{by}"
            )
        if self.action == "revoked":
            return f"revoked the grant of {who} on {record}{by}"
        if self.action == "guardian-appointed":
            return f"appointed guardian {who} until {show_time(self.valid_until)}"
        if self.action == "guardian-removed":
            return f"removed guardian {who}"
        if self.action == "signatures-invalidated":
            return f"invalidated all outstanding signatures{by}"
        if self.action == "break-glass":
            return f"break-glass by {who}, reason {self.reason_code}, until {show_time(self.valid_until)}"
        if self.action == "record-registered":
            return f"record {record} registered by custodian {who}"
        if self.action == "access-recorded":
            return f"{who} accessed {record} ({scope_names(self.scopes)}, {purpose_names(self.purposes)})"
        return self.action  # pragma: no cover

    def fields(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "patient": self.patient,
            "counterpart": self.counterpart or "",
            "record_id": "" if self.record_id is None else hex0x(self.record_id),
            "scopes": scope_names(self.scopes),
            "purposes": purpose_names(self.purposes),
            "valid_from": show_time(self.valid_from or None),
            "valid_until": show_time(self.valid_until),
            "actor": self.actor or "",
            "by_guardian": self.by_guardian,
            "reason_code": "" if self.reason_code is None else self.reason_code,
            "description": self.describe(),
        }


def _window(valid_from: int | None, valid_until: int | None) -> str:
    if not valid_from:
        return f"until {show_time(valid_until)}"
    return f"from {show_time(valid_from)} until {show_time(valid_until)}"


def _patient_text(patient: str) -> str:
    return validation.address(patient, "patient")


def consent_history(
    index: AuditIndex, patient: str, since: int | None = None, until: int | None = None
) -> list[ConsentChange]:
    """Grants, revocations, guardians, signature invalidations, break-glass, records and accesses of `patient`."""
    who = _patient_text(patient)
    by_patient = index.events(
        ["ConsentGranted", "ConsentRevoked", "GuardianSet", "SignaturesInvalidated", "BreakGlassInvoked"],
        contract=CONSENT,
        where={"t1": who},
        since=since,
        until=until,
    )
    second = index.events(["AccessRecorded", "RecordRegistered"], where={"t2": who}, since=since, until=until)
    rows = sorted([*by_patient, *second], key=lambda r: r.position)
    return [_consent_change(r) for r in rows]


def _consent_change(row: EventRow) -> ConsentChange:
    a = row.args
    if row.event == "ConsentGranted":
        return ConsentChange(
            row, "granted", a["patient"], a["grantee"], a["recordId"], a["scopes"], a["purposes"],
            a["validFrom"], a["validUntil"], a["actor"],
        )  # fmt: skip
    if row.event == "ConsentRevoked":
        return ConsentChange(row, "revoked", a["patient"], a["grantee"], a["recordId"], actor=a["actor"])
    if row.event == "GuardianSet":
        action = "guardian-appointed" if a["validUntil"] else "guardian-removed"
        return ConsentChange(row, action, a["patient"], a["guardian"], valid_until=a["validUntil"] or None)
    if row.event == "SignaturesInvalidated":
        return ConsentChange(row, "signatures-invalidated", a["patient"], actor=a["actor"])
    if row.event == "BreakGlassInvoked":
        return ConsentChange(
            row, "break-glass", a["patient"], a["account"], WILDCARD, int(Scope.ALL), int(Purpose.ETREAT),
            row.timestamp, a["validUntil"], a["account"], a["reasonCode"],
        )  # fmt: skip
    if row.event == "RecordRegistered":
        return ConsentChange(
            row, "record-registered", a["patient"], a["custodian"], a["recordId"], actor=a["custodian"]
        )
    if row.event == "AccessRecorded":
        return ConsentChange(
            row, "access-recorded", a["patient"], a["grantee"], a["recordId"], a["scopes"], a["purpose"],
            actor=a["recorder"],
        )  # fmt: skip
    raise ValueError(f"not a consent event: {row.event}")  # pragma: no cover


# ------------------------------------------------------------------------ who could access


@dataclass(frozen=True)
class AccessRight(Found):
    """A grantee's access to a record at a time, and the event that gave it."""

    record_id: bytes
    grantee: str
    basis: AccessBasis
    scopes: int
    purposes: int
    valid_from: int
    valid_until: int
    actor: str | None
    by_guardian: bool
    reason_code: int | None = None

    def covers(self, scopes: int, purposes: int) -> bool:
        return self.scopes & scopes == scopes and self.purposes & purposes == purposes

    def fields(self) -> dict[str, Any]:
        return {
            "record_id": hex0x(self.record_id),
            "grantee": self.grantee,
            "basis": basis_name(self.basis),
            "scopes": scope_names(self.scopes),
            "purposes": purpose_names(self.purposes),
            "valid_from": show_time(self.valid_from or None),
            "valid_until": show_time(self.valid_until),
            "granted_by": self.actor or "",
            "by_guardian": self.by_guardian,
            "reason_code": "" if self.reason_code is None else self.reason_code,
        }


@dataclass(frozen=True)
class GuardianAppointment(Found):
    patient: str
    guardian: str
    valid_until: int

    def fields(self) -> dict[str, Any]:
        return {"patient": self.patient, "guardian": self.guardian, "valid_until": show_time(self.valid_until)}


@dataclass(frozen=True)
class AccessReport:
    """Who could access `record_id` at `at` (and which guardians could act for its patient then)."""

    record_id: bytes
    at: int
    patient: str
    custodian: str
    kind: RecordKind
    registered: EventRow
    rights: list[AccessRight] = field(default_factory=list)
    guardians: list[GuardianAppointment] = field(default_factory=list)

    def basis(self, grantee: str, scopes: int, purposes: int) -> AccessBasis:
        """What ``accessBasis`` answered at `at`: the record's grant, then the wildcard, then break-glass."""
        who = validation.address(grantee, "grantee")
        if not scopes or not purposes:
            return AccessBasis.NONE
        for basis in (AccessBasis.RECORD_GRANT, AccessBasis.WILDCARD_GRANT):
            for right in self.rights:
                if right.grantee == who and right.basis is basis and right.covers(scopes, purposes):
                    return basis
        emergency = purposes == int(Purpose.ETREAT) and not scopes & ~int(Scope.ALL)
        if emergency and any(r.grantee == who and r.basis is AccessBasis.BREAK_GLASS for r in self.rights):
            return AccessBasis.BREAK_GLASS
        return AccessBasis.NONE

    def grantees(self) -> list[str]:
        return sorted({r.grantee for r in self.rights})


def record_registration(index: AuditIndex, record_id: bytes) -> EventRow:
    rid = validation.bytes32(record_id, "record id")
    found = index.events(["RecordRegistered"], contract=RECORDS, where={"t1": hex0x(rid)})
    if not found:
        raise NotInIndex(f"record {hex0x(rid)} is not in the index (not registered, or not synced yet)")
    return found[0]


def who_could_access(index: AuditIndex, record_id: bytes, at: int | None = None) -> AccessReport:
    """The grants, wildcard grants and break-glass windows that covered `record_id` at time `at`
    (default: the last synced block's time)."""
    rid = validation.bytes32(record_id, "record id")
    registered = record_registration(index, rid)
    when = _now(index) if at is None else int(at)
    patient, custodian = registered.args["patient"], registered.args["custodian"]
    report = AccessReport(rid, when, patient, custodian, RecordKind(registered.args["kind"]), registered)
    if registered.timestamp > when:
        return report  # not registered yet at that time: nobody could access it
    slots, glass, guardians = _consent_slots(index, patient, when)
    for (grantee, slot_record), row in sorted(slots.items(), key=lambda kv: kv[1].position):
        if slot_record not in (rid, WILDCARD):
            continue
        a = row.args
        if not (a["validFrom"] <= when < a["validUntil"]):
            continue
        basis = AccessBasis.RECORD_GRANT if slot_record == rid else AccessBasis.WILDCARD_GRANT
        report.rights.append(
            AccessRight(
                row, rid, grantee, basis, a["scopes"], a["purposes"], a["validFrom"], a["validUntil"], a["actor"],
                a["actor"] != patient,
            )
        )  # fmt: skip
    for account, row in sorted(glass.items(), key=lambda kv: kv[1].position):
        if when < row.args["validUntil"]:
            report.rights.append(
                AccessRight(
                    row, rid, account, AccessBasis.BREAK_GLASS, int(Scope.ALL), int(Purpose.ETREAT), row.timestamp,
                    row.args["validUntil"], account, False, row.args["reasonCode"],
                )
            )  # fmt: skip
    for guardian, row in sorted(guardians.items(), key=lambda kv: kv[1].position):
        if when < row.args["validUntil"]:
            report.guardians.append(GuardianAppointment(row, patient, guardian, row.args["validUntil"]))
    return report


def _now(index: AuditIndex) -> int:
    now = index.latest_time()
    if now is None:
        raise NotInIndex("the index is empty: run `radledger audit sync` first")
    return now


def _consent_slots(
    index: AuditIndex, patient: str, at: int
) -> tuple[dict[tuple[str, bytes], EventRow], dict[str, EventRow], dict[str, EventRow]]:
    """The patient's grant slots (their last ConsentGranted, revoked ones dropped), break-glass windows
    and guardian appointments after every block up to time `at`."""
    rows = index.events(
        ["ConsentGranted", "ConsentRevoked", "BreakGlassInvoked", "GuardianSet"],
        contract=CONSENT,
        where={"t1": patient},
        until=at + 1,
    )
    slots: dict[tuple[str, bytes], EventRow] = {}
    glass: dict[str, EventRow] = {}
    guardians: dict[str, EventRow] = {}
    for row in rows:
        a = row.args
        if row.event == "ConsentGranted":
            slots[(a["grantee"], a["recordId"])] = row
        elif row.event == "ConsentRevoked":
            slots.pop((a["grantee"], a["recordId"]), None)
        elif row.event == "BreakGlassInvoked":
            glass[a["account"]] = row
        elif row.event == "GuardianSet":
            guardians[a["guardian"]] = row
    return slots, glass, guardians


# ----------------------------------------------------------------------------- accesses


@dataclass(frozen=True)
class AccessEntry(Found):
    """One recorded access (the accounting of disclosures)."""

    record_id: bytes
    patient: str
    grantee: str
    scopes: int
    purpose: int
    basis: AccessBasis
    recorder: str

    @property
    def recorded_by_custodian(self) -> bool:
        return self.recorder != self.grantee

    def fields(self) -> dict[str, Any]:
        return {
            "record_id": hex0x(self.record_id),
            "patient": self.patient,
            "grantee": self.grantee,
            "scopes": scope_names(self.scopes),
            "purpose": purpose_names(self.purpose),
            "basis": basis_name(self.basis),
            "recorder": self.recorder,
            "recorded_by_custodian": self.recorded_by_custodian,
        }


def _access(row: EventRow) -> AccessEntry:
    a = row.args
    return AccessEntry(
        row, a["recordId"], a["patient"], a["grantee"], a["scopes"], a["purpose"], AccessBasis(a["basis"]),
        a["recorder"],
    )  # fmt: skip


def access_trail(
    index: AuditIndex, record_id: bytes | None = None, since: int | None = None, until: int | None = None,
    patient: str | None = None,
) -> list[AccessEntry]:  # fmt: skip
    """The recorded accesses of `record_id` (or of every record of `patient`, or all), oldest first."""
    where: dict[str, str] = {}
    if record_id is not None:
        where["t1"] = hex0x(validation.bytes32(record_id, "record id"))
    if patient is not None:
        where["t2"] = _patient_text(patient)
    return [
        _access(r) for r in index.events(["AccessRecorded"], contract=CONSENT, where=where, since=since, until=until)
    ]


# -------------------------------------------------------------------------- break-glass


@dataclass(frozen=True)
class BreakGlassEntry(Found):
    patient: str
    account: str
    reason_code: int
    valid_until: int
    accesses: tuple[AccessEntry, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "account": self.account,
            "reason_code": self.reason_code,
            "valid_until": show_time(self.valid_until),
            "accesses_under_break_glass": len(self.accesses),
        }


def break_glass_events(
    index: AuditIndex, since: int | None = None, until: int | None = None, patient: str | None = None
) -> list[BreakGlassEntry]:
    """Break-glass invocations in [since, until), each with the accesses recorded under it."""
    where = {"t1": _patient_text(patient)} if patient else None
    found = index.events(["BreakGlassInvoked"], contract=CONSENT, where=where, since=since, until=until)
    out = []
    for row in found:
        a = row.args
        during = [
            e
            for e in access_trail(index, patient=a["patient"], since=row.timestamp, until=a["validUntil"])
            if e.basis is AccessBasis.BREAK_GLASS and e.grantee == a["account"] and e.source.position > row.position
        ]
        out.append(BreakGlassEntry(row, a["patient"], a["account"], a["reasonCode"], a["validUntil"], tuple(during)))
    return out


# ---------------------------------------------------------------------------- credentials


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


def _subject(value: Any) -> bytes:
    return subject_id(value)


def credential_history(index: AuditIndex, subject: Any = None) -> list[CredentialEntry]:
    """Every attestation about `subject` (an address or a 32-byte subject; None: every subject), oldest first."""
    where = {"t2": hex0x(_subject(subject))} if subject is not None else None
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
    raw_subject = _subject(subject)
    when = _now(index) if at is None else int(at)
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


# ------------------------------------------------------------------------------- payers


@dataclass(frozen=True)
class Decision:
    status: PreauthStatus
    decided_at: int
    approved_units: int
    reason_code: int
    automatic: bool
    on_appeal: bool
    due_at: int
    source: EventRow

    @property
    def late(self) -> bool:
        """Decided after its deadline (the contract's ``flagMissedDeadline`` needs time > dueAt)."""
        return self.decided_at > self.due_at


@dataclass(frozen=True)
class PreauthCase(Found):
    """One prior-authorization request with everything decided about it."""

    request_id: bytes
    payer: str
    requester: str
    physician: str
    procedure: str
    units: int
    expedited: bool
    due_at: int
    state: PreauthRequest
    events: tuple[EventRow, ...]
    decision: Decision | None = None
    appeal_decision: Decision | None = None
    appealed: EventRow | None = None
    cancelled: EventRow | None = None
    information_requests: int = 0
    deadline_flags: int = 0
    claims_submitted: int = 0
    claims_paid_amount: int = 0

    @property
    def requested_at(self) -> int:
        return self.source.timestamp

    @property
    def decision_seconds(self) -> int | None:
        return None if self.decision is None else self.decision.decided_at - self.requested_at

    @property
    def approved_after_appeal(self) -> bool:
        return self.appeal_decision is not None and self.appeal_decision.status is PreauthStatus.APPROVED

    def fields(self) -> dict[str, Any]:
        d, ad = self.decision, self.appeal_decision
        return {
            "request_id": hex0x(self.request_id),
            "payer": self.payer,
            "requester": self.requester,
            "physician": self.physician,
            "procedure": self.procedure,
            "units": self.units,
            "expedited": self.expedited,
            "requested_at": show_time(self.requested_at),
            "due_at": show_time(self.due_at),
            "status": self.state.status.name.lower(),
            "x12": self.state.status.x12_action_code.value if self.state.status is not PreauthStatus.NONE else "",
            "decision": d.status.name.lower() if d else "",
            "decided_at": show_time(d.decided_at) if d else "",
            "decision_hours": "" if self.decision_seconds is None else round(self.decision_seconds / 3600, 3),
            "automatic": d.automatic if d else "",
            "decided_late": d.late if d else "",
            "reason_code": d.reason_code if d and d.reason_code else "",
            "approved_units": self.state.approved_units,
            "information_requests": self.information_requests,
            "appealed_at": show_time(self.appealed.timestamp) if self.appealed else "",
            "appeal_decision": ad.status.name.lower() if ad else "",
            "appeal_decided_at": show_time(ad.decided_at) if ad else "",
            "deadline_missed_flags": self.deadline_flags,
            "cancelled_at": show_time(self.cancelled.timestamp) if self.cancelled else "",
            "claims": self.claims_submitted,
            "claims_paid_amount": self.claims_paid_amount,
        }


def _preauth_event(row: EventRow) -> PreauthEvent:
    return PreauthEvent(str(row.event), row.args, row.block_number, row.log_index, row.timestamp, row.tx_hash)


PREAUTH_REQUEST_EVENTS = (
    "PreauthRequested", "PreauthDecided", "InformationRequested", "InformationProvided", "PreauthCancelled",
    "PreauthAppealed", "DeadlineMissed", "ClaimSubmitted", "ClaimAdjudicated", "DecisionTimeframeExtended",
)  # fmt: skip


def preauth_cases(index: AuditIndex, request_ids: Sequence[bytes] | None = None) -> list[PreauthCase]:
    """Every request in the index (or those of `request_ids`), in request order."""
    by_request: dict[bytes, list[EventRow]] = defaultdict(list)
    for row in index.events(list(PREAUTH_REQUEST_EVENTS), contract=PREAUTH):
        by_request[bytes(row.args["requestId"])].append(row)
    wanted = set(request_ids) if request_ids is not None else None
    cases = [_case(rows) for rid, rows in by_request.items() if (wanted is None or rid in wanted) and _requested(rows)]
    return sorted(cases, key=lambda c: c.source.position)


def _requested(rows: list[EventRow]) -> bool:
    return any(r.event == "PreauthRequested" for r in rows)


def _case(rows: list[EventRow]) -> PreauthCase:
    rows = sorted(rows, key=lambda r: r.position)
    request = next(r for r in rows if r.event == "PreauthRequested")
    a = request.args
    due = int(a["dueAt"])
    decision = appeal_decision = None
    appealed = cancelled = None
    info = flags = claims = paid = 0
    for row in rows:
        b = row.args
        if row.event == "PreauthDecided":
            made = Decision(
                PreauthStatus(b["status"]), row.timestamp, int(b["approvedUnits"]), int(b["reasonCode"]),
                bool(b["automatic"]), bool(b["onAppeal"]), due, row,
            )  # fmt: skip
            if made.on_appeal:
                appeal_decision = made
            elif decision is None:
                decision = made
        elif row.event == "PreauthAppealed":
            appealed, due = row, int(b["dueAt"])
        elif row.event == "DecisionTimeframeExtended":
            due = int(b["newDueAt"])  # lateness is judged against the extended deadline
        elif row.event == "InformationRequested":
            info += 1
        elif row.event == "DeadlineMissed":
            flags += 1
        elif row.event == "PreauthCancelled":
            cancelled = row
        elif row.event == "ClaimSubmitted":
            claims += 1
        elif row.event == "ClaimAdjudicated" and ClaimStatus(b["status"]) in (
            ClaimStatus.PAID,
            ClaimStatus.PARTIALLY_PAID,
        ):
            paid += int(b["paidAmount"])
    return PreauthCase(
        request, bytes(a["requestId"]), a["payer"], a["requester"], a["physician"], procedure_text(a["procedure"]),
        int(a["units"]), bool(a["expedited"]), int(a["dueAt"]), replay(_preauth_event(r) for r in rows), tuple(rows),
        decision, appeal_decision, appealed, cancelled, info, flags, claims, paid,
    )  # fmt: skip


def payer_requests(
    index: AuditIndex, payer: str | None = None, since: int | None = None, until: int | None = None
) -> list[PreauthCase]:
    """The requests made to `payer` (every payer when None) in [since, until), with their decisions."""
    who = validation.address(payer, "payer") if payer else None
    return [
        c
        for c in preauth_cases(index)
        if (who is None or c.payer == who)
        and (since is None or c.requested_at >= since)
        and (until is None or c.requested_at < until)
    ]


# ----------------------------------------------------------------------------- raw events


@dataclass(frozen=True)
class RawEvent(Found):
    """Any indexed event, its arguments as JSON text."""

    def fields(self) -> dict[str, Any]:
        import json

        from radledger.audit.decoding import to_json

        return {
            "contract": self.source.contract or "",
            "address": self.source.address,
            "event": self.source.event or "",
            "args": json.dumps(to_json(self.source.args), sort_keys=True),
        }


def all_events(index: AuditIndex, since: int | None = None, until: int | None = None) -> list[RawEvent]:
    return [RawEvent(r) for r in index.events(since=since, until=until)]
