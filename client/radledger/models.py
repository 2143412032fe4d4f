"""Enums and frozen dataclasses that mirror the contracts' constants and structs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag, StrEnum

from eth_typing import ChecksumAddress

FOREVER = 2**40 - 1
"""The largest uint40 timestamp: a grant that never expires."""


class Scope(IntFlag):
    """Data classes a consent covers (Common.sol SCOPE_*)."""

    IMAGES = 1 << 0
    REPORTS = 1 << 1
    SAFETY_PROFILE = 1 << 2
    ALL = IMAGES | REPORTS | SAFETY_PROFILE


class Purpose(IntFlag):
    """Purposes of use after HL7 PurposeOfUse (Common.sol PURPOSE_*)."""

    TREAT = 1 << 0
    HPAYMT = 1 << 1
    HOPERAT = 1 << 2
    HRESCH = 1 << 3
    ETREAT = 1 << 4
    ALL = TREAT | HPAYMT | HOPERAT | HRESCH | ETREAT


class RecordKind(IntEnum):
    """What a record pointer points at (Common.sol RecordKind)."""

    NONE = 0
    IMAGING_STUDY = 1
    REPORT = 2
    SAFETY_PROFILE = 3
    CREDENTIAL_FILE = 4


class AccessBasis(IntEnum):
    """Why an access is allowed (IConsentRegistry.AccessBasis)."""

    NONE = 0
    RECORD_GRANT = 1
    WILDCARD_GRANT = 2
    BREAK_GLASS = 3


@dataclass(frozen=True)
class Custodian:
    address: ChecksumAddress
    index: int
    active: bool
    gateway_url: str


@dataclass(frozen=True)
class Record:
    record_id: bytes
    patient: ChecksumAddress
    custodian: ChecksumAddress
    kind: RecordKind
    version: int
    registered_at: int
    content_hash: bytes


@dataclass(frozen=True)
class Grant:
    """A grant slot. Active while `scopes` is non-zero and `valid_from <= now < valid_until`."""

    patient: ChecksumAddress
    grantee: ChecksumAddress
    record_id: bytes
    scopes: Scope
    purposes: Purpose
    valid_from: int
    valid_until: int
    version: int
    break_glass_until: int

    def is_active(self, now: int) -> bool:
        return bool(self.scopes) and self.valid_from <= now < self.valid_until


@dataclass(frozen=True)
class Guardian:
    patient: ChecksumAddress
    guardian: ChecksumAddress
    valid_until: int
    version: int

    def is_current(self, now: int) -> bool:
        return now < self.valid_until


# ------------------------------------------------------------------- credentials (CredentialRegistry)


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


# ------------------------------------------------------------ prior authorization (PreauthRegistry)

HOUR = 3600
DAY = 24 * HOUR
CMS_STANDARD_DECISION_SECONDS = 7 * DAY
"""CMS-0057-F: a standard prior-authorization decision within 7 calendar days."""
CMS_EXPEDITED_DECISION_SECONDS = 72 * HOUR
"""CMS-0057-F: an expedited decision within 72 hours."""


class X12ActionCode(StrEnum):
    """X12 278 HCR01 (health care services review action codes) that radledger's statuses map to."""

    CERTIFIED_IN_TOTAL = "A1"
    NOT_CERTIFIED = "A3"
    PENDED = "A4"
    MODIFIED = "A6"
    CANCELLED = "C"


class PreauthStatus(IntEnum):
    """Where a prior-authorization request stands (IPreauthRegistry.Status)."""

    NONE = 0
    PENDED = 1
    APPROVED = 2
    MODIFIED = 3
    DENIED = 4
    CANCELLED = 5
    APPEALED = 6

    @property
    def is_pending(self) -> bool:
        """Waiting for the payer's decision (a request, or an appeal): the deadline runs."""
        return self in (PreauthStatus.PENDED, PreauthStatus.APPEALED)

    @property
    def x12_action_code(self) -> X12ActionCode:
        """HCR01: A1 certified in total, A3 not certified, A4 pended (appeals too), A6 modified, C cancelled."""
        if self is PreauthStatus.NONE:
            raise ValueError("a request that does not exist has no X12 action code")
        return _X12_BY_STATUS[self]


_X12_BY_STATUS = {
    PreauthStatus.PENDED: X12ActionCode.PENDED,
    PreauthStatus.APPEALED: X12ActionCode.PENDED,
    PreauthStatus.APPROVED: X12ActionCode.CERTIFIED_IN_TOTAL,
    PreauthStatus.MODIFIED: X12ActionCode.MODIFIED,
    PreauthStatus.DENIED: X12ActionCode.NOT_CERTIFIED,
    PreauthStatus.CANCELLED: X12ActionCode.CANCELLED,
}


class ClaimStatus(IntEnum):
    """A claim's adjudication (IPreauthRegistry.ClaimStatus)."""

    NONE = 0
    SUBMITTED = 1
    PAID = 2
    PARTIALLY_PAID = 3
    DENIED = 4


@dataclass(frozen=True)
class Policy:
    """A payer's rules for one procedure code (IPreauthRegistry.Policy); the defaults are CMS-0057-F's deadlines.

    `gold_card_schema` (the payer's own CredentialRegistry schema) is required for auto-approval;
    `required_schemas` (at most three, e.g. a state license) for any request.
    """

    active: bool = True
    auto_approval: bool = False
    max_units: int = 1
    approval_validity_days: int = 90
    standard_decision_seconds: int = CMS_STANDARD_DECISION_SECONDS
    expedited_decision_seconds: int = CMS_EXPEDITED_DECISION_SECONDS
    appeal_window_seconds: int = 60 * DAY
    appeal_decision_seconds: int = 30 * DAY
    gold_card_schema: int = 0
    required_schemas: tuple[int, ...] = ()


@dataclass(frozen=True)
class PreauthRequest:
    """A request as `getRequest` returns it (commitments, procedure and physician are in its events)."""

    request_id: bytes
    requester: ChecksumAddress
    payer: ChecksumAddress
    status: PreauthStatus
    expedited: bool
    information_requested: bool
    appealed: bool
    deadline_missed: bool
    units: int
    approved_units: int
    used_units: int
    requested_at: int
    due_at: int
    decided_at: int
    expires_at: int
    appeal_by: int
    extended: bool = False  # the payer extended the decision deadline (once, standard requests)

    @property
    def x12_action_code(self) -> X12ActionCode:
        return self.status.x12_action_code

    @property
    def remaining_units(self) -> int:
        """Units a claim may still use (0 unless approved or modified)."""
        if self.status not in (PreauthStatus.APPROVED, PreauthStatus.MODIFIED):
            return 0
        return self.approved_units - self.used_units

    def is_overdue(self, now: int) -> bool:
        """Pending and past its decision deadline (anyone may then flag it, once per phase)."""
        return self.status.is_pending and now > self.due_at


@dataclass(frozen=True)
class PreauthClaim:
    """A claim as `getClaim` returns it; `amount` and `paid_amount` in cents."""

    claim_id: bytes
    request_id: bytes
    status: ClaimStatus
    units: int
    amount: int
    paid_amount: int
    submitted_at: int
