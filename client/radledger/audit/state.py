"""Contract state rebuilt from the index alone: what every view of the four contracts would return.

Principle 4 of the design: everything an auditor needs is in events. These functions replay
the indexed events into the values of ``getRecord``, ``getGrant``/``getGuardian``/
``signatureEpoch`` (through :func:`radledger.registries.consent.events.rebuild_consent_state`),
``getAttestation`` and ``getRequest``/``getClaim`` (through :func:`radledger.preauth.replay`);
the property test compares them with the views after random histories.
"""

from __future__ import annotations

from collections import defaultdict

from eth_utils import to_checksum_address

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import CONSENT, PREAUTH, RECORDS
from radledger.audit.queries.credentials import credential_history
from radledger.registries.common import RecordKind
from radledger.registries.consent.events import ConsentState, rebuild_consent_state
from radledger.registries.credentials.types import AttestationState
from radledger.registries.preauth.client import PreauthEvent, replay, replay_claims
from radledger.registries.preauth.types import PreauthClaim, PreauthRequest
from radledger.registries.records.types import Record


def record_state(index: AuditIndex) -> dict[bytes, Record]:
    """Record id → the record as ``getRecord`` returns it."""
    records: dict[bytes, Record] = {}
    for row in index.events(["RecordRegistered", "RecordAmended"], contract=RECORDS):
        a = row.args
        rid = bytes(a["recordId"])
        if row.event == "RecordRegistered":
            records[rid] = Record(
                rid, a["patient"], a["custodian"], RecordKind(a["kind"]), 1, row.timestamp, bytes(a["contentHash"])
            )
        else:
            old = records[rid]
            records[rid] = Record(
                rid, old.patient, old.custodian, old.kind, int(a["version"]), old.registered_at, bytes(a["contentHash"])
            )
    return records


def consent_state(index: AuditIndex) -> ConsentState:
    """Every grant slot, guardian slot and signature epoch (see :mod:`radledger.registries.consent.events`)."""
    address = index.address_of(CONSENT)
    logs = index.raw_logs(address) if address else []
    return rebuild_consent_state(logs, address)


def credential_state(index: AuditIndex) -> dict[bytes, AttestationState]:
    """Attestation uid → what ``getAttestation`` returns."""
    out: dict[bytes, AttestationState] = {}
    for entry in credential_history(index):
        out[bytes(entry.uid)] = AttestationState(
            uid=bytes(entry.uid),
            issuer=to_checksum_address(entry.issuer),
            valid_from=entry.valid_from,
            valid_until=entry.valid_until,
            revoked_at=entry.revoked_at,
            sequence=entry.sequence,
            revocable=entry.revocable,
            latest=entry.latest,
        )
    return out


def _preauth_events(index: AuditIndex) -> dict[bytes, list[PreauthEvent]]:
    grouped: dict[bytes, list[PreauthEvent]] = defaultdict(list)
    rows: list[EventRow] = index.events(contract=PREAUTH)
    for row in rows:
        if "requestId" in row.args and row.event:
            grouped[bytes(row.args["requestId"])].append(
                PreauthEvent(row.event, row.args, row.block_number, row.log_index, row.timestamp, row.tx_hash)
            )
    return grouped


def preauth_state(index: AuditIndex) -> tuple[dict[bytes, PreauthRequest], dict[bytes, PreauthClaim]]:
    """Request id → ``getRequest``, and claim id → ``getClaim``."""
    requests: dict[bytes, PreauthRequest] = {}
    claims: dict[bytes, PreauthClaim] = {}
    for request_id, events in _preauth_events(index).items():
        if any(e.name == "PreauthRequested" for e in events):
            requests[request_id] = replay(events)
            claims.update(replay_claims(events))
    return requests, claims


__all__ = ["consent_state", "credential_state", "preauth_state", "record_state"]
