"""The one log reader against a real node behind a proxy that refuses wide ranges and large answers the way
public providers do: the generic reader and a contract client's history methods page across it and read
exactly what the node holds, each accepted query within the node's limits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from web3 import Web3

from radledger.chain.connection import connect
from radledger.chain.events.reader import read_logs
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.deploy import deploy_credentials
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.credentials.types import Attestation, RevocationReason
from tests.integration.conftest import AnvilNode
from tests.integration.refusing_proxy import MAX_BLOCKS, MAX_LOGS, LimitingProxy, Limits

ATTESTATIONS = 3 * MAX_BLOCKS
YEAR = 365 * 24 * 3600


@dataclass
class Registry:
    w3: Web3
    address: str
    first_block: int
    attested: list[Attestation]
    revoked: list[bytes]


@pytest.fixture(scope="module")
def registry(anvil: AnvilNode) -> Iterator[Registry]:
    """A CredentialRegistry with a schema and one attestation a block, every third revoked."""
    w3 = connect(anvil.url)
    admin = Transactor(w3, UnlockedAccount(w3.eth.accounts[0]), poll_latency=0.01, timeout=30)
    first = w3.eth.block_number + 1
    creds = deploy_credentials(admin)
    schema = creds.register_schema("radledger anvil reader: license", True, 10 * YEAR).schema_id
    creds.authorize_issuer(schema, admin.address)
    until = creds.now() + YEAR
    attested = [creds.attest(Web3.keccak(text=f"subject {i}"), schema, until) for i in range(ATTESTATIONS)]
    revoked = [a.uid for a in attested[::3]]
    for uid in revoked:
        creds.revoke(uid, RevocationReason.DISCIPLINARY_ACTION)
    yield Registry(w3, creds.address, first, attested, revoked)


def accepted_ranges(limits: Limits) -> list[tuple[int, int]]:
    return sorted((a, b) for a, b, kind in limits.queries if kind == "ok")


def assert_paged(limits: Limits, first: int, last: int) -> None:
    """The node refused both ways, and the ranges it accepted cover `first`..`last` within its limits, once."""
    assert {kind for _, _, kind in limits.queries if kind != "ok"} == {"range", "results"}
    covered = accepted_ranges(limits)
    assert all(b - a + 1 <= MAX_BLOCKS for a, b in covered)
    assert covered[0][0] == first and covered[-1][1] == last
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(covered)), "no gap, no overlap"


@pytest.mark.parametrize(
    "limits", [Limits("geth"), Limits("alchemy"), Limits("infura"), Limits("http")], ids=lambda lim: lim.style
)
def test_read_logs_pages_across_a_refusing_node(registry: Registry, anvil: AnvilNode, limits: Limits) -> None:
    direct = read_logs(registry.w3, [registry.address], registry.first_block)
    assert len(direct) > 3 * MAX_LOGS
    with LimitingProxy(anvil.url, limits) as proxy:
        limited = read_logs(connect(proxy.url), [registry.address], registry.first_block)
    assert limited == direct
    assert_paged(limits, registry.first_block, registry.w3.eth.block_number)


@pytest.mark.parametrize("limits", [Limits("geth"), Limits("infura", strip_timestamps=True)], ids=["geth", "no-times"])
def test_a_clients_history_pages_across_a_refusing_node(registry: Registry, anvil: AnvilNode, limits: Limits) -> None:
    direct = CredentialRegistryClient(registry.w3, registry.address, start_block=registry.first_block)
    assert direct.attestations() == registry.attested
    with LimitingProxy(anvil.url, limits) as proxy:
        client = CredentialRegistryClient(connect(proxy.url), registry.address, start_block=registry.first_block)
        assert client.attestations() == registry.attested
        assert_paged(limits, registry.first_block, registry.w3.eth.block_number)
        assert [r.uid for r in client.revocations()] == registry.revoked
        assert client.attestation(registry.attested[-1].uid) == registry.attested[-1]
        assert [s.name for s in client.schemas()] == ["radledger anvil reader: license"]
