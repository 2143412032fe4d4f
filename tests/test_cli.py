"""The `radledger` command line: offline commands here, node commands against anvil.

anvil (node_modules/.bin/anvil) runs on 127.0.0.1 on a free port for the session; each test
runs between an `evm_snapshot` and an `evm_revert`, so tests are independent. Commands are
run in-process through `radledger.cli.main([...])`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import connect
from radledger.chain.eip712 import Domain, SignedMessage, sign, typed_data
from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor
from radledger.cli import build_parser, main
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_core
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient, grant_message
from radledger.registries.consent.types import AccessBasis
from radledger.registries.parsing import parse_duration, parse_purposes, parse_scopes, parse_when
from radledger.registries.records.client import RecordRegistryClient, record_id
from tests.conftest import ARTIFACTS, ROOT, named_key

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_CHAIN_ID = 31337
GATEWAY = "https://gateway.cli-site.example/dicomweb"

# Environment variable names the tests put keys in (never on the command line).
ADMIN_KEY, SITE_KEY, GRANTEE_KEY, EMERGENCY_KEY, PATIENT_KEY, FUNDED_PATIENT_KEY, UNFUNDED_KEY = (
    "RL_TEST_ADMIN_KEY",
    "RL_TEST_SITE_KEY",
    "RL_TEST_GRANTEE_KEY",
    "RL_TEST_EMERGENCY_KEY",
    "RL_TEST_PATIENT_KEY",
    "RL_TEST_FUNDED_PATIENT_KEY",
    "RL_TEST_UNFUNDED_KEY",
)


def anvil_key(index: int) -> KeySigner:
    """anvil's dev account `index` (its well-known test mnemonic; never a real key)."""
    Account.enable_unaudited_hdwallet_features()
    return KeySigner(Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"))


def new_uid() -> str:
    return f"2.25.{uuid.uuid4().int}"


def digest(label: str) -> str:
    return "0x" + Web3.keccak(text=f"synthetic content: {label}").hex()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def assert_one_line_error(result: Result, error_class: str) -> None:
    """Exit 1, one line on stderr naming the error class, no traceback."""
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"radledger: error: {error_class}:"), result.err
    assert "Traceback" not in result.err + result.out


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection or key from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("RADLEDGER_") and name != "RADLEDGER_ARTIFACTS_DIR":
            monkeypatch.delenv(name)


# ------------------------------------------------------------------------- offline


def test_salt_new_writes_a_32_byte_hex_salt_readable_by_its_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.salt"
    result = run(capsys, "salt", "new", str(path))
    assert result.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    salt = bytes.fromhex(path.read_text().strip().removeprefix("0x"))
    assert len(salt) == 32 and salt != bytes(32)
    assert path.read_text().strip() not in result.out  # the salt itself is never printed


def test_salt_new_never_overwrites_an_existing_salt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.salt"
    run(capsys, "salt", "new", str(path))
    before = path.read_text()
    assert_one_line_error(run(capsys, "salt", "new", str(path)), "ValidationError")
    assert path.read_text() == before
    assert run(capsys, "salt", "new", str(path), "--force").code == 0
    assert path.read_text() != before and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_record_id_is_computed_offline_from_the_salt_file_and_never_prints_the_uid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.salt"
    run(capsys, "salt", "new", str(path))
    uid = new_uid()
    result = run(capsys, "record", "id", uid, "--salt-file", str(path))
    assert result.code == 0
    salt = bytes.fromhex(path.read_text().strip()[2:])
    assert result.out.strip() == "0x" + record_id(salt, uid).hex()
    assert uid not in result.out


def test_a_salt_file_readable_by_others_still_works_but_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.salt"
    run(capsys, "salt", "new", str(path))
    path.chmod(0o644)
    result = run(capsys, "record", "id", new_uid(), "--salt-file", str(path))
    assert result.code == 0 and result.out.startswith("0x")
    assert result.err.startswith("radledger: warning: salt file") and "chmod 600" in result.err


def test_a_uid_without_its_salt_file_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "record", "show", "--uid", new_uid(), "--rpc-url", "http://127.0.0.1:9")
    assert_one_line_error(result, "ValidationError")
    assert "--salt-file" in result.err


