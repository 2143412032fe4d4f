"""`radledger demo`: consent, credentials, prior authorization and claims, end to end on the embedded
in-process chain.

Nothing but the Python package is needed (no node, no compiler). Every person, site and
identifier in it is synthetic (:mod:`radledger.demo_data`). The story:

1. governance deploys the four contracts, registers an imaging site as custodian (with the public
   URL of its gateway), gives an emergency department the break-glass role, registers the credential
   schemas (state medical license, radiology board certification, MRI annual inspection, the payer's
   gold card), authorizes their issuers and registers the payer;
2. the issuers attest: licenses of the teleradiologist and the ordering physicians, the
   teleradiologist's board certification, the MRI scanner's inspection (the scanner's id is a hash of
   manufacturer and serial), the payer's gold card for one ordering physician;
3. prior authorization: the payer sets its policy for CPT 70551; the site builds salted member and
   clinical commitments (the opening stays at the site); the gold-carded physician signs the order
   offline and the site's request is approved at once (X12 A1); a physician without a gold card
   orders two units and is pended (A4); the payer, having opened the commitments off chain, asks for
   more information (A4), the site answers with a new clinical commitment (the deadline still runs
   from the request), the payer modifies the request to one unit (A6), the site appeals (A4) and the
   payer approves in full on appeal (A1); a third, expedited request is pended (A4, due in 72 h);
4. a missed deadline: the in-process chain travels past that due date without a decision, and an
   auditor (anyone may) flags it: DeadlineMissed. This comes before the consent part so that the
   consent, the break-glass window and the auditor's view all happen in the same (later) hours;
5. consent: the site checks the scanner's inspection, registers the MRI study and a safety profile;
   the patient (no ETH) signs a consent for a teleradiology group, relayed by the site; before
   assigning the read the site verifies the reader's license and board certification; the group
   checks and records its access; the emergency department breaks the glass; the patient revokes
   and the group is refused;
6. the site claims the authorization's unit and the payer pays; a second claim beyond the approved
   units is refused (InsufficientUnits, decoded; nothing mined);
7. the state board revokes the reader's license; the next verification fails, and says why;
8. an auditor's view of every event and the payer's CMS-0057-F metrics
   (:func:`radledger.audit.audit_summary`).

:func:`run_demo` prints the account and returns a :class:`DemoResult` for tests to inspect.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxReceipt

from radledger import errors
from radledger.audit import audit_summary
from radledger.chain import DEFAULT_START_TIMESTAMP, gas_estimator, in_process_chain, time_travel
from radledger.commitments import claim_id
from radledger.consent import ConsentRegistryClient
from radledger.credentials import CredentialRegistryClient, document_hash
from radledger.demo_data import (
    AUDITOR_NAME,
    EMERGENCY_NAME,
    FIRST_DIAGNOSES,
    GATEWAY_URL,
    INFORMATION_DIAGNOSES,
    MRI_BRAIN,
    MRI_BRAIN_TEXT,
    PACS_STORAGE,
    PACS_URL,
    PATIENT_MRN,
    PATIENT_NAME,
    PAYER_NAME,
    PHYSICIST_NAME,
    SECOND_DIAGNOSES,
    SITE_NAME,
    SPECIALTY_BOARD_NAME,
    STATE_BOARD_NAME,
    TELERADIOLOGY_NAME,
    THIRD_DIAGNOSES,
    Physician,
    SiteLocalData,
    SyntheticRecord,
    synthetic_case,
    synthetic_claim,
    synthetic_key,
    synthetic_member_id,
    synthetic_safety_profile,
    synthetic_scanner,
    synthetic_study,
)
from radledger.deploy import Deployment, deploy
from radledger.models import (
    DAY,
    AccessBasis,
    AttestationRequest,
    ClaimStatus,
    CredentialCheck,
    Policy,
    PreauthClaim,
    PreauthRequest,
    Purpose,
    ReaderVerification,
    Revocation,
    RevocationReason,
    Scope,
    X12ActionCode,
)
from radledger.preauth import DecisionReason, PreauthRegistryClient, order_message
from radledger.records import RecordRegistryClient, record_id
from radledger.signers import UnlockedAccount
from radledger.transactions import Transactor

if TYPE_CHECKING:
    from eth.abc import SignedTransactionAPI, StateAPI

__all__ = ["DemoAccounts", "DemoResult", "DemoSchemas", "DemoStep", "SiteLocalData", "SyntheticRecord", "run_demo"]

YEAR = 365 * DAY
CONSENT_DAYS = 30
BREAK_GLASS_REASON = 1
BREAK_GLASS_REASON_TEXT = "unresponsive patient; contrast allergy status needed before a CT"
ORDER_SIGNATURE_SECONDS = 3600
CLAIM_AMOUNT_CENTS = 125_000
PENDED_UNITS = 2
"""The second physician's order: a baseline MRI and a follow-up."""
MODIFIED_UNITS = 1
"""What the payer approves of it before the appeal."""
LATE_BY_SECONDS = 3600
"""How far past the third request's due date the chain travels before the deadline is flagged."""
X12_MEANING = {
    X12ActionCode.CERTIFIED_IN_TOTAL: "certified in total",
    X12ActionCode.NOT_CERTIFIED: "not certified",
    X12ActionCode.PENDED: "pended",
    X12ActionCode.MODIFIED: "modified",
    X12ActionCode.CANCELLED: "cancelled",
}
SCHEMAS = (
    # (attribute, on-chain name, maximum validity)
    ("license", "State Medical Board: physician and surgeon license", 2 * YEAR),
    ("board_certification", "Board of Diagnostic Radiology: board certification in radiology", 10 * YEAR),
    ("mri_inspection", "MRI annual medical physicist inspection", 400 * DAY),
    ("gold_card", "Keystone Health Plan: advanced imaging gold card", 2 * YEAR),
)


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


