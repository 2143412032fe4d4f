"""Reconciling the gateway's access log with the chain's trail (AccessRecorded events).

Every access the gateway marked due on chain should have an `AccessRecorded` event by the
custodian, in the transaction the log names, for the same record, grantee and purpose. The
report lists:

- `matched`: log rows and their events;
- `missing`: rows due on chain without their event (the transaction failed or was never
  confirmed, or names no such event: a reorganised or another chain);
- `pending`: rows whose transaction is still being sent;
- `unexplained`: events the custodian recorded for this site's records that no row accounts for
  (an access put on the trail outside this gateway, or a lost log);
- `by_grantee`: events grantees recorded themselves for this site's records (for information).

`repair` re-sends `recordAccess` for missing rows; the chain accepts it only while the grantee
still has access (a revoked consent can no longer be put on the trail, and the row keeps the error).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import validation
from radledger.chain.artifacts import load_artifact
from radledger.chain.errors import RadledgerError
from radledger.chain.events.decoding import Event
from radledger.chain.events.reader import ContractEvents
from radledger.gateway.store import GatewayStore, LoggedAccess
from radledger.registries.common import Scope
from radledger.registries.consent.client import ConsentRegistryClient


@dataclass(frozen=True)
class TrailEvent:
    record_id: bytes
    patient: ChecksumAddress
    grantee: ChecksumAddress
    scopes: int
    purpose: int
    basis: int
    recorder: ChecksumAddress
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class Reconciliation:
    served: int
    matched: tuple[tuple[LoggedAccess, TrailEvent], ...]
    missing: tuple[LoggedAccess, ...]
    pending: tuple[LoggedAccess, ...]
    unexplained: tuple[TrailEvent, ...]
    by_grantee: tuple[TrailEvent, ...]

    @property
    def consistent(self) -> bool:
        return not self.missing and not self.unexplained

    def summary(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "dueOnChain": len(self.matched) + len(self.missing) + len(self.pending),
            "matched": len(self.matched),
            "missing": [_row(a) for a in self.missing],
            "pending": [_row(a) for a in self.pending],
            "unexplained": [_event(e) for e in self.unexplained],
            "recordedByGrantees": len(self.by_grantee),
            "consistent": self.consistent,
        }


def _row(access: LoggedAccess) -> dict[str, Any]:
    return {
        "id": access.id,
        "at": access.at,
        "grantee": access.grantee,
        "recordId": "0x" + access.record_id.hex(),
        "purpose": access.purpose.name,
        "txHash": access.tx_hash,
        "error": access.chain_error,
    }


def _event(event: TrailEvent) -> dict[str, Any]:
    return {
        "recordId": "0x" + event.record_id.hex(),
        "grantee": event.grantee,
        "purpose": event.purpose,
        "txHash": event.tx_hash,
        "block": event.block_number,
    }


def access_events(w3: Web3, consent_address: str, from_block: int = 0, to_block: int | None = None) -> list[TrailEvent]:
    """Every AccessRecorded event of the ConsentRegistry from `from_block` on, through the package's log
    reader: py-evm's database in process, else ``eth_getLogs`` in ranges that adapt to the node."""
    address = validation.address(consent_address, "ConsentRegistry address")
    trail = ContractEvents(w3, address, load_artifact("ConsentRegistry"))
    return [_trail_event(e) for e in trail.read("AccessRecorded", from_block=from_block, to_block=to_block)]


def _trail_event(event: Event) -> TrailEvent:
    a = event.args
    return TrailEvent(
        bytes(a["recordId"]),
        a["patient"],
        a["grantee"],
        int(a["scopes"]),
        int(a["purpose"]),
        int(a["basis"]),
        a["recorder"],
        event.block_number,
        event.tx_hash,
        event.log_index,
    )


def reconcile(store: GatewayStore, events: Iterable[TrailEvent], custodian: str) -> Reconciliation:
    """Compare the access log with the trail (see the module's documentation)."""
    recorder = validation.address(custodian, "custodian")
    site_records = {s.record_id for s in store.studies()}
    ours = [e for e in events if e.record_id in site_records]
    by_custodian = [e for e in ours if e.recorder == recorder]
    by_grantee = tuple(e for e in ours if e.recorder != recorder)
    unmatched = {(e.tx_hash.lower(), e.log_index): e for e in by_custodian}
    matched: list[tuple[LoggedAccess, TrailEvent]] = []
    missing: list[LoggedAccess] = []
    pending: list[LoggedAccess] = []
    accesses = store.accesses()
    for access in (a for a in accesses if a.chain_due):
        if access.tx_hash is None:
            (pending if access.chain_error is None else missing).append(access)
            continue
        found = next(
            (
                key
                for key, e in unmatched.items()
                if key[0] == access.tx_hash.lower()
                and e.record_id == access.record_id
                and e.grantee == access.grantee
                and e.purpose == int(access.purpose)
            ),
            None,
        )
        if found is None:
            missing.append(access)
        else:
            matched.append((access, unmatched.pop(found)))
    served = sum(1 for a in accesses if a.status < 400 and a.resource != "search")
    return Reconciliation(served, tuple(matched), tuple(missing), tuple(pending), tuple(unmatched.values()), by_grantee)


def repair(store: GatewayStore, recorder: ConsentRegistryClient, report: Reconciliation) -> list[LoggedAccess]:
    """Re-send recordAccess for the missing rows; returns the rows as updated."""
    for access in report.missing:
        try:
            receipt = recorder.record_access(access.grantee, access.record_id, int(Scope.IMAGES), int(access.purpose))
        except RadledgerError as exc:
            store.set_chain_result(access.id, None, None, f"{type(exc).__name__}: {exc}")
            continue
        store.set_chain_result(access.id, receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"]))
    ids = {a.id for a in report.missing}
    return [a for a in store.accesses() if a.id in ids]
