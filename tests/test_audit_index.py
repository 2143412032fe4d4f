"""The event index: complete, decoded and with provenance; resumable; reorg-safe; never on eth-tester's
slow log filter; ranges that adapt to what providers refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3
from web3.providers.base import BaseProvider

from radledger.audit import AuditIndex, sync
from radledger.audit import syncer as sync_module
from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.chain.events.decoding import EventDecoder, RawLog
from radledger.chain.events.ranges import RangePlanner, RangeRefused, Refusal, RefusalKind, classify_refusal
from radledger.chain.events.sources import InProcessLogSource, LogBatch, RpcLogSource
from radledger.deployment.addresses import Deployment
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.records.client import RecordRegistryClient
from tests.audit_backends import NewIndex
from tests.conftest import Actors
from tests.support import register_record


def chain_logs(w3: Web3, addresses: set[str], first: int = 0) -> list[tuple[int, str, str, str]]:
    """Every log of `addresses` read the slow way (receipts through web3): (block, block hash, tx hash, data)."""
    out = []
    for number in range(first, w3.eth.block_number + 1):
        block = w3.eth.get_block(number)
        for tx in block["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx)
            for log in receipt["logs"]:
                if log["address"] in addresses:
                    out.append(
                        (
                            number,
                            block["hash"].to_0x_hex(),
                            receipt["transactionHash"].to_0x_hex(),
                            log["data"].to_0x_hex(),
                        )
                    )
    return out


def some_history(w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient, label: str) -> bytes:
    patient = actors.patient.address
    rid = register_record(records, patient, f"index: {label}")
    as_patient = deployment.consent(w3, actors.patient)
    as_patient.grant(patient, actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    as_patient.grant(patient, actors.other_site.address, WILDCARD, Scope.REPORTS, Purpose.HPAYMT)
    deployment.consent(w3, actors.grantee).record_access(actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    return rid


def test_sync_stores_every_log_of_the_deployment_decoded_with_its_provenance(
    w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient, new_index: NewIndex
) -> None:
    some_history(w3, deployment, actors, records, "provenance")
    index = new_index()
    report = sync(w3, index, deployment)
    addresses = set(deployment.addresses().values())
    expected = chain_logs(w3, addresses)
    stored = index.events()
    assert report.events == len(expected) == len(stored) > 0
    assert [(r.block_number, r.block_hash, r.tx_hash) for r in stored] == [e[:3] for e in expected]
    assert [r.timestamp for r in stored] == [int(w3.eth.get_block(r.block_number)["timestamp"]) for r in stored]
    assert all(r.event for r in stored), "every log of the deployment decodes"
    names = {(r.contract, r.event) for r in stored}
    assert {("RecordRegistry", "CustodianRegistered"), ("ConsentRegistry", "AccessRecorded")} <= names
    granted = index.events(["ConsentGranted"])[-1]
    assert granted.args["grantee"] == actors.other_site.address and granted.args["recordId"] == WILDCARD
    [(args_json, t1)] = index.raw_sql(
        "SELECT args, t1 FROM events WHERE block_number = ? AND log_index = ?", granted.position
    )
    assert json.loads(args_json)["recordId"] == "0x" + "00" * 32 and t1 == actors.patient.address
    assert index.checkpoint == w3.eth.block_number == report.to_block


def test_the_in_process_chain_is_read_without_eth_getlogs(
    w3: Web3,
    deployment: Deployment,
    actors: Actors,
    records: RecordRegistryClient,
    monkeypatch: pytest.MonkeyPatch,
    new_index: NewIndex,
) -> None:
    some_history(w3, deployment, actors, records, "no get_logs")
    provider = w3.provider
    real = provider.make_request

    def refuse_get_logs(method: Any, params: Any) -> Any:
        assert method not in ("eth_getLogs", "eth_newFilter"), "eth-tester's log filter is quadratic"
        return real(method, params)

    monkeypatch.setattr(provider, "make_request", refuse_get_logs)
    index = new_index()
    report = sync(w3, index, deployment)
    assert report.events == index.count() > 0
    assert isinstance(sync_module.source_for(w3), InProcessLogSource)


def test_a_sync_resumes_from_its_checkpoint_and_matches_one_full_sync(
    w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient, new_index: NewIndex
) -> None:
    some_history(w3, deployment, actors, records, "resume 1")
    middle = w3.eth.block_number
    some_history(w3, deployment, actors, records, "resume 2")
    path = new_index.location("resumed")
    with AuditIndex(path) as index:
        first = sync(w3, index, deployment, to_block=middle)
        assert index.checkpoint == middle
    with AuditIndex(path) as index:
        second = sync(w3, index, deployment)
        assert second.from_block == middle + 1
        resumed = [(r.position, r.tx_hash) for r in index.events()]
    full = new_index()
    sync(w3, full, deployment)
    assert resumed == [(r.position, r.tx_hash) for r in full.events()]
    assert first.events + second.events == full.count()


class FailingSource(InProcessLogSource):
    """Fails on its `fail_on`-th range: a crash in the middle of a sync."""

    def __init__(self, w3: Web3, fail_on: int) -> None:
        super().__init__(w3)
        self.fail_on = fail_on
        self.ranges = 0

    def fetch(self, start: int, end: int, addresses: Any, topics: Any = None) -> LogBatch:
        self.ranges += 1
        if self.ranges == self.fail_on:
            raise errors.ChainError("connection lost")
        return super().fetch(start, end, addresses, topics)


def test_an_interrupted_sync_keeps_whole_ranges_and_resumes(
    w3: Web3,
    deployment: Deployment,
    actors: Actors,
    records: RecordRegistryClient,
    monkeypatch: pytest.MonkeyPatch,
    new_index: NewIndex,
) -> None:
    some_history(w3, deployment, actors, records, "interrupted")
    monkeypatch.setattr(sync_module, "IN_PROCESS_CHUNK", 4)
    index = new_index()
    with pytest.raises(errors.ChainError):
        sync(w3, index, deployment, source=FailingSource(w3, fail_on=3))
    assert index.checkpoint == 7  # two whole ranges of four blocks: 0-3 and 4-7
    assert max(r.block_number for r in index.events()) <= 7
    sync(w3, index, deployment)
    full = new_index()
    sync(w3, full, deployment)
    assert [r.position for r in index.events()] == [r.position for r in full.events()]


def test_a_contract_added_later_is_back_filled_from_its_first_block(
    w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient, new_index: NewIndex
) -> None:
    some_history(w3, deployment, actors, records, "backfill")
    consent_only = Deployment.from_addresses(deployment.chain_id, {"ConsentRegistry": deployment.consent_registry})
    index = new_index()
    sync(w3, index, consent_only)
    assert index.events(contract="RecordRegistry") == []
    report = sync(w3, index, deployment)
    full = new_index()
    sync(w3, full, deployment)
    assert [(r.position, r.event) for r in index.events()] == [(r.position, r.event) for r in full.events()]
    assert report.events == len(index.events(contract="RecordRegistry"))


def test_an_index_file_of_another_chain_or_deployment_chain_is_refused(w3: Web3, deployment: Deployment) -> None:
    index = AuditIndex()
    index.bind_chain(1)
    with pytest.raises(errors.ConfigurationError):
        sync(w3, index, deployment)


def test_a_deployment_on_another_chain_than_the_node_is_refused(
    w3: Web3, deployment: Deployment, new_index: NewIndex
) -> None:
    with pytest.raises(errors.ConfigurationError):
        sync(w3, new_index(), Deployment.from_addresses(1, dict(deployment.addresses())))


def test_a_replaced_history_is_rewound_to_the_last_block_the_chain_still_has(
    w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient, new_index: NewIndex
) -> None:
    """eth-tester's revert replaces blocks like a reorg: the index notices the changed hash and rewinds."""
    some_history(w3, deployment, actors, records, "before the fork")
    fork_point = w3.eth.block_number
    snapshot = w3.testing.snapshot()
    some_history(w3, deployment, actors, records, "fork A")
    index = new_index()
    sync(w3, index, deployment)
    orphaned = {r.tx_hash for r in index.events() if r.block_number > fork_point}
    w3.testing.revert(snapshot)
    time_travel(w3, 5)  # a different timestamp: different blocks even for the same transactions
    some_history(w3, deployment, actors, records, "fork B")
    report = sync(w3, index, deployment)
    assert len(report.rewinds) == 1
    top, back = report.rewinds[0]
    assert top > fork_point and back <= fork_point
    assert not orphaned & {r.tx_hash for r in index.events()}
    fresh = new_index()
    sync(w3, fresh, deployment)
    assert [(r.position, r.block_hash, r.tx_hash) for r in index.events()] == [
        (r.position, r.block_hash, r.tx_hash) for r in fresh.events()
    ]


