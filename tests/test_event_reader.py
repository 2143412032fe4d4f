"""The package's one log reader and one decoder: every event of every artifact decodes as web3 decodes it,
topic filters select what a node's filter selects, and every reader (the audit's, the clients' history
methods, the gateway's reconciliation) reads the in-process chain from py-evm's database, never through
eth-tester's quadratic log filter. Paging across a node that refuses wide ranges: tests/test_logs.py and
tests/integration/test_event_reader_anvil.py."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from hexbytes import HexBytes
from web3 import Web3

from radledger.chain.artifacts import artifact_names, load_artifact
from radledger.chain.events.decoding import EventDecoder, RawLog
from radledger.chain.events.reader import ContractEvents, read_logs
from radledger.chain.events.sources import InProcessLogSource, source_for
from radledger.chain.events.topics import topics_match
from radledger.deployment.addresses import Deployment
from radledger.gateway.reconcile import access_events
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.credentials.types import RevocationReason
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import ARTIFACTS, Actors
from tests.preauth_support import World, world_base_fixture, world_fixture  # noqa: F401 - fixtures
from tests.support import register_record
from tests.test_credentials_support import YEAR, CredEnv

pytest_plugins = ["tests.test_credentials_support"]

SAMPLES = 4
"""Synthetic logs decoded per event."""


# ------------------------------------------------------------------------------ helpers


def events_of(name: str) -> list[dict[str, Any]]:
    return [dict(e) for e in load_artifact(name, ARTIFACTS).abi if e.get("type") == "event" and not e.get("anonymous")]


EVENTS = [(name, event["name"]) for name in artifact_names(ARTIFACTS) for event in events_of(name)]


def sample(param: Mapping[str, Any], rng: random.Random) -> Any:
    """A random value of ABI `param`'s type (structs as tuples, as eth-abi encodes them)."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        size = kind[kind.rindex("[") + 1 : -1]
        return [sample(inner, rng) for _ in range(int(size) if size else rng.randint(0, 3))]
    if kind == "tuple":
        return tuple(sample(c, rng) for c in param["components"])
    if kind == "address":
        return to_checksum_address(rng.randbytes(20))
    if kind == "bool":
        return rng.random() < 0.5
    if kind.startswith("uint"):
        return rng.randrange(2 ** int(kind[4:]))
    if kind.startswith("int"):
        bits = int(kind[3:])
        return rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1))
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 40))
    if kind.startswith("bytes"):
        return rng.randbytes(int(kind[5:]))
    if kind == "string":
        return "".join(rng.choice("radledger é ✓ 0123456789") for _ in range(rng.randint(0, 30)))
    raise AssertionError(f"no sample for {kind}")


def as_decoded(param: Mapping[str, Any], value: Any) -> Any:
    """A sampled value as a decoder returns it: structs as dicts by component name, arrays as lists."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        return [as_decoded(inner, v) for v in value]
    if kind == "tuple":
        return {c["name"]: as_decoded(c, v) for c, v in zip(param["components"], value, strict=True)}
    return value


def plain(value: Any) -> Any:
    """web3's answer in plain types (HexBytes as bytes, tuples as lists, mappings as dicts)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def synthetic_log(event: Mapping[str, Any], rng: random.Random, address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A log of `event` with random arguments, as web3 formats logs; and those arguments."""
    values = {str(p["name"]): sample(p, rng) for p in event["inputs"]}
    indexed = [p for p in event["inputs"] if p["indexed"]]
    data_params = [p for p in event["inputs"] if not p["indexed"]]
    topics = [bytes(event_abi_to_log_topic(dict(event)))]  # type: ignore[arg-type]
    for p in indexed:
        assert not p["type"].endswith("]") and p["type"] not in ("tuple", "string", "bytes"), "a static topic"
        topics.append(abi_encode([p["type"]], [values[p["name"]]]))
    data = abi_encode([collapse_if_tuple(p) for p in data_params], [values[p["name"]] for p in data_params])
    log = {
        "address": address,
        "topics": [HexBytes(t) for t in topics],
        "data": HexBytes(data),
        "blockNumber": rng.randrange(1, 10**6),
        "blockHash": HexBytes(rng.randbytes(32)),
        "transactionHash": HexBytes(rng.randbytes(32)),
        "transactionIndex": rng.randrange(100),
        "logIndex": rng.randrange(1000),
        "removed": False,
    }
    return log, {p["name"]: as_decoded(p, values[p["name"]]) for p in event["inputs"]}


# ------------------------------------------------------------------------------ the decoder


def test_every_artifact_declares_events_to_decode() -> None:
    names = {name for name, _ in EVENTS}
    assert {"ConsentRegistry", "CredentialRegistry", "PreauthRegistry", "RecordRegistry"} <= names
    assert ("PreauthRegistry", "PolicySet") in EVENTS, "a struct with a fixed array among them"


