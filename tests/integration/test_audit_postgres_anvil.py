"""One PostgreSQL database, several writers and a reader: two `radledger audit sync` processes for two
deployments at once, a reader reading while they run, and two syncs of the same deployment at once.
Nothing is lost, nothing is counted twice, and a reader never sees half a range."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from web3 import Web3

from radledger.audit import AuditIndex, sync
from radledger.audit.store import AmbiguousDeployment, UnknownDeployment
from radledger.chain.connection import connect
from radledger.chain.events.ranges import RangePlanner
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_core
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD
from tests.integration.conftest import CHAIN_ID, AnvilNode
from tests.postgres_server import PostgresServer

HISTORIES = 6


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    anvil = AnvilNode().start()
    try:
        yield anvil
    finally:
        anvil.stop()


def tx(w3: Web3, index: int) -> Transactor:
    return Transactor(w3, UnlockedAccount(w3.eth.accounts[index]), poll_latency=0.01, timeout=30)


def make_deployment(w3: Web3, label: str) -> Deployment:
    """A deployment with a custodian, then records, grants (one block each), accesses and a break-glass."""
    accounts = list(w3.eth.accounts)
    deployment = deploy_core(tx(w3, 0))
    deployment.records(w3, tx(w3, 0)).register_custodian(accounts[1], "https://gateway.site.example/dicomweb")
    deployment.consent(w3, tx(w3, 0)).grant_role("BREAK_GLASS_ROLE", accounts[9])
    for n in range(HISTORIES):
        local = Web3.keccak(text=f"postgres audit: {label} {n}")
        patient = accounts[3]
        site_records = deployment.records(w3, tx(w3, 1))
        site_records.register(local, patient, RecordKind.IMAGING_STUDY, local)
        rid = site_records.record_id_of(local)  # record ids are bound to their custodian
        as_patient = deployment.consent(w3, tx(w3, 3))
        for i in range(4):
            as_patient.grant(patient, accounts[4 + i], rid if i % 2 else WILDCARD, Scope.IMAGES, Purpose.TREAT)
        deployment.consent(w3, tx(w3, 4)).record_access(accounts[4], rid, Scope.IMAGES, Purpose.TREAT)
    deployment.consent(w3, tx(w3, 9)).break_glass(accounts[3], 2)
    return deployment


@pytest.fixture(scope="module")
def two(node: AnvilNode) -> tuple[Web3, Deployment, Deployment]:
    """Two deployments on one chain, their histories interleaved in block order."""
    w3 = connect(node.url, expected_chain_id=CHAIN_ID)
    return w3, make_deployment(w3, "first"), make_deployment(w3, "second")


def server_or_skip(postgres_server: PostgresServer | None) -> PostgresServer:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed (set RADLEDGER_REQUIRE_POSTGRES=1 to fail instead)")
    return postgres_server


def reference(w3: Web3, deployment: Deployment) -> list[tuple[int, int, str]]:
    """Every event of the deployment, from a sync into memory: (block, log index, tx hash)."""
    index = AuditIndex()
    sync(w3, index, deployment, confirmations=0)
    return [(r.block_number, r.log_index, r.tx_hash) for r in index.events()]


def selector(url: str, deployment: Deployment) -> str:
    return f"{url}?deployment={CHAIN_ID}:{deployment.consent_registry}"


def cli_sync(node: AnvilNode, url: str, deployment: Deployment) -> subprocess.Popen[str]:
    argv = [
        sys.executable, "-c", "import sys; from radledger.cli import main; sys.exit(main())",
        "audit", "sync", "--rpc-url", node.url, "--db", url, "--no-progress", "--confirmations", "0",
        "--records", deployment.record_registry, "--consent", deployment.consent_registry,
        "--initial-range", "1", "--max-range", "1",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def test_two_sync_processes_of_two_deployments_and_a_reader_share_one_database(
    node: AnvilNode, two: tuple[Web3, Deployment, Deployment], postgres_server: PostgresServer | None
) -> None:
    server = server_or_skip(postgres_server)
    w3, first, second = two
    expected = {d.consent_registry: reference(w3, d) for d in (first, second)}
    url = server.create_database("two_deployments")
    seen: list[tuple[str, int, int]] = []  # (deployment, checkpoint, events) of every consistent read
    broken: list[str] = []
    done = threading.Event()

    def read() -> None:
        """Read both deployments over and over while they sync: each read is one snapshot, and what it
        holds is exactly the reference's events up to its checkpoint (whole ranges, nothing twice)."""
        while not done.is_set():
            for deployment in (first, second):
                try:
                    with AuditIndex(selector(url, deployment)) as index, index.snapshot():
                        checkpoint = index.checkpoint
                        got = [(r.block_number, r.log_index, r.tx_hash) for r in index.events()]
                except UnknownDeployment:
                    continue  # its sync has not registered it yet
                want = [e for e in expected[deployment.consent_registry] if e[0] <= checkpoint]
                if got != want:
                    broken.append(f"{deployment.consent_registry} at block {checkpoint}: {len(got)} != {len(want)}")
                seen.append((deployment.consent_registry, checkpoint, len(got)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        processes = [cli_sync(node, url, d) for d in (first, second)]
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        done.set()
        reader.join(timeout=60)
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert broken == []
    head = w3.eth.block_number
    during = {d for d, checkpoint, _ in seen if 0 <= checkpoint < head}
    assert during, "the reader read while the syncs ran"
    for deployment in (first, second):
        with AuditIndex(selector(url, deployment)) as index:
            assert [(r.block_number, r.log_index, r.tx_hash) for r in index.events()] == expected[
                deployment.consent_registry
            ]
            assert index.checkpoint == head
    with pytest.raises(AmbiguousDeployment) as raised:
        AuditIndex(url).count()
    keys = sorted(f"{CHAIN_ID}:{min(d.record_registry.lower(), d.consent_registry.lower())}" for d in (first, second))
    assert raised.value.deployments == tuple(keys) and raised.value.location == url


def test_two_syncs_of_the_same_deployment_at_once_count_each_event_once(
    node: AnvilNode, two: tuple[Web3, Deployment, Deployment], postgres_server: PostgresServer | None
) -> None:
    server = server_or_skip(postgres_server)
    w3, first, _ = two
    expected = reference(w3, first)
    url = server.create_database("same_deployment")
    target = first
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            own = connect(node.url, expected_chain_id=CHAIN_ID)
            with AuditIndex(url) as index:
                reports.append(sync(own, index, target, confirmations=0, planner=RangePlanner(1, 1)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and time.perf_counter() - started < 300
    assert sum(r.events for r in reports) == len(expected)  # the second waited, then found nothing left
    with AuditIndex(url) as index:
        assert [(r.block_number, r.log_index, r.tx_hash) for r in index.events()] == expected
        assert index.count() == len(expected)
