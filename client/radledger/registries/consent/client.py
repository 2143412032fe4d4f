"""ConsentRegistry: grants, revocations, signatures, guardians, break-glass and the access trail."""

from __future__ import annotations

from typing import Any

from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from radledger.chain import validation
from radledger.chain.contract import SigningContractClient
from radledger.chain.eip712 import CONSENT_DOMAIN_NAME, SignedMessage, sign
from radledger.chain.errors import ContractError, ValidationError, decode_revert
from radledger.chain.signers import Signer
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.types import AccessBasis, Grant, Guardian

WILDCARD = bytes(32)
"""Record id 0: a grant on it covers every record of the patient."""

_ADDRESS_FIELDS = frozenset({"patient", "grantee", "guardian", "signer"})


def grant_message(
    patient: str,
    grantee: str,
    record_id: bytes,
    scopes: int,
    purposes: int,
    valid_from: int,
    valid_until: int,
    signer: str,
    version: int,
    epoch: int,
    deadline: int,
) -> dict[str, Any]:
    """The `Grant` message a patient (or guardian) signs; checked like a direct grant."""
    validation.timestamp(valid_from, "valid_from")
    validation.timestamp(valid_until, "valid_until")
    if valid_from >= valid_until:
        raise ValidationError(f"validity: valid_from {valid_from} is not before valid_until {valid_until}")
    return {
        "patient": validation.nonzero_address(patient, "patient"),
        "grantee": validation.nonzero_address(grantee, "grantee"),
        "recordId": validation.bytes32(record_id, "record id"),
        "scopes": int(Scope.checked(scopes)),
        "purposes": int(Purpose.checked(purposes)),
        "validFrom": valid_from,
        "validUntil": valid_until,
        "signer": validation.nonzero_address(signer, "signer"),
        "version": version,
        "epoch": epoch,
        "deadline": deadline,
    }


def revoke_message(
    patient: str, grantee: str, record_id: bytes, signer: str, version: int, epoch: int, deadline: int
) -> dict[str, Any]:
    """The `Revoke` message a patient (or guardian) signs: it names the slot version it revokes."""
    return {
        "patient": validation.nonzero_address(patient, "patient"),
        "grantee": validation.nonzero_address(grantee, "grantee"),
        "recordId": validation.bytes32(record_id, "record id"),
        "signer": validation.nonzero_address(signer, "signer"),
        "version": version,
        "epoch": epoch,
        "deadline": deadline,
    }


def guardian_message(
    patient: str, guardian: str, valid_until: int, version: int, epoch: int, deadline: int
) -> dict[str, Any]:
    """The `SetGuardian` message a patient signs (`valid_until` 0 removes the guardian)."""
    return {
        "patient": validation.nonzero_address(patient, "patient"),
        "guardian": validation.nonzero_address(guardian, "guardian"),
        "validUntil": validation.timestamp(valid_until, "valid_until"),
        "version": version,
        "epoch": epoch,
        "deadline": deadline,
    }


