"""`radledger audit ...` query and export commands read the index file alone (no node)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from web3 import Web3

from radledger.audit import AuditIndex, sync
from radledger.audit.fhir import parse_resource
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from tests.audit_backends import NewIndex
from tests.conftest import Actors
from tests.preauth_support import World, world_base_fixture  # noqa: F401
from tests.test_audit_queries import Story, story_fixture, story_index_fixture  # noqa: F401


@pytest.fixture(scope="module")
def db(chain: Web3, deployment: Deployment, world_base: World, story: Story, module_indexes: NewIndex) -> str:
    """The story, and one gold-carded request, indexed into a SQLite file or a PostgreSQL database."""
    world_base.request()
    path = module_indexes.location("cli")
    extra = {"CredentialRegistry": world_base.creds.address, "PreauthRegistry": world_base.address}
    with AuditIndex(path) as index:
        sync(chain, index, deployment.with_contracts(extra))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_consent_history_prints_a_table_or_json_lines(
    db: str, story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "consent-history", "--db", db, "--patient", story.patient)
    assert code == 0
    assert out.splitlines()[0].split() == ["time", "action", "description", "tx_hash"]
    assert "by guardian " + story.guardian in out and "break-glass by " + story.emergency in out
    code, out, _ = run(capsys, "audit", "consent-history", "--db", db, "--patient", story.patient, "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 9 and list(rows[0])[:4] == ["block_number", "block_hash", "tx_hash", "log_index"]


def test_who_could_access_at_a_time(db: str, story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "audit", "who-could-access", "--db", db, "--record-id", "0x" + story.rid.hex(), "--at",
        str(story.glass_at),
    )  # fmt: skip
    assert code == 0
    assert f"patient {story.patient}" in out
    lines = [line.split() for line in out.splitlines()]
    assert [story.billing, "wildcard-grant"] in [line[:2] for line in lines]
    assert [story.emergency, "break-glass"] in [line[:2] for line in lines]
    assert f"guardian {story.guardian} could act" in out


def test_trail_and_break_glass_as_csv(
    db: str, story: Story, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "trail.csv"
    code, _, err = run(
        capsys, "audit", "trail", "--db", db, "--record-id", "0x" + story.rid.hex(), "--format", "csv",
        "--output", str(target),
    )  # fmt: skip
    assert code == 0 and "wrote 2 rows" in err
    rows = list(csv.DictReader(target.open()))
    assert [r["basis"] for r in rows] == ["record-grant", "break-glass"]
    code, out, _ = run(
        capsys,
        "audit",
        "break-glass",
        "--db",
        db,
        "--since",
        str(story.glass_at),
        "--until",
        str(story.later),
        "--format",
        "csv",
    )
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["reason_code"], row["accesses_under_break_glass"], row["account"]) == ("11", "1", story.emergency)


def test_credentials_history_and_standing(db: str, world_base: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "credentials", "--db", db, "--subject", world_base.gold.address)
    assert code == 0 and "payer gold card" in out and "state medical license" in out
    code, out, _ = run(
        capsys, "audit", "credentials", "--db", db, "--subject", world_base.gold.address, "--at", "2029-01-01",
        "--format", "json",
    )  # fmt: skip
    assert {r["status"] for r in json.loads(out)} == {"missing"}


def test_payer_requests_and_metrics(
    db: str, world_base: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "audit", "payer-requests", "--db", db, "--payer", world_base.payer.address)
    assert code == 0 and "approved" in out and "70551" in out
    chart, table = tmp_path / "m.png", tmp_path / "m.csv"
    code, out, _ = run(
        capsys, "audit", "metrics", "--db", db, "--period", "all", "--csv", str(table), "--chart", str(chart)
    )
    assert code == 0 and "100.0%" in out
    assert chart.read_bytes()[:4] == b"\x89PNG" and "approved_share" in table.read_text()


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_export_fhir_bundle(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, version: str) -> None:
    target = tmp_path / "audit-events.json"
    code, _, err = run(
        capsys, "audit", "export", "--db", db, "--what", "fhir-audit-events", "--fhir-version", version,
        "--output", str(target),
    )  # fmt: skip
    assert code == 0 and "4 resources" in err
    assert len(parse_resource(json.loads(target.read_text()), version).entry) == 4


def test_export_every_event_as_json_lines(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "export", "--db", db, "--what", "events", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    with AuditIndex(db) as index:
        assert code == 0 and len(rows) == index.count()
    assert all(r["tx_hash"].startswith("0x") and r["event"] for r in rows)


def test_a_missing_index_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "audit", "break-glass", "--db", str(tmp_path / "none.sqlite"))
    assert code == 1 and out == ""
    assert err.startswith("radledger: error: ConfigurationError: no audit index at") and len(err.splitlines()) == 1


def test_a_duration_counts_back_from_the_last_synced_block(
    db: str, story: Story, actors: Actors, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "break-glass", "--db", db, "--since", "1d", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["patient"] for r in rows] == [actors.stranger.address]  # not the one two days before
