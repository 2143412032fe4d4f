"""Issue 11, item 9: `radledger gas check` fails a snapshot that overstates a figure (both directions, ±2%),
and the credential renewal figures (costlier than the first-time ones) are in the snapshot and meet the targets."""

from __future__ import annotations

import json
from pathlib import Path

import radledger.gas as gas

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "snapshots" / "gas.json"
RENEWALS = {
    "credentials.attestSupersede": "credentials.attest",
    "credentials.attestBySigSupersede": "credentials.attestBySig",
    "credentials.attestBatch10Supersede": "credentials.attestBatch10",
    "credentials.isValidSuperseded": "credentials.isValid",
}


def test_a_snapshot_that_overstates_a_figure_by_ten_percent_fails() -> None:
    measured = {"credentials.attest": 58_000, "consent.grant": 50_000}
    committed = {**measured, "credentials.attest": int(58_000 * 1.10)}
    failed = [r for r in gas.compare(committed, measured) if r.failed]
    assert [(r.key, r.fell, r.rose) for r in failed] == [("credentials.attest", True, False)]
    assert "FELL" in failed[0].flags()


def test_the_tolerance_holds_both_ways() -> None:
    measured = {"k": 100_000}
    for committed, fails in [(98_100, False), (101_900, False), (97_900, True), (102_100, True), (100_000, False)]:
        (row,) = gas.compare({"k": committed}, measured)
        assert row.failed is fails, committed


def test_the_committed_snapshot_has_the_renewal_figures_and_they_cost_more() -> None:
    figures = json.loads(COMMITTED.read_text())
    for renewal, first in RENEWALS.items():
        assert figures[renewal] > figures[first], renewal
        target = gas.TARGETS.get(renewal)
        if target is not None:
            assert figures[renewal] <= target, renewal
    assert figures["preauth.extend"] > 0


def test_labels_no_longer_call_the_first_time_case_the_costlier_one() -> None:
    assert "first-time (costlier)" not in (ROOT / "README.md").read_text()
    assert "costlier, first-time case" not in (gas.__doc__ or "")
    for key in RENEWALS:
        assert key in gas.DESCRIPTIONS