class ConsentRegistryClient(SigningContractClient):
    CONTRACT_NAME = "ConsentRegistry"

    # ------------------------------------------------------------ direct actions

    def grant(
        self,
        patient: str,
        grantee: str,
        record_id: bytes,
        scopes: int,
        purposes: int,
        valid_from: int = 0,
        valid_until: int = FOREVER,
    ) -> TxReceipt:
        """Grant (or replace the grant of) `grantee`; the sender is the patient or a current guardian."""
        args = self._grant_args(patient, grantee, record_id, scopes, purposes, valid_from, valid_until)
        return self._send("grant", *args)

    def revoke(self, patient: str, grantee: str, record_id: bytes) -> TxReceipt:
        """Revoke exactly the grant named; the sender is the patient or a current guardian."""
        return self._send(
            "revoke",
            validation.nonzero_address(patient, "patient"),
            validation.nonzero_address(grantee, "grantee"),
            validation.bytes32(record_id, "record id"),
        )

    def revoke_all(self, patient: str, grantee: str, record_ids: list[bytes]) -> list[TxReceipt]:
        """Revoke every active grant of `grantee` among `record_ids` (include WILDCARD for the wildcard)."""
        active = [rid for rid in record_ids if self.get_grant(patient, grantee, rid).scopes]
        return [self.revoke(patient, grantee, rid) for rid in active]

    def set_guardian(self, guardian: str, valid_until: int) -> TxReceipt:
        """The sender (a patient) appoints `guardian` until `valid_until`, or removes it with 0."""
        return self._send("setGuardian", *self._guardian_args(guardian, valid_until))

    def invalidate_signatures(self, patient: str) -> TxReceipt:
        """Invalidate every outstanding signature about `patient`'s consents."""
        return self._send("invalidateSignatures", validation.nonzero_address(patient, "patient"))

    def break_glass(self, patient: str, reason_code: int) -> TxReceipt:
        """Emergency access (break-glass role): all of the patient's records, ETREAT, for the fixed window."""
        if not isinstance(reason_code, int) or not 0 < reason_code < 2**16:
            raise ValidationError(f"reason code {reason_code!r} must be between 1 and 65535")
        return self._send("breakGlass", validation.nonzero_address(patient, "patient"), reason_code)

    def record_access(self, grantee: str, record_id: bytes, scopes: int, purpose: int) -> TxReceipt:
        """Put an access on the trail (the grantee, or the record's custodian on its behalf)."""
        return self._send(
            "recordAccess",
            validation.nonzero_address(grantee, "grantee"),
            validation.bytes32(record_id, "record id"),
            int(Scope.checked(scopes)),
            int(Purpose.checked(purpose, single=True)),
        )

    # ---------------------------------------------------------------- signatures

    def sign_grant(
        self,
        signer: Signer,
        patient: str,
        grantee: str,
        record_id: bytes,
        scopes: int,
        purposes: int,
        valid_from: int = 0,
        valid_until: int = FOREVER,
        deadline: int | None = None,
    ) -> SignedMessage:
        """Sign a grant with the current slot version and the signer's epoch read from the chain."""
        rid = validation.bytes32(record_id, "record id")
        version = self.get_grant(patient, grantee, rid).version
        message = grant_message(
            patient, grantee, rid, scopes, purposes, valid_from, valid_until, signer.address,
            version, self.signer_epoch(patient, signer.address), self._deadline(deadline),
        )  # fmt: skip
        return sign(signer, self.domain(), "Grant", message)

    def sign_revoke(
        self, signer: Signer, patient: str, grantee: str, record_id: bytes, deadline: int | None = None
    ) -> SignedMessage:
        rid = validation.bytes32(record_id, "record id")
        message = revoke_message(
            patient, grantee, rid, signer.address, self.get_grant(patient, grantee, rid).version,
            self.signer_epoch(patient, signer.address), self._deadline(deadline),
        )  # fmt: skip
        return sign(signer, self.domain(), "Revoke", message)

    def sign_set_guardian(
        self, patient: Signer, guardian: str, valid_until: int, deadline: int | None = None
    ) -> SignedMessage:
        checked_guardian, until = self._guardian_args(guardian, valid_until)
        message = guardian_message(
            patient.address, checked_guardian, until, self.get_guardian(patient.address, checked_guardian).version,
            self.signature_epoch(patient.address), self._deadline(deadline),
        )  # fmt: skip
        return sign(patient, self.domain(), "SetGuardian", message)

    def sign_invalidate_signatures(self, signer: Signer, patient: str, deadline: int | None = None) -> SignedMessage:
        message = {
            "patient": validation.nonzero_address(patient, "patient"),
            "signer": signer.address,
            "epoch": self.signer_epoch(patient, signer.address),
            "deadline": self._deadline(deadline),
        }
        return sign(signer, self.domain(), "InvalidateSignatures", message)

    def relay(self, signed: SignedMessage) -> TxReceipt:
        """Submit a signed message (anyone may relay; the sender pays the gas)."""
        domain = self.domain()
        if signed.domain != domain:
            raise ValidationError(
                f"signature is for {signed.domain.name} at {signed.domain.verifying_contract} on chain "
                f"{signed.domain.chain_id}, not this contract ({domain.verifying_contract} on chain {domain.chain_id})"
            )
        m = signed.message
        validation.deadline(int(m["deadline"]), self.now())
        validation.signature(signed.signature)
        if signed.primary_type == "Grant":
            self._grant_args(
                m["patient"], m["grantee"], m["recordId"], m["scopes"], m["purposes"], m["validFrom"], m["validUntil"]
            )
        fn = self.by_sig_call(signed)
        return self._send(fn.fn_name, *fn.args)

    def relay_grants(self, signed: list[SignedMessage]) -> TxReceipt:
        """Relay several signed grants in one transaction (`grantBySigBatch`), all or nothing.

        Each is checked here as :meth:`relay` checks one, before anything is sent. When an item
        fails on chain the contract reverts with ``errors.BatchItemFailed`` (``index`` from 0 and
        ``reason``, the item's own error encoded); the exception raised here also carries that
        error decoded, as ``error`` (``errors.InvalidSignature(signer)``, say).
        """
        try:
            return self._send("grantBySigBatch", self._batch_items(signed))
        except ContractError as exc:
            if exc.error_name == "BatchItemFailed":
                exc.error = decode_revert(exc.reason)  # type: ignore[attr-defined]
            raise

    def batch_grant_call(self, signed: list[SignedMessage]) -> ContractFunction:
        """The `grantBySigBatch` call that carries `signed` (checked as :meth:`relay_grants` checks them),
        for a relay that sends it its own way."""
        return self.contract.functions.grantBySigBatch(self._batch_items(signed))

    def _batch_items(self, signed: list[SignedMessage]) -> list[tuple[Any, ...]]:
        if not signed:
            raise ValidationError("a batch must hold at least one signed grant")
        domain, now = self.domain(), self.now()
        items = []
        for index, item in enumerate(signed):
            if item.primary_type != "Grant":
                raise ValidationError(f"item {index}: only Grant messages relay in a batch, not {item.primary_type}")
            if item.domain != domain:
                raise ValidationError(f"item {index}: signature is for another contract or chain ({item.domain})")
            m = item.message
            validation.deadline(int(m["deadline"]), now)
            validation.signature(item.signature)
            args = self._grant_args(
                m["patient"], m["grantee"], m["recordId"], m["scopes"], m["purposes"], m["validFrom"], m["validUntil"]
            )
            items.append((*args, validation.nonzero_address(m["signer"], "signer"), int(m["deadline"]), item.signature))
        return items

    def by_sig_call(self, signed: SignedMessage) -> ContractFunction:
        """The `...BySig` contract call that carries `signed`, unchecked (:meth:`relay` checks it first)."""
        sig, fns = signed.signature, self.contract.functions
        m = {k: validation.address(v, k) if k in _ADDRESS_FIELDS else v for k, v in signed.message.items()}
        if signed.primary_type == "Grant":
            return fns.grantBySig(
                m["patient"], m["grantee"], m["recordId"], m["scopes"], m["purposes"], m["validFrom"],
                m["validUntil"], m["signer"], m["deadline"], sig,
            )  # fmt: skip
        if signed.primary_type == "Revoke":
            return fns.revokeBySig(m["patient"], m["grantee"], m["recordId"], m["signer"], m["deadline"], sig)
        if signed.primary_type == "SetGuardian":
            return fns.setGuardianBySig(m["patient"], m["guardian"], m["validUntil"], m["deadline"], sig)
        if signed.primary_type == "InvalidateSignatures":
            return fns.invalidateSignaturesBySig(m["patient"], m["signer"], m["deadline"], sig)
        raise ValidationError(f"cannot relay a {signed.primary_type} message")

    # --------------------------------------------------------------------- views

    def has_access(self, patient: str, grantee: str, record_id: bytes, scopes: int, purposes: int) -> bool:
        return bool(self._call("hasAccess", *_access_question(patient, grantee, record_id, scopes, purposes)))

    def access_basis(self, patient: str, grantee: str, record_id: bytes, scopes: int, purposes: int) -> AccessBasis:
        return AccessBasis(self._call("accessBasis", *_access_question(patient, grantee, record_id, scopes, purposes)))

    def get_grant(self, patient: str, grantee: str, record_id: bytes) -> Grant:
        p = validation.address(patient, "patient")
        g = validation.address(grantee, "grantee")
        rid = validation.bytes32(record_id, "record id")
        scopes, purposes, valid_from, valid_until, version, break_glass_until = self._call("getGrant", p, g, rid)
        return Grant(p, g, rid, Scope(scopes), Purpose(purposes), valid_from, valid_until, version, break_glass_until)

    def get_guardian(self, patient: str, guardian: str) -> Guardian:
        p = validation.address(patient, "patient")
        g = validation.address(guardian, "guardian")
        valid_until, version = self._call("getGuardian", p, g)
        return Guardian(p, g, valid_until, version)

    def is_guardian(self, patient: str, guardian: str) -> bool:
        return bool(
            self._call("isGuardian", validation.address(patient, "patient"), validation.address(guardian, "guardian"))
        )

    def signature_epoch(self, patient: str) -> int:
        """The patient's own epoch (what the patient's signatures commit to)."""
        return int(self._call("signatureEpoch", validation.address(patient, "patient")))

    def signer_epoch(self, patient: str, signer: str) -> int:
        """The epoch a signature of `signer` about `patient` commits to: the patient's epoch for the
        patient; for a guardian, also its appointment epoch (bits 32-63), so that its signatures die
        with its appointment."""
        p = validation.address(patient, "patient")
        return int(self._call("signerEpoch", p, validation.address(signer, "signer")))

    def break_glass_duration(self) -> int:
        return int(self._call("breakGlassDuration"))

    # ------------------------------------------------------------------ internal

    def _grant_args(
        self,
        patient: str,
        grantee: str,
        record_id: bytes,
        scopes: int,
        purposes: int,
        valid_from: int,
        valid_until: int,
    ) -> tuple[Any, ...]:
        valid_from, valid_until = validation.validity(valid_from, valid_until, self.now())
        return (
            validation.nonzero_address(patient, "patient"),
            validation.nonzero_address(grantee, "grantee"),
            validation.bytes32(record_id, "record id"),
            int(Scope.checked(scopes)),
            int(Purpose.checked(purposes)),
            valid_from,
            valid_until,
        )

    def _guardian_args(self, guardian: str, valid_until: int) -> tuple[str, int]:
        validation.timestamp(valid_until, "valid_until")
        if valid_until and valid_until <= self.now():
            raise ValidationError(f"valid_until {valid_until} is not after the chain's time {self.now()}")
        return validation.nonzero_address(guardian, "guardian"), valid_until


def _access_question(
    patient: str, grantee: str, record_id: bytes, scopes: int, purposes: int
) -> tuple[str, str, bytes, int, int]:
    """The checked arguments of hasAccess and accessBasis."""
    return (
        validation.address(patient, "patient"),
        validation.address(grantee, "grantee"),
        validation.bytes32(record_id, "record id"),
        int(Scope.checked(scopes)),
        int(Purpose.checked(purposes)),
    )


__all__ = [
    "CONSENT_DOMAIN_NAME",
    "WILDCARD",
    "ConsentRegistryClient",
    "grant_message",
    "guardian_message",
    "revoke_message",
]