def test_record_id_of_a_malformed_uid_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.salt"
    run(capsys, "salt", "new", str(path))
    assert_one_line_error(run(capsys, "record", "id", "1.2.abc", "--salt-file", str(path)), "ValidationError")


def _all_option_strings() -> set[str]:
    found: set[str] = set()
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            found.update(action.option_strings)
            if action.choices and isinstance(action.choices, dict):
                pending.extend(p for p in action.choices.values() if hasattr(p, "_actions"))
    return found


def test_no_command_has_an_option_that_takes_a_key_or_password() -> None:
    options = _all_option_strings()
    assert {"--key-env", "--keystore", "--rpc-url", "--consent", "--records"} <= options
    suspicious = {o for o in options if re.search(r"key|pass|secret|mnemonic|seed-phrase", o)}
    assert suspicious == {"--key-env", "--keystore"}


def test_a_private_key_typed_on_the_command_line_is_refused_and_never_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "0x" + anvil_key(1).account.key.hex().removeprefix("0x")
    base = ["consent", "revoke", "--grantee", named_key("grantee").address, "--record-id", "all"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--private-key", key])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:  # no abbreviation of --key-env / --keystore is guessed
        main([*base, "--key", key])
    assert exc.value.code == 2
    for option in ("--key-env", "--keystore"):
        for value in (key, key[2:]):
            result = run(capsys, *base, option, value)
            assert_one_line_error(result, "SignerError")
            assert key[2:].lower() not in (result.out + result.err).lower()
    assert key[2:] not in capsys.readouterr().err


def test_parse_when_reads_iso_dates_unix_seconds_durations_and_never() -> None:
    now = 1_900_000_000
    assert parse_when("2030-04-01", now, "t") == int(datetime(2030, 4, 1, tzinfo=UTC).timestamp())
    assert parse_when("2030-04-01T12:30:00Z", now, "t") == int(datetime(2030, 4, 1, 12, 30, tzinfo=UTC).timestamp())
    assert parse_when("2030-04-01T12:30:00+02:00", now, "t") == int(
        datetime(2030, 4, 1, 10, 30, tzinfo=UTC).timestamp()
    )
    assert parse_when("1900000123", now, "t") == 1_900_000_123
    assert parse_when("30d", now, "t") == now + 30 * 86400
    assert parse_when("never", now, "t") == FOREVER
    assert [parse_duration(d) for d in ("45s", "90m", "12h", "2w", "1y")] == [45, 5400, 43200, 1_209_600, 31_536_000]
    for bad in ("tomorrow", "30 days", "2030-13-01", "-5"):
        with pytest.raises(errors.ValidationError):
            parse_when(bad, now, "t")


def test_scopes_and_purposes_are_given_by_name() -> None:
    assert parse_scopes("images,reports") == Scope.IMAGES | Scope.REPORTS
    assert parse_scopes("safety-profile") == parse_scopes("SAFETY_PROFILE") == Scope.SAFETY_PROFILE
    assert parse_scopes("all") == Scope.ALL
    assert parse_purposes("TREAT,hresch") == Purpose.TREAT | Purpose.HRESCH
    assert parse_purposes("all") == Purpose.ALL
    for bad in ("pixels", "images,,", ""):
        with pytest.raises(errors.ValidationError):
            parse_scopes(bad)
    with pytest.raises(errors.ValidationError):
        parse_purposes("TREAT,ETREAT", single=True)


CONSENT_ADDRESS = "0x" + "c0" * 20


def _sign_offline(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> Result:
    return run(
        capsys,
        "consent", "sign", "grant", "--key-env", PATIENT_KEY, "--grantee", named_key("grantee").address,
        "--record-id", "0x" + "ab" * 32, "--scopes", "images,reports", "--purposes", "TREAT", "--until", "30d",
        "--out", str(out), "--consent", CONSENT_ADDRESS, *extra,
    )  # fmt: skip


def test_consent_sign_works_offline_without_any_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = named_key("cli offline patient")
    monkeypatch.setenv(PATIENT_KEY, patient.account.key.hex())
    out = tmp_path / "grant.json"
    before = int(time.time())
    result = _sign_offline(capsys, out, "--chain-id", "5", "--version", "2", "--epoch", "1")
    assert result.code == 0, result.err
    signed = SignedMessage.load(out)
    assert signed.primary_type == "Grant"
    assert signed.domain == Domain.consent(5, CONSENT_ADDRESS)
    m = signed.message
    assert (m["patient"], m["signer"], m["grantee"]) == (patient.address, patient.address, named_key("grantee").address)
    assert (m["scopes"], m["purposes"], m["version"], m["epoch"], m["validFrom"]) == (3, 1, 2, 1, 0)
    assert before + 30 * 86400 <= m["validUntil"] <= int(time.time()) + 30 * 86400
    assert before + 86400 <= m["deadline"] <= int(time.time()) + 86400
    recovered = Account.recover_message(
        encode_typed_data(full_message=typed_data(signed.domain, "Grant", m)), signature=signed.signature
    )
    assert recovered == patient.address


def test_consent_sign_without_version_epoch_or_node_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PATIENT_KEY, named_key("cli offline patient").account.key.hex())
    assert_one_line_error(_sign_offline(capsys, tmp_path / "a.json"), "ConfigurationError")
    assert_one_line_error(
        _sign_offline(capsys, tmp_path / "b.json", "--chain-id", "5", "--version", "0"), "ConfigurationError"
    )
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


def test_consent_sign_refuses_a_deadline_already_past(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PATIENT_KEY, named_key("cli offline patient").account.key.hex())
    out = tmp_path / "late.json"
    offline = ("--chain-id", "5", "--version", "0", "--epoch", "0")
    result = _sign_offline(capsys, out, *offline, "--deadline", "2020-01-01")
    assert_one_line_error(result, "ValidationError")
    assert "deadline" in result.err
    assert not out.exists()


def test_malformed_addresses_are_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PATIENT_KEY, named_key("cli offline patient").account.key.hex())
    offline = ("--chain-id", "5", "--version", "0", "--epoch", "0")
    base = ["consent", "sign", "revoke", "--key-env", PATIENT_KEY, "--record-id", "all", "--out", str(tmp_path / "r")]
    for grantee in ("0x1234", "0xZZ" + "00" * 19, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"):  # bad checksum last
        result = run(capsys, *base, "--grantee", grantee, "--consent", CONSENT_ADDRESS, *offline)
        assert_one_line_error(result, "ValidationError")
    result = run(capsys, *base, "--grantee", named_key("grantee").address, "--consent", "0xnot-an-address", *offline)
    assert_one_line_error(result, "ValidationError")


# ------------------------------------------------------------------------ on anvil


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    if not ANVIL.exists():
        pytest.skip("node_modules/.bin/anvil is missing (run `npm ci`): the CLI is tested against anvil")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: node_modules/.bin/anvil needs it")
    port = _free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the npm shim and the anvil binary stop together
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connect(url, timeout=2)
                break
            except errors.ChainError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"anvil did not start on port {port}: {stderr}")
                time.sleep(0.05)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Node:
    url: str
    w3: Web3
    deployment: Deployment
    admin: KeySigner
    site: KeySigner
    grantee: KeySigner
    emergency: KeySigner
    funded_patient: KeySigner


