"""Payer prior-authorization metrics for public reporting (CMS-0057-F), from the index alone.

CMS-0057-F (45 CFR 156.223, 42 CFR 422.122 and siblings) has impacted payers publish, per year,
for standard and expedited requests separately: the share approved, denied, and approved after
appeal, the share decided past the deadline (here, against each request's on-chain ``dueAt``:
72 hours expedited, 7 days standard, or the payer's shorter policy), and the average and median
time from request to decision. radledger adds the share modified (fewer units: X12 278 A2, certified partial).

Definitions (per payer, period of the request's time, and priority):

- requests: requests made in the period; decided: those with a first decision (automatic or by
  the payer); pending and cancelled: the others.
- approved / denied / modified share: the first decision's status over decided requests
  (gold-card auto-approvals count as approved, decided in 0 s).
- approved after appeal share: appeals decided Approved over decided requests.
- decided late share: first decisions made after ``dueAt`` over decided requests
  (``DeadlineMissed`` flags raised by anyone are counted apart).
- mean and median decision hours: first decision time minus request time.

Rows come out as a text table, CSV (aggregates: no event provenance; export ``payer-requests``
for the per-request rows behind them) and a PNG chart drawn with matplotlib's Agg canvas
(no display, no pyplot global state).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from radledger.audit.queries.preauth import PreauthCase
from radledger.chain.errors import ValidationError
from radledger.registries.preauth.types import PreauthStatus

PERIODS = ("year", "quarter", "month", "all")
PRIORITIES = ("standard", "expedited")


def period_of(timestamp: int, period: str) -> str:
    """The reporting period holding `timestamp` (UTC): ``2030``, ``2030-Q1``, ``2030-03`` or ``all``."""
    when = datetime.fromtimestamp(timestamp, UTC)
    if period == "year":
        return f"{when.year}"
    if period == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    if period == "month":
        return f"{when.year}-{when.month:02d}"
    if period == "all":
        return "all"
    raise ValidationError(f"period {period!r}: one of {', '.join(PERIODS)}")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class PayerMetrics:
    payer: str
    period: str
    priority: str
    requests: int
    decided: int
    pending: int
    cancelled: int
    approved: int
    denied: int
    modified: int
    appealed: int
    approved_after_appeal: int
    decided_late: int
    deadline_flags: int
    mean_decision_hours: float | None
    median_decision_hours: float | None

    @property
    def approved_share(self) -> float | None:
        return _share(self.approved, self.decided)

    @property
    def denied_share(self) -> float | None:
        return _share(self.denied, self.decided)

    @property
    def modified_share(self) -> float | None:
        return _share(self.modified, self.decided)

    @property
    def approved_after_appeal_share(self) -> float | None:
        return _share(self.approved_after_appeal, self.decided)

    @property
    def late_share(self) -> float | None:
        return _share(self.decided_late, self.decided)

    def row(self) -> dict[str, Any]:
        def value(x: float | None) -> Any:
            return "" if x is None else x

        return {
            "payer": self.payer,
            "period": self.period,
            "priority": self.priority,
            "requests": self.requests,
            "decided": self.decided,
            "pending": self.pending,
            "cancelled": self.cancelled,
            "approved_share": value(self.approved_share),
            "denied_share": value(self.denied_share),
            "modified_share": value(self.modified_share),
            "approved_after_appeal_share": value(self.approved_after_appeal_share),
            "decided_late_share": value(self.late_share),
            "mean_decision_hours": value(self.mean_decision_hours),
            "median_decision_hours": value(self.median_decision_hours),
            "appealed": self.appealed,
            "deadline_missed_flags": self.deadline_flags,
        }


def payer_metrics(cases: Iterable[PreauthCase], period: str = "year") -> list[PayerMetrics]:
    """The metrics of every (payer, period, priority) that has requests, sorted by payer, period, priority."""
    groups: dict[tuple[str, str, str], list[PreauthCase]] = defaultdict(list)
    for case in cases:
        priority = "expedited" if case.expedited else "standard"
        groups[(case.payer, period_of(case.requested_at, period), priority)].append(case)
    out = []
    for (payer, label, priority), group in sorted(groups.items()):
        decided = [c for c in group if c.decision is not None]
        hours = [c.decision_seconds / 3600 for c in decided if c.decision_seconds is not None]
        first = [c.decision.status for c in decided if c.decision is not None]
        out.append(
            PayerMetrics(
                payer=payer,
                period=label,
                priority=priority,
                requests=len(group),
                decided=len(decided),
                pending=sum(1 for c in group if c.decision is None and c.cancelled is None),
                cancelled=sum(1 for c in group if c.decision is None and c.cancelled is not None),
                approved=first.count(PreauthStatus.APPROVED),
                denied=first.count(PreauthStatus.DENIED),
                modified=first.count(PreauthStatus.MODIFIED),
                appealed=sum(1 for c in group if c.appealed is not None),
                approved_after_appeal=sum(1 for c in group if c.approved_after_appeal),
                decided_late=sum(1 for c in decided if c.decision is not None and c.decision.late),
                deadline_flags=sum(c.deadline_flags for c in group),
                mean_decision_hours=round(statistics.fmean(hours), 3) if hours else None,
                median_decision_hours=round(statistics.median(hours), 3) if hours else None,
            )
        )
    return out


METRIC_FIELDS = (
    "payer", "period", "priority", "requests", "decided", "pending", "cancelled", "approved_share", "denied_share",
    "modified_share", "approved_after_appeal_share", "decided_late_share", "mean_decision_hours",
    "median_decision_hours", "appealed", "deadline_missed_flags",
)  # fmt: skip
"""The CSV columns, in order (the keys of :meth:`PayerMetrics.row`)."""

COLUMNS = (
    ("payer", "payer"), ("period", "period"), ("priority", "priority"), ("requests", "requests"),
    ("decided", "decided"), ("approved_share", "approved"), ("denied_share", "denied"),
    ("modified_share", "modified"), ("approved_after_appeal_share", "appeal→approved"),
    ("decided_late_share", "late"), ("mean_decision_hours", "mean h"), ("median_decision_hours", "median h"),
    ("pending", "pending"),
)  # fmt: skip


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) == 42 else address


def metrics_table(rows: Sequence[PayerMetrics]) -> str:
    """A text table: shares in percent, times in hours."""
    if not rows:
        return "(no prior-authorization requests)"
    lines = [[title for _, title in COLUMNS]]
    for metric in rows:
        data = metric.row()
        cells = []
        for key, _ in COLUMNS:
            value = data[key]
            if key.endswith("share"):
                cells.append("" if value == "" else f"{100 * value:.1f}%")
            elif key == "payer":
                cells.append(_short(str(value)))
            else:
                cells.append(str(value))
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(COLUMNS))]
    text = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def write_metrics_csv(rows: Sequence[PayerMetrics], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=list(METRIC_FIELDS), lineterminator="\n")
    writer.writeheader()
    for metric in rows:
        writer.writerow(metric.row())
    return len(rows)


def plot_metrics(rows: Sequence[PayerMetrics], path: Path, title: str = "Prior authorization, per payer") -> Path:
    """A PNG: decision shares (stacked) and mean/median decision hours, one bar group per payer, period and priority."""
    # matplotlib is optional (the [audit] extra): imported only when a plot is asked for
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        raise ValidationError("no metrics to plot")
    labels = [f"{_short(r.payer)}\n{r.period} {r.priority}" for r in rows]
    positions = list(range(len(rows)))
    figure = Figure(figsize=(max(6.0, 1.6 * len(rows) + 2), 7.5), dpi=100)
    FigureCanvasAgg(figure)
    shares, times = figure.subplots(2, 1)
    series = [
        ("approved", [r.approved_share or 0 for r in rows], "#2e7d32"),
        ("modified", [r.modified_share or 0 for r in rows], "#f9a825"),
        ("denied", [r.denied_share or 0 for r in rows], "#c62828"),
    ]
    bottom = [0.0] * len(rows)
    for name, values, color in series:
        shares.bar(positions, [100 * v for v in values], 0.6, bottom=bottom, label=name, color=color)
        bottom = [b + 100 * v for b, v in zip(bottom, values, strict=True)]
    shares.plot(positions, [100 * (r.late_share or 0) for r in rows], "kv", label="decided late")
    shares.plot(
        positions, [100 * (r.approved_after_appeal_share or 0) for r in rows], "b^", label="approved after appeal"
    )
    shares.set_ylabel("% of decided requests")
    shares.set_ylim(0, 105)
    shares.set_xticks(positions, labels, fontsize=8)
    shares.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    shares.set_title(title)
    width = 0.35
    times.bar([p - width / 2 for p in positions], [r.mean_decision_hours or 0 for r in rows], width, label="mean")
    times.bar([p + width / 2 for p in positions], [r.median_decision_hours or 0 for r in rows], width, label="median")
    times.set_ylabel("hours from request to decision")
    times.set_xticks(positions, labels, fontsize=8)
    times.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(str(path), format="png")
    return path