@pytest.mark.parametrize(("contract", "event_name"), EVENTS, ids=[f"{c}.{e}" for c, e in EVENTS])
def test_the_decoder_decodes_every_event_of_every_artifact_as_web3_does(contract: str, event_name: str) -> None:
    decoder = EventDecoder.from_artifacts()
    (event,) = [e for e in events_of(contract) if e["name"] == event_name]
    web3_event = getattr(Web3().eth.contract(abi=[event]).events, event_name)()
    rng = random.Random(f"{contract}.{event_name}")
    for _ in range(SAMPLES):
        address = to_checksum_address(rng.randbytes(20))
        log, values = synthetic_log(event, rng, address)
        raw = RawLog.from_mapping(log)
        decoded = decoder.event(raw, contract)
        assert decoded is not None and (decoded.contract, decoded.name) == (contract, event_name)
        assert decoded.args == values, "the arguments encoded"
        assert decoded.args == plain(web3_event.process_log(log)["args"]), "what web3 decodes"
        assert (decoded.block_number, decoded.log_index, decoded.tx_hash) == (
            log["blockNumber"],
            log["logIndex"],
            log["transactionHash"].to_0x_hex(),
        )
        indexed = {p["name"]: values[p["name"]] for p in event["inputs"] if p["indexed"]}
        assert decoder.topic_filter(contract, event_name, indexed) == list(raw.topics), "filters of indexed values"
        assert topics_match(decoder.topic_filter(contract, event_name, indexed), raw.topics)


def test_a_filter_on_an_argument_that_is_not_indexed_is_refused() -> None:
    decoder = EventDecoder.from_artifacts()
    with pytest.raises(ValueError, match="not indexed"):
        decoder.topic_filter("ConsentRegistry", "ConsentGranted", {"scopes": 1})
    with pytest.raises(ValueError, match="declares no event"):
        decoder.topic_filter("ConsentRegistry", "NoSuchEvent")


# ------------------------------------------------------------------------- a real chain