def test_confirmations_keep_the_newest_blocks_out(w3: Web3, deployment: Deployment, new_index: NewIndex) -> None:
    time_travel(w3, 10)
    index = new_index()
    sync(w3, index, deployment, confirmations=3)
    assert index.checkpoint == w3.eth.block_number - 3


# ------------------------------------------------------------------------------ decoding


def test_a_log_no_artifact_declares_is_not_decoded() -> None:
    decoder = EventDecoder.from_artifacts()
    stray = RawLog(1, "0x" + "11" * 32, "0x" + "22" * 32, 0, 0, "0x" + "33" * 20, (b"\x44" * 32,), b"", 0)
    assert decoder.decode(stray, "ConsentRegistry") is None


# ------------------------------------------------------------------------ provider refusals

REFUSALS = [
    # (provider, message, kind, max_blocks, hard limit)
    ("geth / publicnode", "exceed maximum block range: 50000", RefusalKind.RANGE, 50_000, True),
    ("reth", "query exceeds max block range 100000", RefusalKind.RANGE, 100_000, True),
    ("reth results", "query exceeds max results 20000, retry with the range 5-104", RefusalKind.RESULTS, 100, False),
    (
        "alchemy",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on "
        "the response size, or you can request any block range with a cap of 10K logs in the response. Based on your "
        "parameters, this block range should work: [0x0, 0x1f3]",
        RefusalKind.RESULTS,
        500,
        False,
    ),
    (
        "alchemy free tier",
        "Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range.",
        RefusalKind.RANGE,
        10,
        True,
    ),
    (
        "infura",
        "query returned more than 10000 results. Try with this block range [0x10, 0x4f].",
        RefusalKind.RESULTS,
        64,
        False,
    ),
    ("geth results", "query returned more than 10000 results", RefusalKind.RESULTS, None, False),
    ("quicknode", "eth_getLogs is limited to a 10,000 range", RefusalKind.RANGE, 10_000, True),
    ("ankr", "block range is too wide", RefusalKind.RANGE, None, False),
    ("cloudflare", "Invalid eth_getLogs request. Max range: 800", RefusalKind.RANGE, 800, True),
    ("avalanche", "requested too many blocks from 0 to 5000, maximum is set to 2048", RefusalKind.RANGE, 2048, True),
    ("coinbase", "please limit the query to at most 1000 blocks", RefusalKind.RANGE, 1000, True),
    ("arbitrum", "logs matched by query exceeds limit of 10000", RefusalKind.RESULTS, None, False),
    ("optimism", "backend response too large", RefusalKind.RESULTS, None, False),
    ("chainstack", "Block range limit exceeded.", RefusalKind.RANGE, None, False),
    (
        "anvil after a revert",
        "BlockOutOfRangeError: block height is 4 but requested was 5",
        RefusalKind.HEAD,
        None,
        False,
    ),
    ("rate limit", "Your app has exceeded its compute units per second capacity", RefusalKind.RATE, None, False),
]


