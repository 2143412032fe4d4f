"""PreauthRegistry: imaging prior authorization and claims, for payers, sites and ordering physicians.

Payers (registered by governance) publish a :class:`~radledger.models.Policy` per procedure code
(CPT/HCPCS). A site requests authorization with two salted commitments (the member, and the
diagnoses with their evidence: :mod:`radledger.commitments`), the procedure and the units; the
ordering physician signs offline (EIP-712 ``OrderAttestation``) that the order meets the payer's
criteria, and the digest of that signature's message is the request id. With a gold-carded
physician the request is approved at once; otherwise the payer decides before the CMS-0057-F
deadline (72 hours expedited, 7 days standard)::

    opening = new_opening("PAYER-01", member_id, ["G43.909"], [evidence_hash(note)])
    message = order_message(site, payer, opening.member_commitment, "70551", 1, physician,
                            False, opening.clinical_commitment, deadline)
    signed = sign_order(physician_key, preauth.domain(), message)      # offline, by the physician
    request_id = preauth.with_sender(site_tx).request(signed)
    preauth.get_request(request_id).x12_action_code                      # A1, or A4 while pended

Statuses map to X12 278 HCR01 action codes (:func:`x12_action_code`); the full history of a
request is in its events (:meth:`PreauthRegistryClient.history`) and :func:`replay` rebuilds
the view from them. See docs/preauth.md.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from radledger.chain import validation
from radledger.chain.contract import SigningContractClient
from radledger.chain.eip712 import (
    PREAUTH_DOMAIN_NAME,
    Domain,
    SignedMessage,
    message_fields,
    sign,
    typed_data,
)
from radledger.chain.errors import RadledgerError, ValidationError
from radledger.chain.events.decoding import Event
from radledger.chain.signers import Signer
from radledger.registries.credentials.client import CredentialRegistryClient, subject_id
from radledger.registries.preauth.commitments import Opening
from radledger.registries.preauth.types import (
    CMS_EXPEDITED_DECISION_SECONDS,
    CMS_STANDARD_DECISION_SECONDS,
    DAY,
    ClaimStatus,
    Policy,
    PreauthClaim,
    PreauthRequest,
    PreauthStatus,
    X12ActionCode,
)

ORDER_TYPE = "OrderAttestation"
UINT16_MAX = 2**16 - 1
UINT32_MAX = 2**32 - 1
UINT96_MAX = 2**96 - 1
MAX_REQUIRED_SCHEMAS = 3
MAX_APPEAL_PERIOD_SECONDS = 365 * DAY
"""The contract's bound on a policy's appeal window and appeal decision time."""
DEFAULT_SIGNATURE_VALIDITY = 3 * DAY
"""How long a physician's order signature stays usable when no deadline is given."""

_PROCEDURE = re.compile(r"^[0-9A-Z]{5}$")
_ADDRESS_FIELDS = ("requester", "payer", "physician")


class DecisionTimeout(RadledgerError, TimeoutError):
    """No decision came within the time waited for (the request is still pended or appealed)."""

    def __init__(self, request: PreauthRequest, waited: float) -> None:
        super().__init__(
            f"request 0x{request.request_id.hex()} is still {request.status.name} after {waited:.0f} s "
            f"(decision due at {request.due_at})"
        )
        self.request = request


class DecisionReason(IntEnum):
    """radledger's reason codes for denials, information requests and claim denials (any non-zero uint16 is
    accepted on chain; a payer may use its own)."""

    NOT_MEDICALLY_NECESSARY = 1
    INSUFFICIENT_DOCUMENTATION = 2
    NOT_A_COVERED_BENEFIT = 3
    MEMBER_NOT_ELIGIBLE = 4
    PROVIDER_NOT_ELIGIBLE = 5
    DUPLICATE = 6
    SERVICE_NOT_AUTHORIZED = 7
    OTHER = 255


# ------------------------------------------------------------------------- small values


