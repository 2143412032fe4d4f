"""CredentialRegistry: credential schemas, issuers, attestations, revocations and the checks of verifiers.

Issuers (a state medical board, a specialty board, a CME provider, an equipment inspector)
attest and revoke, directly or by signing offline for a relayer. Verifiers (an imaging site
before it assigns a teleradiology read, a payer, an auditor) ask the chain:

    creds = CredentialRegistryClient(w3, address)
    result = creds.verify_reader(radiologist, [license_schema, board_schema])
    if not result.ok: print(result.missing, result.expired, result.revoked)
    creds.equipment_check(device_id("Acme Imaging", "MR-0042"), inspection_schema).ok

Subjects are bytes32: a physician's address left-padded (:func:`subject_id`), or a device id
hashed from manufacturer and serial number (:func:`device_id`). Latest wins: a new attestation
for a subject and schema supersedes the previous one for :meth:`~CredentialRegistryClient.check`
and :meth:`~CredentialRegistryClient.verify_reader`; a superseded attestation stays valid under
its own uid until it expires or is revoked (CME credits add up). See docs/credentials.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils import to_checksum_address
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from radledger.chain import errors, validation
from radledger.chain.contract import SigningContractClient
from radledger.chain.eip712 import CREDENTIAL_DOMAIN_NAME, SignedMessage, sign
from radledger.chain.errors import ValidationError
from radledger.chain.events.decoding import Event
from radledger.chain.signers import Signer
from radledger.chain.transactions import call
from radledger.registries.common import FOREVER
from radledger.registries.credentials.subjects import (
    DEVICE_ID_TAG,
    UINT32_MAX,
    ZERO32,
    checked_schema_id,
    co_issuer_credential_uid,
    credential_key,
    credential_uid,
    device_id,
    document_hash,
    subject_address,
    subject_id,
    uid_sequence,
)
from radledger.registries.credentials.types import (
    Attestation,
    AttestationRequest,
    AttestationState,
    Credential,
    CredentialCheck,
    CredentialSchema,
    CredentialStatus,
    ReaderVerification,
    Revocation,
    RevocationReason,
    SignatureInvalidation,
)
from radledger.registries.credentials.verifiable import to_verifiable_credential

UINT64_MAX = 2**64 - 1
MAX_SCHEMA_NAME_BYTES = 200
NO_MAXIMUM = FOREVER
"""A schema's maximum validity meaning "no maximum" (type(uint40).max)."""

CME_UNITS_PER_HOUR = 100
"""radledger's convention for CME schemas: `value` counts hundredths of a credit hour."""


_ADDRESS_FIELDS = frozenset({"issuer", "signer"})


# ------------------------------------------------------------------------ subjects and uids


def cme_value(hours: Decimal | int | str) -> int:
    """CME credit hours as an attestation's `value` (hundredths of an hour): "1.25" -> 125."""
    try:
        amount = Decimal(hours)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(f"CME hours: {hours!r} is not a number") from None
    units = amount * CME_UNITS_PER_HOUR
    if units != units.to_integral_value() or not 0 <= units <= UINT64_MAX:
        raise ValidationError(f"CME hours: {hours!r} is not a non-negative multiple of 0.01")
    return int(units)


