"""The gateway's local store (study map, access log, salt binding) and its configuration file."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain.connection import tester_private_keys as chain_keys
from radledger.chain.errors import ConfigurationError
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.deployment.manifest import ContractRecord, Manifest, manifest_path, save_manifest
from radledger.gateway import context as gateway_context
from radledger.gateway.config import load_settings
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import SaltMismatch
from radledger.gateway.ingest import compare, load_patient_map
from radledger.gateway.store import GatewayStore, InstanceDigest, salt_id
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.types import AccessBasis
from tests.conftest import Actors, named_key
from tests.support import OTHER_SITE_SALT, SITE_SALT, register_record, synthetic_uid

PATIENT = named_key("patient").address
GRANTEE = named_key("radiologist").address
RECORD = b"\x11" * 32
HASH = b"\x22" * 32


def instances(*pairs: tuple[str, int]) -> list[InstanceDigest]:
    return [InstanceDigest(uid, "2.25.9", bytes([n]) * 32) for uid, n in pairs]


@pytest.fixture
def store(tmp_path: Path) -> GatewayStore:
    return GatewayStore(tmp_path / "gateway.sqlite", SITE_SALT)


def test_a_study_is_mapped_to_its_record_patient_and_instances(store: GatewayStore) -> None:
    uid = synthetic_uid("store study")
    entry = store.save_study(uid, RECORD, PATIENT, HASH, 1, instances(("2.25.1", 1), ("2.25.2", 2)))
    assert store.study(uid) == entry
    assert (entry.record_id, entry.patient, entry.content_hash, entry.version) == (RECORD, PATIENT, HASH, 1)
    assert store.study_of_record(RECORD) == entry
    assert set(store.instances(uid)) == {"2.25.1", "2.25.2"}
    amended = store.save_study(uid, RECORD, PATIENT, b"\x33" * 32, 2, instances(("2.25.1", 1)))
    assert amended.registered_at == entry.registered_at and amended.version == 2
    assert set(store.instances(uid)) == {"2.25.1"}
    assert store.study(synthetic_uid("unknown")) is None


def test_a_store_refuses_another_site_salt(tmp_path: Path) -> None:
    GatewayStore(tmp_path / "g.sqlite", SITE_SALT).close()
    GatewayStore(tmp_path / "g.sqlite", SITE_SALT).close()  # the same salt again is fine
    with pytest.raises(SaltMismatch) as exc:
        GatewayStore(tmp_path / "g.sqlite", OTHER_SITE_SALT)
    assert (exc.value.stored, exc.value.given) == (salt_id(SITE_SALT), salt_id(OTHER_SITE_SALT))
    assert SITE_SALT.hex() not in (tmp_path / "g.sqlite").read_bytes().hex()  # only a fingerprint is kept


def test_one_access_per_grantee_record_and_purpose_goes_on_chain_per_window(store: GatewayStore) -> None:
    study = store.save_study(synthetic_uid("trail"), RECORD, PATIENT, HASH, 1, [])
    log = store.log_access
    first = log(GRANTEE, study, Purpose.TREAT, AccessBasis.RECORD_GRANT, "study", 200, 3600, now=1000)
    again = log(GRANTEE, study, Purpose.TREAT, AccessBasis.RECORD_GRANT, "frames", 200, 3600, now=1500)
    other_purpose = log(GRANTEE, study, Purpose.HRESCH, AccessBasis.RECORD_GRANT, "study", 200, 3600, now=1500)
    refused = log(GRANTEE, study, Purpose.HOPERAT, AccessBasis.NONE, "study", 403, 3600, now=1500)
    later = log(GRANTEE, study, Purpose.TREAT, AccessBasis.RECORD_GRANT, "study", 200, 3600, now=4601)
    assert [a.chain_due for a in (first, again, other_purpose, refused, later)] == [True, False, True, False, True]

    store.set_chain_result(later.id, None, None, "ChainError: node down")
    retried = log(GRANTEE, study, Purpose.TREAT, AccessBasis.RECORD_GRANT, "study", 200, 3600, now=4700)
    assert retried.chain_due  # a failed recording does not count: the next access tries again
    store.set_chain_result(first.id, "0xabc", 7)
    rows = {a.id: a for a in store.accesses()}
    assert (rows[first.id].tx_hash, rows[first.id].block, rows[first.id].chain_error) == ("0xabc", 7, None)
    assert [a.id for a in store.accesses(chain_due_only=True)] == [first.id, other_purpose.id, later.id, retried.id]
    assert (rows[refused.id].status, rows[refused.id].basis) == (403, AccessBasis.NONE)


def test_the_instance_comparison_tells_amendments_from_tampering() -> None:
    registered = {d.sop_uid: d for d in instances(("2.25.1", 1), ("2.25.2", 2), ("2.25.3", 3))}
    current = {d.sop_uid: d for d in instances(("2.25.1", 1), ("2.25.2", 9), ("2.25.4", 4))}
    assert compare(registered, current) == (("2.25.2",), ("2.25.3",), ("2.25.4",))
    assert compare(registered, registered) == ((), (), ())


def test_the_patient_map_reads_patient_ids_and_addresses(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(f"PatientID,address\n# synthetic\nSYN0001,{PATIENT.lower()}\n\nSYN0002 , {GRANTEE}\n")
    assert load_patient_map(path) == {"SYN0001": PATIENT, "SYN0002": GRANTEE}


# ---------------------------------------------------------------------- configuration


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(textwrap.dedent(text))
    return path


BASE = """
[gateway]
public_url = "https://gateway.site-a.example/dicomweb/"
state_dir = "state"
cors_origins = ["https://viewer.site-a.example"]
consent_cache_seconds = 2
record_on_chain = true

