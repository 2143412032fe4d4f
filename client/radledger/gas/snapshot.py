"""The gas snapshot: the committed figures (``snapshots/gas.json``), DESIGN.md's targets, and the
check of a new measurement (:mod:`radledger.gas.measurements`) against both."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from radledger.chain.errors import RadledgerError

DEFAULT_SNAPSHOT = Path("snapshots") / "gas.json"
DEFAULT_TOLERANCE = 0.02

TARGETS: dict[str, int] = {
    # DESIGN.md, COSTS: whole transaction, first-time case; a view without the 21,000 base.
    "consent.grant": 55_000,
    "consent.grantBySig": 65_000,
    "consent.revoke": 32_000,
    "consent.hasAccess": 8_000,
    # Issue 13: signed grants relayed in batches, at most 40,000 a grant for 10 in one transaction.
    "consent.grantBySigBatch10": 400_000,
    "consent.grantBySigBatch10PerGrant": 40_000,
    "records.register": 80_000,
    "credentials.attest": 75_000,
    "credentials.attestBySig": 90_000,
    "credentials.revoke": 35_000,
    "credentials.attestBatch10": 450_000,
    # Superseding an existing attestation (a renewal) costs more than a first one: the targets hold for it too.
    "credentials.attestSupersede": 75_000,
    "credentials.attestBySigSupersede": 90_000,
    "credentials.attestBatch10Supersede": 450_000,
    "preauth.requestAutoApproved": 120_000,
}

DESCRIPTIONS: dict[str, str] = {
    "consent.grant": "grant on one record, new slot, sent by the patient",
    "consent.grantBySig": "grant signed by the patient (first signature ever), relayed by the site",
    "consent.revoke": "revoke of an active grant, sent by the patient",
    "consent.revokeBySig": "revoke signed by the patient, relayed by the site",
    "consent.hasAccess": "view, without the 21,000 base: record without its own grant (two slots read)",
    "consent.recordAccess": "access put on the trail by the grantee, allowed by a wildcard grant",
    "consent.grantBySigBatch10": "ten grants signed by ten patients (first signature each), one transaction",
    "consent.grantBySigBatch10PerGrant": "the same batch, per grant (the transaction's gas / 10)",
    "consent.hasAccessBreakGlassEnded": "view, without the 21,000 base: ETREAT asked by an account whose window "
    "outlived its role (three slots read; transient, no target)",
    "consent.breakGlass": "emergency access, first time for this patient and account",
    "consent.setGuardian": "patient appoints a guardian (new slot)",
    "records.registerCustodian": "governance registers the first imaging site with its gateway URL",
    "records.register": "site registers its first record (two new slots)",
    "records.amend": "site amends a record (version bump, new content hash)",
    "credentials.registerSchema": "governance registers the first credential schema (name kept unique)",
    "credentials.attest": "issuer attests a new subject and schema (one new slot)",
    "credentials.attestBySig": "attestation signed by the issuer (first signature ever), relayed by a site",
    "credentials.revoke": "issuer revokes its attestation, with a reason code",
    "credentials.attestBatch10": "ten attestations (a CME course, new subjects) in one transaction",
    "credentials.attestSupersede": "issuer renews its attestation (the old one moves to history: costlier)",
    "credentials.attestBySigSupersede": "signed renewal of the issuer's attestation, relayed by a site",
    "credentials.attestBatch10Supersede": "ten renewals of the issuer's attestations in one transaction",
    "credentials.isValid": "view, without the 21,000 base: the latest attestation of its issuer, subject and schema",
    "credentials.isValidSuperseded": "view, without the 21,000 base: a superseded attestation (two slots read)",
    "preauth.extend": "payer extends a pended standard request's decision deadline (once, at most 14 days)",
    "preauth.requestAutoApproved": "prior-authorization request approved by gold card",
    "preauth.setPolicy": "payer's first policy for a procedure (license and gold card required)",
    "preauth.requestPended": "prior-authorization request pended (physician without a gold card)",
    "preauth.decide": "payer approves a pended request",
    "claims.submit": "site's first claim against an approval",
    "claims.adjudicate": "payer pays a claim in full",
}


class GasCheckError(RadledgerError):
    """A snapshot file is missing or unreadable, or a measurement is inconsistent."""


# ------------------------------------------------------------- snapshot files


def dumps(figures: dict[str, int]) -> str:
    """The snapshot file's text: a flat JSON object, sorted keys, indent 2, trailing newline."""
    return json.dumps(figures, indent=2, sort_keys=True) + "\n"


