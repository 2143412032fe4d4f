"""Every state-changing function of PreauthRegistry, called by each account that may not: the exact error
and its arguments, and nothing changes. Calls go straight to the contract, past the client's checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from radledger.chain import errors
from radledger.chain.transactions import Transactor
from radledger.registries.preauth.client import policy_tuple
from radledger.registries.preauth.types import ClaimStatus
from tests.conftest import named_key
from tests.preauth_support import (
    AUTO_POLICY,
    MRI_BRAIN,
    World,
    travel_to,
    world_base_fixture,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)
from tests.support import nothing_sent

EVIDENCE = keccak(text="evidence")
CLAIM = keccak(text="synthetic claim")
NEWCOMER = named_key("a payer governance never registered").address
PAID_IN_FULL = int(ClaimStatus.PAID)


@dataclass(frozen=True)
class Case:
    """`function(args)` in the state `setup` builds (it returns the request or claim id), by `caller`."""

    function: str
    setup: Callable[[World], bytes]
    args: Callable[[bytes], tuple[Any, ...]]
    callers: tuple[str, ...]
    expected: Callable[[World, bytes, Transactor], errors.ContractError]


def _pended(world: World) -> bytes:
    return world.pended(units=2)


def _info_requested(world: World) -> bytes:
    rid = world.pended()
    world.as_payer.request_information(rid, 2)
    return rid


def _denied(world: World) -> bytes:
    rid = world.pended()
    world.as_payer.deny(rid, 1)
    return rid


def _approved(world: World) -> bytes:
    return world.request(world.gold)


def _claimed(world: World) -> bytes:
    """The authorization holding claim CLAIM (claims are namespaced by authorization since issue 11)."""
    rid = _approved(world)
    world.as_site.submit_claim(rid, CLAIM, 1, 1_000)
    return rid


def _nothing(world: World) -> bytes:
    return b""


def _not_payer(world: World, rid: bytes, caller: Transactor) -> errors.ContractError:
    return errors.NotPayer(rid, caller.address)


def _not_requester(world: World, rid: bytes, caller: Transactor) -> errors.ContractError:
    return errors.NotRequester(rid, caller.address)


NOT_THE_PAYER = ("site", "other_site", "other_payer", "stranger", "admin")
NOT_THE_REQUESTER = ("other_site", "payer", "other_payer", "stranger", "admin")
REGISTRAR_ROLE = keccak(text="PAYER_REGISTRAR_ROLE")
ADMIN_ROLE = bytes(32)

CASES = [
    Case("approve", _pended, lambda rid: (rid,), NOT_THE_PAYER, _not_payer),
    Case("modify", _pended, lambda rid: (rid, 1), NOT_THE_PAYER, _not_payer),
    Case("deny", _pended, lambda rid: (rid, 1), NOT_THE_PAYER, _not_payer),
    Case("requestInformation", _pended, lambda rid: (rid, 2), NOT_THE_PAYER, _not_payer),
    Case("adjudicateClaim", _claimed, lambda rid: (rid, CLAIM, PAID_IN_FULL, 1_000, 0), NOT_THE_PAYER, _not_payer),
    Case("provideInformation", _info_requested, lambda rid: (rid, EVIDENCE), NOT_THE_REQUESTER, _not_requester),
    Case("cancel", _pended, lambda rid: (rid,), NOT_THE_REQUESTER, _not_requester),
    Case("appeal", _denied, lambda rid: (rid, EVIDENCE), NOT_THE_REQUESTER, _not_requester),
    Case("submitClaim", _approved, lambda rid: (rid, CLAIM, 1, 1_000), NOT_THE_REQUESTER, _not_requester),
    Case(
        "registerPayer",
        _nothing,
        lambda _: (NEWCOMER,),
        ("payer", "site", "stranger"),
        lambda world, _, caller: errors.AccessControlUnauthorizedAccount(caller.address, REGISTRAR_ROLE),
    ),
    Case(
        "setPolicy",
        _nothing,
        lambda _: (MRI_BRAIN.encode(), policy_tuple(AUTO_POLICY)),
        ("site", "stranger", "admin"),
        lambda world, _, caller: errors.PayerNotRegistered(caller.address),
    ),
    Case(
        "grantRole",
        _nothing,
        lambda _: (REGISTRAR_ROLE, NEWCOMER),
        ("payer", "site", "stranger"),
        lambda world, _, caller: errors.AccessControlUnauthorizedAccount(caller.address, ADMIN_ROLE),
    ),
    Case(
        "revokeRole",
        _nothing,
        lambda _: (REGISTRAR_ROLE, NEWCOMER),
        ("payer", "site", "stranger"),
        lambda world, _, caller: errors.AccessControlUnauthorizedAccount(caller.address, ADMIN_ROLE),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.function for c in CASES])
def test_an_unauthorized_caller_is_refused_with_the_exact_error(world: World, case: Case) -> None:
    target = case.setup(world)
    for name in case.callers:
        caller: Transactor = getattr(world, name)
        before = world.as_site.get_request(target) if len(target) == 32 and case.setup is not _claimed else None
        fn = getattr(world.preauth().contract.functions, case.function)(*case.args(target))
        with nothing_sent(world.w3), pytest.raises(errors.ContractError) as exc:
            caller.send(fn)
        assert exc.value == case.expected(world, target, caller), (case.function, name)
        if before is not None:
            assert world.as_site.get_request(target) == before


def test_anyone_may_flag_a_missed_deadline_and_request_authorization(world: World) -> None:
    """Flagging is open to every account; requesting, since issue 11, only to registered sites
    (tests/test_abuse_preauth.py)."""
    rid = world.pended()
    travel_to(world.w3, world.as_site.get_request(rid).due_at)
    for name in ("stranger", "other_payer"):
        caller = getattr(world, name)
        snapshot = world.w3.testing.snapshot()
        world.preauth(caller).flag_missed_deadline(rid)
        assert world.as_site.get_request(rid).deadline_missed
        world.w3.testing.revert(snapshot)
    with nothing_sent(world.w3), pytest.raises(errors.NotRegisteredSite) as exc:
        world.request(world.gold, sender=world.stranger)
    assert exc.value.args == (world.stranger.address,)
    other_rid = world.request(world.gold, sender=world.other_site)
    assert world.as_site.get_request(other_rid).requester == world.other_site.address