@pytest.fixture
def history(w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient) -> tuple[int, bytes]:
    """Records, grants (one a wildcard), an access on the trail and a revocation; returns (first block, record)."""
    first = w3.eth.block_number + 1
    patient = actors.patient.address
    rid = register_record(records, patient, "event reader")
    as_patient = deployment.consent(w3, actors.patient)
    as_patient.grant(patient, actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    as_patient.grant(patient, actors.other_site.address, WILDCARD, Scope.REPORTS, Purpose.HPAYMT)
    deployment.consent(w3, actors.grantee).record_access(actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    as_patient.revoke(patient, actors.other_site.address, WILDCARD)
    return first, rid


def test_logs_of_a_chain_decode_as_web3_decodes_them(w3: Web3, deployment: Deployment, history: Any) -> None:
    first, _ = history
    by_address = {address: name for name, address in deployment.addresses().items()}
    decoder = EventDecoder.from_artifacts()
    logs = read_logs(w3, list(by_address), first)
    names = []
    for raw in logs:
        name = by_address[raw.address]
        event = decoder.event(raw, name)
        assert event is not None
        names.append(event.name)
        receipt = w3.eth.get_transaction_receipt(raw.tx_hash)  # type: ignore[arg-type]
        (log,) = [entry for entry in receipt["logs"] if int(entry["logIndex"]) == raw.log_index]
        contract = w3.eth.contract(abi=list(load_artifact(name, ARTIFACTS).abi))
        assert event.args == plain(getattr(contract.events, event.name)().process_log(log)["args"])
        assert raw.timestamp == int(w3.eth.get_block(raw.block_number)["timestamp"])
        assert (raw.block_hash, raw.tx_index) == (log["blockHash"].to_0x_hex(), int(log["transactionIndex"]))
    assert names == ["RecordRegistered", "ConsentGranted", "ConsentGranted", "AccessRecorded", "ConsentRevoked"]


TOPIC_CASES = {
    "one event": lambda d, a: [d.named("ConsentRegistry", "ConsentGranted").topic],
    "any event, one patient": lambda d, a: [None, abi_encode(["address"], [a.patient.address])],
    "either of two events": lambda d, a: [
        [d.named("ConsentRegistry", "ConsentGranted").topic, d.named("ConsentRegistry", "ConsentRevoked").topic]
    ],
    "an event and its third topic": lambda d, a: [
        d.named("ConsentRegistry", "ConsentGranted").topic,
        None,
        abi_encode(["address"], [a.other_site.address]),
    ],
    "longer than some logs' topics": lambda d, a: [None, None, None, None],
    "nothing matches": lambda d, a: [keccak(text="no such event")],
}


@pytest.mark.parametrize("case", list(TOPIC_CASES))
def test_topic_filters_select_what_the_nodes_filter_selects(
    w3: Web3, deployment: Deployment, actors: Actors, history: Any, case: str
) -> None:
    first, _ = history
    topics = TOPIC_CASES[case](EventDecoder.from_artifacts(), actors)
    addresses = [deployment.consent_registry, deployment.record_registry]
    mine = read_logs(w3, addresses, first, topics=topics)
    nodes = w3.eth.get_logs({"address": addresses, "fromBlock": first, "toBlock": "latest", "topics": topics})  # type: ignore[typeddict-item]
    assert [(r.block_number, r.log_index) for r in mine] == [(int(n["blockNumber"]), int(n["logIndex"])) for n in nodes]


# --------------------------------------------------- every reader takes the in-process fast path


@contextmanager
def log_filter_refused(w3: Web3) -> Iterator[None]:
    """Fail any use of eth-tester's log filter inside the block (its cost grows with the square of the
    chain's length): readers must read py-evm's database instead."""
    provider = w3.provider
    real = provider.make_request

    def refuse(method: Any, params: Any) -> Any:
        assert method not in ("eth_getLogs", "eth_newFilter", "eth_getFilterLogs", "eth_getFilterChanges"), method
        return real(method, params)

    assert isinstance(source_for(w3), InProcessLogSource)
    provider.make_request = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        del provider.make_request  # the class's own again


def test_the_gateways_trail_is_read_from_the_chains_database(
    w3: Web3, deployment: Deployment, actors: Actors, history: Any
) -> None:
    first, rid = history
    with log_filter_refused(w3):
        (event,) = access_events(w3, deployment.consent_registry, first)
        assert access_events(w3, deployment.consent_registry, event.block_number + 1) == []
    assert (event.record_id, event.grantee, event.recorder) == (rid, actors.grantee.address, actors.grantee.address)


def test_the_credential_clients_history_is_read_from_the_chains_database_and_equals_web3s(
    w3: Web3, cred_env: CredEnv, board: CredentialRegistryClient
) -> None:
    until = board.now() + YEAR
    made = [
        board.attest(reader, cred_env.schemas.license, until) for reader in (cred_env.reader, cred_env.other_reader)
    ]
    revoked = board.revoke(made[0].uid, RevocationReason.DISCIPLINARY_ACTION)
    invalidated = board.invalidate_signatures()
    attested = board.contract.events.CredentialAttested().get_logs(from_block=0)
    expected = [(bytes(e["args"]["uid"]), e["transactionHash"].to_0x_hex(), int(e["logIndex"])) for e in attested]
    with log_filter_refused(w3):
        found = board.attestations()
        assert board.attestations(subject=cred_env.other_reader) == [made[1]]
        assert board.attestation(made[0].uid) == made[0]
        assert board.revocations() == [revoked] and board.revocations(made[1].uid) == []
        assert board.signature_invalidations(cred_env.board.address) == [invalidated]
        assert board.get_schema(cred_env.schemas.license).name.startswith("US-CA Medical Board")
        assert [s.schema_id for s in board.schemas()] == [1, 2, 3, 4, 5]
    assert [(a.uid, a.tx_hash, a.log_index) for a in found] == expected


def test_a_prior_authorizations_history_is_read_from_the_chains_database(world: World) -> None:
    rid = world.pended(units=2)
    world.as_payer.approve(rid)
    with log_filter_refused(world.w3):
        history = world.as_site.history(rid)
    assert [e.name for e in history] == ["PreauthRequested", "PreauthDecided"]
    assert all(e.timestamp == int(world.w3.eth.get_block(e.block_number)["timestamp"]) for e in history)


def test_a_clients_events_in_a_receipt_are_decoded_by_the_one_decoder(
    w3: Web3, deployment: Deployment, actors: Actors
) -> None:
    as_patient = deployment.consent(w3, actors.patient)
    patient = actors.patient.address
    receipt = as_patient.grant(patient, actors.grantee.address, WILDCARD, Scope.IMAGES, Purpose.TREAT)
    web3_args = [plain(e["args"]) for e in as_patient.contract.events.ConsentGranted().process_receipt(receipt)]
    assert as_patient.events(receipt, "ConsentGranted") == web3_args and len(web3_args) == 1
    reader = ContractEvents(w3, deployment.consent_registry, load_artifact("ConsentRegistry", ARTIFACTS))
    assert [e.args for e in reader.in_receipt(receipt, "ConsentGranted")] == web3_args
    with pytest.raises(ValueError, match="declares no event"):
        as_patient.events(receipt, "NoSuchEvent")
