"""Fixtures: artifacts (compiled once per run, cached by source hash) → chain → deployment,
with every test isolated by a chain snapshot taken before it and reverted after it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from web3 import Web3

from radledger.chain import errors
from radledger.chain.artifact_dir import ARTIFACTS_DIR, ARTIFACTS_ENV
from radledger.chain.artifacts import artifact_names, load_artifact
from radledger.chain.connection import DEFAULT_START_TIMESTAMP, in_process_chain, tester_private_keys
from radledger.chain.signers import KeySigner, UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_core
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.records.client import RecordRegistryClient
from tests.audit_backends import audit_backend, module_indexes, new_index, postgres_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis profiles: "ci" keeps the suite well inside CI's limit; "long" for local runs
# (HYPOTHESIS_PROFILE=long pytest).
settings.register_profile(
    "ci", max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "long", max_examples=400, stateful_step_count=80, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _fresh_artifacts_dir() -> Path:
    """The committed artifacts when they match the sources; otherwise a compile cached by source hash."""
    if not (ROOT / "contracts").is_dir() or not (ROOT / "node_modules" / "solc").is_dir():
        return ARTIFACTS_DIR
    from radledger.chain.compiler import build_input, stale_reasons, write_artifacts

    if not stale_reasons(ROOT, ARTIFACTS_DIR, recompile=False):
        return ARTIFACTS_DIR
    cache = ROOT / ".cache" / "artifacts" / build_input(ROOT).source_hash
    if not (cache / "standard-input.json").is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix="compiling-"))
        write_artifacts(ROOT, tmp)
        try:
            tmp.rename(cache)
        except OSError:  # another run compiled the same sources first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    return cache


ARTIFACTS = _fresh_artifacts_dir()
os.environ[ARTIFACTS_ENV] = str(ARTIFACTS)
for _name in artifact_names(ARTIFACTS):
    errors.register_abi(load_artifact(_name, ARTIFACTS).abi)


def named_key(label: str) -> KeySigner:
    """A deterministic synthetic identity (never a real person)."""
    return KeySigner.from_key(keccak(text=f"radledger test identity: {label}"))


@dataclass(frozen=True)
class Actors:
    """The accounts of the test story. Transactors send; `patient` and `guardian` sign offline."""

    admin: Transactor
    site: Transactor
    other_site: Transactor
    grantee: Transactor
    stranger: Transactor
    emergency: Transactor
    patient_signer: KeySigner
    guardian_signer: KeySigner
    patient: Transactor  # funded, for tests of direct (non-relayed) patient actions
    guardian: Transactor


@pytest.fixture(scope="session")
def chain() -> Web3:
    return in_process_chain(DEFAULT_START_TIMESTAMP)


@pytest.fixture(scope="session")
def actors(chain: Web3) -> Actors:
    keys = tester_private_keys(chain)
    accounts = chain.eth.accounts
    patient = named_key("patient")
    guardian = named_key("guardian")
    admin = Transactor(chain, UnlockedAccount(accounts[0]))
    for funded in (patient, guardian):
        chain.eth.wait_for_transaction_receipt(
            chain.eth.send_transaction({"from": accounts[0], "to": funded.address, "value": 10**18})
        )
    return Actors(
        admin=admin,
        site=Transactor(chain, KeySigner.from_key(keys[1])),
        other_site=Transactor(chain, KeySigner.from_key(keys[2])),
        grantee=Transactor(chain, UnlockedAccount(accounts[3])),
        stranger=Transactor(chain, UnlockedAccount(accounts[4])),
        emergency=Transactor(chain, UnlockedAccount(accounts[5])),
        patient_signer=patient,
        guardian_signer=guardian,
        patient=Transactor(chain, patient),
        guardian=Transactor(chain, guardian),
    )


SITE_URL = "https://gateway.site-a.example/dicomweb"
OTHER_SITE_URL = "https://gateway.site-b.example/dicomweb"


@pytest.fixture(scope="session")
def deployment(chain: Web3, actors: Actors) -> Deployment:
    """Deployed once per session: two custodians registered, one break-glass account."""
    dep = deploy_core(actors.admin, artifacts_dir=ARTIFACTS)
    records = dep.records(chain, actors.admin)
    records.register_custodian(actors.site.address, SITE_URL)
    records.register_custodian(actors.other_site.address, OTHER_SITE_URL)
    dep.consent(chain, actors.admin).grant_role("BREAK_GLASS_ROLE", actors.emergency.address)
    return dep


@pytest.fixture
def w3(chain: Web3, deployment: Deployment) -> Iterator[Web3]:
    """The session chain, reverted to its state before the test when the test ends."""
    snapshot = chain.testing.snapshot()
    try:
        yield chain
    finally:
        chain.testing.revert(snapshot)


@pytest.fixture
def records(w3: Web3, deployment: Deployment, actors: Actors) -> RecordRegistryClient:
    """RecordRegistry, sending as the first site."""
    return deployment.records(w3, actors.site)


@pytest.fixture
def consent(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    """ConsentRegistry, sending as the first site (the relayer of patients' signatures)."""
    return deployment.consent(w3, actors.site)
