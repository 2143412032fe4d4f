"""What a patient sees: their records at this site, who has access, guardians, break-glass and accesses.

History comes from the event index (:func:`radledger.audit.queries.consent.consent_history`); the current
terms of every grant and guardian come from the contract's views, so the page never shows a grant
the chain no longer holds. Records appear by kind and registration date, never by a DICOM UID:
the chain knows only the salted record id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from eth_typing import ChecksumAddress

from radledger.audit.index import AuditIndex
from radledger.audit.queries.base import RECORDS
from radledger.audit.queries.consent import ConsentChange, consent_history
from radledger.chain import validation
from radledger.portal.config import DirectoryEntry
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.records.client import RecordRegistryClient

KIND_TEXT = {
    RecordKind.IMAGING_STUDY: "Imaging study",
    RecordKind.REPORT: "Report",
    RecordKind.SAFETY_PROFILE: "Safety profile (contrast allergy, implants)",
    RecordKind.CREDENTIAL_FILE: "Credential file",
}
SCOPE_TEXT = {Scope.IMAGES: "images", Scope.REPORTS: "reports", Scope.SAFETY_PROFILE: "safety profile"}
PURPOSE_TEXT = {
    Purpose.TREAT: "treatment",
    Purpose.HPAYMT: "payment",
    Purpose.HOPERAT: "healthcare operations",
    Purpose.HRESCH: "research",
    Purpose.ETREAT: "emergency treatment",
}


def scope_list(scopes: int) -> list[str]:
    return [n for flag, n in SCOPE_TEXT.items() if int(flag) & int(scopes)]


def purpose_list(purposes: int) -> list[str]:
    return [n for flag, n in PURPOSE_TEXT.items() if int(flag) & int(purposes)]


def day(timestamp: int) -> str:
    """A date a person reads (``12 March 2026``); ``no end date`` for a grant that never expires."""
    if timestamp >= FOREVER or timestamp > 253402300799:
        return "no end date"
    moment = datetime.fromtimestamp(timestamp, UTC)
    return f"{moment.day} {moment.strftime('%B %Y')}"


def and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""


def lower_first(text: str) -> str:
    """`Imaging study registered 2 March 2026` → `imaging study registered 2 March 2026`."""
    return text[:1].lower() + text[1:]


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


class Directory:
    """Names for addresses: the site's configured directory, then the custodians registered on chain."""

    def __init__(self, entries: tuple[DirectoryEntry, ...], records: RecordRegistryClient) -> None:
        found: dict[ChecksumAddress, DirectoryEntry] = {}
        for i in range(1, records.custodian_count() + 1):  # custodian indices start at 1
            custodian = records.get_custodian(records.custodian_at(i))
            if custodian.active:
                host = urlsplit(custodian.gateway_url).hostname or custodian.gateway_url
                found[custodian.address] = DirectoryEntry(host, custodian.address, "imaging site")
        for entry in entries:
            found[entry.address] = entry
        self.entries = found

    def name(self, address: str) -> str:
        entry = self.entries.get(validation.address(address))
        return entry.name if entry else short(address)

    def as_json(self) -> list[dict[str, str]]:
        return [e.as_json() for e in sorted(self.entries.values(), key=lambda e: (e.kind, e.name))]


@dataclass(frozen=True)
class RecordView:
    record_id: bytes
    kind: RecordKind
    registered_at: int
    version: int
    custodian: ChecksumAddress

    @property
    def label(self) -> str:
        return f"{KIND_TEXT.get(self.kind, 'Record')} registered {day(self.registered_at)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "recordId": "0x" + self.record_id.hex(),
            "kind": KIND_TEXT.get(self.kind, "Record"),
            "registeredAt": self.registered_at,
            "registered": day(self.registered_at),
            "amendments": self.version - 1,
            "label": self.label,
        }


@dataclass(frozen=True)
class GrantView:
    grantee: ChecksumAddress
    grantee_name: str
    record_id: bytes
    record_label: str
    scopes: int
    purposes: int
    valid_from: int
    valid_until: int
    version: int
    actor: ChecksumAddress
    patient: ChecksumAddress
    granted_at: int
    tx_hash: str

    @property
    def by_guardian(self) -> bool:
        return self.actor != self.patient

    @property
    def summary(self) -> str:
        until = "with no end date" if self.valid_until >= FOREVER else f"until {day(self.valid_until)}"
        by = f" (granted by your guardian {short(self.actor)})" if self.by_guardian else ""
        return (
            f"{self.grantee_name} may see the {and_list(scope_list(self.scopes))} of {lower_first(self.record_label)} "
            f"for {and_list(purpose_list(self.purposes))}, {until}{by}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "grantee": self.grantee,
            "granteeName": self.grantee_name,
            "recordId": "0x" + self.record_id.hex(),
            "record": self.record_label,
            "scopes": scope_list(self.scopes),
            "purposes": purpose_list(self.purposes),
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "until": day(self.valid_until),
            "grantedBy": "guardian" if self.by_guardian else "patient",
            "actor": self.actor,
            "grantedAt": self.granted_at,
            "txHash": self.tx_hash,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Overview:
    patient: ChecksumAddress
    is_patient_here: bool
    records: list[RecordView]
    grants: list[GrantView]
    guardians: list[dict[str, Any]]
    break_glass: list[dict[str, Any]]
    accesses: list[dict[str, Any]]
    epoch: int
    now: int

    def as_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "isPatientHere": self.is_patient_here,
            "records": [r.as_json() for r in self.records],
            "grants": [g.as_json() for g in self.grants],
            "guardians": self.guardians,
            "breakGlass": self.break_glass,
            "accesses": self.accesses,
            "epoch": self.epoch,
            "now": self.now,
        }