@pytest.fixture(scope="session")
def node(anvil_url: str) -> Node:
    """Deployed once: the site registered as custodian, the emergency account holding break-glass."""
    w3 = connect(anvil_url)
    admin, site, grantee, emergency, funded_patient = (anvil_key(i) for i in range(5))
    deployment = deploy_core(Transactor(w3, admin), artifacts_dir=ARTIFACTS)
    deployment.records(w3, Transactor(w3, admin)).register_custodian(site.address, GATEWAY)
    deployment.consent(w3, Transactor(w3, admin)).grant_role("BREAK_GLASS_ROLE", emergency.address)
    return Node(anvil_url, w3, deployment, admin, site, grantee, emergency, funded_patient)


@dataclass(frozen=True)
class Env:
    node: Node
    patient: KeySigner
    salt_file: Path

    @property
    def consent(self) -> ConsentRegistryClient:
        return self.node.deployment.consent(self.node.w3)

    @property
    def records(self) -> RecordRegistryClient:
        return self.node.deployment.records(self.node.w3)


@pytest.fixture
def env(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Env]:
    """Connection and keys in the environment; the chain reverted after the test."""
    snapshot = node.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    patient = KeySigner.create()  # a fresh synthetic patient with no ETH
    monkeypatch.setenv("RADLEDGER_RPC_URL", node.url)
    monkeypatch.setenv("RADLEDGER_RECORDS", node.deployment.record_registry)
    monkeypatch.setenv("RADLEDGER_CONSENT", node.deployment.consent_registry)
    for name, signer in (
        (ADMIN_KEY, node.admin),
        (SITE_KEY, node.site),
        (GRANTEE_KEY, node.grantee),
        (EMERGENCY_KEY, node.emergency),
        (PATIENT_KEY, patient),
        (FUNDED_PATIENT_KEY, node.funded_patient),
        (UNFUNDED_KEY, KeySigner.create()),
    ):
        monkeypatch.setenv(name, signer.account.key.hex())
    salt_file = tmp_path / "site.salt"
    run(capsys, "salt", "new", str(salt_file))
    try:
        yield Env(node, patient, salt_file)
    finally:
        node.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


