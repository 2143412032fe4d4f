"""The prior-authorization commands (`radledger payer|policy|preauth|claim ...`), run in-process against the
session chain: the connection helper is pointed at it, keys come from environment variables as in real use."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from radledger.chain import connection as chain
from radledger.cli import main, options
from radledger.registries.preauth.types import PreauthStatus
from tests.phi_scan import assert_no_phi, chain_bytes, phi_forms
from tests.preauth_support import (
    AUTO_POLICY,
    MRI_BRAIN,
    World,
    travel_to,
    world_base_fixture,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

KEYS = {
    "admin": "RL_PA_ADMIN_KEY",
    "site": "RL_PA_SITE_KEY",
    "payer": "RL_PA_PAYER_KEY",
    "gold": "RL_PA_GOLD_KEY",
    "licensed": "RL_PA_LICENSED_KEY",
    "stranger": "RL_PA_STRANGER_KEY",
}
MEMBER_ID = "SYNTH-CLI-778899"
DIAGNOSES = ["G43.909", "R51.9"]


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    """Commands reach the session chain; keys and the PreauthRegistry address are in the environment."""
    for name in list(os.environ):
        if name.startswith("RADLEDGER_") and name != "RADLEDGER_ARTIFACTS_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setattr(options, "connect", lambda url, **_: world.w3)
    monkeypatch.setenv("RADLEDGER_RPC_URL", "http://in-process.invalid")
    monkeypatch.setenv("RADLEDGER_PREAUTH", world.address)
    keys = chain.tester_private_keys(world.w3)
    index = {a: i for i, a in enumerate(world.w3.eth.accounts)}
    for who in ("admin", "site", "payer", "stranger"):
        monkeypatch.setenv(KEYS[who], "0x" + keys[index[getattr(world, who).address]].hex())
    for who in ("gold", "licensed"):
        monkeypatch.setenv(KEYS[who], getattr(world, who).account.key.hex())
    monkeypatch.chdir(tmp_path)
    return world


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def one_line_error(capsys: pytest.CaptureFixture[str], error: str, *argv: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and err.strip().startswith(f"radledger: error: {error}:"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in out + err


def write_request(world: World, physician: str, units: int = 1, evidence: bool = True) -> Path:
    Path("note.txt").write_bytes(b"synthetic clinical note: six weeks of headache")
    doc: dict[str, Any] = {
        "payer": world.payer.address,
        "payerId": "PAYER-SYNTH-01",
        "memberId": MEMBER_ID,
        "procedure": MRI_BRAIN,
        "units": units,
        "physician": physician,
        "expedited": False,
        "diagnoses": DIAGNOSES,
    }
    if evidence:
        doc["evidence"] = ["note.txt"]
    Path("request.json").write_text(json.dumps(doc))
    return Path("request.json")


def prepared_and_signed(capsys: pytest.CaptureFixture[str], world: World, physician: str, units: int = 1) -> str:
    """prepare + sign-order; returns the request id the order will have."""
    write_request(world, getattr(world, physician).address, units)
    out = ok(
        capsys, "preauth", "prepare", "--input", "request.json", "--requester", world.site.address,
        "--opening-out", "opening.json", "--order-out", "order.json",
    )  # fmt: skip
    rid = out.split("request id will be ")[1].split()[0]
    ok(capsys, "preauth", "sign-order", "order.json", "--out", "signed.json", "--key-env", KEYS[physician])
    return rid


def test_a_gold_carded_order_goes_from_prepare_to_a_paid_claim(cli: World, capsys: pytest.CaptureFixture[str]) -> None:
    world = cli
    start = world.w3.eth.block_number + 1
    rid = prepared_and_signed(capsys, world, "gold")
    assert stat.S_IMODE(Path("opening.json").stat().st_mode) == 0o600
    order = Path("order.json").read_text()
    assert MEMBER_ID not in order and not any(code in order for code in ("G43", "R51"))
    assert json.loads(Path("opening.json").read_text())["member"]["memberId"] == MEMBER_ID

    doc = json.loads(ok(capsys, "preauth", "request", "--order", "signed.json", "--key-env", KEYS["site"], "--json"))
    assert (doc["requestId"], doc["status"], doc["x12ActionCode"], doc["pendedBecause"]) == (rid, "APPROVED", "A1", [])
    status = ok(capsys, "preauth", "status", rid)
    assert "APPROVED (X12 HCR01 A1)" in status and "1 approved, 0 used" in status

    Path("claim.837").write_bytes(b"synthetic X12 837 claim")
    ok(capsys, "salt", "new", "site.salt")
    out = ok(
        capsys, "claim", "submit", "--request-id", rid, "--claim-file", "claim.837", "--salt-file", "site.salt",
        "--units", "1", "--amount", "1250.00", "--key-env", KEYS["site"],
    )  # fmt: skip
    claim_id = out.split()[1].rstrip(":")
    assert "1,250.00" in out and "(0 units left)" in out
    assert "PAID, paid 1,250.00" in ok(capsys, "claim", "adjudicate", claim_id, "paid", "--key-env", KEYS["payer"])
    claim = json.loads(ok(capsys, "claim", "show", claim_id, "--json"))
    assert (claim["status"], claim["amountCents"], claim["paidAmountCents"], claim["requestId"]) == (
        "PAID", 125_000, 125_000, rid
    )  # fmt: skip
    assert "the opening opens" in ok(capsys, "preauth", "verify-opening", rid, "--opening", "opening.json")
    assert_no_phi(chain_bytes(world.w3, start), {v: phi_forms(v) for v in [MEMBER_ID, *DIAGNOSES]})


def test_a_pended_order_is_asked_for_information_modified_appealed_and_approved(
    cli: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = cli
    rid = prepared_and_signed(capsys, world, "licensed", units=2)
    out = ok(capsys, "preauth", "request", "--order", "signed.json", "--key-env", KEYS["site"])
    assert "PENDED (X12 HCR01 A4)" in out and "pended because: the physician holds no valid gold card" in out

    payer = ("--key-env", KEYS["payer"])
    one_line_error(capsys, "ValidationError", "preauth", "decide", rid, "deny", *payer)
    one_line_error(capsys, "NotPayer", "preauth", "decide", rid, "approve", "--key-env", KEYS["site"])
    assert "PENDED" in ok(capsys, "preauth", "decide", rid, "request-info", "--reason", "2", *payer)
    assert "the payer requested more information" in ok(capsys, "preauth", "status", rid)
    Path("more.json").write_text(
        json.dumps({"diagnoses": [*DIAGNOSES, "G44.209"], "evidenceSha256": ["0x" + "ab" * 32]})
    )
    ok(capsys, "preauth", "info", rid, "--input", "more.json", "--opening", "opening.json", "--key-env", KEYS["site"])
    assert len(json.loads(Path("opening.json").read_text())["clinical"]) == 2
    assert "opens the commitments" in ok(capsys, "preauth", "verify-opening", rid, "--opening", "opening.json")

    assert "MODIFIED (X12 A2)" in ok(capsys, "preauth", "decide", rid, "modify", "--units", "1", *payer)
    ok(capsys, "preauth", "appeal", rid, "--input", "more.json", "--opening", "opening.json", "--key-env", KEYS["site"])
    appealed = json.loads(ok(capsys, "preauth", "status", rid, "--json"))
    assert (appealed["status"], appealed["x12ActionCode"], appealed["appealed"]) == ("APPEALED", "A4", True)

    code, out, _ = run(capsys, "preauth", "wait", rid, "--timeout", "0s", "--poll", "1s")
    assert code == 4 and "still APPEALED" in out
    one_line_error(capsys, "DeadlineNotMissed", "preauth", "flag-deadline", rid, "--key-env", KEYS["stranger"])
    travel_to(world.w3, appealed["dueAt"])
    assert "missed the deadline" in ok(capsys, "preauth", "flag-deadline", rid, "--key-env", KEYS["stranger"])
    ok(capsys, "preauth", "decide", rid, "approve", *payer)
    decided = json.loads(ok(capsys, "preauth", "wait", rid, "--timeout", "5s", "--poll", "1s", "--json"))
    assert (decided["status"], decided["approvedUnits"], decided["deadlineMissed"]) == ("APPROVED", 2, True)


def test_an_unsigned_order_is_pended_and_the_site_cancels_it(cli: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Since issue 11 an unsigned order is refused (InvalidSignature); a signed one without a gold card is
    pended, and the site cancels it."""
    world = cli
    write_request(world, world.licensed.address, evidence=False)
    chain_id = str(world.w3.eth.chain_id)
    out = ok(
        capsys, "preauth", "prepare", "--input", "request.json", "--requester", world.site.address,
        "--opening-out", "opening.json", "--order-out", "order.json", "--chain-id", chain_id,
        "--deadline", "2099-01-01",
    )  # fmt: skip
    rid = out.split("request id will be ")[1].split()[0]
    one_line_error(capsys, "InvalidSignature", "preauth", "request", "--order", "order.json", "--key-env", KEYS["site"])
    ok(capsys, "preauth", "sign-order", "order.json", "--out", "signed.json", "--key-env", KEYS["licensed"])
    doc = json.loads(ok(capsys, "preauth", "request", "--order", "signed.json", "--key-env", KEYS["site"], "--json"))
    assert (doc["requestId"], doc["status"]) == (rid, "PENDED")
    assert any("no valid gold card" in reason for reason in doc["pendedBecause"])
    assert "(X12 C)" in ok(capsys, "preauth", "cancel", rid, "--key-env", KEYS["site"])
    assert world.as_site.status(bytes.fromhex(rid[2:])) is PreauthStatus.CANCELLED


