"""Consent state rebuilt from events alone equals what the contract's views say."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3

from radledger.chain.connection import time_travel
from radledger.deployment.addresses import Deployment
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.events import (
    ConsentState,
    GrantState,
    GuardianState,
    decode_consent_logs,
    rebuild_consent_state,
)
from tests.conftest import Actors
from tests.support import register_record

IMAGES, REPORTS, ALL_SCOPES = Scope.IMAGES, Scope.REPORTS, Scope.ALL
TREAT, HPAYMT, ETREAT = Purpose.TREAT, Purpose.HPAYMT, Purpose.ETREAT


@dataclass
class History:
    first_block: int
    receipts: list[Any]
    grant_keys: set[tuple[str, str, bytes]]
    guardian_keys: set[tuple[str, str]]
    patients: set[str]


@pytest.fixture(scope="module")
def history(chain: Web3, deployment: Deployment, actors: Actors) -> Iterator[History]:
    """A scripted history (grants, re-grants, revokes, guardians, break-glass, wildcards, a signature),
    made once for this module's read-only tests and reverted after them."""
    snapshot = chain.testing.snapshot()
    try:
        yield _make_history(chain, deployment, actors)
    finally:
        chain.testing.revert(snapshot)


def _make_history(w3: Web3, deployment: Deployment, actors: Actors) -> History:
    records = deployment.records(w3, actors.site)
    patient, other_patient = actors.patient_signer.address, actors.stranger.address
    grantee, emergency, guardian = actors.grantee.address, actors.emergency.address, actors.guardian.address
    first_block = w3.eth.block_number + 1
    as_patient = deployment.consent(w3, actors.patient)
    as_guardian = deployment.consent(w3, actors.guardian)
    as_other = deployment.consent(w3, actors.stranger)
    as_emergency = deployment.consent(w3, actors.emergency)
    site = deployment.consent(w3, actors.site)
    now = as_patient.now()

    receipts: list[Any] = []
    rid = register_record(records, patient, "mri pelvis")
    rid2 = register_record(records, patient, "ultrasound")
    receipts += [
        as_patient.grant(patient, grantee, rid, IMAGES, TREAT),
        as_patient.grant(patient, grantee, WILDCARD, REPORTS, TREAT | HPAYMT, now + 20, now + 5000),
        as_patient.grant(patient, grantee, rid, ALL_SCOPES, TREAT),
        as_patient.set_guardian(guardian, now + 3600),
        as_guardian.grant(patient, emergency, rid2, IMAGES, ETREAT, 0, now + 40),
        as_guardian.revoke(patient, grantee, rid),
        as_emergency.break_glass(patient, 11),
        as_patient.grant(patient, emergency, WILDCARD, IMAGES, TREAT),
        as_patient.revoke(patient, emergency, WILDCARD),
        as_other.grant(other_patient, grantee, WILDCARD, ALL_SCOPES, Purpose.ALL),
        as_other.revoke(other_patient, grantee, WILDCARD),
        as_other.grant(other_patient, grantee, WILDCARD, IMAGES, HPAYMT, 0, FOREVER - 7),
        site.relay(site.sign_grant(actors.patient_signer, patient, other_patient, rid2, REPORTS, TREAT)),
        as_patient.invalidate_signatures(patient),
        as_guardian.invalidate_signatures(patient),
        as_patient.set_guardian(guardian, now + 7200),
        as_patient.set_guardian(other_patient, now + 7200),
        as_patient.set_guardian(guardian, 0),
        as_emergency.break_glass(other_patient, 12),
    ]
    time_travel(w3, 60)  # some windows have ended: the rebuilt slots must still match
    return History(
        first_block=first_block,
        receipts=receipts,
        grant_keys={
            (patient, grantee, rid),
            (patient, grantee, WILDCARD),
            (patient, emergency, rid2),
            (patient, emergency, WILDCARD),
            (other_patient, grantee, WILDCARD),
            (patient, other_patient, rid2),
            (other_patient, emergency, WILDCARD),
        },
        guardian_keys={(patient, guardian), (patient, other_patient)},
        patients={patient, other_patient},
    )