def _status(request: PreauthRequest) -> str:
    """`MODIFIED, X12 A6 (modified)`: the status and its X12 278 HCR01 action code."""
    code = request.x12_action_code
    return f"{request.status.name}, X12 {code.value} ({X12_MEANING[code]})"


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def short(value: bytes | str) -> str:
    """`0x1a2b3c4d…9e8f`: enough of an id or address to follow it through the story."""
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return f"{text[:10]}…{text[-4:]}"


def when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


class _Story:
    """Keeps the numbered steps and prints them as they happen."""

    SHOWN_HASHES = 3

    def __init__(self, w3: Web3, out: Callable[[str], None] | None) -> None:
        self.w3 = w3
        self.out = out or (lambda _line: None)
        self.steps: list[DemoStep] = []
        self.receipts: list[TxReceipt] = []

    def say(self, line: str = "") -> None:
        self.out(line)

    def part(self, title: str) -> None:
        self.out("")
        self.out(f"── {title} " + "─" * max(4, 76 - len(title)))

    def mark(self) -> int:
        return int(self.w3.eth.block_number)

    def step(self, actor: str, action: str, receipts: list[TxReceipt] | None = None, *details: str) -> DemoStep:
        receipts = receipts or []
        gas = sum(int(r["gasUsed"]) for r in receipts) if receipts else None
        hashes = tuple(r["transactionHash"].to_0x_hex() for r in receipts)
        step = DemoStep(len(self.steps) + 1, actor, action, gas, hashes, tuple(details))
        self.steps.append(step)
        self.receipts += receipts
        cost = f"gas {gas:,}" if gas is not None else "no transaction"
        self.out(f"{step.number:>2}. {actor}: {action}  [{cost}]")
        for line in details:
            self.out(f"      {line}")
        if len(hashes) > self.SHOWN_HASHES:
            self.out(f"      {len(hashes)} transactions: {short(hashes[0])} … {short(hashes[-1])}")
        else:
            for tx_hash in hashes:
                self.out(f"      tx {short(tx_hash)}")
        return step

    def receipts_since(self, block: int) -> list[TxReceipt]:
        """Receipts of every transaction mined after `block` (deployments included)."""
        out = []
        for number in range(block + 1, self.w3.eth.block_number + 1):
            for tx_hash in self.w3.eth.get_block(number)["transactions"]:
                out.append(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        return out


@dataclass(frozen=True)
class _Actors:
    governance: Transactor
    site: Transactor
    teleradiology: Transactor
    emergency: Transactor
    state_board: Transactor
    specialty_board: Transactor
    physicist: Transactor
    payer: Transactor
    auditor: Transactor


def simulate_once(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """The demo chain's gas estimator: run the transaction once with the block's gas limit and raise its
    error if it fails (so reverts are still decoded before anything is sent), then let it have that limit.

    py-evm's default binary search runs every transaction about thirteen times, which is half the demo's
    time. On the in-process chain a high limit costs nothing, and the gas *used* (what the story shows)
    does not depend on the limit.
    """
    from eth.vm.spoof import SpoofTransaction  # py-evm: imported when the in-process chain runs

    spoof = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(spoof)  # type: ignore[arg-type]
    finally:
        state.revert(snapshot)
    if computation.is_error:
        raise computation.error
    return int(state.gas_limit)


def run_demo(seed: int | None = None, out: Callable[[str], None] | None = print) -> DemoResult:
    """Run the story on a fresh in-process chain; print it through `out` (None: silent).

    With `seed`, the synthetic identifiers, salts and keys repeat from run to run (and so do the
    chain's addresses, hashes, gas and times).
    """
    with gas_estimator(f"{__name__}.simulate_once"):  # for the chains built (or rebuilt by eth-tester) inside
        return _run(seed, out)


def _run(seed: int | None, out: Callable[[str], None] | None) -> DemoResult:
    rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
    w3 = in_process_chain(DEFAULT_START_TIMESTAMP)
    story = _Story(w3, out)
    first_block = w3.eth.block_number
    a = _Actors(*(Transactor(w3, UnlockedAccount(account)) for account in w3.eth.accounts[:9]))
    patient = synthetic_key(rng)
    salt = rng.randbytes(32)
    # Record ids are bound to the custodian that registers them (keccak256(site, local id)).
    study, profile = synthetic_study(rng, salt, a.site.address), synthetic_safety_profile(rng, salt, a.site.address)
    reader = Physician("Dr. Amara Lindqvist (synthetic)", "teleradiologist, " + TELERADIOLOGY_NAME, synthetic_key(rng))
    ordering = Physician("Dr. Tomas Reyes (synthetic)", "ordering neurologist, gold-carded", synthetic_key(rng))
    second = Physician("Dr. Priya Natarajan (synthetic)", "ordering family physician", synthetic_key(rng))
    scanner = synthetic_scanner(rng)
    cases = (
        synthetic_case(rng, synthetic_member_id(rng), FIRST_DIAGNOSES, "migraine with new aura; contrast allergy"),
        synthetic_case(rng, synthetic_member_id(rng), SECOND_DIAGNOSES, "daily headache for eight weeks")
        .amended(rng, INFORMATION_DIAGNOSES, "neurological examination: blurred vision on exertion")
        .amended(rng, INFORMATION_DIAGNOSES, "letter of medical necessity: a follow-up MRI at 3 months"),
        synthetic_case(rng, synthetic_member_id(rng), THIRD_DIAGNOSES, "papilledema on fundoscopy; urgent"),
    )  # fmt: skip
    local = SiteLocalData(
        SITE_NAME, PATIENT_NAME, PATIENT_MRN, salt, PACS_URL, (study, profile), reader, ordering, second, scanner,
        cases, synthetic_claim(cases[0], MRI_BRAIN, CLAIM_AMOUNT_CENTS), rng.randbytes(32),
        synthetic_claim(cases[0], MRI_BRAIN, CLAIM_AMOUNT_CENTS, control_number=2), rng.randbytes(32),
    )  # fmt: skip

    story.say("radledger demo: consent, credentials, prior authorization and claims for imaging (in-process chain)")
    story.say("(every person, site and identifier below is synthetic)")
    story.say()
    balance = w3.eth.get_balance(patient.address)
    for label, address, name in (
        ("governance", a.governance.address, ""),
        ("imaging site", a.site.address, SITE_NAME),
        ("teleradiology group", a.teleradiology.address, TELERADIOLOGY_NAME),
        ("emergency department", a.emergency.address, EMERGENCY_NAME),
        ("state medical board", a.state_board.address, STATE_BOARD_NAME),
        ("specialty board", a.specialty_board.address, SPECIALTY_BOARD_NAME),
        ("medical physicist", a.physicist.address, PHYSICIST_NAME),
        ("payer", a.payer.address, PAYER_NAME),
        ("auditor", a.auditor.address, AUDITOR_NAME),
        ("patient", patient.address, f"{PATIENT_NAME}, balance {balance} ETH"),
        *((p.role.split(",")[0], p.address, p.name) for p in local.physicians),
    ):
        story.say(f"  {label:<26} {address}  {name}".rstrip())

    # 1. deployment and governance ------------------------------------------------------------
    story.part("1. Governance")
    before = story.mark()
    deployment = deploy(a.governance, manifest_path=None).manifest.deployment()
    records_gov = deployment.records(w3, a.governance)
    consent_gov = deployment.consent(w3, a.governance)
    creds_gov = deployment.credentials(w3, a.governance)
    preauth_gov = deployment.preauth(w3, a.governance)
    story.step(
        "governance", "deploys RecordRegistry, ConsentRegistry, CredentialRegistry and PreauthRegistry",
        story.receipts_since(before),
        ", ".join(f"{name} {short(address)}" for name, address in deployment.addresses().items()),
        f"break-glass window {consent_gov.break_glass_duration() // 3600} h; nothing written (no manifest)",
    )  # fmt: skip
    receipt = records_gov.register_custodian(a.site.address, GATEWAY_URL)
    story.step(
        "governance", f"registers {SITE_NAME} as custodian", [receipt],
        f"gateway (public, on chain): {GATEWAY_URL}",
        "its PACS stays private: the gateway answers requesters after checking the chain",
    )  # fmt: skip
    receipt = consent_gov.grant_role("BREAK_GLASS_ROLE", a.emergency.address)
    story.step("governance", f"gives {EMERGENCY_NAME} the break-glass role", [receipt])
    before = story.mark()
    schema_ids = {attr: creds_gov.register_schema(name, True, limit).schema_id for attr, name, limit in SCHEMAS}
    schemas = DemoSchemas(**schema_ids)
    schema_names = {schema_ids[attr]: name for attr, name, _ in SCHEMAS}
    story.step(
        "governance", "registers the credential schemas", story.receipts_since(before),
        *(f"schema {schema_ids[attr]}: {name!r}, revocable, at most {limit // DAY} days"
          for attr, name, limit in SCHEMAS),
    )  # fmt: skip
    issuers = (
        (schemas.license, a.state_board, STATE_BOARD_NAME),
        (schemas.board_certification, a.specialty_board, SPECIALTY_BOARD_NAME),
        (schemas.mri_inspection, a.physicist, PHYSICIST_NAME),
        (schemas.gold_card, a.payer, f"{PAYER_NAME}, for its own gold card"),
    )
    before = story.mark()
    for schema_id, issuer, _ in issuers:
        creds_gov.authorize_issuer(schema_id, issuer.address)
    story.step(
        "governance", "authorizes the issuers, one per schema", story.receipts_since(before),
        *(f"schema {schema_id}: {name} {short(issuer.address)}" for schema_id, issuer, name in issuers),
    )  # fmt: skip
    before = story.mark()
    payer_index = preauth_gov.register_payer(a.payer.address)
    story.step("governance", f"registers {PAYER_NAME} as a payer", story.receipts_since(before), f"index {payer_index}")

    # 2. issuers attest -------------------------------------------------------------------------
    story.part("2. Credentials")
    creds = deployment.credentials(w3)
    now = creds.now()
    licensed = (reader, ordering, second)
    licenses = [document_hash(f"license of {p.name}".encode() + rng.randbytes(16)) for p in licensed]
    granted = creds.with_sender(a.state_board).attest_batch(
        schemas.license, [AttestationRequest(p.address, now + YEAR, h) for p, h in zip(licensed, licenses, strict=True)]
    )
    reader_license = granted[0]
    story.step(
        "state medical board", "attests three medical licenses in one batch (attestBatch)",
        _receipts(w3, granted[0].tx_hash),
        *(f"{short(g.uid)}: {p.name.split(' (')[0]} {short(p.address)}, valid until {when(g.valid_until)}"
          for p, g in zip(licensed, granted, strict=True)),
        "the license documents stay with the board: the chain holds their SHA-256 (with a nonce)",
    )  # fmt: skip
    cert = creds.with_sender(a.specialty_board).attest(reader.address, schemas.board_certification, now + 5 * YEAR)
    story.step(
        "specialty board", "attests the reader's board certification in radiology", _receipts(w3, cert.tx_hash),
        f"{short(cert.uid)}: {short(reader.address)}, valid until {when(cert.valid_until)}",
    )  # fmt: skip
    inspection = creds.with_sender(a.physicist).attest(
        scanner.device_id, schemas.mri_inspection, now + 365 * DAY, data_hash=document_hash(scanner.inspection_report)
    )
    story.step(
        "medical physicist", "attests the MRI scanner's annual inspection", _receipts(w3, inspection.tx_hash),
        f"subject: device id {short(scanner.device_id)} = keccak256(manufacturer, serial number); the serial number "
        "stays at the site",
        f"report SHA-256 {short(inspection.data_hash)}, valid until {when(inspection.valid_until)}",
    )  # fmt: skip
    gold = creds.with_sender(a.payer).attest(ordering.address, schemas.gold_card, now + YEAR)
    story.step(
        "payer", f"issues its gold card to {ordering.name}", _receipts(w3, gold.tx_hash),
        f"{short(gold.uid)}: {short(ordering.address)}, valid until {when(gold.valid_until)}",
    )  # fmt: skip

    # 3. prior authorization ---------------------------------------------------------------------
    story.part("3. Prior authorization")
    preauth_payer = deployment.preauth(w3, a.payer)
    preauth_site = deployment.preauth(w3, a.site)
    policy = Policy(
        auto_approval=True, max_units=2, gold_card_schema=schemas.gold_card, required_schemas=(schemas.license,)
    )
    before = story.mark()
    policy_id = preauth_payer.set_policy(MRI_BRAIN, policy)
    story.step(
        "payer", f"sets its policy for CPT {MRI_BRAIN} ({MRI_BRAIN_TEXT})", story.receipts_since(before),
        f"policy #{policy_id}: auto-approval for holders of its gold card (schema {schemas.gold_card}), "
        f"the state license (schema {schemas.license}) required of every ordering physician, at most "
        f"{policy.max_units} units approved automatically",
        f"decisions within {policy.standard_decision_seconds // DAY} days (standard), "
        f"{policy.expedited_decision_seconds // 3600} h (expedited); approvals valid "
        f"{policy.approval_validity_days} days; appeals within {policy.appeal_window_seconds // DAY} days",
    )  # fmt: skip
    case = cases[0]
    opening_json = case.opening.to_json()
    story.step(
        "imaging site", "builds the salted member and clinical commitments (off chain)", None,
        f"member {short(case.opening.member_commitment)} = keccak256(salt, payer id, member id)",
        f"clinical {short(case.opening.clinical_commitment)} = keccak256(salt, ICD-10 codes, referral note SHA-256)",
        f"the opening ({len(opening_json)} bytes of JSON: salts, member {case.member_id}, diagnoses "
        f"{', '.join(case.diagnoses)}) stays at the site, mode 600; the payer gets it over its PHI channel",
    )  # fmt: skip
    signed = preauth_site.sign_order(
        ordering.signer,
        order_message(
            a.site.address, a.payer.address, case.opening.member_commitment, MRI_BRAIN, 1, ordering.address, False,
            case.opening.clinical_commitment, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    obstacles = preauth_site.auto_approval_obstacles(signed)
    story.step(
        "ordering physician", f"{ordering.name} signs the order offline (EIP-712 OrderAttestation; no ETH)", None,
        f"the order meets the payer's criteria: CPT {MRI_BRAIN}, 1 unit, for member commitment "
        f"{short(case.opening.member_commitment)}",
        f"request id known before sending: {short(preauth_site.order_digest(signed.message))}; "
        f"obstacles to auto-approval: {'; '.join(obstacles) or 'none'}",
    )  # fmt: skip
    before = story.mark()
    auto_id = preauth_site.request(signed)
    auto_request = preauth_site.get_request(auto_id)
    story.step(
        "imaging site", "requests prior authorization: approved at once", story.receipts_since(before),
        f"request {short(auto_id)}: {_status(auto_request)}, {_units(auto_request.approved_units)}, "
        f"valid until {when(auto_request.expires_at)}",
        "checked on chain: the physician's license and gold card, the units, the physician's signature",
    )  # fmt: skip

    # the second physician: pended, more information, modified, appealed, approved on appeal
    pended_case = cases[1]
    first_clinical, info_clinical, appeal_clinical = pended_case.clinical_commitments
    signed_second = preauth_site.sign_order(
        second.signer,
        order_message(
            a.site.address, a.payer.address, pended_case.opening.member_commitment, MRI_BRAIN, PENDED_UNITS,
            second.address, False, first_clinical, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    obstacles = preauth_site.auto_approval_obstacles(signed_second)
    before = story.mark()
    pended_id = preauth_site.request(signed_second)
    pended_request = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", f"requests for another member, ordered by {second.name}: pended", story.receipts_since(before),
        f"{_units(PENDED_UNITS)} (a baseline MRI and a follow-up at 3 months), the order signed offline by "
        f"{second.name.split(' (')[0]}, who holds a license but no gold card",
        f"request {short(pended_id)}: {_status(pended_request)}, decision due by {when(pended_request.due_at)}",
        f"why: {'; '.join(obstacles)}",
    )  # fmt: skip
    opened = preauth_payer.verify_opening(pended_id, pended_case.opening_as_of(1), first_block)
    receipt = preauth_payer.request_information(pended_id, DecisionReason.INSUFFICIENT_DOCUMENTATION)
    information_requested = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "opens the commitments off chain and asks for more information", [receipt],
        f"the site's opening {'opens' if opened else 'does NOT open'} the commitments on chain "
        f"(member {pended_case.member_id}, {', '.join(SECOND_DIAGNOSES)}: seen by the payer, not the chain)",
        f"InformationRequested, reason {int(DecisionReason.INSUFFICIENT_DOCUMENTATION)} (insufficient "
        f"documentation); request {short(pended_id)}: {_status(information_requested)}, still due by "
        f"{when(information_requested.due_at)}",
    )  # fmt: skip
    receipt = preauth_site.provide_information(pended_id, info_clinical)
    information_provided = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", "answers with a new clinical commitment (provideInformation)", [receipt],
        f"clinical {short(info_clinical)} = keccak256(new salt, {', '.join(INFORMATION_DIAGNOSES)}, the referral "
        "note and the neurological examination note); the opening gains a second clinical entry",
        f"request {short(pended_id)}: {_status(information_provided)}; the deadline still runs from the request: "
        f"due by {when(information_provided.due_at)}, unchanged",
    )  # fmt: skip
    opened = preauth_payer.verify_opening(pended_id, pended_case.opening_as_of(2), first_block)
    receipt = preauth_payer.modify(pended_id, MODIFIED_UNITS)
    modified = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "opens the new commitment and modifies: fewer units", [receipt],
        f"the opening {'opens' if opened else 'does NOT open'} both clinical commitments on chain; the baseline "
        "MRI is approved, the follow-up is not",
        f"request {short(pended_id)}: {_status(modified)}, {modified.approved_units} of {_units(modified.units)}, "
        f"decided {modified.decided_at - modified.requested_at} s after the request; "
        f"appeal by {when(modified.appeal_by)}",
    )  # fmt: skip
    receipt = preauth_site.appeal(pended_id, appeal_clinical)
    appealed = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", "appeals the modification with a new clinical commitment", [receipt],
        f"clinical {short(appeal_clinical)}: the same codes and a letter of medical necessity for the follow-up",
        f"request {short(pended_id)}: {_status(appealed)}, appeal decision due by {when(appealed.due_at)}",
    )  # fmt: skip
    opened = preauth_payer.verify_opening(pended_id, pended_case.opening, first_block)
    receipt = preauth_payer.approve(pended_id)
    (appeal_decision,) = preauth_payer.events(receipt, "PreauthDecided")
    appeal_decided = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "decides the appeal: approved in full", [receipt],
        f"the opening {'opens' if opened else 'does NOT open'} all three clinical commitments on chain",
        f"PreauthDecided(onAppeal={appeal_decision['onAppeal']}); request {short(pended_id)}: "
        f"{_status(appeal_decided)}, {_units(appeal_decided.approved_units)}, valid until "
        f"{when(appeal_decided.expires_at)}",
    )  # fmt: skip

    # the third request: expedited, and the payer will not decide in time
    late_case = cases[2]
    signed_third = preauth_site.sign_order(
        second.signer,
        order_message(
            a.site.address, a.payer.address, late_case.opening.member_commitment, MRI_BRAIN, 1, second.address,
            True, late_case.opening.clinical_commitment, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    before = story.mark()
    late_id = preauth_site.request(signed_third)
    late_request = preauth_site.get_request(late_id)
    story.step(
        "imaging site", f"requests an expedited MRI for a third member, ordered by {second.name}: pended",
        story.receipts_since(before),
        f"the site sends the payer the opening (member {late_case.member_id}, {', '.join(late_case.diagnoses)}) "
        "over its PHI channel, as before",
        f"request {short(late_id)}: {_status(late_request)}, expedited: decision due within "
        f"{(late_request.due_at - late_request.requested_at) // 3600} h, by {when(late_request.due_at)}",
    )  # fmt: skip

    # 4. a missed deadline ------------------------------------------------------------------------
    story.part("4. A missed deadline")
    now = time_travel(w3, late_request.due_at + LATE_BY_SECONDS - preauth_site.now())
    story.say(
        f"    ({(now - late_request.requested_at) // 3600} hours pass: the in-process chain travels to {when(now)}; "
        "the payer has not decided)"
    )
    preauth_anyone = deployment.preauth(w3, a.auditor)
    receipt = preauth_anyone.flag_missed_deadline(late_id)
    (missed,) = preauth_anyone.events(receipt, "DeadlineMissed")
    late_flagged = preauth_anyone.get_request(late_id)
    story.step(
        "auditor", "flags the missed deadline (flagMissedDeadline: anyone may)", [receipt],
        f"DeadlineMissed(requestId={short(missed['requestId'])}, payer={short(missed['payer'])}, "
        f"dueAt={when(missed['dueAt'])}, onAppeal={missed['onAppeal']}, flaggedBy={short(missed['flaggedBy'])})",
        f"request {short(late_id)}: {_status(late_flagged)}, deadline missed: {late_flagged.deadline_missed}; "
        "a late decision is still a decision, and the flag stays on record",
    )  # fmt: skip

    # 5. consent -------------------------------------------------------------------------------
    story.part("5. Imaging, consent and the teleradiology read")
    creds_site = deployment.credentials(w3, a.site)
    equipment = creds_site.equipment_check(scanner.device_id, schemas.mri_inspection)
    story.step(
        "imaging site", "checks the scanner's inspection is current before imaging (a view)", None,
        f"{scanner.manufacturer.split(' (')[0]} {scanner.model}, device {short(scanner.device_id)}: "
        f"{equipment.status.value}" + (f", until {when(equipment.state.valid_until)}" if equipment.state else ""),
    )  # fmt: skip
    records = deployment.records(w3, a.site)
    for record in (study, profile):
        local_id = record_id(salt, record.uid)
        receipt = records.register(local_id, patient.address, record.kind, record.content_hash)
        count = f"{len(record.instance_uids)} instances, " if record.instance_uids else ""
        story.step(
            "imaging site", f"registers the {record.label}", [receipt],
            f"record id {short(record.record_id)} = keccak256(site, keccak256(site salt, UID)); "
            "the UID stays at the site",
            f"content hash {short(record.content_hash)} over {count}{record.size_bytes:,} bytes",
        )  # fmt: skip

    consent_site = deployment.consent(w3, a.site)
    now = consent_site.now()
    until = now + CONSENT_DAYS * DAY
    shared = Scope.IMAGES | Scope.REPORTS
    signed_grant = consent_site.sign_grant(
        patient, patient.address, a.teleradiology.address, study.record_id, shared, Purpose.TREAT, 0, until
    )
    story.step(
        "patient", "signs a consent offline (EIP-712; no ETH, no transaction)", None,
        f"grantee {TELERADIOLOGY_NAME} {short(a.teleradiology.address)}: images + reports of the MRI "
        f"{short(study.record_id)}, purpose TREAT, {CONSENT_DAYS} days",
        f"signature {short(signed_grant.signature)}, valid for relaying for "
        f"{(signed_grant.message['deadline'] - now) // 60} minutes",
    )  # fmt: skip
    receipt = consent_site.relay(signed_grant)
    story.step("imaging site", "relays the patient's signed consent (grantBySig) and pays the gas", [receipt])

    required = (schemas.license, schemas.board_certification)
    reader_before = creds_site.verify_reader(reader.address, required)
    story.step(
        "imaging site", "verifies the reader before assigning the read (verify_reader, views)", None,
        f"{reader.name} {short(reader.address)}: {'ok' if reader_before.ok else 'FAILED'}",
        *_check_lines(schema_names, reader_before),
    )  # fmt: skip

    consent_group = deployment.consent(w3, a.teleradiology)
    patient_of_study, _ = records.patient_and_custodian_of(study.record_id)  # binding: the record names the patient
    group = a.teleradiology.address
    basis = consent_group.access_basis(patient_of_study, group, study.record_id, shared, Purpose.TREAT)
    profile_allowed = consent_group.has_access(
        patient.address, a.teleradiology.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.TREAT
    )
    story.step(
        "teleradiology group", "checks its access (hasAccess, a view: no transaction)", None,
        f"MRI {short(study.record_id)}, images + reports for TREAT: "
        f"{'yes' if basis != AccessBasis.NONE else 'no'} ({basis.name})",
        f"safety profile {short(profile.record_id)}: {'yes' if profile_allowed else 'no'} (not in the consent)",
    )  # fmt: skip
    receipt = consent_group.record_access(a.teleradiology.address, study.record_id, shared, Purpose.TREAT)
    (event,) = consent_group.events(receipt, "AccessRecorded")
    story.step(
        "teleradiology group", "records its access on the trail (recordAccess)", [receipt],
        f"AccessRecorded: record {short(study.record_id)}, basis {AccessBasis(event['basis']).name}; "
        f"{reader.name.split(' (')[0]} reads the study",
    )  # fmt: skip

    consent_ed = deployment.consent(w3, a.emergency)
    receipt = consent_ed.break_glass(patient.address, BREAK_GLASS_REASON)
    (glass,) = consent_ed.events(receipt, "BreakGlassInvoked")
    story.step(
        "emergency department", "breaks the glass", [receipt],
        f"reason code {BREAK_GLASS_REASON} ({BREAK_GLASS_REASON_TEXT})",
        f"all records of the patient, ETREAT, for {(glass['validUntil'] - consent_ed.now()) // 3600} h, evented",
    )  # fmt: skip
    receipt = consent_ed.record_access(a.emergency.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.ETREAT)
    (event,) = consent_ed.events(receipt, "AccessRecorded")
    story.step(
        "emergency department", "records its emergency access to the safety profile", [receipt],
        f"AccessRecorded: record {short(profile.record_id)}, purpose ETREAT, basis {AccessBasis(event['basis']).name}",
    )  # fmt: skip

    signed_revoke = consent_site.sign_revoke(patient, patient.address, a.teleradiology.address, study.record_id)
    story.step(
        "patient", "signs a revocation offline", None,
        f"the grant of {short(a.teleradiology.address)} on {short(study.record_id)}",
    )  # fmt: skip
    receipt = consent_site.relay(signed_revoke)
    story.step("imaging site", "relays the revocation (revokeBySig)", [receipt])
    denied = _refused(consent_group, a.teleradiology.address, study.record_id, shared)
    story.step(
        "teleradiology group", "tries to record another access: refused before any transaction", None,
        f"{denied.error_name}(patient={short(denied.values['patient'])}, grantee={short(denied.values['grantee'])}, "
        f"recordId={short(denied.values['recordId'])}, scopes={denied.values['scopes']}, "
        f"purpose={denied.values['purpose']})",
    )  # fmt: skip

    # 6. the claims -----------------------------------------------------------------------------
    story.part("6. Claims")
    cid = claim_id(local.claim_file, local.claim_salt)
    receipt = preauth_site.submit_claim(auto_id, cid, 1, CLAIM_AMOUNT_CENTS)
    after_claim = preauth_site.get_request(auto_id)
    story.step(
        "imaging site", "submits its claim against the authorization", [receipt],
        f"claim {short(cid)} = keccak256(salt, SHA-256 of the 837 claim file); the file stays at the site",
        f"1 unit, {dollars(CLAIM_AMOUNT_CENTS)} against request {short(auto_id)}; "
        f"{after_claim.remaining_units} of {_units(after_claim.approved_units)} approved left",
    )  # fmt: skip
    receipt = preauth_payer.adjudicate_claim(cid, ClaimStatus.PAID)
    claim = preauth_payer.get_claim(cid)
    story.step(
        "payer", "adjudicates the claim: paid", [receipt],
        f"claim {short(cid)}: {claim.status.name}, paid {dollars(claim.paid_amount)} of {dollars(claim.amount)}",
    )  # fmt: skip
    second_cid = claim_id(local.second_claim_file, local.second_claim_salt)
    block_before = story.mark()
    refused_claim = _refused_claim(preauth_site, auto_id, second_cid)
    mined = story.mark() - block_before
    unknown = _claim_unknown(preauth_site, second_cid)
    story.step(
        "imaging site", "submits a second claim beyond the approved units: refused before any transaction", None,
        f"claim {short(second_cid)}, 1 unit against request {short(auto_id)}: "
        f"{refused_claim.error_name}(requestId={short(refused_claim.values['requestId'])}, "
        f"requested={refused_claim.values['requested']}, remaining={refused_claim.values['remaining']})",
        f"{mined} blocks mined; the claim {'is unknown' if unknown else 'IS'} on chain",
    )  # fmt: skip

    # 7. a license is revoked ---------------------------------------------------------------------
    story.part("7. Disciplinary action")
    revocation = creds.with_sender(a.state_board).revoke(reader_license.uid, RevocationReason.DISCIPLINARY_ACTION)
    story.step(
        "state medical board", f"revokes the reader's license: {reader.name}", _receipts(w3, revocation.tx_hash),
        f"uid {short(revocation.uid)}, reason {revocation.reason_code} "
        f"({revocation.reason.name.lower().replace('_', ' ') if revocation.reason else 'other'})",
    )  # fmt: skip
    reader_after = creds_site.verify_reader(reader.address, required)
    story.step(
        "imaging site", "verifies the reader before assigning the next read: refused", None,
        f"{reader.name} {short(reader.address)}: {'ok' if reader_after.ok else 'FAILED'}; "
        f"revoked schema(s) {list(reader_after.revoked)}",
        *_check_lines(schema_names, reader_after),
        "the next teleradiology read goes to another radiologist",
    )  # fmt: skip

    # 8. the auditor's view -----------------------------------------------------------------------
    story.part("8. The auditor's view")
    audit = audit_summary(w3, deployment)
    for line in audit.splitlines():
        story.say(f"  {line}".rstrip())

    accounts = DemoAccounts(
        a.governance.address, a.site.address, a.teleradiology.address, a.emergency.address, patient.address,
        a.state_board.address, a.specialty_board.address, a.physicist.address, a.payer.address, a.auditor.address,
        *(Web3.to_checksum_address(p.address) for p in local.physicians),
    )  # fmt: skip
    result = DemoResult(
        w3=w3,
        deployment=deployment,
        accounts=accounts,
        site=local,
        steps=story.steps,
        schemas=schemas,
        reader_license_uid=reader_license.uid,
        license_revocation=revocation,
        equipment=equipment,
        reader_before=reader_before,
        reader_after=reader_after,
        auto_request=auto_request,
        pended_request=pended_request,
        information_requested=information_requested,
        information_provided=information_provided,
        modified=modified,
        appealed=appealed,
        appeal_decided=appeal_decided,
        late_request=late_request,
        late_flagged=late_flagged,
        claim=claim,
        refused_claim=refused_claim,
        refused_claim_id=second_cid,
        denied=denied,
        audit=audit,
        patient_balance=int(w3.eth.get_balance(patient.address)),
        patient_transactions=int(w3.eth.get_transaction_count(patient.address)),
        first_block=first_block,
        last_block=w3.eth.block_number,
    )
    _summary(story, result, records, consent_site, creds_site, preauth_site)
    return result


def _receipts(w3: Web3, tx_hash: str) -> list[TxReceipt]:
    return [w3.eth.get_transaction_receipt(tx_hash)]  # type: ignore[arg-type]


def _check_lines(names: dict[int, str], result: ReaderVerification) -> list[str]:
    lines = []
    for check in result.checks:
        name = names[check.schema_id]
        state = check.state
        if state is None:
            status = check.status.value
        elif state.revoked_at:
            status = f"{check.status.value.upper()} at {when(state.revoked_at)}"
        else:
            status = f"{check.status.value}, until {when(state.valid_until)}"
        lines.append(f"schema {check.schema_id} {name!r}: {status}")
    return lines


def _refused_claim(preauth: PreauthRegistryClient, request_id: bytes, cid: bytes) -> errors.ContractError:
    try:
        preauth.submit_claim(request_id, cid, 1, CLAIM_AMOUNT_CENTS)
    except errors.InsufficientUnits as exc:
        return exc
    raise errors.RadledgerError("the demo expected InsufficientUnits for a claim beyond the approved units")


def _claim_unknown(preauth: PreauthRegistryClient, cid: bytes) -> bool:
    try:
        preauth.get_claim(cid)
    except errors.ClaimNotFound:
        return True
    return False


def _refused(consent: ConsentRegistryClient, grantee: str, rid: bytes, scopes: Scope) -> errors.ContractError:
    try:
        consent.record_access(grantee, rid, scopes, Purpose.TREAT)
    except errors.AccessDenied as exc:
        return exc
    raise errors.RadledgerError("the demo expected AccessDenied after the revocation, but the access was recorded")


def _summary(
    story: _Story,
    result: DemoResult,
    records: RecordRegistryClient,
    consent: ConsentRegistryClient,
    creds: CredentialRegistryClient,
    preauth: PreauthRegistryClient,
) -> None:
    w3 = result.w3
    site = result.site
    logs = sum(len(r["logs"]) for r in story.receipts)
    transactions = len(result.tx_hashes)
    study, profile = site.records
    grant = consent.get_grant(result.accounts.patient, result.accounts.teleradiology, study.record_id)
    say = story.say
    story.part("Summary")
    say(f"Total: {transactions} transactions, {result.total_gas:,} gas, {logs} events. The patient's account holds "
        f"{result.patient_balance} ETH and sent {result.patient_transactions} transactions: its two signatures were "
        "relayed by the site; the ordering physicians' signatures went in the site's requests.")  # fmt: skip
    say()
    say("What the chain holds (public, tamper-evident):")
    gateway = records.get_custodian(result.accounts.site).gateway_url
    say(f"  - a custodian and the public URL of its gateway ({gateway})")
    for record in site.records:
        on_chain = records.get_record(record.record_id)
        say(f"  - record {short(record.record_id)}: patient {short(on_chain.patient)}, {on_chain.kind.name}, "
            f"version {on_chain.version}, content hash {short(on_chain.content_hash)}")  # fmt: skip
    say(f"  - the group's grant slot: scopes {int(grant.scopes)} (revoked), version {grant.version}")
    revocation = result.license_revocation
    state = creds.get_attestation(revocation.uid)
    say(f"  - {creds.schema_count()} credential schemas and their issuers; attestations about physicians' "
        "addresses and a device id, documents only by SHA-256")  # fmt: skip
    say(f"  - the reader's license {short(revocation.uid)} revoked at {when(state.revoked_at)} "
        f"(reason {revocation.reason_code}, in the event)")  # fmt: skip
    for request in (result.auto_request, result.pended_request, result.late_request):
        now = preauth.get_request(request.request_id)
        flags = "; appealed" if now.appealed else ""
        flags += "; deadline missed (flagged)" if now.deadline_missed else ""
        say(f"  - prior authorization {short(request.request_id)}: CPT {MRI_BRAIN}, {_status(now)}, "
            f"{_units(now.approved_units)} approved, {now.used_units} used{flags}; salted member and clinical "
            "commitments")  # fmt: skip
    say(f"  - claim {short(result.claim.claim_id)}: {_units(result.claim.units)}, {dollars(result.claim.amount)}, "
        f"{result.claim.status.name}; nothing of the refused claim {short(result.refused_claim_id)}")  # fmt: skip
    say(
        "  - the trail: RecordRegistered, ConsentGranted, AccessRecorded, BreakGlassInvoked, ConsentRevoked, "
        "CredentialAttested, CredentialRevoked,"
    )
    say("    PreauthRequested, InformationRequested, InformationProvided, PreauthDecided, PreauthAppealed, "
        "DeadlineMissed, ClaimSubmitted, ClaimAdjudicated events")  # fmt: skip
    say("  pseudonymous addresses, salted ids and commitments, content hashes: no name, no UID, no file, no member "
        "id, no diagnosis, no serial number")  # fmt: skip
    say()
    say(f"What stayed at {site.site_name}:")
    say("  - the site salt (secret) and the map from UIDs to record ids:")
    for record in site.records:
        say(f"      {record.uid} -> {short(record.record_id)}")
    say(f"  - {len(study.instance_uids)} SOP instance UIDs and {len(study.local_paths) + len(profile.local_paths)} "
        f"files ({study.size_bytes + profile.size_bytes:,} bytes) under {PACS_STORAGE}")  # fmt: skip
    say(f"  - the patient's identity ({site.patient_name}, {site.patient_mrn}) and the allergy itself")
    requests = (result.auto_request, result.pended_request, result.late_request)
    for case, request in zip(site.cases, requests, strict=True):
        documents = "the referral note" if len(case.documents) == 1 else f"{len(case.documents)} documents"
        say(f"  - the opening of {short(request.request_id)} ({len(case.opening.clinical)} clinical "
            f"{'entry' if len(case.opening.clinical) == 1 else 'entries'}): member {case.member_id}, diagnoses "
            f"{', '.join(case.diagnoses)}, the salts and {documents}")  # fmt: skip
    say(f"  - the claim files (837, {len(site.claim_file)} and {len(site.second_claim_file)} bytes) and their salts")
    say("  - the physicians' identities (their addresses are the credential subjects on chain):")
    for physician in site.physicians:
        say(f"      {physician.name}, {physician.role} -> {short(physician.address)}")
    say(f"  - the scanner's serial number ({site.scanner.manufacturer.split(' (')[0]} {site.scanner.model}, "
        f"{site.scanner.serial}) in the equipment inventory")  # fmt: skip
    say(f"  - the PACS ({site.pacs_url}), reachable only through the gateway")
    say()
    say(f"chain id {w3.eth.chain_id}, blocks {result.first_block + 1} to {result.last_block}")