def _value(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= UINT64_MAX:
        raise ValidationError(f"value: {value!r} is not between 0 and {UINT64_MAX}")
    return value


def _reason(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**16:
        raise ValidationError(f"reason code: {value!r} must be between 1 and 65535")
    return int(value)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


# ---------------------------------------------------------------------- signed messages


def attest_message(
    issuer: str,
    request: AttestationRequest,
    schema_id: int,
    sequence: int,
    epoch: int,
    deadline: int,
) -> dict[str, Any]:
    """The `Attest` message an issuer signs, offline: `sequence` is the one the attestation will take
    (the latest's plus one) and `epoch` the issuer's signature epoch."""
    if request.valid_from is None:
        raise ValidationError("valid_from: a signed attestation names its start")
    valid_from = validation.timestamp(request.valid_from, "valid_from")
    validation.timestamp(request.valid_until, "valid_until")
    if valid_from >= request.valid_until:
        raise ValidationError(f"validity: valid_from {valid_from} is not before valid_until {request.valid_until}")
    if not isinstance(sequence, int) or not 0 < sequence <= UINT32_MAX:
        raise ValidationError(f"sequence: {sequence!r} is not between 1 and {UINT32_MAX}")
    return {
        "issuer": validation.nonzero_address(issuer, "issuer"),
        "subject": subject_id(request.subject),
        "schema": checked_schema_id(schema_id),
        "dataHash": validation.bytes32(request.data_hash, "data hash"),
        "value": _value(request.value),
        "validFrom": valid_from,
        "validUntil": request.valid_until,
        "refUid": validation.bytes32(request.ref_uid, "ref uid"),
        "sequence": sequence,
        "epoch": epoch,
        "deadline": deadline,
    }


def revoke_message(signer: str, uid: bytes, reason_code: int, epoch: int, deadline: int) -> dict[str, Any]:
    """The `Revoke` message an issuer (or a disciplinary account) signs, offline."""
    return {
        "signer": validation.nonzero_address(signer, "signer"),
        "uid": validation.bytes32(uid, "uid"),
        "reasonCode": _reason(reason_code),
        "epoch": epoch,
        "deadline": deadline,
    }


# ------------------------------------------------------------------------------ the client


class CredentialRegistryClient(SigningContractClient):
    CONTRACT_NAME = "CredentialRegistry"

    # ---------------------------------------------------------------- governance

    def register_schema(self, name: str, revocable: bool, max_validity: int) -> CredentialSchema:
        """Schema-registrar role: register a schema; `max_validity` in seconds (NO_MAXIMUM: none)."""
        checked = self._schema_name(name)
        if not isinstance(max_validity, int) or not 0 < max_validity <= FOREVER:
            raise ValidationError(f"max validity: {max_validity!r} is not between 1 and {FOREVER} seconds")
        receipt = self._send("registerSchema", checked, bool(revocable), max_validity)
        (event,) = self.event_reader.in_receipt(receipt, "SchemaRegistered")
        return _schema_from(event)

    def authorize_issuer(self, schema_id: int, issuer: str) -> TxReceipt:
        """Issuer-authorizer role: let `issuer` attest credentials of `schema_id`."""
        return self._send("authorizeIssuer", checked_schema_id(schema_id), validation.nonzero_address(issuer, "issuer"))

    def deauthorize_issuer(self, schema_id: int, issuer: str) -> TxReceipt:
        """Issuer-authorizer role: withdraw the authorization; the issuer's attestations stay as they are."""
        return self._send("deauthorizeIssuer", checked_schema_id(schema_id), validation.address(issuer, "issuer"))

    # ------------------------------------------------------------------- issuers

    def attest(
        self,
        subject: Any,
        schema_id: int,
        valid_until: int,
        *,
        data_hash: bytes = ZERO32,
        value: int = 0,
        valid_from: int | None = None,
        ref_uid: bytes = ZERO32,
    ) -> Attestation:
        """Attest a credential (the sender is an authorized issuer); `valid_from` None: now."""
        request = AttestationRequest(subject, valid_until, data_hash, value, valid_from, ref_uid)
        receipt = self._send("attest", *self._attest_args(request, schema_id))
        return self.attestations_in(receipt)[0]

    def attest_batch(self, schema_id: int, requests: Sequence[AttestationRequest]) -> list[Attestation]:
        """Attest many credentials of one schema in one transaction (a CME course); uids in request order."""
        if not requests:
            raise ValidationError("a batch needs at least one attestation")
        rows = [self._attest_args(r, schema_id) for r in requests]
        tuples = [(s, d, v, f, u, ref) for s, _, d, v, f, u, ref in rows]
        return self.attestations_in(self._send("attestBatch", checked_schema_id(schema_id), tuples))

    def revoke(self, uid: bytes, reason: int = RevocationReason.DISCIPLINARY_ACTION) -> Revocation:
        """Revoke attestation `uid` (its issuer, or an account with the disciplinary role)."""
        receipt = self._send("revoke", validation.bytes32(uid, "uid"), _reason(reason))
        return self.revocations_in(receipt)[0]

    def invalidate_signatures(self) -> SignatureInvalidation:
        """Invalidate every outstanding signature of the sender."""
        return self._invalidations_in(self._send("invalidateSignatures"))[0]

    # ---------------------------------------------------------------- signatures

    def sign_attest(
        self,
        signer: Signer,
        subject: Any,
        schema_id: int,
        valid_until: int,
        *,
        data_hash: bytes = ZERO32,
        value: int = 0,
        valid_from: int | None = None,
        ref_uid: bytes = ZERO32,
        deadline: int | None = None,
    ) -> SignedMessage:
        """Sign an attestation for a relayer, with the next sequence and the issuer's epoch read from the chain."""
        start = self.now() if valid_from is None else valid_from
        request = AttestationRequest(subject_id(subject), valid_until, data_hash, value, start, ref_uid)
        validation.validity(start, valid_until, self.now())
        # Latest wins per issuer: the sequence is the signer's own for this subject and schema.
        latest_uid, _ = self._call(
            "latestCredentialOf",
            request.subject,
            checked_schema_id(schema_id),
            validation.address(signer.address, "issuer"),
        )
        sequence = uid_sequence(bytes(latest_uid)) + 1
        message = attest_message(
            signer.address, request, schema_id, sequence, self.signature_epoch(signer.address), self._deadline(deadline)
        )
        return sign(signer, self.domain(), "Attest", message)

    def sign_revoke(
        self,
        signer: Signer,
        uid: bytes,
        reason: int = RevocationReason.DISCIPLINARY_ACTION,
        deadline: int | None = None,
    ) -> SignedMessage:
        message = revoke_message(
            signer.address, uid, reason, self.signature_epoch(signer.address), self._deadline(deadline)
        )
        return sign(signer, self.domain(), "Revoke", message)

    def sign_invalidate_signatures(self, signer: Signer, deadline: int | None = None) -> SignedMessage:
        message = {
            "issuer": signer.address,
            "epoch": self.signature_epoch(signer.address),
            "deadline": self._deadline(deadline),
        }
        return sign(signer, self.domain(), "InvalidateSignatures", message)

    def relay(self, signed: SignedMessage) -> Attestation | Revocation | SignatureInvalidation:
        """Submit a signed message (anyone may relay; the sender pays the gas); returns what it did."""
        domain = self.domain()
        if signed.domain != domain:
            raise ValidationError(
                f"signature is for {signed.domain.name} at {signed.domain.verifying_contract} on chain "
                f"{signed.domain.chain_id}, not this contract ({domain.verifying_contract} on chain {domain.chain_id})"
            )
        validation.deadline(int(signed.message["deadline"]), self.now())
        validation.signature(signed.signature)
        if signed.primary_type == "Attest":
            m = signed.message
            validation.validity(int(m["validFrom"]), int(m["validUntil"]), self.now())
        fn = self.by_sig_call(signed)
        receipt = self._send(fn.fn_name, *fn.args)
        if signed.primary_type == "Attest":
            return self.attestations_in(receipt)[0]
        if signed.primary_type == "Revoke":
            return self.revocations_in(receipt)[0]
        return self._invalidations_in(receipt)[0]

    def by_sig_call(self, signed: SignedMessage) -> ContractFunction:
        """The `...BySig` contract call that carries `signed`, unchecked (:meth:`relay` checks it first)."""
        if signed.domain.name != CREDENTIAL_DOMAIN_NAME:
            raise ValidationError(f"a {signed.domain.name} message is not for CredentialRegistry")
        sig, fns = signed.signature, self.contract.functions
        m = {k: validation.address(v, k) if k in _ADDRESS_FIELDS else v for k, v in signed.message.items()}
        if signed.primary_type == "Attest":
            return fns.attestBySig(
                m["subject"], m["schema"], m["dataHash"], m["value"], m["validFrom"], m["validUntil"], m["refUid"],
                m["issuer"], m["deadline"], sig,
            )  # fmt: skip
        if signed.primary_type == "Revoke":
            return fns.revokeBySig(m["uid"], m["reasonCode"], m["signer"], m["deadline"], sig)
        if signed.primary_type == "InvalidateSignatures":
            return fns.invalidateSignaturesBySig(m["issuer"], m["deadline"], sig)
        raise ValidationError(f"cannot relay a {signed.primary_type} message")

    # --------------------------------------------------------------------- views

    def is_valid(self, uid: bytes) -> bool:
        """Whether `uid` exists, is not revoked and is within its validity window now."""
        return bool(self._call("isValid", validation.bytes32(uid, "uid")))

    def is_valid_at(self, uid: bytes, timestamp: int) -> bool:
        """Whether `uid` was valid at `timestamp` (a revocation ends validity at its block time)."""
        return bool(self._call("isValidAt", validation.bytes32(uid, "uid"), validation.timestamp(timestamp, "time")))

    def has_valid_credential(self, subject: Any, schema_id: int) -> bool:
        """Whether the latest attestation of some issuer of `schema_id` about the subject is valid now (latest
        wins per issuer; False for an unknown schema)."""
        return bool(self._call("hasValidCredential", subject_id(subject), checked_schema_id(schema_id)))

    def has_valid_credential_from(self, subject: Any, schema_id: int, issuer: str) -> bool:
        """Whether `issuer`'s latest attestation of `schema_id` about the subject is valid now."""
        return bool(
            self._call(
                "hasValidCredentialFrom",
                subject_id(subject),
                checked_schema_id(schema_id),
                validation.address(issuer, "issuer"),
            )
        )

    def latest_of(self, subject: Any, schema_id: int, issuer: str) -> AttestationState | None:
        """`issuer`'s latest attestation of `schema_id` about the subject, or None."""
        uid, raw = self._call(
            "latestCredentialOf",
            subject_id(subject),
            checked_schema_id(schema_id),
            validation.address(issuer, "issuer"),
        )
        return None if bytes(uid) == ZERO32 else _state(bytes(uid), raw)

    def issuer_index(self, issuer: str) -> int:
        """The issuer's index (0: never authorized); it keys a co-issuer's attestations."""
        return int(self._call("issuerIndexOf", validation.address(issuer, "issuer")))

    def get_attestation(self, uid: bytes) -> AttestationState:
        """What the contract stores about `uid`; errors.CredentialNotFound if it does not exist."""
        checked = validation.bytes32(uid, "uid")
        return _state(checked, self._call("getAttestation", checked))

    def latest(self, subject: Any, schema_id: int) -> AttestationState | None:
        """The attestation ``hasValidCredential`` relies on (a valid latest one of some issuer, else the primary
        issuer's latest), or None; errors.UnknownSchema for an unknown schema."""
        uid, raw = self._call("latestCredential", subject_id(subject), checked_schema_id(schema_id))
        return None if bytes(uid) == ZERO32 else _state(bytes(uid), raw)

    def get_schema(self, schema_id: int) -> CredentialSchema:
        """Schema `schema_id` with its name (from its event); errors.UnknownSchema if there is none."""
        checked = checked_schema_id(schema_id)
        revocable, max_validity = self._call("getSchema", checked)
        logs = self._logs("SchemaRegistered", {"schema": checked})
        name = str(logs[0].args["name"]) if logs else ""
        return CredentialSchema(checked, name, bool(revocable), int(max_validity))

    def schemas(self) -> list[CredentialSchema]:
        """Every registered schema, by id."""
        return [_schema_from(e) for e in self._logs("SchemaRegistered", None)]

    def schema_id_of(self, name: str) -> int | None:
        """The id of the schema named `name` (exactly), or None."""
        found = int(self._call("schemaIdOf", name))
        return found or None

    def schema_count(self) -> int:
        return int(self._call("schemaCount"))

    def is_authorized_issuer(self, schema_id: int, issuer: str) -> bool:
        return bool(
            self._call("isAuthorizedIssuer", checked_schema_id(schema_id), validation.address(issuer, "issuer"))
        )

    def signature_epoch(self, issuer: str) -> int:
        return int(self._call("signatureEpoch", validation.address(issuer, "issuer")))

    # ------------------------------------------------------------------- events

    def attestations(
        self, subject: Any = None, schema_id: int | None = None, uid: bytes | None = None
    ) -> list[Attestation]:
        """Attestations from the chain's events, oldest first, optionally for one subject, schema or uid."""
        filters: dict[str, Any] = {}
        if subject is not None:
            filters["subject"] = subject_id(subject)
        if schema_id is not None:
            filters["schema"] = checked_schema_id(schema_id)
        if uid is not None:
            filters["uid"] = validation.bytes32(uid, "uid")
        return [_attestation_from(e) for e in self._logs("CredentialAttested", filters or None)]

    def attestation(self, uid: bytes) -> Attestation:
        """The attestation `uid` as its event tells it; errors.CredentialNotFound if there is none."""
        found = self.attestations(uid=uid)
        if not found:
            raise errors.CredentialNotFound(validation.bytes32(uid, "uid"))
        return found[0]

    def revocations(self, uid: bytes | None = None) -> list[Revocation]:
        filters = {"uid": validation.bytes32(uid, "uid")} if uid is not None else None
        return [_revocation_from(e) for e in self._logs("CredentialRevoked", filters)]

    def signature_invalidations(self, issuer: str | None = None) -> list[SignatureInvalidation]:
        filters = {"issuer": validation.address(issuer, "issuer")} if issuer is not None else None
        return [_invalidation_from(e) for e in self._logs("SignaturesInvalidated", filters)]

    def attestations_in(self, receipt: TxReceipt) -> list[Attestation]:
        """The attestations a transaction made, in order."""
        return [_attestation_from(e) for e in self.event_reader.in_receipt(receipt, "CredentialAttested")]

    def revocations_in(self, receipt: TxReceipt) -> list[Revocation]:
        return [_revocation_from(e) for e in self.event_reader.in_receipt(receipt, "CredentialRevoked")]

    def _invalidations_in(self, receipt: TxReceipt) -> list[SignatureInvalidation]:
        return [_invalidation_from(e) for e in self.event_reader.in_receipt(receipt, "SignaturesInvalidated")]

    # ----------------------------------------------------------------- verifiers

    def check(self, subject: Any, schema_id: int) -> CredentialCheck:
        """The status of the subject's latest attestation of `schema_id` now (views only, no events)."""
        return self._checks(subject_id(subject), [schema_id])[0]

    def verify_reader(self, reader: Any, required_schema_ids: Iterable[int]) -> ReaderVerification:
        """Whether a radiologist holds, now, a valid latest credential of every required schema.

        One block is read for every check. `result.ok`; otherwise `result.missing`, `.expired`,
        `.revoked` and `.not_yet_valid` list the failing schema ids. An unknown schema id raises
        errors.UnknownSchema: a site's requirement naming no schema is a configuration error.
        """
        subject = subject_id(reader)
        required = list(dict.fromkeys(checked_schema_id(s) for s in required_schema_ids))
        if not required:
            raise ValidationError("verify_reader: name at least one required schema")
        checks = self._checks(subject, required)
        return ReaderVerification(subject, checks[0].checked_at, tuple(checks))

    def equipment_check(self, device: bytes, inspection_schema_id: int) -> CredentialCheck:
        """Whether a device's latest inspection of `inspection_schema_id` is current (see :func:`device_id`)."""
        return self.check(validation.bytes32(device, "device id"), inspection_schema_id)

    def dossier(self, subject: Any, include_invalid: bool = False, latest_only: bool = False) -> list[Credential]:
        """A subject's credentials with schema names, issuers and validity: the valid ones (all with
        `include_invalid`), each schema's latest only with `latest_only`; by schema, then sequence."""
        checked = subject_id(subject)
        found = self.attestations(subject=checked)
        if not found:
            return []
        block = self._block()
        now = int(block["timestamp"])
        names = {s.schema_id: s for s in self.schemas()}
        out = []
        for attestation in found:
            state = _state(attestation.uid, self._call_at(block, "getAttestation", attestation.uid))
            status = state.status(now)
            if (include_invalid or status is CredentialStatus.VALID) and (state.latest or not latest_only):
                out.append(Credential(attestation, state, names[attestation.schema_id], status))
        return sorted(out, key=lambda c: (c.attestation.schema_id, c.attestation.sequence))

    def cme_hours(
        self,
        subject: Any,
        schema_id: int,
        window_start: int,
        window_end: int,
        units_per_hour: int = CME_UNITS_PER_HOUR,
    ) -> Decimal:
        """Total credit hours of the subject's attestations of `schema_id` that are valid now and were
        earned (their `valid_from`) in [window_start, window_end); values count 1/units_per_hour hours."""
        validation.timestamp(window_start, "window start")
        validation.timestamp(window_end, "window end")
        if window_start >= window_end:
            raise ValidationError(f"window: start {window_start} is not before end {window_end}")
        if not isinstance(units_per_hour, int) or units_per_hour <= 0:
            raise ValidationError(f"units per hour: {units_per_hour!r} must be a positive integer")
        in_window = [
            a
            for a in self.attestations(subject=subject, schema_id=schema_id)
            if window_start <= a.valid_from < window_end
        ]
        if not in_window:
            return Decimal(0)
        block = self._block()
        now = int(block["timestamp"])
        total = sum(
            a.value for a in in_window if _state(a.uid, self._call_at(block, "getAttestation", a.uid)).is_valid(now)
        )
        return Decimal(total) / Decimal(units_per_hour)

    def export_vc(self, uid: bytes, signed: SignedMessage | None = None) -> dict[str, Any]:
        """Attestation `uid` as a W3C Verifiable Credential 2.0 style JSON document.

        The issuer's EIP-712 signature becomes the proof: `signed` if given, else the one found in the
        attestation's own `attestBySig` transaction; a direct attestation has no proof (the chain is
        its evidence, through `credentialStatus`).
        """
        attestation = self.attestation(uid)
        schema = self.get_schema(attestation.schema_id)
        proof = signed if signed is not None else self.signature_of(attestation)
        primary = credential_uid(attestation.subject, attestation.schema_id, attestation.sequence)
        index = None if attestation.uid == primary else self.issuer_index(attestation.issuer)
        return to_verifiable_credential(attestation, schema, self.domain(), proof, index)

    def signature_of(self, attestation: Attestation) -> SignedMessage | None:
        """The issuer's signed `Attest` message that created `attestation`, if it was relayed with
        `attestBySig` sent straight to this contract (read back from the transaction's input)."""
        tx = self.w3.eth.get_transaction(attestation.tx_hash)  # type: ignore[arg-type]
        if tx.get("to") != self.address:
            return None
        try:
            fn, args = self.contract.decode_function_input(tx["input"])
        except ValueError:
            return None
        if fn.fn_name != "attestBySig":
            return None
        epoch = self._epoch_when(attestation)
        request = AttestationRequest(
            attestation.subject, attestation.valid_until, attestation.data_hash, attestation.value,
            attestation.valid_from, attestation.ref_uid,
        )  # fmt: skip
        message = attest_message(
            attestation.issuer, request, attestation.schema_id, attestation.sequence, epoch, int(args["deadline"])
        )
        return SignedMessage("Attest", self.domain(), message, bytes(args["signature"]))

    # ------------------------------------------------------------------ internal

    def _attest_args(self, request: AttestationRequest, schema_id: int) -> tuple[Any, ...]:
        now = self.now()
        valid_from = now if request.valid_from is None else request.valid_from
        validation.validity(valid_from, request.valid_until, now)
        return (
            subject_id(request.subject),
            checked_schema_id(schema_id),
            validation.bytes32(request.data_hash, "data hash"),
            _value(request.value),
            valid_from,
            request.valid_until,
            validation.bytes32(request.ref_uid, "ref uid"),
        )

    def _checks(self, subject: bytes, schema_ids: list[int]) -> list[CredentialCheck]:
        block = self._block()
        now = int(block["timestamp"])
        out = []
        for schema_id in schema_ids:
            uid, raw = self._call_at(block, "latestCredential", subject, checked_schema_id(schema_id))
            state = None if bytes(uid) == ZERO32 else _state(bytes(uid), raw)
            status = CredentialStatus.MISSING if state is None else state.status(now)
            out.append(CredentialCheck(subject, schema_id, status, now, state))
        return out

    def _block(self) -> Any:
        return self.w3.eth.get_block("latest")

    def _call_at(self, block: Any, fn_name: str, *args: Any) -> Any:
        """A view at `block` (several views read at one block agree with each other)."""
        sender = self.transactor.address if self.transactor else None
        return call(getattr(self.contract.functions, fn_name)(*args), sender, block=int(block["number"]))

    def _epoch_when(self, attestation: Attestation) -> int:
        """The issuer's signature epoch when `attestation` was made: the invalidations before it (epochs
        start at 0 and each invalidation adds one), read from events so any node can answer."""

        def position(block_number: int, tx_hash: str) -> tuple[int, int]:
            if block_number != attestation.block_number:
                return (block_number, 0)
            return (block_number, int(self.w3.eth.get_transaction(tx_hash)["transactionIndex"]))  # type: ignore[arg-type]

        made = position(attestation.block_number, attestation.tx_hash)
        return sum(
            1 for i in self.signature_invalidations(attestation.issuer) if position(i.block_number, i.tx_hash) < made
        )

    def _logs(self, event_name: str, filters: dict[str, Any] | None) -> list[Event]:
        """Every `event_name` event of this contract from its start block on whose indexed arguments equal
        `filters`, oldest first (the package's log reader: ranges a node refuses are read smaller)."""
        return self.event_reader.read(event_name, filters, from_block=self.start_block)

    @staticmethod
    def _schema_name(name: str) -> str:
        if not isinstance(name, str):
            raise ValidationError(f"schema name: expected text, got {type(name).__name__}")
        cleaned = name.strip()
        if not cleaned or len(cleaned.encode()) > MAX_SCHEMA_NAME_BYTES:
            raise ValidationError(f"schema name: {name!r} must be 1 to {MAX_SCHEMA_NAME_BYTES} bytes of UTF-8")
        return cleaned


# ----------------------------------------------------------------------------- helpers


def _attestation_from(event: Event) -> Attestation:
    a = event.args
    return Attestation(
        uid=bytes(a["uid"]),
        subject=bytes(a["subject"]),
        schema_id=int(a["schema"]),
        issuer=to_checksum_address(a["issuer"]),
        data_hash=bytes(a["dataHash"]),
        value=int(a["value"]),
        valid_from=int(a["validFrom"]),
        valid_until=int(a["validUntil"]),
        ref_uid=bytes(a["refUid"]),
        block_number=event.block_number,
        tx_hash=event.tx_hash,
        log_index=event.log_index,
    )


def _revocation_from(event: Event) -> Revocation:
    a = event.args
    return Revocation(
        bytes(a["uid"]), to_checksum_address(a["revoker"]), int(a["reasonCode"]), event.block_number, event.tx_hash
    )


def _invalidation_from(event: Event) -> SignatureInvalidation:
    a = event.args
    return SignatureInvalidation(to_checksum_address(a["issuer"]), int(a["epoch"]), event.block_number, event.tx_hash)


def _schema_from(event: Event) -> CredentialSchema:
    a = event.args
    return CredentialSchema(int(a["schema"]), str(a["name"]), bool(a["revocable"]), int(a["maxValidity"]))


def _state(uid: bytes, raw: Any) -> AttestationState:
    issuer, valid_from, valid_until, revoked_at, sequence, revocable, latest = raw
    return AttestationState(
        uid, to_checksum_address(issuer), int(valid_from), int(valid_until), int(revoked_at), int(sequence),
        bool(revocable), bool(latest),
    )  # fmt: skip


__all__ = [
    "CME_UNITS_PER_HOUR",
    "DEVICE_ID_TAG",
    "NO_MAXIMUM",
    "CredentialRegistryClient",
    "attest_message",
    "cme_value",
    "co_issuer_credential_uid",
    "credential_key",
    "credential_uid",
    "device_id",
    "document_hash",
    "revoke_message",
    "subject_address",
    "subject_id",
    "uid_sequence",
]
