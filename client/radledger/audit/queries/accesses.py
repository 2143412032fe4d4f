"""The accounting of disclosures: recorded accesses of records (``AccessRecorded``), and the
break-glass invocations with the accesses made under them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import CONSENT, Found, basis_name, hex0x, purpose_names, scope_names, show_time
from radledger.chain import validation
from radledger.registries.consent.types import AccessBasis


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
        where["t2"] = validation.address(patient, "patient")
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
    where: dict[str, str] | None = {"t1": validation.address(patient, "patient")} if patient else None
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
