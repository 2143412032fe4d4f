"""Break-glass abuses (issue 11, item 7), performed as an attacker would, and shown to fail now:

- the emergency account keeps an open window after governance revokes its role (or after it
  renounces the role, or after the role is given back later): the window now ends with the role;
- a role holder renews its window again and again, for ever: a run of back-to-back windows now
  lasts at most three windows from its first invocation, then the account must wait one window
  after the last one ended (`BreakGlassLimitReached`).

Each of these tests passed the attack (and so failed) on the contract before the fix.
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.deployment.addresses import Deployment
from radledger.deployment.plan import DEFAULT_BREAK_GLASS_SECONDS
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.events import rebuild_consent_state
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import Actors
from tests.support import register_record

ALL, ETREAT = Scope.ALL, Purpose.ETREAT
WINDOW = DEFAULT_BREAK_GLASS_SECONDS
RUN = 3 * WINDOW


def travel_to(w3: Web3, timestamp: int) -> None:
    """Mine a block at `timestamp`: views see it, the next transaction runs one second later."""
    time_travel(w3, timestamp - int(w3.eth.get_block("latest")["timestamp"]))


def block_time(w3: Web3, receipt: Any) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


@pytest.fixture
def patient(actors: Actors) -> str:
    return actors.patient_signer.address


@pytest.fixture
def rid(records: RecordRegistryClient, patient: str) -> bytes:
    return register_record(records, patient, "ct chest, emergency")


@pytest.fixture
def emergency(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.emergency)


@pytest.fixture
def governance(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.admin)


def assert_no_emergency_access(consent: ConsentRegistryClient, patient: str, account: str, rid: bytes) -> None:
    for record in (rid, WILDCARD):
        assert not consent.has_access(patient, account, record, ALL, ETREAT)
        assert consent.access_basis(patient, account, record, ALL, ETREAT) == AccessBasis.NONE


# -------------------------------------------------------- the window outlives the role


@pytest.mark.parametrize("how", ["revoked by governance", "renounced"])
def test_losing_the_role_ends_the_open_window(
    w3: Web3,
    governance: ConsentRegistryClient,
    emergency: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
    how: str,
) -> None:
    account = actors.emergency.address
    until = block_time(w3, emergency.break_glass(patient, 4)) + WINDOW
    assert emergency.has_access(patient, account, rid, ALL, ETREAT)
    if how == "renounced":
        receipt = emergency.transactor.send(  # type: ignore[union-attr]
            emergency.contract.functions.renounceRole(emergency.role("BREAK_GLASS_ROLE"), account)
        )
    else:
        receipt = governance.revoke_role("BREAK_GLASS_ROLE", account)
    assert governance.events(receipt, "BreakGlassWindowsEnded") == [{"account": account, "generation": 1}]
    assert governance.now() < until  # the window was scheduled to stay open

    # The former emergency account asks, and records an access (before the fix: allowed until `until`).
    assert_no_emergency_access(governance, patient, account, rid)
    block_before = w3.eth.block_number
    with pytest.raises(errors.AccessDenied) as exc:
        emergency.record_access(account, rid, Scope.IMAGES, ETREAT)
    assert exc.value.args == (patient, account, rid, int(Scope.IMAGES), int(ETREAT))
    assert w3.eth.block_number == block_before
    assert governance.get_grant(patient, account, WILDCARD).break_glass_until == 0
    # It cannot open a new window either.
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        emergency.break_glass(patient, 4)


def test_granting_the_role_again_does_not_revive_old_windows(
    w3: Web3,
    governance: ConsentRegistryClient,
    emergency: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
) -> None:
    account = actors.emergency.address
    emergency.break_glass(patient, 4)
    governance.revoke_role("BREAK_GLASS_ROLE", account)
    governance.grant_role("BREAK_GLASS_ROLE", account)
    assert_no_emergency_access(governance, patient, account, rid)
    # A new invocation opens a new window, of the new generation, for a full window.
    receipt = emergency.break_glass(patient, 5)
    (event,) = emergency.events(receipt, "BreakGlassInvoked")
    assert event["validUntil"] == block_time(w3, receipt) + WINDOW
    assert emergency.access_basis(patient, account, rid, ALL, ETREAT) == AccessBasis.BREAK_GLASS


def test_revoking_one_accounts_role_leaves_other_emergency_accounts_alone(
    w3: Web3,
    deployment: Deployment,
    governance: ConsentRegistryClient,
    emergency: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
) -> None:
    other = actors.stranger
    governance.grant_role("BREAK_GLASS_ROLE", other.address)
    deployment.consent(w3, other).break_glass(patient, 6)
    emergency.break_glass(patient, 6)
    governance.revoke_role("BREAK_GLASS_ROLE", actors.emergency.address)
    assert governance.has_access(patient, other.address, rid, ALL, ETREAT)
    assert not governance.has_access(patient, actors.emergency.address, rid, ALL, ETREAT)


def test_a_grant_to_the_former_emergency_account_still_answers(
    w3: Web3,
    deployment: Deployment,
    governance: ConsentRegistryClient,
    emergency: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
) -> None:
    """The patient's own ETREAT grant on the record is not break-glass: losing the role leaves it."""
    account = actors.emergency.address
    deployment.consent(w3, actors.patient).grant(patient, account, rid, Scope.IMAGES, ETREAT)
    emergency.break_glass(patient, 4)
    governance.revoke_role("BREAK_GLASS_ROLE", account)
    assert governance.has_access(patient, account, rid, Scope.IMAGES, ETREAT)
    assert governance.access_basis(patient, account, rid, Scope.IMAGES, ETREAT) == AccessBasis.RECORD_GRANT
    assert not governance.has_access(patient, account, rid, Scope.REPORTS, ETREAT)