def test_governance_registers_a_payer_that_publishes_its_policy(cli: World, capsys: pytest.CaptureFixture[str]) -> None:
    world = cli
    newcomer = world.stranger.address
    assert "not a registered payer" in ok(capsys, "payer", "show", newcomer)
    one_line_error(capsys, "AccessControlUnauthorizedAccount", "payer", "register", newcomer, "--key-env", KEYS["site"])
    assert "index 3" in ok(capsys, "payer", "register", newcomer, "--key-env", KEYS["admin"])
    stranger = ("--key-env", KEYS["stranger"])
    one_line_error(
        capsys, "ValidationError", "policy", "set", "--procedure", "70551", "--standard-decision", "8d", *stranger
    )
    one_line_error(capsys, "ValidationError", "policy", "set", "--procedure", "70551", "--auto-approval", *stranger)
    ok(
        capsys, "policy", "set", "--procedure", "70551", "--auto-approval", "--gold-card-schema", "2",
        "--require-schema", "1", "--max-units", "2", *stranger,
    )  # fmt: skip
    shown = json.loads(ok(capsys, "policy", "show", "--payer", newcomer, "--procedure", "70551", "--json"))
    assert shown == {
        "active": True, "autoApproval": True, "maxUnits": 2, "approvalValidityDays": 90,
        "standardDecisionSeconds": 7 * 86400, "expeditedDecisionSeconds": 72 * 3600,
        "appealWindowSeconds": 60 * 86400, "appealDecisionSeconds": 30 * 86400, "goldCardSchema": 2,
        "requiredSchemas": [1],
    }  # fmt: skip
    assert world.as_site.get_policy(newcomer, MRI_BRAIN) == AUTO_POLICY
    text = ok(capsys, "policy", "show", "--payer", newcomer, "--procedure", "70551")
    assert "auto-approval with gold card schema 2" in text and "168 h standard, 72 h expedited" in text