def assert_matches_views(state: ConsentState, consent: ConsentRegistryClient, history: History) -> None:
    assert set(state["grants"]) == history.grant_keys
    for (patient, grantee, rid), rebuilt in state["grants"].items():
        grant = consent.get_grant(patient, grantee, rid)
        on_chain = GrantState(
            int(grant.scopes), int(grant.purposes), grant.valid_from, grant.valid_until, grant.version,
            grant.break_glass_until,
        )  # fmt: skip
        assert rebuilt == on_chain, (patient, grantee, rid)
    assert set(state["guardians"]) == history.guardian_keys
    now = consent.now()
    for (patient, guardian), rebuilt_guardian in state["guardians"].items():
        view = consent.get_guardian(patient, guardian)
        assert rebuilt_guardian == GuardianState(view.valid_until, view.version)
        assert consent.is_guardian(patient, guardian) is (now < rebuilt_guardian.valid_until)
    for patient in history.patients:
        assert state["epochs"].get(patient, 0) == consent.signature_epoch(patient)
    for (patient, guardian), guardian_epoch in state["guardian_epochs"].items():
        expected = guardian_epoch << 32 | state["epochs"].get(patient, 0)
        assert consent.signer_epoch(patient, guardian) == expected


def test_state_rebuilt_from_receipts_matches_the_views(consent: ConsentRegistryClient, history: History) -> None:
    logs = [log for receipt in history.receipts for log in receipt["logs"]]
    state = rebuild_consent_state(logs, consent.address)
    assert_matches_views(state, consent, history)
    # The patient invalidated once; the guardian's invalidation moved only its own epoch.
    assert state["epochs"][history.receipts[0]["from"]] == 1


def test_state_rebuilt_from_get_logs_matches_the_views(
    w3: Web3, consent: ConsentRegistryClient, history: History
) -> None:
    logs = w3.eth.get_logs({"fromBlock": history.first_block, "toBlock": "latest", "address": consent.address})
    assert_matches_views(rebuild_consent_state(logs), consent, history)


def test_rebuild_ignores_other_contracts_and_log_order(
    w3: Web3, deployment: Deployment, consent: ConsentRegistryClient, history: History
) -> None:
    every_log = w3.eth.get_logs({"fromBlock": history.first_block, "toBlock": "latest"})
    assert any(log["address"] == deployment.record_registry for log in every_log)
    shuffled = list(every_log)
    random.Random(7).shuffle(shuffled)
    assert rebuild_consent_state(shuffled, consent.address) == rebuild_consent_state(every_log, consent.address)
    assert_matches_views(rebuild_consent_state(shuffled, consent.address), consent, history)


def test_decoded_events_carry_their_arguments(consent: ConsentRegistryClient, history: History) -> None:
    events = decode_consent_logs([log for r in history.receipts for log in r["logs"]], consent.address)
    assert [e.name for e in events].count("ConsentGranted") == 8
    assert [e.name for e in events].count("BreakGlassInvoked") == 2
    break_glass = next(e for e in events if e.name == "BreakGlassInvoked")
    assert break_glass.args["reasonCode"] == 11
    assert isinstance(break_glass.args["patient"], str) and break_glass.args["patient"].startswith("0x")
    assert [(e.block_number, e.log_index) for e in events] == sorted((e.block_number, e.log_index) for e in events)
    # Each decoded event equals web3's own decoding of the same log.
    for receipt in history.receipts:
        for name in ("ConsentGranted", "ConsentRevoked", "GuardianSet", "BreakGlassInvoked", "SignaturesInvalidated"):
            mine = [e.args for e in decode_consent_logs(receipt["logs"], consent.address) if e.name == name]
            assert mine == consent.events(receipt, name)
