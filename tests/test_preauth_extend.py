"""Issue 14 item 3: the payer extends the decision timeframe of a pended standard request (CMS-0057-F: once,
by up to 14 calendar days, when the patient asks or the payer justifies a need for more information)."""

from __future__ import annotations

import pytest

from radledger.chain import errors
from radledger.registries.preauth.client import replay
from radledger.registries.preauth.types import CMS_STANDARD_DECISION_SECONDS, PreauthStatus
from tests.preauth_support import World, travel_to, world_base_fixture, world_fixture  # noqa: F401
from tests.support import nothing_sent

DAY = 24 * 3600
PATIENT_REQUEST, MORE_INFORMATION = 1, 2


def test_the_payer_extends_once_and_the_missed_deadline_flag_honours_the_new_deadline(world: World) -> None:
    rid = world.pended()
    start = world.w3.eth.block_number
    due = world.as_site.get_request(rid).due_at
    receipt = world.as_payer.extend(rid, due + 14 * DAY, MORE_INFORMATION)
    assert world.as_payer.events(receipt, "DecisionTimeframeExtended") == [
        {"requestId": rid, "payer": world.payer.address, "previousDueAt": due, "newDueAt": due + 14 * DAY,
         "reasonCode": MORE_INFORMATION}
    ]  # fmt: skip
    request = world.as_site.get_request(rid)
    assert (request.due_at, request.extended, request.status) == (due + 14 * DAY, True, PreauthStatus.PENDED)
    assert replay(world.as_site.history(rid, start)) == request
    # The old deadline passing is no longer a missed deadline; the new one is.
    travel_to(world.w3, due + 1)
    with nothing_sent(world.w3), pytest.raises(errors.DeadlineNotMissed) as exc:
        world.preauth(world.stranger).flag_missed_deadline(rid)
    assert exc.value.args == (rid, due + 14 * DAY)
    travel_to(world.w3, due + 14 * DAY)
    world.preauth(world.stranger).flag_missed_deadline(rid)
    assert world.as_site.get_request(rid).deadline_missed


def test_an_extension_is_granted_once_and_at_most_14_days(world: World) -> None:
    rid = world.pended()
    due = world.as_site.get_request(rid).due_at
    for new_due in (due, due - 1, due + 14 * DAY + 1):
        with nothing_sent(world.w3), pytest.raises(errors.InvalidExtension) as exc:
            world.as_payer.extend(rid, new_due, PATIENT_REQUEST)
        assert exc.value.args == (rid, new_due, due, due + 14 * DAY)
    world.as_payer.extend(rid, due + 3 * DAY, PATIENT_REQUEST)
    before = world.as_site.get_request(rid)
    with nothing_sent(world.w3), pytest.raises(errors.ExtensionNotAllowed) as again:
        world.as_payer.extend(rid, due + 4 * DAY, PATIENT_REQUEST)
    assert again.value.args == (rid,)
    assert world.as_site.get_request(rid) == before


def test_no_extension_for_expedited_requests_late_ones_or_without_a_known_reason(world: World) -> None:
    expedited = world.pended(expedited=True)
    due = world.as_site.get_request(expedited).due_at
    with nothing_sent(world.w3), pytest.raises(errors.ExtensionNotAllowed) as exc:
        world.as_payer.extend(expedited, due + DAY, PATIENT_REQUEST)
    assert exc.value.args == (expedited,)
    standard = world.pended()
    due = world.as_site.get_request(standard).due_at
    for reason in (0, 3):
        with nothing_sent(world.w3), pytest.raises(errors.InvalidExtensionReason) as bad:
            world.as_payer.extend(standard, due + DAY, reason)
        assert bad.value.args == (reason,)
    assert world.as_site.get_request(standard).due_at == world.as_site.get_request(standard).requested_at + (
        CMS_STANDARD_DECISION_SECONDS
    )
    travel_to(world.w3, due)  # the extension would run at due + 1: too late
    with nothing_sent(world.w3), pytest.raises(errors.ExtensionNotAllowed):
        world.as_payer.extend(standard, due + DAY, PATIENT_REQUEST)


def test_only_the_payer_extends_and_only_a_pended_request(world: World) -> None:
    rid = world.pended()
    due = world.as_site.get_request(rid).due_at
    for caller in (world.site, world.other_payer, world.stranger):
        with nothing_sent(world.w3), pytest.raises(errors.NotPayer) as exc:
            world.preauth(caller).extend(rid, due + DAY, PATIENT_REQUEST)
        assert exc.value.args == (rid, caller.address)
    world.as_payer.approve(rid)
    with nothing_sent(world.w3), pytest.raises(errors.InvalidStatus) as status:
        world.as_payer.extend(rid, due + DAY, PATIENT_REQUEST)
    assert status.value.args == (rid, int(PreauthStatus.APPROVED))