def x12_action_code(status: PreauthStatus | int) -> X12ActionCode:
    """X12 278 HCR01 for a status: A1 certified in total (approved), A3 not certified (denied),
    A4 pended (pended, and appealed: a decision is awaited), A2 certified partial (modified: fewer
    units), C cancelled."""
    try:
        return PreauthStatus(status).x12_action_code
    except ValueError as exc:
        raise ValidationError(f"status {status!r}: {exc}") from None


def procedure_code(value: str | bytes) -> bytes:
    """A procedure code (CPT, HCPCS Level II) as the contract's bytes5: five upper-case letters or digits.

    Takes the code as text ("70551"), as bytes, or as the hex of its bytes5 ("0x3730353531", as JSON has it).
    """
    if isinstance(value, str) and value.startswith("0x") and len(value) == 12:
        with contextlib.suppress(ValueError):
            value = bytes.fromhex(value[2:])
    text = value.decode("ascii", "replace") if isinstance(value, bytes | bytearray) else value
    if not isinstance(text, str) or not _PROCEDURE.match(text.strip().upper()):
        raise ValidationError(f"procedure code {value!r} is not five letters or digits (CPT 70551, HCPCS G0204)")
    return text.strip().upper().encode("ascii")


def procedure_text(code: bytes) -> str:
    return bytes(code).decode("ascii", "replace")


def _uint(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"{what}: {value!r} is not between {low} and {high}")
    return value


def units_value(value: Any, what: str = "units") -> int:
    return _uint(value, what, 1, UINT16_MAX)


def reason_code(value: Any) -> int:
    """A denial or information-request reason: 1 to 65535 (a denial without a reason is refused)."""
    return int(_uint(value, "reason code", 1, UINT16_MAX))


def amount_value(value: Any, what: str = "amount") -> int:
    """An amount in cents (the contract's uint96)."""
    return _uint(value, what, 1, UINT96_MAX)


def _commitment(value: Any, what: str) -> bytes:
    raw = validation.bytes32(value, what)
    if raw == bytes(32):
        raise ValidationError(f"{what}: must not be zero")
    return raw


def check_policy(policy: Policy) -> Policy:
    """The contract's policy checks, before anything is sent (schemas' existence is the chain's to say)."""
    _uint(policy.max_units, "max units", 1, UINT16_MAX)
    _uint(policy.approval_validity_days, "approval validity days", 1, UINT16_MAX)
    _uint(policy.standard_decision_seconds, "standard decision time", 1, CMS_STANDARD_DECISION_SECONDS)
    _uint(policy.expedited_decision_seconds, "expedited decision time", 1, CMS_EXPEDITED_DECISION_SECONDS)
    _uint(policy.appeal_window_seconds, "appeal window", 1, MAX_APPEAL_PERIOD_SECONDS)
    _uint(policy.appeal_decision_seconds, "appeal decision time", 1, MAX_APPEAL_PERIOD_SECONDS)
    _uint(policy.gold_card_schema, "gold-card schema", 0, UINT32_MAX)
    if len(policy.required_schemas) > MAX_REQUIRED_SCHEMAS:
        raise ValidationError(f"required schemas: at most {MAX_REQUIRED_SCHEMAS}, got {len(policy.required_schemas)}")
    for schema in policy.required_schemas:
        _uint(schema, "required schema", 1, UINT32_MAX)
    if policy.auto_approval and not policy.gold_card_schema:
        raise ValidationError("auto-approval needs the payer's gold-card schema")
    return policy


def policy_tuple(policy: Policy) -> tuple[Any, ...]:
    """The contract's Policy struct (unused required-schema slots are 0)."""
    required = [*policy.required_schemas, *([0] * (MAX_REQUIRED_SCHEMAS - len(policy.required_schemas)))]
    return (
        policy.active, policy.auto_approval, policy.max_units, policy.approval_validity_days,
        policy.standard_decision_seconds, policy.expedited_decision_seconds, policy.appeal_window_seconds,
        policy.appeal_decision_seconds, policy.gold_card_schema, required,
    )  # fmt: skip


