"""Consent queries: a patient's consent history, and who could access a record at a time (under the
record's own grant, the patient's wildcard, or break-glass; made by the patient or a guardian)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radledger.audit.index import AuditIndex, EventRow, NotInIndex
from radledger.audit.queries.base import (
    CONSENT,
    RECORDS,
    Found,
    basis_name,
    hex0x,
    purpose_names,
    scope_names,
    show_record,
    show_time,
    synced_time,
)
from radledger.chain import validation
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.types import AccessBasis


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


def consent_history(
    index: AuditIndex, patient: str, since: int | None = None, until: int | None = None
) -> list[ConsentChange]:
    """Grants, revocations, guardians, signature invalidations, break-glass, records and accesses of `patient`."""
    who = validation.address(patient, "patient")
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
    when = synced_time(index) if at is None else int(at)
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
