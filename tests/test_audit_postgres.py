"""PostgreSQL's deployments: which schema a sync writes to, and what a reader is told when it did not
say which deployment it reads (the tests shared with SQLite run in the other audit test modules)."""

from __future__ import annotations

import pytest
from web3 import Web3

from radledger.audit import AuditIndex, NotInIndex, sync
from radledger.audit.store import AmbiguousDeployment, DeploymentConflict, UnknownDeployment
from radledger.deployment.addresses import Deployment
from tests.postgres_server import PostgresServer


@pytest.fixture
def server(postgres_server: PostgresServer | None) -> PostgresServer:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed (set RADLEDGER_REQUIRE_POSTGRES=1 to fail instead)")
    return postgres_server


def key(chain_id: int, *addresses: str) -> str:
    return f"{chain_id}:{min(a.lower() for a in addresses)}"


def test_an_empty_database_has_nothing_to_read(server: PostgresServer) -> None:
    url = server.create_database("empty")
    with AuditIndex(url) as index, pytest.raises(NotInIndex):
        index.count()


def test_each_deployment_gets_its_schema_and_a_reader_must_name_one_of_several(
    w3: Web3, deployment: Deployment, server: PostgresServer
) -> None:
    url = server.create_database("several")
    consent_only = Deployment.from_addresses(deployment.chain_id, {"ConsentRegistry": deployment.consent_registry})
    records_only = Deployment.from_addresses(deployment.chain_id, {"RecordRegistry": deployment.record_registry})
    with AuditIndex(url) as index:
        sync(w3, index, consent_only)
        assert index.deployment == key(deployment.chain_id, deployment.consent_registry)
    with AuditIndex(url) as index:
        sync(w3, index, records_only)
        assert index.deployment == key(deployment.chain_id, deployment.record_registry)
        assert index.contracts()[0].name == "RecordRegistry" and len(index.contracts()) == 1
    consent_key = key(deployment.chain_id, deployment.consent_registry)
    records_key = key(deployment.chain_id, deployment.record_registry)
    with AuditIndex(url) as index, pytest.raises(AmbiguousDeployment) as raised:
        index.events()
    assert raised.value.deployments == tuple(sorted([consent_key, records_key]))
    named = f"{url}?deployment={deployment.chain_id}:{deployment.consent_registry}"
    with AuditIndex(named) as index:
        assert index.deployment == consent_key
        assert {c.name for c in index.contracts()} == {"ConsentRegistry"}
        assert index.count() > 0 and {r.contract for r in index.events()} == {"ConsentRegistry"}


def test_a_target_spanning_two_deployments_is_refused(w3: Web3, deployment: Deployment, server: PostgresServer) -> None:
    url = server.create_database("conflict")
    for name, address in (
        ("ConsentRegistry", deployment.consent_registry),
        ("RecordRegistry", deployment.record_registry),
    ):
        with AuditIndex(url) as index:
            sync(w3, index, Deployment.from_addresses(deployment.chain_id, {name: address}))
    with AuditIndex(url) as index, pytest.raises(DeploymentConflict) as raised:
        sync(w3, index, deployment)
    assert raised.value.deployments == (
        key(deployment.chain_id, deployment.consent_registry),
        key(deployment.chain_id, deployment.record_registry),
    )


def test_a_url_naming_a_deployment_the_database_does_not_hold_is_refused(server: PostgresServer) -> None:
    url = server.create_database("unknown")
    named = f"{url}?deployment=5:0x{'ab' * 20}"
    with AuditIndex(named) as index, pytest.raises(UnknownDeployment) as raised:
        index.checkpoint  # noqa: B018
    assert raised.value.deployment == f"5:0x{'ab' * 20}" and raised.value.location == named
