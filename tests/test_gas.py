"""The gas snapshot: deterministic, checked against the committed file, within DESIGN.md's targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth.estimators.gas import binary_gas_search_exact

import radledger.gas as gas
from radledger.chain.connection import GAS_ESTIMATOR_ENV, in_process_chain
from radledger.cli import main
from tests.conftest import ROOT

COMMITTED = ROOT / "snapshots" / "gas.json"
REQUIRED_KEYS = {
    "consent.grant",
    "consent.grantBySig",
    "consent.revoke",
    "consent.hasAccess",
    "records.registerCustodian",
    "records.register",
    "records.amend",
}


@pytest.fixture(scope="module")
def measured() -> dict[str, int]:
    """One measurement on a fresh chain, shared by the tests below (each run takes seconds)."""
    return gas.measure()


@pytest.fixture
def check_measures(measured: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """`radledger gas check` re-measures: here it gets the module's measurement instead of a third run."""
    monkeypatch.setattr(gas, "measure", lambda: dict(measured))


def test_snapshot_command_writes_the_same_figures_as_another_run(measured: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "gas.json"
    assert main(["gas", "snapshot", "--out", str(path)]) == 0
    text = path.read_text()
    assert text == gas.dumps(measured)  # two runs, two fresh chains, identical files
    figures = json.loads(text)
    assert text == json.dumps(figures, indent=2, sort_keys=True) + "\n"
    assert set(figures) >= REQUIRED_KEYS
    assert all(isinstance(v, int) and v > 0 for v in figures.values())


@pytest.mark.usefixtures("check_measures")
def test_check_passes_on_the_committed_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gas", "check", "--snapshot", str(COMMITTED)]) == 0
    out = capsys.readouterr().out
    assert "gas check passed" in out
    assert "ROSE" not in out and "MISSING" not in out


@pytest.mark.usefixtures("check_measures")
def test_check_fails_when_a_committed_figure_is_five_percent_lower(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doctored = gas.read_snapshot(COMMITTED)
    doctored["consent.grant"] = int(doctored["consent.grant"] * 0.95)
    path = gas.write_snapshot(doctored, tmp_path / "gas.json")
    assert main(["gas", "check", "--snapshot", str(path)]) == 1
    flagged = [line for line in capsys.readouterr().out.splitlines() if "ROSE" in line]
    assert [line.split()[0] for line in flagged] == ["consent.grant"]


def test_check_fails_when_a_key_is_missing_from_the_snapshot(measured: dict[str, int]) -> None:
    committed = {k: v for k, v in measured.items() if k != "records.amend"}
    rows = gas.compare(committed, measured)
    assert [(r.key, r.missing) for r in rows if r.failed] == [("records.amend", "not in the snapshot")]


def test_check_fails_when_a_committed_key_is_no_longer_measured(measured: dict[str, int]) -> None:
    rows = gas.compare({**measured, "consent.retired": 1_000}, measured)
    assert [(r.key, r.missing) for r in rows if r.failed] == [("consent.retired", "no longer measured")]


def test_check_tolerates_a_rise_within_the_tolerance_and_any_fall(measured: dict[str, int]) -> None:
    # A fall beyond the tolerance now fails too (tests/test_gas_check.py); within it, it passes.
    committed = dict(measured)
    committed["consent.grant"] = int(measured["consent.grant"] / 1.019) + 1  # measured is 1.9% above
    committed["consent.revoke"] = int(measured["consent.revoke"] * 1.019)  # measured is 1.9% below
    assert not any(r.failed for r in gas.compare(committed, measured))
    committed["consent.grant"] = int(measured["consent.grant"] / 1.021)  # measured is 2.1% above
    assert [r.key for r in gas.compare(committed, measured) if r.failed] == ["consent.grant"]


def test_every_measured_operation_with_a_target_meets_it(measured: dict[str, int]) -> None:
    with_target = {k: (v, gas.TARGETS[k]) for k, v in measured.items() if k in gas.TARGETS}
    assert {"consent.grant", "consent.grantBySig", "consent.revoke", "consent.hasAccess", "records.register"} <= set(
        with_target
    )
    assert {k: v for k, v in with_target.items() if v[0] > v[1]} == {}


def test_check_table_flags_a_figure_over_its_target() -> None:
    rows = gas.compare({"consent.grant": 60_000}, {"consent.grant": 60_500})
    assert rows[0].over_target and not rows[0].failed
    assert "OVER TARGET by 5,500" in gas.format_rows(rows)


def test_measurements_run_in_isolation_from_one_another(measured: dict[str, int]) -> None:
    alone = gas.measure(["consent"])
    assert alone == {k: v for k, v in measured.items() if k.startswith("consent.")}


def test_measurement_selects_the_exact_estimator_and_restores_the_environment() -> None:
    before = os.environ.get(GAS_ESTIMATOR_ENV)
    with gas.exact_estimator():
        assert gas.estimator_of(in_process_chain()) is binary_gas_search_exact
    assert os.environ.get(GAS_ESTIMATOR_ENV) == before
    if before is None:
        assert gas.estimator_of(in_process_chain()) is not binary_gas_search_exact


def test_unknown_measurement_name_is_refused() -> None:
    with pytest.raises(gas.GasCheckError):
        gas.measure(["nonexistent"])


def test_check_without_a_snapshot_file_prints_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gas", "check", "--snapshot", str(tmp_path / "absent.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("radledger: error: GasCheckError:")


def test_snapshot_file_must_be_a_flat_object_of_integers(tmp_path: Path) -> None:
    path = tmp_path / "gas.json"
    path.write_text(json.dumps({"consent.grant": {"gas": 1}}))
    with pytest.raises(gas.GasCheckError):
        gas.read_snapshot(path)


def test_markdown_table_lists_every_measured_operation_and_every_target(measured: dict[str, int]) -> None:
    table = gas.markdown_table(measured)
    rows = [line for line in table.splitlines()[2:]]
    keys = [row.split("|")[1].strip().strip("`") for row in rows]
    assert keys == sorted(set(measured) | set(gas.TARGETS))
    grant_row = rows[keys.index("consent.grant")]
    assert f"{measured['consent.grant']:,}" in grant_row and "≤ 55,000" in grant_row