def policy_from_tuple(raw: Sequence[Any]) -> Policy:
    (active, auto, max_units, validity, standard, expedited, window, appeal_decision, gold, required) = raw
    return Policy(
        bool(active), bool(auto), int(max_units), int(validity), int(standard), int(expedited), int(window),
        int(appeal_decision), int(gold), tuple(int(s) for s in required if s),
    )  # fmt: skip


# ------------------------------------------------------------------ the physician's order


def order_message(
    requester: str,
    payer: str,
    member_commitment: bytes,
    procedure: str | bytes,
    units: int,
    physician: str,
    expedited: bool,
    clinical_commitment: bytes,
    deadline: int,
) -> dict[str, Any]:
    """The `OrderAttestation` message the ordering physician signs (only commitments: no PHI)."""
    if not isinstance(expedited, bool):
        raise ValidationError(f"expedited: {expedited!r} is not true or false")
    return {
        "requester": validation.nonzero_address(requester, "requester"),
        "payer": validation.nonzero_address(payer, "payer"),
        "memberCommitment": _commitment(member_commitment, "member commitment"),
        "procedure": procedure_code(procedure),
        "units": units_value(units),
        "physician": validation.nonzero_address(physician, "physician"),
        "expedited": expedited,
        "clinicalCommitment": _commitment(clinical_commitment, "clinical commitment"),
        "deadline": _uint(deadline, "signature deadline", 0, 2**256 - 1),
    }


def checked_order(message: dict[str, Any]) -> dict[str, Any]:
    """An `OrderAttestation` message read from a file, checked and normalized."""
    try:
        return order_message(*(message[name] for name, _ in message_fields(PREAUTH_DOMAIN_NAME, ORDER_TYPE)))
    except KeyError as exc:
        raise ValidationError(f"order: missing field {exc}") from None


def order_id(domain: Domain, message: dict[str, Any]) -> bytes:
    """The EIP-712 digest of an order: the id its request will have (computed offline)."""
    signable = encode_typed_data(full_message=typed_data(domain, ORDER_TYPE, checked_order(message)))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_order(signer: Signer, domain: Domain, message: dict[str, Any]) -> SignedMessage:
    """The ordering physician signs the order offline (no node needed)."""
    order = checked_order(message)
    if order["physician"] != signer.address:
        raise ValidationError(f"the order names physician {order['physician']}, not the signer {signer.address}")
    if domain.name != PREAUTH_DOMAIN_NAME:
        raise ValidationError(f"an order is signed for a PreauthRegistry, not {domain.name!r}")
    return sign(signer, domain, ORDER_TYPE, order)


def order_signer(domain: Domain, message: dict[str, Any], signature: bytes) -> ChecksumAddress | None:
    """The account that made an EOA signature of the order (None when it does not recover)."""
    try:
        signable = encode_typed_data(full_message=typed_data(domain, ORDER_TYPE, checked_order(message)))
        return to_checksum_address(Account.recover_message(signable, signature=signature))
    except Exception:  # a malformed signature recovers no one
        return None


def draft_json(domain: Domain, message: dict[str, Any]) -> str:
    """An unsigned order: the eth_signTypedData_v4 document (what a wallet, or `preauth sign-order`, signs)."""
    doc = typed_data(domain, ORDER_TYPE, checked_order(message))
    doc["message"] = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in doc["message"].items()}
    return json.dumps(doc, indent=2, sort_keys=True)


