"""Prior-authorization queries: each request with everything decided about it (decisions, appeal,
information requests, missed deadlines, cancellation, claims), and a payer's requests in a period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import PREAUTH, Found, hex0x, show_time
from radledger.chain import validation
from radledger.registries.preauth.client import PreauthEvent, procedure_text, replay
from radledger.registries.preauth.types import ClaimStatus, PreauthRequest, PreauthStatus


@dataclass(frozen=True)
class Decision:
    status: PreauthStatus
    decided_at: int
    approved_units: int
    reason_code: int
    automatic: bool
    on_appeal: bool
    due_at: int
    source: EventRow

    @property
    def late(self) -> bool:
        """Decided after its deadline (the contract's ``flagMissedDeadline`` needs time > dueAt)."""
        return self.decided_at > self.due_at


@dataclass(frozen=True)
class PreauthCase(Found):
    """One prior-authorization request with everything decided about it."""

    request_id: bytes
    payer: str
    requester: str
    physician: str
    procedure: str
    units: int
    expedited: bool
    due_at: int
    state: PreauthRequest
    events: tuple[EventRow, ...]
    decision: Decision | None = None
    appeal_decision: Decision | None = None
    appealed: EventRow | None = None
    cancelled: EventRow | None = None
    information_requests: int = 0
    deadline_flags: int = 0
    claims_submitted: int = 0
    claims_paid_amount: int = 0
    extended: EventRow | None = None
    """The payer's ``DecisionTimeframeExtended`` (IPreauthRegistry.extend: once, standard requests only)."""

    @property
    def requested_at(self) -> int:
        return self.source.timestamp

    @property
    def decision_seconds(self) -> int | None:
        return None if self.decision is None else self.decision.decided_at - self.requested_at

    @property
    def approved_after_appeal(self) -> bool:
        return self.appeal_decision is not None and self.appeal_decision.status is PreauthStatus.APPROVED

    def fields(self) -> dict[str, Any]:
        d, ad = self.decision, self.appeal_decision
        return {
            "request_id": hex0x(self.request_id),
            "payer": self.payer,
            "requester": self.requester,
            "physician": self.physician,
            "procedure": self.procedure,
            "units": self.units,
            "expedited": self.expedited,
            "requested_at": show_time(self.requested_at),
            "due_at": show_time(self.due_at),
            "status": self.state.status.name.lower(),
            "x12": self.state.status.x12_action_code.value if self.state.status is not PreauthStatus.NONE else "",
            "decision": d.status.name.lower() if d else "",
            "decided_at": show_time(d.decided_at) if d else "",
            "decision_hours": "" if self.decision_seconds is None else round(self.decision_seconds / 3600, 3),
            "automatic": d.automatic if d else "",
            "decided_late": d.late if d else "",
            "reason_code": d.reason_code if d and d.reason_code else "",
            "approved_units": self.state.approved_units,
            "information_requests": self.information_requests,
            "appealed_at": show_time(self.appealed.timestamp) if self.appealed else "",
            "appeal_decision": ad.status.name.lower() if ad else "",
            "appeal_decided_at": show_time(ad.decided_at) if ad else "",
            "deadline_missed_flags": self.deadline_flags,
            "cancelled_at": show_time(self.cancelled.timestamp) if self.cancelled else "",
            "extended_at": show_time(self.extended.timestamp) if self.extended else "",
            "extended_due_at": show_time(int(self.extended.args["newDueAt"])) if self.extended else "",
            "extension_reason": int(self.extended.args["reasonCode"]) if self.extended else "",
            "claims": self.claims_submitted,
            "claims_paid_amount": self.claims_paid_amount,
        }


def _preauth_event(row: EventRow) -> PreauthEvent:
    return PreauthEvent(str(row.event), row.args, row.block_number, row.log_index, row.timestamp, row.tx_hash)


PREAUTH_REQUEST_EVENTS = (
    "PreauthRequested", "PreauthDecided", "InformationRequested", "InformationProvided", "PreauthCancelled",
    "PreauthAppealed", "DeadlineMissed", "ClaimSubmitted", "ClaimAdjudicated", "DecisionTimeframeExtended",
)  # fmt: skip


def preauth_cases(index: AuditIndex, request_ids: Sequence[bytes] | None = None) -> list[PreauthCase]:
    """Every request in the index (or those of `request_ids`), in request order."""
    by_request: dict[bytes, list[EventRow]] = defaultdict(list)
    for row in index.events(list(PREAUTH_REQUEST_EVENTS), contract=PREAUTH):
        by_request[bytes(row.args["requestId"])].append(row)
    wanted = set(request_ids) if request_ids is not None else None
    cases = [_case(rows) for rid, rows in by_request.items() if (wanted is None or rid in wanted) and _requested(rows)]
    return sorted(cases, key=lambda c: c.source.position)


def cases_from_rows(rows: Sequence[EventRow]) -> list[PreauthCase]:
    """The requests told by `rows` (events of PreauthRegistry, in any order), in request order."""
    by_request: dict[bytes, list[EventRow]] = defaultdict(list)
    for row in rows:
        if row.event in PREAUTH_REQUEST_EVENTS:
            by_request[bytes(row.args["requestId"])].append(row)
    cases = [_case(r) for r in by_request.values() if _requested(r)]
    return sorted(cases, key=lambda c: c.source.position)


def _requested(rows: list[EventRow]) -> bool:
    return any(r.event == "PreauthRequested" for r in rows)


def _case(rows: list[EventRow]) -> PreauthCase:
    rows = sorted(rows, key=lambda r: r.position)
    request = next(r for r in rows if r.event == "PreauthRequested")
    a = request.args
    due = int(a["dueAt"])
    decision = appeal_decision = None
    appealed = cancelled = extended = None
    info = flags = claims = paid = 0
    for row in rows:
        b = row.args
        if row.event == "PreauthDecided":
            made = Decision(
                PreauthStatus(b["status"]), row.timestamp, int(b["approvedUnits"]), int(b["reasonCode"]),
                bool(b["automatic"]), bool(b["onAppeal"]), due, row,
            )  # fmt: skip
            if made.on_appeal:
                appeal_decision = made
            elif decision is None:
                decision = made
        elif row.event == "PreauthAppealed":
            appealed, due = row, int(b["dueAt"])
        elif row.event == "DecisionTimeframeExtended":  # the first decision's deadline moves
            extended, due = row, int(b["newDueAt"])
        elif row.event == "InformationRequested":
            info += 1
        elif row.event == "DeadlineMissed":
            flags += 1
        elif row.event == "PreauthCancelled":
            cancelled = row
        elif row.event == "ClaimSubmitted":
            claims += 1
        elif row.event == "ClaimAdjudicated" and ClaimStatus(b["status"]) in (
            ClaimStatus.PAID,
            ClaimStatus.PARTIALLY_PAID,
        ):
            paid += int(b["paidAmount"])
    return PreauthCase(
        request, bytes(a["requestId"]), a["payer"], a["requester"], a["physician"], procedure_text(a["procedure"]),
        int(a["units"]), bool(a["expedited"]), int(a["dueAt"]), replay(_preauth_event(r) for r in rows), tuple(rows),
        decision, appeal_decision, appealed, cancelled, info, flags, claims, paid, extended,
    )  # fmt: skip


def payer_requests(
    index: AuditIndex, payer: str | None = None, since: int | None = None, until: int | None = None
) -> list[PreauthCase]:
    """The requests made to `payer` (every payer when None) in [since, until), with their decisions."""
    who = validation.address(payer, "payer") if payer else None
    return [
        c
        for c in preauth_cases(index)
        if (who is None or c.payer == who)
        and (since is None or c.requested_at >= since)
        and (until is None or c.requested_at < until)
    ]
