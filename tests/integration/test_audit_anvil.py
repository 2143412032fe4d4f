"""The audit index against a real node: anvil behind a JSON-RPC proxy that refuses log queries the way public
providers do (too many blocks, too many results, HTTP 413, no block times in logs), a reorg made with
evm_snapshot / evm_revert, and `radledger audit sync` from a deployment manifest."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from radledger.audit import AuditIndex, sync
from radledger.chain.connection import connect
from radledger.chain.events.ranges import RangePlanner
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy, deploy_core
from radledger.deployment.manifest import manifest_path
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD
from tests.audit_backends import NewIndex
from tests.integration.conftest import CHAIN_ID, AnvilNode
from tests.integration.refusing_proxy import MAX_BLOCKS, MAX_LOGS, LimitingProxy, Limits

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    """A node of this module only: the reorg test rewinds its chain."""
    anvil = AnvilNode().start()
    try:
        yield anvil
    finally:
        anvil.stop()


@dataclass
class Chain:
    w3: Web3
    deployment: Deployment
    accounts: list[str]

    def tx(self, index: int) -> Transactor:
        return Transactor(self.w3, UnlockedAccount(self.accounts[index]), poll_latency=0.01, timeout=30)

    def history(self, label: str, grants: int = 6) -> None:
        """A record, `grants` grants by its patient (one block each), an access and a break-glass."""
        local = Web3.keccak(text=f"audit anvil record: {label}")
        patient = self.accounts[3]
        records = self.deployment.records(self.w3, self.tx(1))
        records.register(local, patient, RecordKind.IMAGING_STUDY, local)
        rid = records.record_id_of(local)  # bound to the custodian (issue 11)
        as_patient = self.deployment.consent(self.w3, self.tx(3))
        for i in range(grants):
            grantee = self.accounts[4 + i % 4]
            as_patient.grant(patient, grantee, rid if i % 2 else WILDCARD, Scope.IMAGES, Purpose.TREAT)
        self.deployment.consent(self.w3, self.tx(4)).record_access(self.accounts[4], rid, Scope.IMAGES, Purpose.TREAT)
        self.deployment.consent(self.w3, self.tx(9)).break_glass(patient, 3)


@pytest.fixture(scope="module")
def story(node: AnvilNode) -> Chain:
    w3 = connect(node.url, expected_chain_id=CHAIN_ID)
    accounts = list(w3.eth.accounts)
    chain = Chain(w3, Deployment(CHAIN_ID, "0x" + "11" * 20, "0x" + "22" * 20), accounts)
    admin = chain.tx(0)
    deployment = deploy_core(admin)
    deployment.records(w3, admin).register_custodian(accounts[1], "https://gateway.site.example/dicomweb")
    deployment.consent(w3, admin).grant_role("BREAK_GLASS_ROLE", accounts[9])
    chain.deployment = deployment
    for n in range(3):
        chain.history(f"base {n}")
    return chain


def rows(index: AuditIndex) -> list[tuple[Any, ...]]:
    return [
        (r.position, r.block_hash, r.tx_hash, r.timestamp, r.event, json.dumps(str(r.args))) for r in index.events()
    ]


# -------------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "limits",
    [Limits("geth"), Limits("alchemy"), Limits("infura"), Limits("http"), Limits("geth", strip_timestamps=True)],
    ids=["geth", "alchemy", "infura", "http-413", "no-block-times"],
)
def test_the_index_through_a_refusing_provider_equals_a_direct_sync(
    story: Chain, limits: Limits, new_index: NewIndex
) -> None:
    limits = dataclasses.replace(limits, queries=[])  # the parameter is shared by both backends' runs
    target = story.deployment
    direct = new_index()
    sync(story.w3, direct, target)
    with LimitingProxy(f"http://127.0.0.1:{story.w3.provider.endpoint_uri.rsplit(':', 1)[1]}", limits) as proxy:  # type: ignore[attr-defined]
        limited = new_index()
        report = sync(connect(proxy.url), limited, target, planner=RangePlanner(initial=64, maximum=512, target_logs=4))
    assert rows(limited) == rows(direct) and direct.count() > 3 * MAX_LOGS
    assert report.refusals > 0
    refused = {kind for _, _, kind in limits.queries if kind != "ok"}
    assert refused == {"range", "results"}
    accepted = [(a, b) for a, b, kind in limits.queries if kind == "ok"]
    assert all(b - a + 1 <= MAX_BLOCKS for a, b in accepted)
    covered = sorted(accepted)
    assert covered[0][0] == 0 and covered[-1][1] == report.to_block
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(covered)), "no gap, no overlap"


@pytest.fixture
def restored(story: Chain) -> Iterator[Chain]:
    """The story's chain as it was before the test (both backends' runs of a test see the same chain)."""
    outer = story.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield story
    story.w3.provider.make_request("evm_revert", [outer])  # type: ignore[arg-type]


def test_a_reorg_is_rewound_and_the_index_ends_correct(restored: Chain, new_index: NewIndex) -> None:
    story = restored
    w3, target = story.w3, story.deployment
    fork_point = w3.eth.block_number
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    story.history("fork A", grants=8)
    index = new_index()
    sync(w3, index, target, confirmations=0)
    orphaned = {r.tx_hash for r in index.events() if r.block_number > fork_point}
    assert orphaned
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    assert w3.eth.block_number == fork_point
    story.history("fork B", grants=2)  # a different, shorter history
    assert w3.eth.block_number < max(r.block_number for r in index.events())

    report = sync(w3, index, target, confirmations=0)

    assert len(report.rewinds) == 1
    top, back = report.rewinds[0]
    assert top > w3.eth.block_number and back <= fork_point
    assert not orphaned & {r.tx_hash for r in index.events()}
    fresh = new_index()
    sync(w3, fresh, target, confirmations=0)
    assert rows(index) == rows(fresh)


def test_cli_sync_reads_the_manifest_then_answers(
    node: AnvilNode, restored: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str], new_index: NewIndex
) -> None:
    w3 = connect(node.url, expected_chain_id=CHAIN_ID)
    deployer = Transactor(w3, UnlockedAccount(w3.eth.accounts[0]), poll_latency=0.01, timeout=30)
    result = deploy(deployer, manifest_path=manifest_path(tmp_path, CHAIN_ID), network="anvil")
    deployment = Deployment.from_manifest(result.manifest)
    chain = Chain(w3, deployment, list(w3.eth.accounts))
    deployment.records(w3, deployer).register_custodian(chain.accounts[1], "https://gateway.site.example/dicomweb")
    deployment.consent(w3, deployer).grant_role("BREAK_GLASS_ROLE", chain.accounts[9])
    chain.history("cli")
    db = new_index.location("cli")
    with LimitingProxy(node.url, Limits("infura")) as proxy:
        code = main(
            ["audit", "sync", "--rpc-url", proxy.url, "--deployments-dir", str(tmp_path), "--db", db,
             "--no-progress", "--initial-range", "64"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"auditing {', '.join(sorted(result.manifest.contracts))} on chain 31337" in err
    assert {"ConsentRegistry", "RecordRegistry"} <= set(result.manifest.contracts)
    assert "the node refused" in out and "ranges (narrowed)" in out
    with AuditIndex(db) as index:
        assert index.count("ConsentGranted") == 6 and index.checkpoint == w3.eth.block_number
        start = min(r.block_number for r in index.events())
    assert start == result.manifest.first_block  # read from the contracts' creation, not from genesis
    code = main(["audit", "break-glass", "--db", db, "--format", "jsonl"])
    out, _ = capsys.readouterr()
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (code, row["reason_code"], row["account"]) == (0, 3, chain.accounts[9])
    code = main(["audit", "sync", "--rpc-url", node.url, "--deployments-dir", str(tmp_path), "--db", db])
    out, _ = capsys.readouterr()
    assert code == 0 and "indexed 0 events" in out  # resumed: nothing new
