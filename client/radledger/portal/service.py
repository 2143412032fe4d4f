"""The portal's work, independent of HTTP: what the page shows, the messages it signs, relaying, receipts.

:class:`PortalService` holds a connection, the deployment, the site's relaying key, an event index
(SQLite, synced before each answer) and the store of relayed submissions. Its methods block (they
talk to a node); the web app runs them one at a time on a single worker thread, because SQLite
connections and the in-process chain belong to the thread that made them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import TransactionNotFound

from radledger.audit.index import AuditIndex
from radledger.audit.queries.base import CONSENT
from radledger.audit.syncer import sync
from radledger.chain import validation
from radledger.chain.connection import connect
from radledger.chain.eip712 import SignedMessage
from radledger.chain.errors import ConfigurationError, RadledgerError, TransactionReverted
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment, consent_deployment
from radledger.portal import actions
from radledger.portal.config import PortalSettings
from radledger.portal.errors import MalformedRequest, UnknownTransaction
from radledger.portal.ratelimit import RateLimiter
from radledger.portal.receipts import build_receipt
from radledger.portal.relay import CheckedMessage, Relay, parse_signed
from radledger.portal.store import SubmissionStore
from radledger.portal.views import Directory, Overview, overview, site_records

INDEX_REFRESH_SECONDS = 1.0
"""The index is synced at most this often (every answer after a relayed transaction syncs)."""


def deployment_of(settings: PortalSettings, w3: Web3) -> Deployment:
    """The contracts the portal's configuration names (a deployment manifest, or explicit addresses),
    read from [chain] from_block when it is set, else from their creation blocks."""
    deployment = consent_deployment(w3, settings.records_address, settings.consent_address, settings.manifest, "portal")
    return deployment.reading_from(settings.from_block) if settings.from_block else deployment


@dataclass
class PortalService:
    settings: PortalSettings
    w3: Web3
    deployment: Deployment
    relayer: Transactor
    clock: Any = time.monotonic
    _index: AuditIndex | None = field(default=None, init=False, repr=False)
    _synced_at: float = field(default=-1e9, init=False, repr=False)
    _dirty: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        self.consent = self.deployment.consent(self.w3, self.relayer)
        self.records = self.deployment.records(self.w3)
        self.domain = self.consent.domain()
        self.store = SubmissionStore(self.settings.store_path)
        self.custodians: tuple[ChecksumAddress, ...] = self.settings.custodians or (self.relayer.address,)
        self.relay = Relay(self.consent, self.relayer, self.is_patient_here, self.settings.allow_any_patient)
        self.per_ip = RateLimiter("client address", self.settings.ip_requests_per_minute, self.clock)
        self.per_patient = RateLimiter("patient", self.settings.patient_requests_per_minute, self.clock)
        self._lock = threading.RLock()
        self._directory: Directory | None = None

    @classmethod
    def from_settings(cls, settings: PortalSettings, w3: Web3 | None = None) -> PortalService:
        if w3 is None:
            if not settings.rpc_url:
                raise ConfigurationError("no [chain] rpc_url in the portal configuration")
            w3 = connect(settings.rpc_url)
        return cls(settings, w3, deployment_of(settings, w3), Transactor(w3, settings.relayer_signer()))

    # ------------------------------------------------------------------ index

    @property
    def index(self) -> AuditIndex:
        with self._lock:
            if self._index is None:
                self._index = AuditIndex(self.settings.index_path)
            if self._dirty or self.clock() - self._synced_at >= INDEX_REFRESH_SECONDS:
                # the patient's history needs the records and the consents, not credentials or claims
                history = replace(self.deployment, credential_registry=None, preauth_registry=None)
                sync(self.w3, self._index, history)
                self._synced_at, self._dirty = self.clock(), False
            return self._index

    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = Directory(self.settings.directory, self.records)
        return self._directory

    def is_patient_here(self, patient: ChecksumAddress) -> bool:
        return bool(site_records(self.index, patient, self.custodians))

    # ------------------------------------------------------------------ answers

    def site(self) -> dict[str, Any]:
        """What the page needs before a wallet connects."""
        return {
            "siteName": self.settings.site_name,
            "chainId": self.domain.chain_id,
            "chainIdHex": hex(self.domain.chain_id),
            "consentRegistry": self.domain.verifying_contract,
            "directory": self.directory().as_json(),
            "scopes": [
                {"name": n, "text": t}
                for n, t in zip(
                    actions.SCOPE_NAMES,
                    ("images", "reports", "safety profile (contrast allergy, implants)"),
                    strict=True,
                )
            ],
            "purposes": [
                {"name": "TREAT", "text": "treatment"},
                {"name": "HPAYMT", "text": "payment"},
                {"name": "HOPERAT", "text": "healthcare operations"},
                {"name": "HRESCH", "text": "research"},
                {"name": "ETREAT", "text": "emergency treatment"},
            ],
            "signatureLifetimeSeconds": self.settings.signature_lifetime_seconds,
        }

    def overview(self, patient: str) -> Overview:
        who = validation.address(patient, "patient")
        return overview(self.index, self.consent, self.records, self.directory(), who, self.custodians)

    def prepare(self, action: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Typed-data documents (JSON-ready) for `action`; ``revoke-all`` finds the grantee's grants itself."""
        if action == "revoke-all" and "recordIds" not in body:
            patient = validation.address(body.get("patient"), "patient")
            grantee = validation.address(body.get("grantee"), "grantee")
            rows = self.index.events(["ConsentGranted"], contract=CONSENT, where={"t1": patient, "t2": grantee})
            body = {**body, "recordIds": ["0x" + bytes(r.args["recordId"]).hex() for r in rows]}
        docs = actions.prepare(self.consent, self.domain, action, body, self.settings.signature_lifetime_seconds)
        return [actions.json_ready(d) for d in docs]

    def relay_request(self, action: str, body: Any, client: str) -> list[dict[str, Any]]:
        """Check and send one signed message (`action`) or several (``batch``); returns the submissions."""
        self.per_ip.hit(client)
        if action == "batch":
            items = body.get("items") if isinstance(body, Mapping) else None
            if not isinstance(items, list) or not items:
                raise MalformedRequest('expected {"items": [{"action": ..., "typedData": ..., "signature": ...}, ...]}')
            signed = [parse_signed(str(i.get("action")) if isinstance(i, Mapping) else "", i) for i in items]
        else:
            signed = [parse_signed(action, body)]
        for patient in dict.fromkeys(validation.address(s.message["patient"]) for s in signed):
            self.per_patient.hit(patient)
        checked = self.relay.check_all(signed)
        submissions = self.relay.submit(checked)
        self._dirty = True
        for sub in submissions:
            first = sub.messages[0]
            self.store.add(
                sub.tx_hash, first.patient, first.signer, client, [(c.signed, _prior(c)) for c in sub.messages]
            )
        return [
            {
                "txHash": s.tx_hash,
                "status": "pending",
                "outcome": f"/relay/tx/{s.tx_hash}",
                "actions": [c.primary_type for c in s.messages],
            }
            for s in submissions
        ]

    def outcome(self, tx_hash: str) -> dict[str, Any]:
        """Pending, confirmed (with block and receipt link) or failed (with the contract's error)."""
        stored = self.store.get(tx_hash)
        try:
            mined = self.w3.eth.get_transaction_receipt(stored.tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return {"txHash": stored.tx_hash, "status": "pending"}
        self._dirty = True
        if int(mined["status"]) != 1:
            try:
                self.relayer.wait(stored.tx_hash, self.relay.call_of(stored.messages[0].signed))
            except TransactionReverted as exc:
                return {"txHash": stored.tx_hash, "status": "failed", "error": str(exc)}
            except RadledgerError as exc:  # pragma: no cover - a node that lost the transaction's trace
                return {"txHash": stored.tx_hash, "status": "failed", "error": str(exc)}
        return {
            "txHash": stored.tx_hash,
            "status": "confirmed",
            "blockNumber": int(mined["blockNumber"]),
            "blockHash": "0x" + bytes(mined["blockHash"]).hex(),
            "receipts": [f"/api/receipts/{stored.tx_hash}/{i}" for i in range(len(stored.messages))],
        }

    def receipt(self, tx_hash: str, position: int = 0) -> dict[str, Any]:
        stored = self.store.get(tx_hash)
        if not 0 <= position < len(stored.messages):
            raise UnknownTransaction(f"{tx_hash}/{position}")
        try:
            mined = self.w3.eth.get_transaction_receipt(stored.tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            raise UnknownTransaction(f"{tx_hash} (not mined yet)") from None
        item = stored.messages[position]
        names: dict[str, str] = {str(a): e.name for a, e in self.directory().entries.items()}
        return build_receipt(self.consent, item.signed, mined, item.prior, names)

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None
        self.store.close()


def _prior(checked: CheckedMessage) -> dict[str, Any] | None:
    if checked.primary_type != "Revoke" or checked.prior is None:
        return None
    p = checked.prior
    return {
        "scopes": int(p.scopes),
        "purposes": int(p.purposes),
        "validFrom": p.valid_from,
        "validUntil": p.valid_until,
    }


__all__: Sequence[str] = ["PortalService", "SignedMessage", "deployment_of"]
