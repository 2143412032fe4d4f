"""The gateway as a site and a requester run it: `radledger gateway ...` and `radledger images ...`
against anvil (a deployment manifest), a real Orthanc, and `radledger gateway serve` as its own
process on a real port, with every key in an environment variable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydicom
import pytest

from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy
from radledger.deployment.manifest import manifest_path
from radledger.deployment.setup_file import parse_setup
from radledger.gateway.orthanc import LocalOrthanc, find_orthanc, free_port, missing_reason
from radledger.gateway.orthanc import required as orthanc_required
from radledger.gateway.synthetic import synthetic_study
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from tests.integration.conftest import CHAIN_ID, AnvilNode, dev_key

SITE, PATIENT, GRANTEE = dev_key(6), dev_key(7), dev_key(8)
KEYS = {"RL_TEST_GW_SITE_KEY": SITE, "RL_TEST_GW_GRANTEE_KEY": GRANTEE}
RADLEDGER = Path(sys.executable).with_name("radledger")


@dataclass(frozen=True)
class SiteSetup:
    config: Path
    public_url: str
    port: int
    orthanc: LocalOrthanc
    consent: ConsentRegistryClient
    anvil: AnvilNode


@pytest.fixture(scope="module")
def site(anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteSetup]:
    if find_orthanc() is None:
        if orthanc_required():
            pytest.fail(missing_reason(), pytrace=False)
        pytest.skip(missing_reason())
    folder = tmp_path_factory.mktemp("gateway-site")
    orthanc = LocalOrthanc.start(folder / "orthanc", stable_age=1)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}/dicomweb"
    manifest = manifest_path(folder / "deployments", CHAIN_ID)
    setup = parse_setup({"custodians": [{"account": SITE.address, "gateway_url": public_url}]})
    deploy(anvil.transactor(0), manifest_path=manifest, network="anvil", setup=setup)
    (folder / "patients.csv").write_text(f"PatientID,address\nSYN-CLI-1,{PATIENT.address}\n")
    (folder / "upstream.password").write_text(orthanc.password + "\n")
    config = folder / "gateway.toml"
    config.write_text(
        f"""
[gateway]
public_url = "{public_url}"
listen_port = {port}
state_dir = "state"
cors_origins = ["https://viewer.example"]
consent_cache_seconds = 1
record_on_chain = true

[upstream]
url = "{orthanc.dicomweb_url}"
username = "{orthanc.username}"
password_file = "upstream.password"
orthanc_url = "{orthanc.url}"

[chain]
rpc_url = "{anvil.url}"
manifest = "{manifest.relative_to(folder)}"

[custodian]
key_env = "RL_TEST_GW_SITE_KEY"
salt_file = "site.salt"
patient_map = "patients.csv"
"""
    )
    assert main(["salt", "new", str(folder / "site.salt")]) == 0
    w3 = anvil.w3()
    consent = Deployment.from_manifest(manifest).clients(w3).consent
    try:
        yield SiteSetup(config, public_url, port, orthanc, consent, anvil)
    finally:
        orthanc.stop(kill=True)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, signer in KEYS.items():
        monkeypatch.setenv(name, "0x" + signer.account.key.hex().removeprefix("0x"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def served(site: SiteSetup) -> Iterator[subprocess.Popen[bytes]]:
    """`radledger gateway serve --config FILE` in its own process."""
    process = subprocess.Popen(
        [str(RADLEDGER), "gateway", "serve", "--config", str(site.config), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(site.public_url + "/.well-known/radledger-gateway", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"the gateway did not start: {output}")
        time.sleep(0.05)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_a_site_registers_serves_and_reconciles_and_a_requester_fetches(
    site: SiteSetup, served: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    study = synthetic_study(3, patient_id="SYN-CLI-1")
    uid = study[0].study_uid
    site.orthanc.upload(*(i.data for i in study))

    code, out, err = run(capsys, "gateway", "register-study", "--config", str(site.config), "--study", uid, "--json")
    assert code == 0, err
    registered = json.loads(out)
    assert (registered["action"], registered["patient"], registered["instances"]) == ("registered", PATIENT.address, 3)
    record = bytes.fromhex(registered["recordId"][2:])
    site.consent.with_sender(site.anvil.transactor(7)).grant(
        PATIENT.address, GRANTEE.address, record, Scope.IMAGES, Purpose.TREAT
    )

    requester = ["--gateway", site.public_url, "--key-env", "RL_TEST_GW_GRANTEE_KEY"]
    code, out, err = run(capsys, "images", "search", *requester, "--purpose", "TREAT", "--json")
    assert code == 0, err
    assert [s["0020000D"]["Value"][0] for s in json.loads(out)] == [uid]

    out_dir = tmp_path / "fetched"
    code, out, err = run(
        capsys, "images", "fetch", *requester, "--purpose", "TREAT", "--study", uid, "--out", str(out_dir),
        "--verify", "--rpc-url", site.anvil.url, "--consent", site.consent.address, "--json",
    )  # fmt: skip
    assert code == 0, err
    fetched = json.loads(out)
    assert fetched["verifiedOnChain"] is True and fetched["recordId"] == registered["recordId"]
    pixels = {i.sop_uid: i.pixels for i in study}
    for path in out_dir.iterdir():
        ds = pydicom.dcmread(path)
        assert ds.PixelData == pixels[ds.SOPInstanceUID]

    code, out, err = run(capsys, "images", "fetch", *requester, "--purpose", "HRESCH", "--study", uid, "--out",
                         str(tmp_path / "refused"))  # fmt: skip
    assert code == 1 and err.startswith("radledger: error: AccessRefused:") and "purpose-not-granted" in err

    deadline = time.monotonic() + 20  # the gateway records the access after answering
    while True:
        code, out, err = run(capsys, "gateway", "reconcile", "--config", str(site.config), "--json")
        report = json.loads(out)
        if report["matched"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 0, (out, err)
    assert report["consistent"] and report["dueOnChain"] == 1 and report["served"] == 1


def test_watch_registers_the_studies_the_pacs_reports_stable(
    site: SiteSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    study = synthetic_study(2, patient_id="SYN-CLI-1")
    uid = study[0].study_uid
    site.orthanc.upload(*(i.data for i in study))
    deadline = time.monotonic() + 20
    output = ""
    while uid not in output and time.monotonic() < deadline:
        code, out, err = run(capsys, "gateway", "watch", "--config", str(site.config), "--once")
        assert code == 0, err
        output += out
        time.sleep(0.25)
    assert f"registered study {uid} version 1 (2 instances)" in output
    code, out, err = run(capsys, "gateway", "studies", "--config", str(site.config), "--json")
    assert uid in {s["studyInstanceUid"] for s in json.loads(out)}


def test_a_configuration_with_an_inline_secret_is_refused(
    site: SiteSetup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(site.config.read_text().replace("[upstream]\n", '[upstream]\npassword = "inline"\n'))
    code, _, err = run(capsys, "gateway", "studies", "--config", str(bad))
    assert code == 1 and err.startswith("radledger: error: ConfigurationError:")