def register_study(env: Env, capsys: pytest.CaptureFixture[str], patient: str, kind: str = "study") -> bytes:
    uid = new_uid()
    result = run(
        capsys,
        "record", "register", "--uid", uid, "--salt-file", str(env.salt_file), "--patient", patient,
        "--kind", kind, "--content-hash", digest(uid), "--key-env", SITE_KEY,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert uid not in result.out
    salt = bytes.fromhex(env.salt_file.read_text().strip()[2:])
    return record_id(salt, uid, env.node.site.address)  # bound to the registering site (issue 11)


def check(capsys: pytest.CaptureFixture[str], grantee: str, rid: bytes, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run(
        capsys,
        "consent", "check", "--grantee", grantee, "--record-id", "0x" + rid.hex(), "--scopes", "images",
        "--purposes", "TREAT", "--json", *extra,
    )  # fmt: skip
    assert result.code in (0, 3), result.err
    return result.code, json.loads(result.out)


on_anvil = pytest.mark.integration


@on_anvil
def test_custodian_register_and_show(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    new_site = KeySigner.create().address
    url = "https://gateway.second-site.example/dicomweb"
    result = run(capsys, "custodian", "register", new_site, "--gateway-url", url, "--key-env", ADMIN_KEY)
    assert result.code == 0, result.err
    assert re.search(r"tx 0x[0-9a-f]{64}  block \d+  gas [\d,]+", result.out)
    shown = run(capsys, "custodian", "show", new_site, "--json")
    assert json.loads(shown.out) == {"address": new_site, "index": 2, "active": True, "gatewayUrl": url}
    assert_one_line_error(
        run(capsys, "custodian", "register", new_site, "--gateway-url", url, "--key-env", ADMIN_KEY),
        "CustodianAlreadyRegistered",
    )


@on_anvil
def test_custodian_register_by_a_non_registrar_prints_the_decoded_error(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    new_site = KeySigner.create().address
    result = run(capsys, "custodian", "register", new_site, "--gateway-url", GATEWAY, "--key-env", SITE_KEY)
    assert_one_line_error(result, "AccessControlUnauthorizedAccount")


@on_anvil
def test_record_register_amend_and_show(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    uid = new_uid()
    record_opts = ["--uid", uid, "--salt-file", str(env.salt_file)]
    result = run(
        capsys, "record", "register", *record_opts, "--patient", env.patient.address, "--kind", "study",
        "--content-hash", digest("v1"), "--key-env", SITE_KEY,
    )  # fmt: skip
    assert result.code == 0, result.err
    rid = record_id(bytes.fromhex(env.salt_file.read_text().strip()[2:]), uid, env.node.site.address)
    assert "0x" + rid.hex() in result.out
    result = run(capsys, "record", "amend", *record_opts, "--content-hash", digest("v2"), "--key-env", SITE_KEY)
    assert result.code == 0, result.err
    record = env.records.get_record(rid)
    assert (record.patient, record.custodian, record.kind, record.version) == (
        env.patient.address, env.node.site.address, RecordKind.IMAGING_STUDY, 2,
    )  # fmt: skip
    assert "0x" + record.content_hash.hex() == digest("v2")
    shown = json.loads(run(capsys, "record", "show", "--record-id", "0x" + rid.hex(), "--json").out)
    assert shown == {
        "recordId": "0x" + rid.hex(),
        "patient": env.patient.address,
        "custodian": env.node.site.address,
        "gatewayUrl": GATEWAY,
        "kind": "IMAGING_STUDY",
        "version": 2,
        "registeredAt": record.registered_at,
        "contentHash": digest("v2"),
    }
    text = run(capsys, "record", "show", *record_opts, "--custodian", env.node.site.address)
    assert text.code == 0 and "IMAGING_STUDY, version 2" in text.out and uid not in text.out


@on_anvil
def test_record_commands_report_contract_and_input_errors_in_one_line(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(run(capsys, "record", "show", "--record-id", "0x" + "42" * 32), "RecordNotFound")
    assert_one_line_error(
        run(
            capsys, "record", "register", "--record-id", "0x" + "42" * 32, "--patient", env.patient.address,
            "--kind", "study", "--content-hash", digest("x"), "--key-env", GRANTEE_KEY,
        ),
        "CustodianNotRegistered",
    )  # fmt: skip
    assert_one_line_error(
        run(
            capsys, "record", "register", "--record-id", "0x42", "--patient", env.patient.address,
            "--kind", "study", "--content-hash", digest("x"), "--key-env", SITE_KEY,
        ),
        "ValidationError",
    )  # fmt: skip
    assert_one_line_error(
        run(
            capsys, "record", "register", "--record-id", "0x" + "42" * 32, "--patient", env.patient.address,
            "--kind", "x-ray-film", "--content-hash", digest("x"), "--key-env", SITE_KEY,
        ),
        "ValidationError",
    )  # fmt: skip


@on_anvil
def test_offline_signed_consent_is_relayed_by_the_site_and_grants_access(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = register_study(env, capsys, env.patient.address)
    grantee = env.node.grantee.address
    assert check(capsys, grantee, rid)[0] == 3
    out = tmp_path / "grant.json"
    with monkeypatch.context() as offline:  # the patient's machine knows no node
        offline.delenv("RADLEDGER_RPC_URL")
        result = run(
            capsys, "consent", "sign", "grant", "--key-env", PATIENT_KEY, "--grantee", grantee,
            "--record-id", "0x" + rid.hex(), "--scopes", "images,reports", "--purposes", "TREAT", "--until", "30d",
            "--out", str(out), "--chain-id", str(ANVIL_CHAIN_ID), "--version", "0", "--epoch", "0",
        )  # fmt: skip
    assert result.code == 0, result.err
    result = run(capsys, "consent", "relay", str(out), "--key-env", SITE_KEY)
    assert result.code == 0, result.err
    assert "gas" in result.out
    code, doc = check(capsys, grantee, rid)
    assert code == 0
    assert doc["access"] is True and doc["basis"] == "RECORD_GRANT" and doc["patient"] == env.patient.address
    assert env.node.w3.eth.get_balance(env.patient.address) == 0
    assert env.consent.get_grant(env.patient.address, grantee, rid).scopes == Scope.IMAGES | Scope.REPORTS
    # the same signature cannot be used twice
    assert_one_line_error(run(capsys, "consent", "relay", str(out), "--key-env", SITE_KEY), "InvalidSignature")


@on_anvil
def test_signing_with_a_node_reads_version_and_epoch_then_revoke_is_relayed(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rid = register_study(env, capsys, env.patient.address)
    grantee = env.node.grantee.address
    files = {}
    for action in ("grant", "revoke"):
        files[action] = tmp_path / f"{action}.json"
        extra = ["--scopes", "images", "--purposes", "TREAT", "--until", "7d"] if action == "grant" else []
        result = run(
            capsys, "consent", "sign", action, "--key-env", PATIENT_KEY, "--grantee", grantee,
            "--record-id", "0x" + rid.hex(), *extra, "--out", str(files[action]),
        )  # fmt: skip
        assert result.code == 0, result.err
        assert run(capsys, "consent", "relay", str(files[action]), "--key-env", SITE_KEY).code == 0
    assert SignedMessage.load(files["revoke"]).message["version"] == 1  # read from the node after the grant
    assert check(capsys, grantee, rid)[0] == 3
    shown = json.loads(
        run(
            capsys, "consent", "show", "--patient", env.patient.address, "--grantee", grantee,
            "--record-id", "0x" + rid.hex(), "--json",
        ).out
    )  # fmt: skip
    assert (shown["active"], shown["version"], shown["epoch"], shown["scopes"]) == (False, 2, 0, [])


@on_anvil
def test_relaying_a_signature_past_its_deadline_is_refused_before_sending(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = int(env.node.w3.eth.get_block("latest")["timestamp"])
    message = grant_message(
        env.patient.address, env.node.grantee.address, WILDCARD, int(Scope.IMAGES), int(Purpose.TREAT), 0,
        now + 86400, env.patient.address, 0, 0, now - 60,
    )  # fmt: skip
    late = sign(env.patient, Domain.consent(ANVIL_CHAIN_ID, env.node.deployment.consent_registry), "Grant", message)
    late.save(tmp_path / "late.json")
    block = env.node.w3.eth.block_number
    result = run(capsys, "consent", "relay", str(tmp_path / "late.json"), "--key-env", SITE_KEY)
    assert_one_line_error(result, "ValidationError")
    assert "deadline" in result.err
    assert env.node.w3.eth.block_number == block


@on_anvil
def test_relaying_a_signature_for_another_contract_is_refused(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = int(env.node.w3.eth.get_block("latest")["timestamp"])
    message = grant_message(
        env.patient.address, env.node.grantee.address, WILDCARD, 1, 1, 0, now + 86400, env.patient.address, 0, 0,
        now + 3600,
    )  # fmt: skip
    sign(env.patient, Domain.consent(ANVIL_CHAIN_ID, CONSENT_ADDRESS), "Grant", message).save(tmp_path / "x.json")
    assert_one_line_error(
        run(capsys, "consent", "relay", str(tmp_path / "x.json"), "--key-env", SITE_KEY), "ValidationError"
    )


@on_anvil
def test_direct_grant_check_and_revoke_by_a_funded_patient(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    patient = env.node.funded_patient.address
    rid = register_study(env, capsys, patient)
    grantee = env.node.grantee.address
    result = run(
        capsys, "consent", "grant", "--grantee", grantee, "--record-id", "all", "--scopes", "images,reports",
        "--purposes", "TREAT,HRESCH", "--until", "2099-01-01", "--key-env", FUNDED_PATIENT_KEY,
    )  # fmt: skip
    assert result.code == 0, result.err
    grant = env.consent.get_grant(patient, grantee, WILDCARD)
    assert (grant.scopes, grant.purposes, grant.valid_from) == (
        Scope.IMAGES | Scope.REPORTS, Purpose.TREAT | Purpose.HRESCH, 0,
    )  # fmt: skip
    assert grant.valid_until == int(datetime(2099, 1, 1, tzinfo=UTC).timestamp())
    code, doc = check(capsys, grantee, rid)
    assert (code, doc["basis"]) == (0, AccessBasis.WILDCARD_GRANT.name)
    text = run(
        capsys, "consent", "check", "--grantee", grantee, "--record-id", "0x" + rid.hex(), "--scopes", "safety-profile",
        "--purposes", "TREAT",
    )  # fmt: skip
    assert text.code == 3 and text.out.startswith("access: no")
    result = run(
        capsys, "consent", "revoke", "--grantee", grantee, "--record-id", "all", "--key-env", FUNDED_PATIENT_KEY
    )
    assert result.code == 0, result.err
    assert check(capsys, grantee, rid)[0] == 3
    assert_one_line_error(
        run(capsys, "consent", "revoke", "--grantee", grantee, "--record-id", "all", "--key-env", FUNDED_PATIENT_KEY),
        "GrantNotFound",
    )


@on_anvil
def test_grant_with_an_end_already_past_is_refused_before_any_transaction(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    block = env.node.w3.eth.block_number
    result = run(
        capsys, "consent", "grant", "--grantee", env.node.grantee.address, "--record-id", "all", "--scopes", "images",
        "--purposes", "TREAT", "--until", "2020-01-01", "--key-env", FUNDED_PATIENT_KEY,
    )  # fmt: skip
    assert_one_line_error(result, "ValidationError")
    result = run(
        capsys, "consent", "grant", "--grantee", "0xnope", "--record-id", "all", "--scopes", "images",
        "--purposes", "TREAT", "--until", "30d", "--key-env", FUNDED_PATIENT_KEY,
    )  # fmt: skip
    assert_one_line_error(result, "ValidationError")
    assert env.node.w3.eth.block_number == block


@on_anvil
def test_check_takes_the_patient_from_the_record(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    rid = register_study(env, capsys, env.patient.address)
    other = KeySigner.create().address
    result = run(
        capsys, "consent", "check", "--grantee", env.node.grantee.address, "--record-id", "0x" + rid.hex(),
        "--patient", other, "--scopes", "images", "--purposes", "TREAT",
    )  # fmt: skip
    assert_one_line_error(result, "ValidationError")
    result = run(
        capsys, "consent", "check", "--grantee", env.node.grantee.address, "--record-id", "all",
        "--scopes", "images", "--purposes", "TREAT",
    )  # fmt: skip
    assert_one_line_error(result, "ValidationError")  # 'all' needs --patient


@on_anvil
def test_access_record_by_grantee_and_by_custodian_then_refused_without_consent(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rid = register_study(env, capsys, env.patient.address)
    grantee = env.node.grantee.address
    access = ["access", "record", "--record-id", "0x" + rid.hex(), "--scopes", "images", "--purpose", "TREAT"]
    denied = run(capsys, *access, "--key-env", GRANTEE_KEY)
    assert_one_line_error(denied, "AccessDenied")
    assert f"grantee={grantee}" in denied.err and f"patient={env.patient.address}" in denied.err
    signed = env.consent.sign_grant(
        env.patient, env.patient.address, grantee, rid, Scope.IMAGES, Purpose.TREAT, 0, FOREVER
    )
    signed.save(tmp_path / "g.json")
    assert run(capsys, "consent", "relay", str(tmp_path / "g.json"), "--key-env", SITE_KEY).code == 0
    by_grantee = run(capsys, *access, "--key-env", GRANTEE_KEY)
    by_site = run(capsys, *access, "--grantee", grantee, "--key-env", SITE_KEY)
    assert by_grantee.code == by_site.code == 0, by_grantee.err + by_site.err
    assert "basis RECORD_GRANT" in by_grantee.out
    receipts = [
        env.node.w3.eth.get_transaction_receipt(re.search(r"tx (0x[0-9a-f]{64})", r.out).group(1))  # type: ignore[union-attr]
        for r in (by_grantee, by_site)
    ]
    recorders = [env.consent.events(r, "AccessRecorded")[0]["recorder"] for r in receipts]
    assert recorders == [grantee, env.node.site.address]
    assert_one_line_error(
        run(capsys, *access[:-2], "--purpose", "TREAT,HRESCH", "--key-env", GRANTEE_KEY), "ValidationError"
    )


@on_anvil
def test_break_glass_then_emergency_access_to_the_safety_profile(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    rid = register_study(env, capsys, env.patient.address, kind="safety-profile")
    assert_one_line_error(
        run(capsys, "break-glass", "--patient", env.patient.address, "--reason", "3", "--key-env", GRANTEE_KEY),
        "AccessControlUnauthorizedAccount",
    )
    assert_one_line_error(
        run(capsys, "break-glass", "--patient", env.patient.address, "--reason", "0", "--key-env", EMERGENCY_KEY),
        "ValidationError",
    )
    result = run(capsys, "break-glass", "--patient", env.patient.address, "--reason", "3", "--key-env", EMERGENCY_KEY)
    assert result.code == 0, result.err
    assert "reason code 3" in result.out
    result = run(
        capsys, "access", "record", "--record-id", "0x" + rid.hex(), "--scopes", "safety-profile",
        "--purpose", "ETREAT", "--key-env", EMERGENCY_KEY,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "basis BREAK_GLASS" in result.out


@on_anvil
def test_role_grant_check_and_revoke(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    account = KeySigner.create().address
    assert run(capsys, "role", "check", "BREAK_GLASS_ROLE", account).code == 3
    assert run(capsys, "role", "grant", "BREAK_GLASS_ROLE", account, "--key-env", ADMIN_KEY).code == 0
    assert env.consent.has_role("BREAK_GLASS_ROLE", account)
    assert run(capsys, "role", "check", "BREAK_GLASS_ROLE", account).code == 0
    assert run(capsys, "role", "revoke", "BREAK_GLASS_ROLE", account, "--key-env", ADMIN_KEY).code == 0
    assert not env.consent.has_role("BREAK_GLASS_ROLE", account)
    assert_one_line_error(run(capsys, "role", "check", "DEFAULT_ADMIN_ROLE", account), "ValidationError")
    assert run(capsys, "role", "check", "DEFAULT_ADMIN_ROLE", env.node.admin.address, "--contract", "records").code == 0


@on_anvil
def test_guardian_set_directly_and_by_an_offline_signature(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    funded = env.node.funded_patient.address
    guardian = KeySigner.create().address
    assert run(capsys, "guardian", "set", guardian, "--until", "1y", "--key-env", FUNDED_PATIENT_KEY).code == 0
    assert env.consent.is_guardian(funded, guardian)
    assert run(capsys, "guardian", "remove", guardian, "--key-env", FUNDED_PATIENT_KEY).code == 0
    assert not env.consent.is_guardian(funded, guardian)
    out = tmp_path / "guardian.json"
    result = run(
        capsys, "consent", "sign", "guardian", guardian, "--until", "90d", "--key-env", PATIENT_KEY, "--out", str(out)
    )
    assert result.code == 0, result.err
    assert run(capsys, "consent", "relay", str(out), "--key-env", SITE_KEY).code == 0
    assert env.consent.is_guardian(env.patient.address, guardian)


@on_anvil
def test_keystore_signer_takes_its_password_from_the_environment(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keystore = tmp_path / "site.json"  # a cheap KDF keeps the test fast; decryption is the same code
    keystore.write_text(
        json.dumps(Account.encrypt(env.node.site.account.key, "synthetic password", kdf="pbkdf2", iterations=1000))
    )
    new_site = KeySigner.create().address
    register = ["custodian", "register", new_site, "--gateway-url", GATEWAY, "--keystore", str(keystore)]
    monkeypatch.setenv("RADLEDGER_KEYSTORE_PASSWORD", "wrong password")
    assert_one_line_error(run(capsys, *register), "SignerError")
    monkeypatch.setenv("RADLEDGER_KEYSTORE_PASSWORD", "synthetic password")
    # the site holds no registrar role: the error proves the keystore's key signed
    result = run(capsys, *register)
    assert_one_line_error(result, "AccessControlUnauthorizedAccount")
    assert f"account={env.node.site.address}" in result.err


@on_anvil
def test_node_refusals_and_missing_configuration_are_one_line_errors(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = ["consent", "grant", "--grantee", env.node.grantee.address, "--record-id", "all", "--scopes", "images",
             "--purposes", "TREAT", "--until", "30d"]  # fmt: skip
    assert_one_line_error(run(capsys, *grant, "--key-env", UNFUNDED_KEY), "ChainError")  # no ETH for gas
    assert_one_line_error(run(capsys, *grant, "--key-env", "RL_TEST_NOT_SET"), "SignerError")
    monkeypatch.delenv("RADLEDGER_CONSENT")
    assert_one_line_error(run(capsys, *grant, "--key-env", FUNDED_PATIENT_KEY), "ConfigurationError")
    assert (
        run(capsys, *grant, "--key-env", FUNDED_PATIENT_KEY, "--consent", env.node.deployment.consent_registry).code
        == 0
    )
    monkeypatch.delenv("RADLEDGER_RPC_URL")
    assert_one_line_error(run(capsys, "custodian", "show", env.node.site.address), "ConfigurationError")
    assert_one_line_error(
        run(capsys, "custodian", "show", env.node.site.address, "--rpc-url", "ftp://127.0.0.1"), "ConfigurationError"
    )
    # the RecordRegistry address is found through the ConsentRegistry when not given
    monkeypatch.delenv("RADLEDGER_RECORDS")
    shown = run(
        capsys, "custodian", "show", env.node.site.address, "--rpc-url", env.node.url,
        "--consent", env.node.deployment.consent_registry, "--json",
    )  # fmt: skip
    assert json.loads(shown.out)["gatewayUrl"] == GATEWAY