def test_the_ended_windows_are_rebuilt_from_events(
    w3: Web3, governance: ConsentRegistryClient, emergency: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    account = actors.emergency.address
    first = w3.eth.block_number + 1
    emergency.break_glass(patient, 4)
    emergency.break_glass(actors.stranger.address, 4)
    governance.revoke_role("BREAK_GLASS_ROLE", account)
    logs = w3.eth.get_logs({"fromBlock": first, "toBlock": "latest", "address": governance.address})
    state = rebuild_consent_state(logs)
    for who in (patient, actors.stranger.address):
        assert state["grants"][(Web3.to_checksum_address(who), account, WILDCARD)].break_glass_until == 0
        assert governance.get_grant(who, account, WILDCARD).break_glass_until == 0


# ------------------------------------------------------------- renewals for ever


def test_renewals_cannot_keep_a_window_open_for_ever(
    w3: Web3, emergency: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    account = actors.emergency.address
    start = block_time(w3, emergency.break_glass(patient, 4))
    run_end = start + RUN
    # The attacker renews just before each window ends (before the fix: every renewal added a window).
    untils = []
    for _ in range(3):
        travel_to(w3, emergency.get_grant(patient, account, WILDCARD).break_glass_until - 2)
        (event,) = emergency.events(emergency.break_glass(patient, 4), "BreakGlassInvoked")
        untils.append(event["validUntil"])
    assert untils[-1] == run_end  # the last renewal was cut at the end of the run
    assert all(until <= run_end for until in untils)
    # The window closes at the end of the run, whatever the account does.
    travel_to(w3, run_end - 2)
    emergency.break_glass(patient, 4)  # still open: accepted, but no longer extends it
    assert emergency.get_grant(patient, account, WILDCARD).break_glass_until == run_end
    travel_to(w3, run_end)
    assert not emergency.has_access(patient, account, rid, ALL, ETREAT)
    # Renewing once the run is over is refused until one window after its end.
    block_before = w3.eth.block_number
    with pytest.raises(errors.BreakGlassLimitReached) as exc:
        emergency.break_glass(patient, 4)
    assert exc.value.args == (patient, account, run_end + WINDOW)
    assert w3.eth.block_number == block_before
    assert emergency.get_grant(patient, account, WILDCARD).break_glass_until == run_end
    assert not emergency.has_access(patient, account, rid, ALL, ETREAT)
    # One window after the run ended, a new run may start (a new emergency, evented again).
    travel_to(w3, run_end + WINDOW - 1)
    receipt = emergency.break_glass(patient, 9)
    assert emergency.events(receipt, "BreakGlassInvoked")[0]["validUntil"] == block_time(w3, receipt) + WINDOW


def test_a_short_gap_does_not_start_a_new_run(
    w3: Web3, emergency: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    """Letting the window lapse for less than a window and invoking again continues the same run."""
    account = actors.emergency.address
    start = block_time(w3, emergency.break_glass(patient, 4))
    travel_to(w3, start + WINDOW + WINDOW // 2)  # closed half a window ago
    emergency.break_glass(patient, 4)
    travel_to(w3, start + 2 * WINDOW + WINDOW // 2 + 10)  # closed again, a few seconds ago
    (event,) = emergency.events(emergency.break_glass(patient, 4), "BreakGlassInvoked")
    assert event["validUntil"] == start + RUN
    travel_to(w3, start + RUN)
    with pytest.raises(errors.BreakGlassLimitReached) as exc:
        emergency.break_glass(patient, 4)
    assert exc.value.args == (patient, account, start + RUN + WINDOW)


def test_the_limit_is_per_patient(w3: Web3, emergency: ConsentRegistryClient, patient: str, actors: Actors) -> None:
    other_patient, account = actors.stranger.address, actors.emergency.address
    start = block_time(w3, emergency.break_glass(patient, 4))
    while (until := emergency.get_grant(patient, account, WILDCARD).break_glass_until) < start + RUN:
        travel_to(w3, until - 2)
        emergency.break_glass(patient, 4)
    travel_to(w3, start + RUN)
    with pytest.raises(errors.BreakGlassLimitReached):
        emergency.break_glass(patient, 4)
    receipt = emergency.break_glass(other_patient, 4)
    assert emergency.events(receipt, "BreakGlassInvoked")[0]["validUntil"] == block_time(w3, receipt) + WINDOW
