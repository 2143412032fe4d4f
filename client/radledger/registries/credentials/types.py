"""The credential registry's enums and structs (ICredentialRegistry)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from eth_typing import ChecksumAddress


class CredentialStatus(StrEnum):
    """Where an attestation stands now (the order of the checks: missing, revoked, not yet valid, expired)."""

    VALID = "valid"
    MISSING = "missing"
    REVOKED = "revoked"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"


class RevocationReason(IntEnum):
    """Reason codes for revocations (any non-zero uint16 is accepted on chain; these are radledger's)."""

    DISCIPLINARY_ACTION = 1  # a board suspends or revokes a license or certification
    ISSUED_IN_ERROR = 2
    SUPERSEDED = 3  # withdrawn in favour of a corrected attestation
    SURRENDERED = 4  # voluntary surrender, retirement
    FAILED_AUDIT = 5  # a payer's gold card after failed audits
    OUT_OF_SERVICE = 6  # equipment failed inspection or was decommissioned
    OTHER = 255


@dataclass(frozen=True)
class CredentialSchema:
    """A schema: its name comes from its `SchemaRegistered` event, the rest from storage."""

    schema_id: int
    name: str
    revocable: bool
    max_validity: int


@dataclass(frozen=True)
class AttestationRequest:
    """One attestation to make: `subject` is an address (a physician) or 32 bytes (a device id);
    `valid_from` None is the chain's current time."""

    subject: bytes | str
    valid_until: int
    data_hash: bytes = bytes(32)
    value: int = 0
    valid_from: int | None = None
    ref_uid: bytes = bytes(32)


@dataclass(frozen=True)
class Attestation:
    """An attestation as its `CredentialAttested` event tells it (everything but revocation)."""

    uid: bytes
    subject: bytes
    schema_id: int
    issuer: ChecksumAddress
    data_hash: bytes
    value: int
    valid_from: int
    valid_until: int
    ref_uid: bytes
    block_number: int
    tx_hash: str
    log_index: int = 0

    @property
    def sequence(self) -> int:
        """Its rank among the attestations of its subject and schema, from 1 (the uid's low 32 bits)."""
        return int.from_bytes(self.uid[-4:], "big")

    @property
    def supersedes(self) -> bytes | None:
        """The uid of the attestation this one superseded, if any."""
        return None if self.sequence == 1 else (int.from_bytes(self.uid, "big") - 1).to_bytes(32, "big")


@dataclass(frozen=True)
class AttestationState:
    """What the contract stores about an attestation (its views' answer)."""

    uid: bytes
    issuer: ChecksumAddress
    valid_from: int
    valid_until: int
    revoked_at: int
    sequence: int
    revocable: bool
    latest: bool

    def status(self, now: int) -> CredentialStatus:
        if self.revoked_at:
            return CredentialStatus.REVOKED
        if now < self.valid_from:
            return CredentialStatus.NOT_YET_VALID
        if now >= self.valid_until:
            return CredentialStatus.EXPIRED
        return CredentialStatus.VALID

    def is_valid(self, now: int) -> bool:
        return self.status(now) is CredentialStatus.VALID


@dataclass(frozen=True)
class Revocation:
    uid: bytes
    revoker: ChecksumAddress
    reason_code: int
    block_number: int
    tx_hash: str

    @property
    def reason(self) -> RevocationReason | None:
        return RevocationReason(self.reason_code) if self.reason_code in RevocationReason._value2member_map_ else None


@dataclass(frozen=True)
class SignatureInvalidation:
    """An issuer invalidated its outstanding signatures; `epoch` is the new epoch."""

    issuer: ChecksumAddress
    epoch: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class Credential:
    """A dossier entry: the attestation, its stored state and its schema."""

    attestation: Attestation
    state: AttestationState
    schema: CredentialSchema
    status: CredentialStatus

    @property
    def uid(self) -> bytes:
        return self.attestation.uid

    @property
    def issuer(self) -> ChecksumAddress:
        return self.attestation.issuer

    @property
    def schema_name(self) -> str:
        return self.schema.name


@dataclass(frozen=True)
class CredentialCheck:
    """The status of a subject's latest attestation of one schema (latest wins)."""

    subject: bytes
    schema_id: int
    status: CredentialStatus
    checked_at: int
    state: AttestationState | None

    @property
    def ok(self) -> bool:
        return self.status is CredentialStatus.VALID

    @property
    def uid(self) -> bytes | None:
        return self.state.uid if self.state else None


@dataclass(frozen=True)
class ReaderVerification:
    """Whether a subject holds every required credential now; lists what fails, by schema id."""

    subject: bytes
    checked_at: int
    checks: tuple[CredentialCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def _with(self, status: CredentialStatus) -> tuple[int, ...]:
        return tuple(c.schema_id for c in self.checks if c.status is status)

    @property
    def missing(self) -> tuple[int, ...]:
        return self._with(CredentialStatus.MISSING)

    @property
    def expired(self) -> tuple[int, ...]:
        return self._with(CredentialStatus.EXPIRED)

    @property
    def revoked(self) -> tuple[int, ...]:
        return self._with(CredentialStatus.REVOKED)

    @property
    def not_yet_valid(self) -> tuple[int, ...]:
        return self._with(CredentialStatus.NOT_YET_VALID)

    def check(self, schema_id: int) -> CredentialCheck:
        for c in self.checks:
            if c.schema_id == schema_id:
                return c
        raise KeyError(schema_id)