@pytest.mark.parametrize(("provider", "message", "kind", "max_blocks", "hard"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_provider_refusals_are_recognised(
    provider: str, message: str, kind: RefusalKind, max_blocks: int | None, hard: bool
) -> None:
    refusal = classify_refusal(message, -32005)
    assert refusal is not None, provider
    assert (refusal.kind, refusal.max_blocks, refusal.hard_limit) == (kind, max_blocks, hard)


def test_other_errors_are_not_refusals() -> None:
    assert classify_refusal("invalid argument 0: hex string without 0x prefix", -32602) is None
    assert classify_refusal("execution reverted", 3) is None


def test_http_statuses_are_refusals() -> None:
    assert classify_refusal("", http_status=429) == Refusal(RefusalKind.RATE, "HTTP 429")
    assert classify_refusal("Request Entity Too Large", http_status=413) == Refusal(
        RefusalKind.RESULTS, "Request Entity Too Large"
    )


def test_the_planner_shrinks_to_stated_limits_and_suggestions_and_grows_back() -> None:
    planner = RangePlanner(initial=2_000, maximum=100_000, target_logs=1_000)
    planner.refused(Refusal(RefusalKind.RANGE, "exceed maximum block range: 500", 500, hard_limit=True), 2_000)
    assert (planner.size, planner.cap) == (500, 500)
    planner.succeeded(500, 10)
    assert planner.size == 500, "never above a limit the node stated"
    planner = RangePlanner(initial=2_000, target_logs=1_000)
    planner.refused(Refusal(RefusalKind.RESULTS, "query returned more than 10000 results"), 2_000)
    assert planner.size == 1_000
    planner.refused(Refusal(RefusalKind.RESULTS, "this block range should work: [0x0, 0x63]", 100), 1_000)
    assert planner.size == 100
    planner.succeeded(100, 5_000)
    assert planner.size == 20, "a large answer shrinks the next range in proportion"
    planner.succeeded(20, 10)
    planner.succeeded(40, 10)
    assert planner.size == 80, "small answers double it again"
    planner.succeeded(30, 10)
    assert planner.size == 80, "a range cut short by the end of the chain says nothing about the limit"


def test_a_single_block_refused_is_an_error() -> None:
    planner = RangePlanner()
    with pytest.raises(errors.ChainError):
        planner.refused(Refusal(RefusalKind.RESULTS, "query returned more than 10000 results"), 1)


class ScriptedProvider(BaseProvider):
    """Answers JSON-RPC calls from a script, recording what was asked."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[str] = []

    def make_request(self, method: Any, params: Any) -> Any:
        self.asked.append(str(method))
        return self.answers.pop(0)


def test_rate_limits_are_waited_out_and_other_errors_are_not_retried() -> None:
    limited = {"jsonrpc": "2.0", "id": 1, "error": {"code": 429, "message": "Too Many Requests"}}
    provider = ScriptedProvider([limited, limited, {"jsonrpc": "2.0", "id": 1, "result": "0x2a"}])
    pauses: list[float] = []
    source = RpcLogSource(Web3(provider), backoff=0.5, sleep=pauses.append)
    assert source.head() == 42 and pauses == [0.5, 1.0] and source.calls == 3
    refused = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "exceed maximum block range: 100"}}
    source = RpcLogSource(Web3(ScriptedProvider([refused])))
    with pytest.raises(RangeRefused) as exc:
        source.fetch(0, 500, ["0x" + "11" * 20])
    assert (exc.value.refusal.kind, exc.value.refusal.max_blocks, exc.value.start, exc.value.end) == (
        RefusalKind.RANGE,
        100,
        0,
        500,
    )
    broken = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "invalid argument 0"}}
    provider = ScriptedProvider([broken])
    with pytest.raises(errors.ChainError, match="invalid argument 0"):
        RpcLogSource(Web3(provider)).fetch(0, 5, ["0x" + "11" * 20])
    assert provider.asked == ["eth_getLogs"]
