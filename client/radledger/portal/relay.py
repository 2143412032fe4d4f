"""The site's relay: checks a patient's signed consent message, then sends it with the site's key.

Everything that can be checked is checked before a transaction exists, so a bad request costs
the site no gas: the domain (this chain, this ConsentRegistry), that the patient has a record at
this site (unless the site relays for anyone), that the signer is the patient or a current
guardian, the deadline (with a margin for mining), the patient's signature epoch, the slot's
version, the signature itself (ECDSA first, then ERC-1271 when the signer has code: a Safe, or
an EIP-7702-delegated account) and, last, a simulation of the exact contract call.

:meth:`Relay.submit` is the one place where checked messages become transactions. Today each
message is its own ``...BySig`` transaction; the batch entry of ConsentRegistry (branch
sol-consent) plugs in there, sending several grants in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3.contract.contract import ContractFunction

from radledger.chain import validation
from radledger.chain.eip712 import Domain, SignedMessage, message_fields, typed_data
from radledger.chain.errors import ContractError, TransactionReverted
from radledger.chain.transactions import Transactor, call
from radledger.portal.errors import (
    BadSignature,
    DeadlinePassed,
    MalformedRequest,
    NotPatientHere,
    NotPatientOrGuardian,
    RejectedByContract,
    StaleEpoch,
    StaleVersion,
    WrongDomain,
)
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import Grant

ACTIONS = {
    "grant": "Grant",
    "revoke": "Revoke",
    "set-guardian": "SetGuardian",
    "invalidate-signatures": "InvalidateSignatures",
}
"""`POST /relay/<action>` → the EIP-712 primary type it carries."""
ERC1271_MAGIC = bytes.fromhex("1626ba7e")
_IS_VALID_SIGNATURE = keccak(text="isValidSignature(bytes32,bytes)")[:4]
DEADLINE_MARGIN = 15
"""Seconds a signature must still be valid for when it is sent (time to be mined)."""
_ADDRESS_FIELDS = frozenset({"patient", "grantee", "guardian", "signer"})


@dataclass(frozen=True)
class CheckedMessage:
    """A signed message that passed every check; `prior` is the grant it revokes (for the receipt)."""

    signed: SignedMessage
    patient: ChecksumAddress
    signer: ChecksumAddress
    prior: Grant | None = None

    @property
    def primary_type(self) -> str:
        return self.signed.primary_type


@dataclass(frozen=True)
class Submission:
    """A transaction the relay sent, and the checked messages it carries."""

    tx_hash: str
    messages: tuple[CheckedMessage, ...]


def digest(signed: SignedMessage) -> bytes:
    """The EIP-712 digest the signer signed (what ``ecrecover`` and ERC-1271 wallets see)."""
    signable = encode_typed_data(full_message=_wire(typed_data(signed.domain, signed.primary_type, signed.message)))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def _wire(document: dict[str, Any]) -> dict[str, Any]:
    message = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in document["message"].items()}
    return {**document, "message": message}


def parse_signed(action: str, body: Any) -> SignedMessage:
    """The signed message of a relay request body ``{"typedData": {...}, "signature": "0x..."}``.

    The message is rebuilt from the contract's own field list: the `types` the page sent are not
    trusted (a signature over other types simply does not verify).
    """
    primary = ACTIONS.get(action)
    if primary is None:
        raise MalformedRequest(f"unknown relay action {action!r}; one of {sorted(ACTIONS)}")
    if not isinstance(body, Mapping) or not isinstance(body.get("typedData"), Mapping):
        raise MalformedRequest('expected a JSON object {"typedData": {...}, "signature": "0x..."}')
    document = body["typedData"]
    if document.get("primaryType") != primary:
        raise MalformedRequest(f"/relay/{action} carries a {primary} message, not {document.get('primaryType')!r}")
    try:
        d = document["domain"]
        domain = Domain(
            str(d["name"]), str(d["version"]), int(d["chainId"]), validation.address(d["verifyingContract"])
        )
        fields = message_fields(domain.name, primary)
        raw = document["message"]
        message: dict[str, Any] = {}
        for name, kind in fields:
            value = raw[name]
            if kind == "address":
                message[name] = validation.address(value, name)
            elif kind == "bytes32":
                message[name] = validation.bytes32(value, name)
            else:
                message[name] = int(value, 0) if isinstance(value, str) else int(value)
        signature = validation.signature(body.get("signature"))
    except MalformedRequest:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRequest(f"not a signed {primary} message: {exc}") from None
    return SignedMessage(primary, domain, message, signature)


class Relay:
    """Checks and sends signed consent messages to one ConsentRegistry with the site's transactor."""

    def __init__(
        self,
        consent: ConsentRegistryClient,
        sender: Transactor,
        is_patient_here: Callable[[ChecksumAddress], bool],
        allow_any_patient: bool = False,
        deadline_margin: int = DEADLINE_MARGIN,
    ) -> None:
        self.consent = consent
        self.sender = sender
        self.is_patient_here = is_patient_here
        self.allow_any_patient = allow_any_patient
        self.deadline_margin = deadline_margin
        self.domain = consent.domain()

    # ------------------------------------------------------------------ checks

    def check(self, signed: SignedMessage) -> CheckedMessage:
        """Every check, in order; raises a :class:`~radledger.portal.errors.RelayRefused` subclass."""
        d = signed.domain
        if d != self.domain:
            raise WrongDomain(d.chain_id, d.verifying_contract, self.domain.chain_id, self.domain.verifying_contract)
        m = signed.message
        patient = validation.address(m["patient"], "patient")
        signer = patient if signed.primary_type == "SetGuardian" else validation.address(m["signer"], "signer")
        if not self.allow_any_patient and not self.is_patient_here(patient):
            raise NotPatientHere(patient)
        if signer != patient and not self.consent.is_guardian(patient, signer):
            raise NotPatientOrGuardian(patient, signer)
        now = self.consent.now()
        if int(m["deadline"]) < now + self.deadline_margin:
            raise DeadlinePassed(int(m["deadline"]), now)
        epoch = self.consent.signer_epoch(patient, signer)
        if int(m["epoch"]) != epoch:
            raise StaleEpoch(int(m["epoch"]), epoch)
        prior: Grant | None = None
        if signed.primary_type in ("Grant", "Revoke"):
            prior = self.consent.get_grant(patient, m["grantee"], m["recordId"])
            current = prior.version
        elif signed.primary_type == "SetGuardian":
            current = self.consent.get_guardian(patient, m["guardian"]).version
        else:
            current = None
        if current is not None and int(m["version"]) != current:
            raise StaleVersion(int(m["version"]), current)
        if not self.signature_valid(signer, digest(signed), signed.signature):
            raise BadSignature(signer)
        fn = self.call_of(signed)
        try:
            call(fn, self.sender.address)
        except ContractError as exc:
            raise RejectedByContract(exc) from None
        except TransactionReverted as exc:
            raise RejectedByContract(exc) from None
        return CheckedMessage(signed, patient, signer, prior)

    def signature_valid(self, signer: ChecksumAddress, hash_: bytes, signature: bytes) -> bool:
        """ECDSA by `signer` first (an EOA, or an EIP-7702-delegated one), then ERC-1271 when it has code."""
        if len(signature) == 65:
            try:
                if Account._recover_hash(hash_, signature=signature) == signer:
                    return True
            except Exception:  # an unrecoverable signature: maybe a wallet's own format
                pass
        if not self.consent.w3.eth.get_code(signer):
            return False
        data = _IS_VALID_SIGNATURE + _abi_bytes32_bytes(hash_, signature)
        try:
            answer = bytes(self.consent.w3.eth.call({"to": signer, "data": data}))
        except Exception:
            return False
        return answer[:4] == ERC1271_MAGIC

    def call_of(self, signed: SignedMessage) -> ContractFunction:
        return self.consent.by_sig_call(self._normalized(signed))

    @staticmethod
    def _normalized(signed: SignedMessage) -> SignedMessage:
        m = {k: validation.address(v, k) if k in _ADDRESS_FIELDS else v for k, v in signed.message.items()}
        return SignedMessage(signed.primary_type, signed.domain, m, signed.signature)

    def check_all(self, items: Sequence[SignedMessage]) -> list[CheckedMessage]:
        """Check several messages (a revoke-everything request): no two may touch the same slot."""
        if not items:
            raise MalformedRequest("no signed message to relay")
        slots = [_slot(s) for s in items]
        if len(set(slots)) != len(slots):
            raise MalformedRequest("two signed messages change the same consent; send them one at a time")
        return [self.check(s) for s in items]

    # ------------------------------------------------------------------ sending

    def submit(self, checked: Sequence[CheckedMessage]) -> list[Submission]:
        """Send checked messages; returns each transaction's hash as soon as the node has it.

        Two or more `Grant` messages go in one `grantBySigBatch` transaction (one Submission carrying
        them all: all or nothing); every other message is its own ``...BySig`` transaction.
        """
        grants = [c for c in checked if c.signed.primary_type == "Grant"]
        out: list[Submission] = []
        if len(grants) > 1:
            call = self.consent.batch_grant_call([self._normalized(c.signed) for c in grants])
            out.append(Submission(self.sender.submit(call), tuple(grants)))
        batched = set(map(id, grants)) if len(grants) > 1 else set()
        out += [Submission(self.sender.submit(self.call_of(c.signed)), (c,)) for c in checked if id(c) not in batched]
        return out


def _slot(signed: SignedMessage) -> tuple[Any, ...]:
    m = signed.message
    if signed.primary_type in ("Grant", "Revoke"):
        return ("grant", m["patient"], validation.address(m["grantee"]), bytes(m["recordId"]))
    if signed.primary_type == "SetGuardian":
        return ("guardian", m["patient"], validation.address(m["guardian"]))
    return ("epoch", m["patient"])


def _abi_bytes32_bytes(word: bytes, data: bytes) -> bytes:
    """abi.encode(bytes32, bytes)."""
    padded = data + b"\x00" * (-len(data) % 32)
    return word + (64).to_bytes(32, "big") + len(data).to_bytes(32, "big") + padded


__all__ = ["ACTIONS", "CheckedMessage", "Relay", "Submission", "digest", "parse_signed"]