def load_order(path: Path | str) -> SignedMessage:
    """A signed order (SignedMessage JSON), or an unsigned draft (its signature is then empty)."""
    try:
        text = Path(path).read_text()
        doc = json.loads(text)
    except OSError as exc:
        raise ValidationError(f"cannot read order {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValidationError(f"order {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("primaryType") != ORDER_TYPE:
        raise ValidationError(f"{path} is not an {ORDER_TYPE}")
    if "signature" in doc:
        signed = SignedMessage.from_json(text)
        return SignedMessage(ORDER_TYPE, signed.domain, checked_order(signed.message), signed.signature)
    try:
        d = doc["domain"]
        domain = Domain(d["name"], d["version"], int(d["chainId"]), validation.address(d["verifyingContract"]))
        message = checked_order(dict(doc["message"]))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"{path} is not an order draft: {exc!r}") from exc
    if domain.name != PREAUTH_DOMAIN_NAME:
        raise ValidationError(f"{path}: an order is for a PreauthRegistry, not {domain.name!r}")
    return SignedMessage(ORDER_TYPE, domain, message, b"")


# ------------------------------------------------------------------------- event history


@dataclass(frozen=True)
class PreauthEvent:
    """One event of a request's history, with the time of its block."""

    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    timestamp: int
    tx_hash: str


def replay(events: Iterable[PreauthEvent]) -> PreauthRequest:
    """A request rebuilt from its events alone (an auditor's view); equals :meth:`PreauthRegistryClient.get_request`."""
    state: dict[str, Any] | None = None
    claim_units: dict[bytes, int] = {}
    for e in events:
        a = e.args
        if e.name == "PreauthRequested":
            state = {
                "request_id": bytes(a["requestId"]), "requester": a["requester"], "payer": a["payer"],
                "status": PreauthStatus.PENDED, "expedited": bool(a["expedited"]), "information_requested": False,
                "appealed": False, "deadline_missed": False, "units": int(a["units"]), "approved_units": 0,
                "used_units": 0, "requested_at": e.timestamp, "due_at": int(a["dueAt"]), "decided_at": 0,
                "expires_at": 0, "appeal_by": 0, "extended": False,
            }  # fmt: skip
            continue
        if state is None:
            raise ValidationError(f"{e.name} before the request itself: not a request's history")
        if e.name == "PreauthDecided":
            state.update(
                status=PreauthStatus(a["status"]), approved_units=int(a["approvedUnits"]), information_requested=False,
                decided_at=e.timestamp, expires_at=int(a["expiresAt"]), appeal_by=int(a["appealBy"]),
            )  # fmt: skip
        elif e.name == "InformationRequested":
            state["information_requested"] = True
        elif e.name == "InformationProvided":
            state["information_requested"] = False
        elif e.name == "PreauthCancelled":
            state["status"] = PreauthStatus.CANCELLED
        elif e.name == "PreauthAppealed":
            state.update(
                status=PreauthStatus.APPEALED, appealed=True, deadline_missed=False, information_requested=False,
                due_at=int(a["dueAt"]),
            )  # fmt: skip
        elif e.name == "DeadlineMissed":
            state["deadline_missed"] = True
        elif e.name == "DecisionTimeframeExtended":
            state.update(due_at=int(a["newDueAt"]), extended=True)
        elif e.name == "ClaimSubmitted":
            claim_units[bytes(a["claimId"])] = int(a["units"])
            state["used_units"] += int(a["units"])
        elif e.name == "ClaimAdjudicated" and ClaimStatus(a["status"]) is ClaimStatus.DENIED:
            state["used_units"] -= claim_units[bytes(a["claimId"])]
    if state is None:
        raise ValidationError("no PreauthRequested event: not a request's history")
    return PreauthRequest(**state)


def replay_claims(events: Iterable[PreauthEvent]) -> dict[bytes, PreauthClaim]:
    """The claims of a request rebuilt from its events; each equals :meth:`PreauthRegistryClient.get_claim`."""
    claims: dict[bytes, PreauthClaim] = {}
    for e in events:
        a = e.args
        if e.name == "ClaimSubmitted":
            cid = bytes(a["claimId"])
            claims[cid] = PreauthClaim(
                cid, bytes(a["requestId"]), ClaimStatus.SUBMITTED, int(a["units"]), int(a["amount"]), 0, e.timestamp
            )
        elif e.name == "ClaimAdjudicated":
            cid = bytes(a["claimId"])
            old = claims[cid]
            claims[cid] = PreauthClaim(
                cid, old.request_id, ClaimStatus(a["status"]), old.units, old.amount, int(a["paidAmount"]),
                old.submitted_at,
            )  # fmt: skip
    return claims


# ------------------------------------------------------------------------------ the client


class PreauthRegistryClient(SigningContractClient):
    CONTRACT_NAME = "PreauthRegistry"

    # ---------------------------------------------------------------- governance

    def register_payer(self, payer: str) -> int:
        """Payer-registrar role: register `payer`; returns its index."""
        receipt = self._send("registerPayer", validation.nonzero_address(payer, "payer"))
        return int(self.events(receipt, "PayerRegistered")[0]["index"])

    # --------------------------------------------------------------------- payer

    def set_policy(self, procedure: str | bytes, policy: Policy) -> int:
        """The sending payer sets its policy for `procedure`; returns the policy id."""
        receipt = self._send("setPolicy", procedure_code(procedure), policy_tuple(check_policy(policy)))
        return int(self.events(receipt, "PolicySet")[0]["policyId"])

    def approve(self, request_id: bytes) -> TxReceipt:
        """Approve a pended (or appealed) request in full."""
        return self._send("approve", _commitment(request_id, "request id"))

    def modify(self, request_id: bytes, approved_units: int) -> TxReceipt:
        """Approve fewer units than requested (at least one)."""
        units = units_value(approved_units, "approved units")
        return self._send("modify", _commitment(request_id, "request id"), units)

    def deny(self, request_id: bytes, reason: int) -> TxReceipt:
        """Deny, with a reason code (:class:`DecisionReason` or the payer's own)."""
        return self._send("deny", _commitment(request_id, "request id"), reason_code(reason))

    def request_information(self, request_id: bytes, reason: int) -> TxReceipt:
        """Ask the site for more information; the decision deadline keeps running from the request."""
        return self._send("requestInformation", _commitment(request_id, "request id"), reason_code(reason))

    def extend(self, request_id: bytes, new_due_at: int, reason: int) -> TxReceipt:
        """Extend the decision deadline of a pended standard request to `new_due_at`, once, before it passes
        and by at most 14 days (CMS-0057-F); `reason` 1: the patient asked, 2: the payer needs more information."""
        return self._send(
            "extend",
            _commitment(request_id, "request id"),
            validation.timestamp(new_due_at, "new deadline"),
            _uint(reason, "extension reason", 0, UINT16_MAX),
        )

    def adjudicate_claim(
        self,
        claim_id: bytes,
        status: ClaimStatus,
        paid_amount: int | None = None,
        reason: int = 0,
        *,
        request_id: bytes | None = None,
    ) -> TxReceipt:
        """Adjudicate a claim: PAID (in full; `paid_amount` defaults to the claim's amount), PARTIALLY_PAID
        (0 < paid < amount) or DENIED (nothing paid, a reason needed; its units go back to the authorization).

        Claim ids are namespaced by authorization: `request_id` names it (default: the one authorization
        under which `claim_id` was submitted, from the events)."""
        cid = _commitment(claim_id, "claim id")
        rid = self.claim_request(cid) if request_id is None else _commitment(request_id, "request id")
        if status not in {s.value for s in ClaimStatus}:
            raise ValidationError(f"claim status {status!r} is not a ClaimStatus")
        status = ClaimStatus(status)
        if status not in (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED):
            raise ValidationError(f"claim status {status!r}: adjudicate as PAID, PARTIALLY_PAID or DENIED")
        if paid_amount is None:
            if status is ClaimStatus.PARTIALLY_PAID:
                raise ValidationError("a partial payment needs the amount paid")
            paid_amount = self.get_claim(cid, rid).amount if status is ClaimStatus.PAID else 0
        _uint(paid_amount, "paid amount", 0, UINT96_MAX)
        reason = reason_code(reason) if status is ClaimStatus.DENIED else _uint(reason, "reason code", 0, UINT16_MAX)
        return self._send("adjudicateClaim", rid, cid, int(status), paid_amount, reason)

    # ---------------------------------------------------------------------- site

    def request(self, order: SignedMessage | dict[str, Any], signature: bytes = b"") -> bytes:
        """Request authorization for `order` (a signed order, or a message and its signature); returns the
        request id. The sender must be a registered site (an active custodian of RecordRegistry), and the
        physician's valid, unexpired signature is required (the contract refuses the request otherwise)."""
        if isinstance(order, SignedMessage):
            domain = self.domain()
            if order.domain != domain:
                raise ValidationError(
                    f"the order is signed for {order.domain.verifying_contract} on chain {order.domain.chain_id}, "
                    f"not this PreauthRegistry ({domain.verifying_contract} on chain {domain.chain_id})"
                )
            message, signature = order.message, order.signature
        else:
            message = order
        m = checked_order(message)
        if self.transactor is not None and m["requester"] != self.transactor.address:
            sender = self.transactor.address
            raise ValidationError(f"the order names requester {m['requester']}, not the sender {sender}")
        receipt = self._send(
            "request", m["payer"], m["memberCommitment"], m["procedure"], m["units"], m["physician"], m["expedited"],
            m["clinicalCommitment"], m["deadline"], bytes(signature),
        )  # fmt: skip
        return bytes(self.events(receipt, "PreauthRequested")[0]["requestId"])

    def provide_information(self, request_id: bytes, clinical_commitment: bytes) -> TxReceipt:
        """Answer an information request with a new clinical commitment (new evidence, a fresh salt)."""
        return self._send(
            "provideInformation",
            _commitment(request_id, "request id"),
            _commitment(clinical_commitment, "clinical commitment"),
        )

    def cancel(self, request_id: bytes) -> TxReceipt:
        """Withdraw a request awaiting a decision (pended or appealed)."""
        return self._send("cancel", _commitment(request_id, "request id"))

    def appeal(self, request_id: bytes, clinical_commitment: bytes) -> TxReceipt:
        """Appeal a denial or a modification, once, within the appeal window and before any claim uses it."""
        return self._send(
            "appeal", _commitment(request_id, "request id"), _commitment(clinical_commitment, "clinical commitment")
        )

    def submit_claim(self, request_id: bytes, claim_id: bytes, units: int, amount: int) -> TxReceipt:
        """Claim `units` of an approved, unexpired authorization; `amount` in cents; `claim_id` a salted
        commitment to the claim file (:func:`radledger.commitments.claim_id`)."""
        return self._send(
            "submitClaim",
            _commitment(request_id, "request id"),
            _commitment(claim_id, "claim id"),
            units_value(units),
            amount_value(amount),
        )

    # -------------------------------------------------------------------- anyone

    def flag_missed_deadline(self, request_id: bytes) -> TxReceipt:
        """Put on record that the payer let the decision deadline pass (once per phase: request, appeal)."""
        return self._send("flagMissedDeadline", _commitment(request_id, "request id"))

    # ---------------------------------------------------------------- signatures

    def sign_order(self, signer: Signer, message: dict[str, Any]) -> SignedMessage:
        return sign_order(signer, self.domain(), message)

    def order_digest(self, message: dict[str, Any]) -> bytes:
        """The contract's digest of an order (the request id it would get)."""
        m = checked_order(message)
        return bytes(
            self._call(
                "orderDigest", m["requester"], m["payer"], m["memberCommitment"], m["procedure"], m["units"],
                m["physician"], m["expedited"], m["clinicalCommitment"], m["deadline"],
            )
        )  # fmt: skip

    def auto_approval_obstacles(self, order: SignedMessage | dict[str, Any], signature: bytes = b"") -> list[str]:
        """Why this order would be pended rather than approved at once, as of now (empty: it would be approved).

        The signature is checked for an EOA physician; a contract wallet's (ERC-1271) is the chain's to judge.
        """
        if isinstance(order, SignedMessage):
            message, signature = order.message, order.signature
        else:
            message = order
        m = checked_order(message)
        policy = self.get_policy(m["payer"], m["procedure"])
        if not policy.active:
            return ["no active policy for the procedure (the request would be refused)"]
        obstacles = []
        if not policy.auto_approval:
            obstacles.append("the policy does not allow auto-approval")
        if m["units"] > policy.max_units:
            obstacles.append(f"{m['units']} units requested, at most {policy.max_units} approved automatically")
        if self.now() >= m["deadline"]:
            obstacles.append("the physician's signature has expired (the request would be refused)")
        if policy.gold_card_schema and not self.credentials().has_valid_credential(
            m["physician"], policy.gold_card_schema
        ):
            obstacles.append(f"the physician holds no valid gold card (schema {policy.gold_card_schema})")
        if not self.w3.eth.get_code(m["physician"]) and order_signer(self.domain(), m, signature) != m["physician"]:
            obstacles.append("no valid signature of the physician (the request would be refused)")
        return obstacles

    # --------------------------------------------------------------------- views

    def get_request(self, request_id: bytes) -> PreauthRequest:
        rid = _commitment(request_id, "request id")
        return _request_from(rid, self._call("getRequest", rid))

    def claim_request(self, claim_id: bytes) -> bytes:
        """The authorization under which `claim_id` was submitted, from the ``ClaimSubmitted`` events. Zero
        when there is none (the contract then answers ``ClaimNotFound``); a ValidationError when several
        authorizations hold a claim with this id (claim ids are namespaced by authorization: name it)."""
        cid = _commitment(claim_id, "claim id")
        submitted = self.event_reader.read("ClaimSubmitted", {"claimId": cid}, from_block=self.start_block)
        found = {bytes(e.args["requestId"]) for e in submitted}
        if len(found) > 1:
            raise ValidationError(
                f"claim id 0x{cid.hex()} is used under {len(found)} authorizations: give the request id"
            )
        return found.pop() if found else bytes(32)

    def get_claim(self, claim_id: bytes, request_id: bytes | None = None) -> PreauthClaim:
        cid = _commitment(claim_id, "claim id")
        rid = self.claim_request(cid) if request_id is None else _commitment(request_id, "request id")
        request_id, status, units, amount, paid, submitted = self._call("getClaim", rid, cid)
        return PreauthClaim(
            cid, bytes(request_id), ClaimStatus(status), int(units), int(amount), int(paid), int(submitted)
        )

    def get_policy(self, payer: str, procedure: str | bytes) -> Policy:
        """The payer's policy for `procedure` (inactive, all zero, when it has none)."""
        return policy_from_tuple(self._call("getPolicy", validation.address(payer, "payer"), procedure_code(procedure)))

    def payer_index(self, payer: str) -> int:
        """The payer's index (0: not registered)."""
        return int(self._call("payerIndex", validation.address(payer, "payer")))

    def is_payer(self, payer: str) -> bool:
        return self.payer_index(payer) != 0

    def credential_registry(self) -> ChecksumAddress:
        return to_checksum_address(self._call("credentialRegistry"))

    def record_registry(self) -> ChecksumAddress:
        """The RecordRegistry whose active custodians are the sites that may request."""
        return to_checksum_address(self._call("recordRegistry"))

    def credentials(self) -> CredentialRegistryClient:
        """The CredentialRegistry whose credentials the policies require (read-only)."""
        return CredentialRegistryClient(self.w3, self.credential_registry())

    def status(self, request_id: bytes) -> PreauthStatus:
        return self.get_request(request_id).status

    def wait_for_decision(
        self,
        request_id: bytes,
        timeout: float = 600.0,
        poll: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> PreauthRequest:
        """Poll until the request leaves PENDED and APPEALED; returns it, or raises :class:`DecisionTimeout`."""
        if timeout < 0 or poll <= 0:
            raise ValidationError("timeout must not be negative and poll must be positive")
        started = time.monotonic()
        while True:
            current = self.get_request(request_id)
            waited = time.monotonic() - started
            if not current.status.is_pending:
                return current
            if waited >= timeout:
                raise DecisionTimeout(current, waited)
            sleep(min(poll, max(timeout - waited, 0.0)))

    # -------------------------------------------------------------------- events

    def history(self, request_id: bytes, from_block: int | None = None) -> list[PreauthEvent]:
        """Every event of a request and its claims, oldest first (each with its block's time).

        `from_block`: where to start looking (default: the client's start block, the contract's creation
        when known); the request's block spares a node the rest.
        """
        rid = _commitment(request_id, "request id")
        start = self.start_block if from_block is None else from_block
        events: list[Event] = []
        # The request id is the first indexed argument of a request's events, the second of its claims'.
        for topics in ([None, rid], [None, None, rid]):
            events += self.event_reader.read(from_block=start, topics=topics)
        events.sort(key=lambda e: e.position)
        return [_preauth_event(self.w3, e) for e in events]

    def commitments(self, request_id: bytes, from_block: int | None = None) -> tuple[bytes, list[bytes]]:
        """The member commitment and every clinical commitment of a request (request, information, appeal)."""
        member = b""
        clinical: list[bytes] = []
        for e in self.history(request_id, from_block):
            if e.name == "PreauthRequested":
                member = bytes(e.args["memberCommitment"])
            if e.name in ("PreauthRequested", "InformationProvided", "PreauthAppealed"):
                clinical.append(bytes(e.args["clinicalCommitment"]))
        if not member:
            raise ValidationError(f"no request 0x{bytes(request_id).hex()} in this contract's events")
        return member, clinical

    def verify_opening(self, request_id: bytes, opening: Opening, from_block: int | None = None) -> bool:
        """The payer's audit: does the site's opening open this request's commitments on chain?"""
        member, clinical = self.commitments(request_id, from_block)
        return opening.verify(member, clinical)


def _preauth_event(w3: Web3, event: Event) -> PreauthEvent:
    timestamp = event.timestamp
    if timestamp is None:  # pragma: no cover - every log source gives its blocks' times
        timestamp = int(w3.eth.get_block(event.block_number)["timestamp"])
    return PreauthEvent(event.name, event.args, event.block_number, event.log_index, timestamp, event.tx_hash)


def _request_from(request_id: bytes, raw: Sequence[Any]) -> PreauthRequest:
    (requester, payer, status, expedited, info, appealed, missed, extended, units, approved, used,
     requested_at, due_at, decided_at, expires_at, appeal_by) = raw  # fmt: skip
    return PreauthRequest(
        request_id, to_checksum_address(requester), to_checksum_address(payer), PreauthStatus(status), bool(expedited),
        bool(info), bool(appealed), bool(missed), int(units), int(approved), int(used), int(requested_at), int(due_at),
        int(decided_at), int(expires_at), int(appeal_by), bool(extended),
    )  # fmt: skip


def physician_subject(physician: str) -> bytes:
    """The CredentialRegistry subject of an ordering physician (their address left-padded to 32 bytes)."""
    return subject_id(validation.nonzero_address(physician, "physician"))


__all__ = [
    "DEFAULT_SIGNATURE_VALIDITY",
    "ORDER_TYPE",
    "DecisionReason",
    "DecisionTimeout",
    "PreauthEvent",
    "PreauthRegistryClient",
    "check_policy",
    "draft_json",
    "load_order",
    "order_id",
    "order_message",
    "order_signer",
    "physician_subject",
    "policy_from_tuple",
    "policy_tuple",
    "procedure_code",
    "procedure_text",
    "replay",
    "replay_claims",
    "sign_order",
    "x12_action_code",
]
