"""The prior-authorization registry's enums, constants and structs (IPreauthRegistry)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from eth_typing import ChecksumAddress

HOUR = 3600
DAY = 24 * HOUR
CMS_STANDARD_DECISION_SECONDS = 7 * DAY
"""CMS-0057-F: a standard prior-authorization decision within 7 calendar days."""
CMS_EXPEDITED_DECISION_SECONDS = 72 * HOUR
"""CMS-0057-F: an expedited decision within 72 hours."""


class X12ActionCode(StrEnum):
    """X12 278 HCR01 (health care services review action codes) that radledger's statuses map to."""

    CERTIFIED_IN_TOTAL = "A1"
    CERTIFIED_PARTIAL = "A2"
    """Fewer units (quantities, days) certified than requested: what radledger's `modify` does."""
    NOT_CERTIFIED = "A3"
    PENDED = "A4"
    MODIFIED = "A6"
    """The service itself changed (another code, site or dates): no radledger action gives it."""
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
        """HCR01: A1 certified in total, A2 certified partial (fewer units: Modified), A3 not
        certified, A4 pended (appeals too), C cancelled."""
        if self is PreauthStatus.NONE:
            raise ValueError("a request that does not exist has no X12 action code")
        return _X12_BY_STATUS[self]


_X12_BY_STATUS = {
    PreauthStatus.PENDED: X12ActionCode.PENDED,
    PreauthStatus.APPEALED: X12ActionCode.PENDED,
    PreauthStatus.APPROVED: X12ActionCode.CERTIFIED_IN_TOTAL,
    PreauthStatus.MODIFIED: X12ActionCode.CERTIFIED_PARTIAL,  # a unit reduction is A2, not A6 (docs/auditing.md)
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
