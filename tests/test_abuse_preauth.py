"""Issue 11, items 3 and 6: abuses of PreauthRegistry performed against the contract, refused with typed errors
and no state change.

- Anyone could file a request naming any licensed physician with an empty signature; it pended with the
  payer's clock running and anyone could flag the deadline missed. Now only a registered site (an active
  custodian of RecordRegistry) requests, and only with the physician's valid, unexpired signature, whether
  the request would be pended or approved at once.
- A site with an approval of its own could front-run another site's claim id, and the id stayed taken even
  after the claim was denied. Now claim ids are namespaced by authorization.

Each test was run once against the contracts before the fix (commit 6142838): there the abuse went through.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from radledger.chain import errors
from radledger.chain.transactions import Transactor
from radledger.registries.preauth.types import ClaimStatus, PreauthStatus
from tests.preauth_support import World, travel_to, world_base_fixture, world_fixture  # noqa: F401
from tests.support import nothing_sent
from tests.test_preauth import (
    _expired_signature,
    _garbage_signature,
    _no_signature,
    _signature_of_another_order,
    _signed_by_someone_else,
    request_args,
)


def raw_request(world: World, sender: Transactor, message: dict[str, Any], signature: bytes) -> Any:
    fn = world.preauth().contract.functions.request(*request_args(world, message, signature))
    return sender.send(fn)


def assert_no_request(world: World, message: dict[str, Any]) -> None:
    rid = world.preauth().order_digest(message)
    with pytest.raises(errors.RequestNotFound) as exc:
        world.preauth().get_request(rid)
    assert exc.value.args == (rid,)


def test_an_account_that_is_not_a_registered_site_cannot_file_a_request(world: World) -> None:
    """The abuse: a stranger files an unsigned order naming a licensed physician, then flags the deadline."""
    for physician in (world.licensed, world.gold):  # pended, or auto-approved, alike
        message = world.order(physician, requester=world.stranger.address)
        with nothing_sent(world.w3), pytest.raises(errors.NotRegisteredSite) as exc:
            raw_request(world, world.stranger, message, b"")
        assert exc.value.args == (world.stranger.address,)
        # Even with the physician's genuine signature: a stranger is not a site.
        with nothing_sent(world.w3), pytest.raises(errors.NotRegisteredSite):
            raw_request(world, world.stranger, message, world.signature(message))
        assert_no_request(world, message)
        rid = world.preauth().order_digest(message)
        travel_to(world.w3, world.now() + 8 * 24 * 3600)
        with nothing_sent(world.w3), pytest.raises(errors.RequestNotFound) as flagged:
            world.preauth(world.stranger).flag_missed_deadline(rid)
        assert flagged.value.args == (rid,)


def test_a_payer_is_not_a_site_either(world: World) -> None:
    message = world.order(world.licensed, requester=world.payer.address)
    with nothing_sent(world.w3), pytest.raises(errors.NotRegisteredSite) as exc:
        raw_request(world, world.payer, message, world.signature(message))
    assert exc.value.args == (world.payer.address,)


def test_a_deactivated_site_cannot_request(world: World, deployment: Any) -> None:
    records = deployment.records(world.w3, world.admin)
    records.set_custodian_active(world.site.address, False)
    message = world.order(world.licensed)
    with nothing_sent(world.w3), pytest.raises(errors.NotRegisteredSite) as exc:
        raw_request(world, world.site, message, world.signature(message))
    assert exc.value.args == (world.site.address,)
    records.set_custodian_active(world.site.address, True)
    assert world.as_site.status(world.as_site.request(message, world.signature(message))) is PreauthStatus.PENDED


UNSIGNED = {
    "signed by someone else": _signed_by_someone_else,
    "garbage signature": _garbage_signature,
    "no signature": _no_signature,
    "signature of another order": _signature_of_another_order,
}


@pytest.mark.parametrize("case", list(UNSIGNED))
def test_a_site_cannot_name_a_physician_without_the_physicians_signature(world: World, case: str) -> None:
    """The abuse: a registered site credits a physician with an order the physician never signed."""
    message, signature = UNSIGNED[case](world)
    with nothing_sent(world.w3), pytest.raises(errors.InvalidSignature) as exc:
        raw_request(world, world.site, message, signature)
    assert exc.value.args == (message["physician"],)
    assert_no_request(world, message)


@pytest.mark.parametrize("physician", ["gold", "licensed"])  # would be auto-approved / pended
def test_an_unsigned_order_is_refused_whether_it_would_be_pended_or_approved(world: World, physician: str) -> None:
    message = world.order(getattr(world, physician))
    with nothing_sent(world.w3), pytest.raises(errors.InvalidSignature) as exc:
        raw_request(world, world.site, message, b"")
    assert exc.value.args == (message["physician"],)
    assert_no_request(world, message)


def test_an_expired_physician_signature_is_refused(world: World) -> None:
    message, signature = _expired_signature(world)
    now = world.now()
    with nothing_sent(world.w3), pytest.raises(errors.SignatureExpired) as exc:
        raw_request(world, world.site, message, signature)
    assert exc.value.args == (message["deadline"], now + 1)
    assert_no_request(world, message)


def test_the_signed_order_of_one_site_cannot_be_filed_by_another(world: World) -> None:
    """The order names its requester: another (registered) site replaying the signature is refused."""
    message = world.order(world.licensed)
    signature = world.signature(message)
    stolen = {**message, "requester": world.other_site.address}
    with nothing_sent(world.w3), pytest.raises(errors.InvalidSignature) as exc:
        raw_request(world, world.other_site, stolen, signature)
    assert exc.value.args == (world.licensed.address,)
    assert_no_request(world, stolen)


# --------------------------------------------------------------------- claim ids


def claim_id(n: int) -> bytes:
    return keccak(text=f"synthetic claim (abuse) {n}")


def test_another_site_cannot_take_a_sites_claim_id(world: World) -> None:
    """The abuse: site B, holding its own approval, front-runs site A's claim id."""
    mine = world.request(world.gold, units=2)
    theirs = world.request(world.gold, units=2, sender=world.other_site)
    cid = claim_id(1)
    as_other = world.preauth(world.other_site)
    as_other.submit_claim(theirs, cid, 1, 500)  # B front-runs A's claim id
    world.as_site.submit_claim(mine, cid, 1, 1_000)  # A's claim goes through anyway
    assert world.as_site.get_claim(cid, mine).amount == 1_000
    assert world.as_site.get_claim(cid, theirs).amount == 500
    # B's claim denied: A's is untouched, and A's id was never B's to hold.
    world.preauth(world.payer).adjudicate_claim(cid, ClaimStatus.DENIED, reason=1, request_id=theirs)
    assert world.as_site.get_claim(cid, mine).status is ClaimStatus.SUBMITTED
    world.preauth(world.payer).adjudicate_claim(cid, ClaimStatus.PAID, request_id=mine)
    assert world.as_site.get_claim(cid, mine).status is ClaimStatus.PAID
    # Without a request id the client refuses to guess between the two authorizations.
    with nothing_sent(world.w3), pytest.raises(errors.ValidationError):
        world.as_site.get_claim(cid)


