"""What `radledger demo` returns: every account, step, request, claim and check of the story, for
tests to inspect and for ``radledger demo --json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import errors
from radledger.demo.data import SiteLocalData
from radledger.deployment.addresses import Deployment
from radledger.registries.credentials.types import CredentialCheck, ReaderVerification, Revocation
from radledger.registries.preauth.types import PreauthClaim, PreauthRequest


@dataclass(frozen=True)
class DemoAccounts:
    governance: ChecksumAddress
    site: ChecksumAddress
    teleradiology: ChecksumAddress
    emergency: ChecksumAddress
    patient: ChecksumAddress
    state_board: ChecksumAddress
    specialty_board: ChecksumAddress
    physicist: ChecksumAddress
    payer: ChecksumAddress
    auditor: ChecksumAddress
    """Flags the missed deadline (anyone may), then reads the trail."""
    reader: ChecksumAddress
    """The teleradiologist of the group who reads the study: a credential subject, never a sender."""
    ordering_physician: ChecksumAddress
    second_physician: ChecksumAddress


@dataclass(frozen=True)
class DemoSchemas:
    """The CredentialRegistry schema ids of the story."""

    license: int
    board_certification: int
    mri_inspection: int
    gold_card: int

    @property
    def reader_requirements(self) -> tuple[int, int]:
        """What the site verifies of a reader before assigning a read: a license and the board certification."""
        return (self.license, self.board_certification)


@dataclass(frozen=True)
class DemoStep:
    number: int
    actor: str
    action: str
    gas_used: int | None
    """Gas of the step's transactions; None when it sent none (a view, an offline signature, a refusal)."""
    tx_hashes: tuple[str, ...]
    details: tuple[str, ...]


@dataclass
class DemoResult:
    w3: Web3 = field(repr=False)
    deployment: Deployment
    accounts: DemoAccounts
    site: SiteLocalData
    steps: list[DemoStep]
    schemas: DemoSchemas
    reader_license_uid: bytes
    license_revocation: Revocation
    equipment: CredentialCheck
    """The scanner's inspection, checked before the study was registered."""
    reader_before: ReaderVerification
    """The reader's verification before the read was assigned."""
    reader_after: ReaderVerification
    """The same verification after the board revoked the license."""
    auto_request: PreauthRequest
    """The gold-carded physician's request, as the chain had it right after the request (A1)."""
    pended_request: PreauthRequest
    """The other physician's request (two units) right after the request (A4)."""
    information_requested: PreauthRequest
    """The same after the payer asked for more information (A4)."""
    information_provided: PreauthRequest
    """After the site answered with a new clinical commitment (A4, the deadline unchanged)."""
    modified: PreauthRequest
    """After the payer approved one unit of the two (A6)."""
    appealed: PreauthRequest
    """After the site appealed the modification (A4)."""
    appeal_decided: PreauthRequest
    """After the payer approved in full on appeal (A1)."""
    late_request: PreauthRequest
    """The third request, expedited, right after the request (A4)."""
    late_flagged: PreauthRequest
    """The same after the chain passed its due date and the auditor flagged it (still A4, deadline missed)."""
    claim: PreauthClaim
    """The claim against the automatic approval, after the payer adjudicated it."""
    refused_claim: errors.ContractError
    """The decoded InsufficientUnits of the second claim against the same authorization."""
    refused_claim_id: bytes
    denied: errors.ContractError
    """The decoded AccessDenied of the group's attempt after the revocation."""
    audit: str
    """The auditor's view the demo ends with."""
    patient_balance: int
    patient_transactions: int
    first_block: int
    last_block: int

    @property
    def tx_hashes(self) -> list[str]:
        return [h for step in self.steps for h in step.tx_hashes]

    @property
    def total_gas(self) -> int:
        return sum(step.gas_used or 0 for step in self.steps)

    def step(self, action_prefix: str) -> DemoStep:
        """The first step whose action starts with `action_prefix`."""
        for step in self.steps:
            if step.action.startswith(action_prefix):
                return step
        raise KeyError(action_prefix)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready account (without the site's salts, openings or files)."""
        return {
            "chainId": self.deployment.chain_id,
            "contracts": dict(self.deployment.addresses()),
            "accounts": vars(self.accounts),
            "records": [
                {
                    "label": r.label,
                    "kind": r.kind.name,
                    "recordId": "0x" + r.record_id.hex(),
                    "contentHash": "0x" + r.content_hash.hex(),
                }
                for r in self.site.records
            ],
            "credentials": {
                "schemas": vars(self.schemas),
                "readerLicenseUid": "0x" + self.reader_license_uid.hex(),
                "equipment": self.equipment.status.value,
                "readerBefore": _verification_json(self.reader_before),
                "readerAfter": _verification_json(self.reader_after),
            },
            "preauth": {
                "autoApproved": _request_json(self.auto_request),
                "pended": _request_json(self.pended_request),
                "informationRequested": _request_json(self.information_requested),
                "informationProvided": _request_json(self.information_provided),
                "modified": _request_json(self.modified),
                "appealed": _request_json(self.appealed),
                "appealDecided": _request_json(self.appeal_decided),
                "late": _request_json(self.late_request),
                "lateFlagged": _request_json(self.late_flagged),
                "claim": {
                    "claimId": "0x" + self.claim.claim_id.hex(),
                    "requestId": "0x" + self.claim.request_id.hex(),
                    "status": self.claim.status.name,
                    "units": self.claim.units,
                    "amountCents": self.claim.amount,
                    "paidAmountCents": self.claim.paid_amount,
                },
                "refusedClaim": {
                    "claimId": "0x" + self.refused_claim_id.hex(),
                    "error": self.refused_claim.error_name,
                    **_jsonable(self.refused_claim.values),
                },
            },
            "steps": [
                {
                    "number": s.number,
                    "actor": s.actor,
                    "action": s.action,
                    "gasUsed": s.gas_used,
                    "txHashes": list(s.tx_hashes),
                    "details": list(s.details),
                }
                for s in self.steps
            ],
            "denied": {"error": self.denied.error_name, **_jsonable(self.denied.values)},
            "audit": self.audit,
            "patientBalance": self.patient_balance,
            "totalGas": self.total_gas,
        }


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in values.items()}


def _verification_json(result: ReaderVerification) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "checks": {str(c.schema_id): c.status.value for c in result.checks},
        "revoked": list(result.revoked),
    }


def _request_json(request: PreauthRequest) -> dict[str, Any]:
    return {
        "requestId": "0x" + request.request_id.hex(),
        "status": request.status.name,
        "x12": request.x12_action_code.value,
        "units": request.units,
        "approvedUnits": request.approved_units,
        "usedUnits": request.used_units,
        "expedited": request.expedited,
        "informationRequested": request.information_requested,
        "deadlineMissed": request.deadline_missed,
        "requestedAt": request.requested_at,
        "dueAt": request.due_at,
        "decidedAt": request.decided_at,
        "appealBy": request.appeal_by,
    }