def site_records(
    index: AuditIndex, patient: str, custodians: tuple[ChecksumAddress, ...]
) -> list[tuple[bytes, int, ChecksumAddress]]:
    """(record id, registration time, custodian) of `patient`'s records registered by this site's custodians."""
    who = validation.address(patient, "patient")
    rows = index.events(["RecordRegistered"], contract=RECORDS, where={"t2": who})
    return [
        (bytes(r.args["recordId"]), r.timestamp, r.args["custodian"]) for r in rows if r.args["custodian"] in custodians
    ]


def overview(
    index: AuditIndex,
    consent: ConsentRegistryClient,
    records: RecordRegistryClient,
    directory: Directory,
    patient: str,
    custodians: tuple[ChecksumAddress, ...],
) -> Overview:
    """Everything the page shows about `patient`, from the index (history) and the chain (current terms)."""
    who = validation.address(patient, "patient")
    now = consent.now()
    history = consent_history(index, who)
    mine = site_records(index, who, custodians)
    labels: dict[bytes, str] = {WILDCARD: "All your records"}
    record_views = []
    for rid, registered_at, custodian in mine:
        record = records.get_record(rid)
        view = RecordView(rid, record.kind, registered_at, record.version, custodian)
        record_views.append(view)
        labels[rid] = view.label

    last_grant: dict[tuple[str, bytes], ConsentChange] = {}
    guardians_seen: dict[str, ConsentChange] = {}
    break_glass: list[dict[str, Any]] = []
    accesses: list[dict[str, Any]] = []
    for change in history:
        if change.action == "granted" and change.counterpart and change.record_id is not None:
            last_grant[(change.counterpart, change.record_id)] = change
        elif change.action in ("guardian-appointed", "guardian-removed") and change.counterpart:
            guardians_seen[change.counterpart] = change
        elif change.action == "break-glass" and change.counterpart:
            break_glass.append(
                {
                    "account": change.counterpart,
                    "name": directory.name(change.counterpart),
                    "reasonCode": change.reason_code,
                    "at": change.time,
                    "when": day(change.time),
                    "until": change.valid_until,
                    "active": now < (change.valid_until or 0),
                    "txHash": change.source.tx_hash,
                    "summary": f"{directory.name(change.counterpart)} used emergency access to all your records "
                    f"on {day(change.time)} (reason code {change.reason_code})",
                }
            )
        elif change.action == "access-recorded" and change.counterpart and change.record_id is not None:
            record_text = labels.get(change.record_id, "a record at another site")
            accesses.append(
                {
                    "grantee": change.counterpart,
                    "name": directory.name(change.counterpart),
                    "recordId": "0x" + change.record_id.hex(),
                    "record": record_text,
                    "scopes": scope_list(change.scopes),
                    "purpose": and_list(purpose_list(change.purposes)),
                    "at": change.time,
                    "when": day(change.time),
                    "txHash": change.source.tx_hash,
                    "summary": f"{directory.name(change.counterpart)} accessed the "
                    f"{and_list(scope_list(change.scopes))} of {lower_first(record_text)} for "
                    f"{and_list(purpose_list(change.purposes))} on {day(change.time)}",
                }
            )

    grants = []
    for (grantee, rid), change in last_grant.items():
        slot = consent.get_grant(who, grantee, rid)
        if not slot.is_active(now) and not (slot.scopes and slot.valid_from > now):
            continue
        grants.append(
            GrantView(
                validation.address(grantee), directory.name(grantee), rid, labels.get(rid, "a record at another site"),
                int(slot.scopes), int(slot.purposes), slot.valid_from, slot.valid_until, slot.version,
                validation.address(change.actor or who), who, change.time, change.source.tx_hash,
            )
        )  # fmt: skip
    guardians = []
    for guardian in guardians_seen:
        appointed = consent.get_guardian(who, guardian)
        if appointed.is_current(now):
            name = directory.name(appointed.guardian)
            guardians.append(
                {
                    "guardian": appointed.guardian,
                    "name": name,
                    "validUntil": appointed.valid_until,
                    "until": day(appointed.valid_until),
                    "summary": f"{name} may act for you until {day(appointed.valid_until)}",
                }
            )
    return Overview(
        who, bool(mine), record_views, grants, guardians, break_glass, accesses, consent.signature_epoch(who), now
    )
