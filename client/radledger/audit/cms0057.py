"""CMS-0057-F's public prior-authorization report, per payer and calendar year, in the rule's own terms.

42 CFR 422.122(c) (and its Medicaid, CHIP and QHP siblings: 440.230(e), 457.732(c), 45 CFR 156.223(c))
has an impacted payer post, each year, for the previous calendar year, aggregated for all items and services:

1. a list of all items and services that require prior authorization;
2. the percent of standard prior authorization requests that were approved;
3. the percent of standard prior authorization requests that were denied;
4. the percent of standard prior authorization requests that were approved after appeal;
5. the percent of prior authorization requests for which the timeframe for review was extended, and the
   request was approved;
6. the percent of expedited prior authorization requests that were approved;
7. the percent of expedited prior authorization requests that were denied;
8. the average and median time that elapsed between the submission of a request and a determination,
   for standard prior authorizations;
9. the same for expedited prior authorizations.

How radledger counts (docs/auditing.md, "CMS-0057-F exactly"):

- The items and services (1) are the procedure codes of the payer's ``PolicySet`` events whose policy was
  active at some time in the year (the policy in force at the year's start, or any set during it).
- A request belongs to the year it was submitted (``PreauthRequested``); the percentages are over the
  requests of that priority with a determination (a first ``PreauthDecided``). Cancelled and still
  pending requests have none and are reported apart as counts.
- A *modified* request (approved with fewer units than asked, X12 278 HCR01 A2 "certified - partial")
  is **denied in part**: an adverse determination with a denial reason and appeal rights, so it counts
  as denied, never as approved. Approved + denied is then 100% of determinations; the modified share is
  an extra column so a reader can see how many of the denials were partial.
- Approved after appeal (4): requests whose appeal was decided Approved, over the standard determinations.
- Extended and approved (5): requests of either priority with a ``DecisionTimeframeExtended`` event (the
  payer's ``extend``: only standard requests can be extended) whose determination was Approved, over all
  determinations of the year.
- Time to determination (8, 9): first decision time minus submission time, in hours; gold-card
  auto-approvals count as determinations made at once (0 hours).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import PREAUTH
from radledger.audit.queries.preauth import PreauthCase, preauth_cases
from radledger.registries.preauth.client import procedure_text
from radledger.registries.preauth.types import PreauthStatus


def year_of(timestamp: int) -> int:
    return datetime.fromtimestamp(timestamp, UTC).year


def _year_bounds(year: int) -> tuple[int, int]:
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    return start, int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())


def _active(policy: Any) -> bool:
    if isinstance(policy, Mapping):
        return bool(policy["active"])
    return bool(policy[0])  # IPreauthRegistry.Policy: `active` is its first field


def items_requiring_authorization(policy_rows: Iterable[EventRow], payer: str, year: int) -> list[str]:
    """The procedure codes `payer` required prior authorization for at some time in `year` (its PolicySet
    events: the policy in force when the year began, and every policy set during the year)."""
    start, end = _year_bounds(year)
    latest_before: dict[str, bool] = {}
    during: dict[str, bool] = defaultdict(bool)
    for row in sorted(policy_rows, key=lambda r: r.position):
        if row.event != "PolicySet" or row.args["payer"] != payer:
            continue
        code = procedure_text(row.args["procedure"])
        if row.timestamp < start:
            latest_before[code] = _active(row.args["policy"])
        elif row.timestamp < end:
            during[code] = during[code] or _active(row.args["policy"])
    return sorted({c for c, on in latest_before.items() if on} | {c for c, on in during.items() if on})


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _hours(cases: Sequence[PreauthCase]) -> list[float]:
    return [c.decision_seconds / 3600 for c in cases if c.decision_seconds is not None]


def _approved(case: PreauthCase) -> bool:
    return case.decision is not None and case.decision.status is PreauthStatus.APPROVED


def _denied(case: PreauthCase) -> bool:
    """Denied in full, or in part (modified: fewer units than asked)."""
    return case.decision is not None and case.decision.status in (PreauthStatus.DENIED, PreauthStatus.MODIFIED)


@dataclass(frozen=True)
class CmsYear:
    """One payer's CMS-0057-F public report for one calendar year."""

    payer: str
    year: int
    items: tuple[str, ...]
    standard_requests: int
    standard_determinations: int
    standard_approved: int
    standard_denied: int
    standard_modified: int
    standard_approved_after_appeal: int
    expedited_requests: int
    expedited_determinations: int
    expedited_approved: int
    expedited_denied: int
    expedited_modified: int
    extended_and_approved: int
    standard_hours: tuple[float, ...]
    expedited_hours: tuple[float, ...]
    pending: int
    cancelled: int

    @property
    def determinations(self) -> int:
        return self.standard_determinations + self.expedited_determinations

    def row(self) -> dict[str, Any]:
        """The report as one CSV row, columns in the rule's words (see :data:`CMS_COLUMNS`)."""

        def cell(value: float | None) -> Any:
            return "" if value is None else value

        def mean(values: Sequence[float]) -> float | None:
            return round(statistics.fmean(values), 2) if values else None

        def median(values: Sequence[float]) -> float | None:
            return round(statistics.median(values), 2) if values else None

        sd, ed = self.standard_determinations, self.expedited_determinations
        values = [
            self.payer,
            self.year,
            "; ".join(self.items),
            cell(_percent(self.standard_approved, sd)),
            cell(_percent(self.standard_denied, sd)),
            cell(_percent(self.standard_approved_after_appeal, sd)),
            cell(_percent(self.extended_and_approved, self.determinations)),
            cell(_percent(self.expedited_approved, ed)),
            cell(_percent(self.expedited_denied, ed)),
            cell(mean(self.standard_hours)),
            cell(median(self.standard_hours)),
            cell(mean(self.expedited_hours)),
            cell(median(self.expedited_hours)),
            self.standard_requests,
            sd,
            cell(_percent(self.standard_modified, sd)),
            self.expedited_requests,
            ed,
            cell(_percent(self.expedited_modified, ed)),
            self.pending,
            self.cancelled,
        ]
        return dict(zip(CMS_COLUMNS, values, strict=True))