def write_snapshot(figures: dict[str, int], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(figures))
    return path


def read_snapshot(path: Path) -> dict[str, int]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise GasCheckError(f"cannot read gas snapshot {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise GasCheckError(f"gas snapshot {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in doc.items()
    ):
        raise GasCheckError(f"gas snapshot {path} must be a flat JSON object from operation name to integer gas")
    return doc


# -------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Row:
    """One operation in a check: what the snapshot says, what was measured, and the target."""

    key: str
    committed: int | None
    measured: int | None
    target: int | None
    tolerance: float

    @property
    def delta(self) -> float | None:
        if self.committed is None or self.measured is None or self.committed == 0:
            return None
        return (self.measured - self.committed) / self.committed

    @property
    def rose(self) -> bool:
        """Measured more than `tolerance` above the committed figure."""
        return (
            self.committed is not None
            and self.measured is not None
            and (self.measured > self.committed * (1 + self.tolerance))
        )

    @property
    def fell(self) -> bool:
        """Measured more than `tolerance` below the committed figure: the snapshot overstates it (regenerate it)."""
        return (
            self.committed is not None
            and self.measured is not None
            and (self.measured < self.committed * (1 - self.tolerance))
        )

    @property
    def missing(self) -> str | None:
        if self.committed is None:
            return "not in the snapshot"
        if self.measured is None:
            return "no longer measured"
        return None

    @property
    def over_target(self) -> bool:
        return self.target is not None and self.measured is not None and self.measured > self.target

    @property
    def failed(self) -> bool:
        return self.rose or self.fell or self.missing is not None

    def flags(self) -> str:
        out = []
        if self.missing:
            out.append(f"MISSING ({self.missing})")
        if self.rose:
            out.append(f"ROSE more than {self.tolerance:.0%}")
        if self.fell:
            out.append(f"FELL more than {self.tolerance:.0%} (the snapshot overstates it)")
        if self.over_target and self.target is not None and self.measured is not None:
            out.append(f"OVER TARGET by {self.measured - self.target:,}")
        return "; ".join(out)


def compare(committed: dict[str, int], measured: dict[str, int], tolerance: float = DEFAULT_TOLERANCE) -> list[Row]:
    """Rows for every key in either mapping, sorted by key."""
    if tolerance < 0:
        raise GasCheckError(f"tolerance {tolerance} must not be negative")
    keys = sorted(set(committed) | set(measured))
    return [Row(k, committed.get(k), measured.get(k), TARGETS.get(k), tolerance) for k in keys]


def format_rows(rows: list[Row]) -> str:
    """A plain-text table: key, committed, measured, delta, target, flags."""

    def num(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    header = ("operation", "committed", "measured", "delta", "target", "")
    body = [
        (
            r.key,
            num(r.committed),
            num(r.measured),
            "-" if r.delta is None else f"{r.delta:+.2%}",
            num(r.target),
            r.flags(),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        left = cells[0].ljust(widths[0])
        right = "  ".join(c.rjust(w) for c, w in zip(cells[1:5], widths[1:5], strict=True))
        return f"{left}  {right}  {cells[5]}".rstrip()

    return "\n".join(line(c) for c in [header, *body])


def markdown_table(figures: dict[str, int]) -> str:
    """The README's gas table: every measured operation and every target, with the margin."""
    lines = [
        "| operation | what is measured | gas | target | margin |",
        "|---|---|---:|---:|---:|",
    ]
    for key in sorted(set(figures) | set(TARGETS)):
        measured, target = figures.get(key), TARGETS.get(key)
        gas = f"{measured:,}" if measured is not None else "not measured yet"
        goal = f"≤ {target:,}" if target is not None else ""
        if measured is not None and target is not None:
            margin = f"{target - measured:,} under" if measured <= target else f"**{measured - target:,} over**"
        else:
            margin = ""
        lines.append(f"| `{key}` | {DESCRIPTIONS.get(key, '')} | {gas} | {goal} | {margin} |")
    return "\n".join(lines) + "\n"
