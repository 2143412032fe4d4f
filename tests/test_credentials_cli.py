"""`radledger schema|issuer|credential ...`, run in-process through `radledger.cli.main([...])` against the
session's in-process chain (the CLI's `connect` answers with it), keys passed by environment variable name."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain.signers import KeySigner
from radledger.cli import main, options
from radledger.registries.credentials.client import credential_uid, device_id, document_hash, subject_id
from radledger.registries.credentials.verifiable import verify_proof
from tests.conftest import Actors
from tests.test_credentials_support import INSPECTION, LICENSE, CredEnv

pytest_plugins = ["tests.test_credentials_support"]

RPC = "http://in-process.invalid:8545"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(w3: Web3, cred_env: CredEnv, actors: Actors, monkeypatch: pytest.MonkeyPatch) -> CredEnv:
    """The CLI talks to the session chain; keys sit in environment variables, never on the command line."""
    for name in list(os.environ):
        if name.startswith("RADLEDGER_") and name != "RADLEDGER_ARTIFACTS_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setattr(options, "connect", lambda url, *a, **k: w3)
    monkeypatch.setenv("RADLEDGER_RPC_URL", RPC)
    monkeypatch.setenv("RADLEDGER_CREDENTIALS", cred_env.address)
    for variable, signer in [
        ("RL_BOARD_KEY", cred_env.board.signer),
        ("RL_INSPECTOR_KEY", cred_env.inspector.signer),
        ("RL_SIGNING_ISSUER_KEY", cred_env.signing_issuer),
        ("RL_SITE_KEY", actors.site.signer),
    ]:
        assert isinstance(signer, KeySigner)
        monkeypatch.setenv(variable, signer.account.key.hex())
    return cred_env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def test_schema_register_and_list(w3: Web3, cli: CredEnv, capsys: pytest.CaptureFixture[str]) -> None:
    governance = cli.client(w3, cli.governance)
    governance.grant_role("SCHEMA_REGISTRAR_ROLE", cli.board.address)
    made = run(
        capsys, "schema", "register", "State Y: radiology permit", "--max-validity", "2y", "--key-env", "RL_BOARD_KEY"
    )
    assert made.code == 0, made
    assert "registered schema 6: 'State Y: radiology permit' (revocable" in made.out
    listed = run(capsys, "schema", "list", "--json")
    schemas = {s["id"]: s for s in json.loads(listed.out)}
    assert schemas[6] == {
        "id": 6,
        "name": "State Y: radiology permit",
        "revocable": True,
        "maxValidity": 2 * 365 * 86400,
    }
    assert schemas[5]["revocable"] is False
    diploma = run(
        capsys,
        "schema",
        "register",
        "Residency diploma",
        "--max-validity",
        "none",
        "--irrevocable",
        "--key-env",
        "RL_BOARD_KEY",
    )
    assert "irrevocable, no maximum" in diploma.out


def test_issuer_authorize_by_schema_name(w3: Web3, cli: CredEnv, capsys: pytest.CaptureFixture[str]) -> None:
    cli.client(w3, cli.governance).grant_role("ISSUER_AUTHORIZER_ROLE", cli.board.address)
    newcomer = Web3.to_checksum_address("0x" + "5a" * 20)
    result = run(capsys, "issuer", "authorize", newcomer, "--schema", LICENSE, "--key-env", "RL_BOARD_KEY")
    assert result.code == 0, result
    assert cli.client(w3).is_authorized_issuer(cli.schemas.license, newcomer)
    result = run(
        capsys, "issuer", "deauthorize", newcomer, "--schema", str(cli.schemas.license), "--key-env", "RL_BOARD_KEY"
    )
    assert result.code == 0 and not cli.client(w3).is_authorized_issuer(cli.schemas.license, newcomer)


def test_attest_verify_revoke_and_verify_again(
    w3: Web3, cli: CredEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "license.pdf"
    document.write_bytes(b"synthetic license document, nonce 8d1f")
    attested = run(
        capsys, "credential", "attest", "--subject", cli.reader, "--schema", LICENSE, "--until", "365d",
        "--data-file", str(document), "--json", "--key-env", "RL_BOARD_KEY",
    )  # fmt: skip
    assert attested.code == 0, attested
    made = json.loads(attested.out)
    assert made["uid"] == "0x" + credential_uid(cli.reader, cli.schemas.license, 1).hex()
    assert made["dataHash"] == "0x" + document_hash(document.read_bytes()).hex()
    assert made["issuer"] == cli.board.address

    ok = run(capsys, "credential", "verify", cli.reader, "--schema", LICENSE)
    assert ok.code == 0 and "holds every required credential" in ok.out
    board_cert = run(
        capsys, "credential", "verify", cli.reader, "--schema", LICENSE, "--schema", str(cli.schemas.board)
    )
    assert board_cert.code == 3 and f"schema {cli.schemas.board}: missing" in board_cert.out

    revoked = run(
        capsys, "credential", "revoke", made["uid"], "--reason", "disciplinary-action", "--key-env", "RL_BOARD_KEY"
    )
    assert revoked.code == 0 and "reason DISCIPLINARY_ACTION" in revoked.out
    after = run(capsys, "credential", "verify", cli.reader, "--schema", LICENSE, "--json")
    report = json.loads(after.out)
    assert after.code == 3 and report["ok"] is False
    assert report["checks"][0]["status"] == "revoked" and report["checks"][0]["uid"] == made["uid"]


def test_only_the_issuer_revokes_and_errors_are_one_line(
    w3: Web3, cli: CredEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    made = cli.client(w3, cli.board).attest(cli.reader, cli.schemas.license, cli.client(w3).now() + 3600)
    result = run(capsys, "credential", "revoke", "0x" + made.uid.hex(), "--key-env", "RL_INSPECTOR_KEY")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("radledger: error: NotIssuerOrDisciplinary:"), result.err
    os.environ.pop("RADLEDGER_CREDENTIALS")
    missing = run(capsys, "credential", "dossier", cli.reader)
    assert missing.code == 1 and "ConfigurationError" in missing.err and "--credentials" in missing.err


def test_check_device_by_manufacturer_and_serial(w3: Web3, cli: CredEnv, capsys: pytest.CaptureFixture[str]) -> None:
    not_yet = run(capsys, "credential", "check-device", "Acme Imaging", "MR-0042", "--schema", INSPECTION)
    assert not_yet.code == 3 and "missing" in not_yet.out
    attested = run(
        capsys, "credential", "attest", "--device", "acme imaging", "mr-0042", "--schema", INSPECTION,
        "--until", "365d", "--key-env", "RL_INSPECTOR_KEY",
    )  # fmt: skip
    assert attested.code == 0, attested
    current = run(capsys, "credential", "check-device", "ACME IMAGING", "MR-0042", "--schema", INSPECTION, "--json")
    report = json.loads(current.out)
    assert current.code == 0 and report["status"] == "valid" and report["issuer"] == cli.inspector.address
    assert report["device"] == "0x" + device_id("Acme Imaging", "MR-0042").hex()
    printed = run(capsys, "credential", "device-id", "Acme Imaging", "MR-0042")
    assert printed.out.strip() == report["device"]


def test_sign_with_a_node_relay_and_export_the_vc_with_its_proof(
    w3: Web3, cli: CredEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = tmp_path / "attest.json"
    result = run(
        capsys, "credential", "sign", "attest", "--subject", cli.reader, "--schema", str(cli.schemas.license),
        "--until", "180d", "--out", str(signed), "--key-env", "RL_SIGNING_ISSUER_KEY",
    )  # fmt: skip
    assert result.code == 0, result
    assert "signed attestation #1 of schema 1" in result.out
    relayed = run(capsys, "credential", "relay", str(signed), "--json", "--key-env", "RL_SITE_KEY")
    assert relayed.code == 0, relayed
    uid = json.loads(relayed.out)["uid"]
    assert json.loads(relayed.out)["issuer"] == cli.signing_issuer.address
    out = tmp_path / "vc.json"
    exported = run(capsys, "credential", "export-vc", uid, "--out", str(out))
    assert exported.code == 0
    document = json.loads(out.read_text())
    assert verify_proof(document) == cli.signing_issuer.address
    dossier = run(capsys, "credential", "dossier", cli.reader, "--json")
    assert [c["uid"] for c in json.loads(dossier.out)] == [uid]


def test_sign_offline_needs_chain_epoch_and_sequence(
    w3: Web3, cli: CredEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = cli.client(w3).now()
    signed = tmp_path / "offline.json"
    base = [
        "credential", "sign", "attest", "--subject", cli.reader, "--schema", str(cli.schemas.license),
        "--from", str(now), "--until", str(now + 86400), "--deadline", str(now + 3600), "--out", str(signed),
        "--key-env", "RL_SIGNING_ISSUER_KEY", "--chain-id", str(w3.eth.chain_id), "--epoch", "0",
    ]  # fmt: skip
    os.environ.pop("RADLEDGER_RPC_URL")
    missing = run(capsys, *base)
    assert missing.code == 1 and "--sequence" in missing.err
    result = run(capsys, *base, "--sequence", "1")
    assert result.code == 0, result
    relayed = run(capsys, "credential", "relay", str(signed), "--rpc-url", RPC, "--key-env", "RL_SITE_KEY")
    assert relayed.code == 0, relayed
    assert cli.client(w3).has_valid_credential(subject_id(cli.reader), cli.schemas.license)


def test_cme_hours_from_the_command_line(w3: Web3, cli: CredEnv, capsys: pytest.CaptureFixture[str]) -> None:
    cme = cli.client(w3, cli.cme_provider)
    now = cme.now()
    cme.attest(cli.reader, cli.schemas.cme, now + 86400 * 365, value=125, valid_from=now - 86400)
    cme.attest(cli.reader, cli.schemas.cme, now + 86400 * 365, value=50, valid_from=now - 2 * 86400)
    result = run(
        capsys, "credential", "cme", cli.reader, "--schema", str(cli.schemas.cme), "--from", str(now - 30 * 86400),
        "--to", str(now + 60),
    )  # fmt: skip
    assert result.code == 0 and result.out.startswith("1.75 CME credit hours")