def test_a_site_cannot_claim_under_another_sites_authorization(world: World) -> None:
    mine = world.request(world.gold, units=2)
    before = world.as_site.get_request(mine)
    fn = world.preauth().contract.functions.submitClaim(mine, claim_id(2), 1, 100)
    with nothing_sent(world.w3), pytest.raises(errors.NotRequester) as exc:
        world.other_site.send(fn)
    assert exc.value.args == (mine, world.other_site.address)
    assert world.as_site.get_request(mine) == before
    with pytest.raises(errors.ClaimNotFound) as missing:
        world.as_site.get_claim(claim_id(2), mine)
    assert missing.value.args == (mine, claim_id(2))


def test_a_claim_is_adjudicated_only_under_its_own_authorization(world: World) -> None:
    mine = world.request(world.gold, units=2)
    theirs = world.request(world.gold, units=2, sender=world.other_site)
    world.as_site.submit_claim(mine, claim_id(3), 1, 100)
    fn = world.preauth().contract.functions.adjudicateClaim(theirs, claim_id(3), int(ClaimStatus.PAID), 100, 0)
    with nothing_sent(world.w3), pytest.raises(errors.ClaimNotFound) as exc:
        world.payer.send(fn)
    assert exc.value.args == (theirs, claim_id(3))
    assert world.as_site.get_claim(claim_id(3), mine).status is ClaimStatus.SUBMITTED