def test_commands_refuse_missing_configuration_and_bad_input(
    cli: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = "0x" + "11" * 32
    one_line_error(capsys, "RequestNotFound", "preauth", "status", rid)
    one_line_error(capsys, "ValidationError", "preauth", "status", "0x1234")
    one_line_error(
        capsys, "ValidationError", "preauth", "request", "--order", "missing.json", "--key-env", KEYS["site"]
    )
    one_line_error(capsys, "ValidationError", "claim", "submit", "--request-id", rid, "--units", "1", "--amount", "1")
    one_line_error(
        capsys, "ValidationError", "claim", "submit", "--request-id", rid, "--claim-id", rid, "--units", "1",
        "--amount", "1.001", "--key-env", KEYS["site"],
    )  # fmt: skip
    Path("bad.json").write_text(json.dumps({"payerId": "P", "memberId": "M", "diagnoses": ["not a code"]}))
    one_line_error(
        capsys, "ValidationError", "preauth", "prepare", "--input", "bad.json", "--requester", cli.site.address,
        "--opening-out", "o.json", "--order-out", "x.json", "--chain-id", "1",
    )  # fmt: skip
    assert not Path("o.json").exists()
    monkeypatch.delenv("RADLEDGER_PREAUTH")
    one_line_error(capsys, "ConfigurationError", "preauth", "status", rid)