CMS_COLUMNS = (
    "payer",
    "calendar year",
    "items and services that require prior authorization",
    "percent of standard prior authorization requests that were approved",
    "percent of standard prior authorization requests that were denied",
    "percent of standard prior authorization requests that were approved after appeal",
    "percent of prior authorization requests for which the timeframe for review was extended, and the request was "
    "approved",
    "percent of expedited prior authorization requests that were approved",
    "percent of expedited prior authorization requests that were denied",
    "average time between submission of a request and a determination, for standard prior authorizations (hours)",
    "median time between submission of a request and a determination, for standard prior authorizations (hours)",
    "average time between submission of a request and a determination, for expedited prior authorizations (hours)",
    "median time between submission of a request and a determination, for expedited prior authorizations (hours)",
    "standard requests submitted",
    "standard requests with a determination",
    "percent of standard determinations that were partial approvals (counted as denied)",
    "expedited requests submitted",
    "expedited requests with a determination",
    "percent of expedited determinations that were partial approvals (counted as denied)",
    "requests pending at the end of the data",
    "requests cancelled before a determination",
)
"""The report's columns: first the rule's nine metrics in its wording (42 CFR 422.122(c)), then the counts
behind them and the partial approvals (radledger's additions)."""


def cms_report(
    cases: Iterable[PreauthCase], policy_rows: Sequence[EventRow], years: Iterable[int] | None = None
) -> list[CmsYear]:
    """The report of every payer and year that has requests (or only `years`), sorted by payer and year."""
    groups: dict[tuple[str, int], list[PreauthCase]] = defaultdict(list)
    for case in cases:
        groups[(case.payer, year_of(case.requested_at))].append(case)
    wanted = set(years) if years is not None else None
    out = []
    for (payer, year), group in sorted(groups.items()):
        if wanted is not None and year not in wanted:
            continue
        standard = [c for c in group if not c.expedited]
        expedited = [c for c in group if c.expedited]
        sd = [c for c in standard if c.decision is not None]
        ed = [c for c in expedited if c.decision is not None]
        decided = sd + ed
        out.append(
            CmsYear(
                payer=payer,
                year=year,
                items=tuple(items_requiring_authorization(policy_rows, payer, year)),
                standard_requests=len(standard),
                standard_determinations=len(sd),
                standard_approved=sum(1 for c in sd if _approved(c)),
                standard_denied=sum(1 for c in sd if _denied(c)),
                standard_modified=sum(1 for c in sd if c.decision and c.decision.status is PreauthStatus.MODIFIED),
                standard_approved_after_appeal=sum(1 for c in sd if c.approved_after_appeal),
                expedited_requests=len(expedited),
                expedited_determinations=len(ed),
                expedited_approved=sum(1 for c in ed if _approved(c)),
                expedited_denied=sum(1 for c in ed if _denied(c)),
                expedited_modified=sum(1 for c in ed if c.decision and c.decision.status is PreauthStatus.MODIFIED),
                extended_and_approved=sum(1 for c in decided if c.extended is not None and _approved(c)),
                standard_hours=tuple(_hours(sd)),
                expedited_hours=tuple(_hours(ed)),
                pending=sum(1 for c in group if c.decision is None and c.cancelled is None),
                cancelled=sum(1 for c in group if c.decision is None and c.cancelled is not None),
            )
        )
    return out


def cms_report_of(index: AuditIndex, years: Iterable[int] | None = None) -> list[CmsYear]:
    """:func:`cms_report` of every request and policy in the index."""
    return cms_report(preauth_cases(index), index.events(["PolicySet"], contract=PREAUTH), years)


def write_cms_csv(rows: Sequence[CmsYear], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=list(CMS_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for report in rows:
        writer.writerow(report.row())
    return len(rows)