[upstream]
url = "http://127.0.0.1:8042/dicom-web"
username = "radledger-gateway"
password_env = "RL_TEST_UPSTREAM_PASSWORD"

[chain]
rpc_url = "http://127.0.0.1:8545"
manifest = "deployments/31337.json"

[custodian]
key_env = "RL_TEST_SITE_KEY"
salt_file = "site.salt"
"""


def test_a_configuration_file_is_read_with_paths_relative_to_it(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, BASE), environ={"RL_TEST_UPSTREAM_PASSWORD": "s3cret"})
    assert settings.audience == "https://gateway.site-a.example/dicomweb"
    assert settings.path_prefix == "/dicomweb"
    assert settings.state_dir == tmp_path / "state" and settings.salt_file == tmp_path / "site.salt"
    assert settings.manifest == tmp_path / "deployments" / "31337.json"
    assert settings.upstream.password == "s3cret" and settings.upstream.username == "radledger-gateway"
    assert settings.cors_origins == ("https://viewer.site-a.example",)
    assert (settings.consent_cache_seconds, settings.record_on_chain, settings.verify_content) == (2.0, True, True)


@pytest.mark.parametrize(
    ("section", "line"),
    [("upstream", 'password = "s3cret"'), ("custodian", 'private_key = "0x01"'), ("custodian", 'salt = "0x02"')],
)
def test_secrets_written_in_the_configuration_are_refused(tmp_path: Path, section: str, line: str) -> None:
    text = BASE.replace(f"[{section}]\n", f"[{section}]\n{line}\n")
    with pytest.raises(ConfigurationError) as exc:
        load_settings(write_config(tmp_path, text), environ={"RL_TEST_UPSTREAM_PASSWORD": "x"})
    assert "never goes in the configuration" in str(exc.value)


def test_a_missing_password_variable_or_public_url_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(write_config(tmp_path, BASE), environ={})
    with pytest.raises(ConfigurationError):
        load_settings(write_config(tmp_path, BASE.replace("public_url", "public_urls")), environ={})


# ------------------------------------------------------------------------ start blocks


def _trail_setup(w3: Web3, deployment: Deployment, actors: Actors, tmp_path: Path) -> tuple[Path, int]:
    """A study of the site's map accessed on chain (recorded by the site), and a gateway configuration
    whose manifest says ConsentRegistry was created in the block after the access; returns the
    configuration and that block."""
    uid = synthetic_uid("start block study")
    rid = register_record(deployment.records(w3, actors.site), actors.patient.address, "start block study")
    deployment.consent(w3, actors.patient).grant(
        actors.patient.address, actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT
    )
    deployment.consent(w3, actors.site).record_access(actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    store = GatewayStore(tmp_path / "state" / "gateway.sqlite")
    store.save_study(uid, rid, actors.patient.address, HASH, 1, instances(("2.25.1", 1)))
    store.close()
    consent_start = w3.eth.block_number + 1
    chain_id = int(w3.eth.chain_id)
    manifest = Manifest(
        chain_id=chain_id, network="test", deployer=actors.admin.address, compiler_version="", options={}
    )
    for name, address, block in [
        ("RecordRegistry", deployment.record_registry, 1),
        ("ConsentRegistry", deployment.consent_registry, consent_start),
    ]:
        assert address is not None
        manifest.contracts[name] = ContractRecord(address, None, block, [], f"contracts/{name}.sol", "0", "0x00")
    save_manifest(manifest, manifest_path(tmp_path / "deployments", chain_id))
    config = write_config(
        tmp_path,
        f"""
        [gateway]
        public_url = "https://gateway.site-a.example/dicomweb"
        state_dir = "state"

        [upstream]
        url = "http://127.0.0.1:8042/dicom-web"

        [chain]
        rpc_url = "http://in-process.invalid:8545"
        manifest = "deployments/{chain_id}.json"

        [custodian]
        key_env = "RL_TEST_GATEWAY_SITE_KEY"
        """,
    )
    return config, consent_start


@pytest.fixture
def site_key(w3: Web3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RL_TEST_GATEWAY_SITE_KEY", chain_keys(w3)[1].hex())
    monkeypatch.setattr(gateway_context, "connect", lambda url, *a, **k: w3)


def test_the_gateway_carries_the_manifests_start_blocks_to_its_clients(
    w3: Web3, deployment: Deployment, actors: Actors, tmp_path: Path, site_key: None
) -> None:
    config, start = _trail_setup(w3, deployment, actors, tmp_path)
    ctx = GatewayContext.from_settings(load_settings(config))
    try:
        assert ctx.deployment.start_blocks == {"RecordRegistry": 1, "ConsentRegistry": start}
        assert (ctx.records().start_block, ctx.consent().start_block) == (1, start)
        assert ctx.from_block == start
    finally:
        ctx.close()
    with_from_block = replace(load_settings(config), from_block=0)
    ctx = GatewayContext.from_settings(with_from_block)
    try:
        assert ctx.from_block == 0  # [chain] from_block, when given, comes first
    finally:
        ctx.close()


def test_reconcile_reads_the_trail_from_the_consent_registrys_start_block(
    w3: Web3,
    deployment: Deployment,
    actors: Actors,
    tmp_path: Path,
    site_key: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The manifest says ConsentRegistry starts after the recorded access: reconcile does not read it
    (from block 0 it would, and would find it unexplained: the gateway's log never served it)."""
    config, _ = _trail_setup(w3, deployment, actors, tmp_path)
    assert main(["gateway", "reconcile", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unexplained"] == []
    assert main(["gateway", "reconcile", "--config", str(config), "--from-block", "0", "--json"]) == 3
    assert len(json.loads(capsys.readouterr().out)["unexplained"]) == 1
