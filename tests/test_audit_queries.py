"""An auditor's questions answered from the event index: consent history, who could access a record
when and why, the access trail, break-glass, credentials on a date and a payer's requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3

from radledger.audit import AuditIndex, NotInIndex, sync
from radledger.audit.queries.accesses import access_trail, break_glass_events
from radledger.audit.queries.consent import consent_history, who_could_access
from radledger.audit.queries.credentials import credential_history, credential_standing
from radledger.audit.queries.preauth import payer_requests
from radledger.chain.connection import time_travel
from radledger.deployment.addresses import Deployment
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from radledger.registries.credentials.types import CredentialStatus
from radledger.registries.preauth.types import PreauthStatus
from tests.audit_backends import NewIndex
from tests.conftest import Actors
from tests.preauth_support import World, travel_to, world_base_fixture, world_fixture  # noqa: F401
from tests.support import register_record

DAY = 24 * 3600


def synced_index(
    w3: Web3, deployment: Deployment, world: World | None = None, new_index: NewIndex | None = None
) -> AuditIndex:
    """A fresh index of the deployment (and the preauth world's two contracts): from `new_index` (the
    backend of the test), else in memory."""
    extra = {"CredentialRegistry": world.creds.address, "PreauthRegistry": world.address} if world else None
    index = new_index() if new_index is not None else AuditIndex()
    sync(w3, index, deployment.with_contracts(extra or {}))
    return index


def block_time(w3: Web3, receipt: Any) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


@dataclass(frozen=True)
class Story:
    """A scripted consent history; times are the block times of its transactions."""

    patient: str
    guardian: str
    grantee: str
    billing: str  # granted a wildcard by the guardian
    emergency: str
    site: str
    rid: bytes
    rid2: bytes
    registered_at: int
    granted_at: int
    wildcard_from: int
    wildcard_until: int
    revoked_at: int
    glass_at: int
    glass_until: int
    later: int  # after every window closed


@pytest.fixture(scope="module", name="story")
def story_fixture(chain: Web3, deployment: Deployment, actors: Actors, world_base: World) -> Iterator[Story]:
    """Told once per module inside a snapshot (each test's own `w3` snapshot nests inside it). It asks for the
    preauth world first so that the world is deployed outside this snapshot and outlives the module."""
    snapshot = chain.testing.snapshot()
    try:
        yield tell_story(chain, deployment, actors)
    finally:
        chain.testing.revert(snapshot)


@pytest.fixture(scope="module", name="story_index")
def story_index_fixture(chain: Web3, deployment: Deployment, story: Story, module_indexes: NewIndex) -> AuditIndex:
    return synced_index(chain, deployment, new_index=module_indexes)


def tell_story(w3: Web3, deployment: Deployment, actors: Actors) -> Story:
    records = deployment.records(w3, actors.site)
    patient, guardian = actors.patient.address, actors.guardian.address
    grantee, emergency, billing = actors.grantee.address, actors.emergency.address, actors.other_site.address
    as_patient = deployment.consent(w3, actors.patient)
    rid = register_record(records, patient, "audit: mri knee")
    registered_at = as_patient.now()
    rid2 = register_record(records, patient, "audit: safety profile")
    granted_at = block_time(w3, as_patient.grant(patient, grantee, rid, Scope.IMAGES, Purpose.TREAT))
    as_patient.set_guardian(guardian, granted_at + 3600)
    wildcard_from, wildcard_until = granted_at + 3, granted_at + 5000
    deployment.consent(w3, actors.guardian).grant(
        patient, billing, WILDCARD, Scope.REPORTS, Purpose.HPAYMT, wildcard_from, wildcard_until
    )
    deployment.consent(w3, actors.grantee).record_access(grantee, rid, Scope.IMAGES, Purpose.TREAT)
    revoked_at = block_time(w3, as_patient.revoke(patient, grantee, rid))
    as_emergency = deployment.consent(w3, actors.emergency)
    glass_at = block_time(w3, as_emergency.break_glass(patient, 11))
    glass_until = glass_at + as_emergency.break_glass_duration()
    deployment.consent(w3, actors.site).record_access(emergency, rid, Scope.ALL, Purpose.ETREAT)
    later = time_travel(w3, 2 * DAY)
    as_emergency.break_glass(actors.stranger.address, 12)
    return Story(
        patient, guardian, grantee, billing, emergency, actors.site.address, rid, rid2, registered_at, granted_at,
        wildcard_from, wildcard_until, revoked_at, glass_at, glass_until, later,
    )  # fmt: skip


def test_consent_history_lists_a_patients_events_in_chain_order(story: Story, story_index: AuditIndex) -> None:
    index = story_index
    history = consent_history(index, story.patient)
    assert [c.action for c in history] == [
        "record-registered", "record-registered", "granted", "guardian-appointed", "granted", "access-recorded",
        "revoked", "break-glass", "access-recorded",
    ]  # fmt: skip
    guardian_grant = history[4]
    assert (guardian_grant.counterpart, guardian_grant.actor, guardian_grant.by_guardian) == (
        story.billing,
        story.guardian,
        True,
    )
    assert (guardian_grant.record_id, guardian_grant.valid_from, guardian_grant.valid_until) == (
        WILDCARD,
        story.wildcard_from,
        story.wildcard_until,
    )
    assert not history[2].by_guardian
    assert history[7].reason_code == 11
    assert [c.position for c in [h.source for h in history]] == sorted(h.source.position for h in history)
    assert consent_history(index, story.patient, since=story.revoked_at)[0].action == "revoked"


def test_who_could_access_names_the_grant_the_guardian_and_break_glass_at_each_time(
    story: Story, story_index: AuditIndex
) -> None:
    index = story_index

    at_grant = who_could_access(index, story.rid, story.granted_at)
    assert [(r.grantee, r.basis) for r in at_grant.rights] == [(story.grantee, AccessBasis.RECORD_GRANT)]
    assert at_grant.rights[0].actor == story.patient
    assert [g.guardian for g in at_grant.guardians] == []  # appointed in the next block

    before_revoke = who_could_access(index, story.rid, story.revoked_at - 1)
    assert [(r.grantee, r.basis, r.by_guardian) for r in before_revoke.rights] == [
        (story.grantee, AccessBasis.RECORD_GRANT, False),
        (story.billing, AccessBasis.WILDCARD_GRANT, True),
    ]
    assert [g.guardian for g in before_revoke.guardians] == [story.guardian]
    assert before_revoke.basis(story.billing, Scope.REPORTS, Purpose.HPAYMT) is AccessBasis.WILDCARD_GRANT
    assert before_revoke.basis(story.billing, Scope.IMAGES, Purpose.HPAYMT) is AccessBasis.NONE

    during_glass = who_could_access(index, story.rid, story.glass_at)
    assert [(r.grantee, r.basis) for r in during_glass.rights] == [
        (story.billing, AccessBasis.WILDCARD_GRANT),
        (story.emergency, AccessBasis.BREAK_GLASS),
    ]
    glass = during_glass.rights[1]
    assert (glass.reason_code, glass.valid_until) == (11, story.glass_until)
    assert during_glass.basis(story.emergency, Scope.ALL, Purpose.ETREAT) is AccessBasis.BREAK_GLASS
    assert during_glass.basis(story.emergency, Scope.IMAGES, Purpose.TREAT) is AccessBasis.NONE
    assert during_glass.basis(story.grantee, Scope.IMAGES, Purpose.TREAT) is AccessBasis.NONE  # revoked

    assert who_could_access(index, story.rid, story.later).rights == []
    assert who_could_access(index, story.rid, story.registered_at - 1).rights == []


def test_who_could_access_now_agrees_with_the_contracts_access_basis(
    w3: Web3, deployment: Deployment, actors: Actors, story: Story, new_index: NewIndex
) -> None:
    consent = deployment.consent(w3)
    as_patient = deployment.consent(w3, actors.patient)
    as_patient.grant(story.patient, story.grantee, WILDCARD, Scope.ALL, Purpose.TREAT | Purpose.HRESCH)
    as_patient.grant(story.patient, story.billing, story.rid, Scope.IMAGES, Purpose.HPAYMT)
    index = synced_index(w3, deployment, new_index=new_index)
    report = who_could_access(index, story.rid)
    assert report.at == consent.now()
    for grantee in (story.grantee, story.billing, story.emergency, story.guardian):
        for scopes in (Scope.IMAGES, Scope.ALL):
            for purposes in (Purpose.TREAT, Purpose.HPAYMT, Purpose.TREAT | Purpose.HRESCH, Purpose.ETREAT):
                view = consent.access_basis(story.patient, grantee, story.rid, scopes, purposes)
                assert report.basis(grantee, scopes, purposes) is view, (grantee, scopes, purposes)


def test_an_unknown_record_is_not_in_the_index(story: Story, story_index: AuditIndex) -> None:
    index = story_index
    with pytest.raises(NotInIndex):
        who_could_access(index, b"\x42" * 32)


def test_access_trail_lists_recorded_accesses_with_basis_and_recorder(story: Story, story_index: AuditIndex) -> None:
    index = story_index
    trail = access_trail(index, story.rid)
    assert [(e.grantee, e.basis, e.recorder, e.recorded_by_custodian) for e in trail] == [
        (story.grantee, AccessBasis.RECORD_GRANT, story.grantee, False),
        (story.emergency, AccessBasis.BREAK_GLASS, story.site, True),
    ]
    assert (trail[1].scopes, trail[1].purpose, trail[1].patient) == (Scope.ALL, Purpose.ETREAT, story.patient)
    assert access_trail(index, story.rid2) == []
    assert access_trail(index, story.rid, since=story.glass_at) == trail[1:]


def test_break_glass_events_in_a_period_carry_reason_codes_and_the_accesses_under_them(
    actors: Actors, story: Story, story_index: AuditIndex
) -> None:
    index = story_index
    everything = break_glass_events(index)
    assert [(e.patient, e.reason_code) for e in everything] == [(story.patient, 11), (actors.stranger.address, 12)]
    assert [a.grantee for a in everything[0].accesses] == [story.emergency]
    assert everything[1].accesses == ()
    in_period = break_glass_events(index, since=story.glass_at, until=story.later)
    assert [(e.account, e.reason_code, e.valid_until) for e in in_period] == [(story.emergency, 11, story.glass_until)]
    assert break_glass_events(index, patient=actors.stranger.address)[0].reason_code == 12


def test_credential_history_and_standing_on_a_date(
    w3: Web3, deployment: Deployment, world: World, new_index: NewIndex
) -> None:
    creds = world.creds
    physician = world.gold.address
    first_license = creds.latest(physician, world.license_schema)
    assert first_license is not None
    travel_to(w3, world.now() + 10 * DAY)
    renewed = creds.with_sender(world.board).attest(physician, world.license_schema, world.now() + 400 * DAY)
    renewed_at = world.now()
    travel_to(w3, renewed_at + DAY)
    creds.with_sender(world.payer).revoke(world.gold_uid, 5)
    revoked_at = world.now()
    index = synced_index(w3, deployment, world, new_index)

    history = credential_history(index, physician)
    assert [(e.schema_id, e.sequence) for e in history] == [
        (world.license_schema, 1), (world.gold_schema, 1), (world.license_schema, 2),
    ]  # fmt: skip
    assert history[0].superseded_by is not None and history[0].superseded_by.args["uid"] == renewed.uid
    assert history[1].revoked is not None and history[1].revoked.args["reasonCode"] == 5
    assert history[1].revoked_at == revoked_at
    assert history[2].latest and not history[0].latest

    def statuses(at: int) -> dict[int, CredentialStatus]:
        return {s.schema_id: s.status for s in credential_standing(index, physician, at)}

    before = statuses(revoked_at - 1)
    assert before == {world.license_schema: CredentialStatus.VALID, world.gold_schema: CredentialStatus.VALID}
    assert credential_standing(index, physician, renewed_at - 1)[0].entry == history[0]
    assert credential_standing(index, physician, renewed_at)[0].entry == history[2]
    assert statuses(revoked_at)[world.gold_schema] is CredentialStatus.REVOKED
    assert statuses(history[0].attested_at - 1) == {
        world.license_schema: CredentialStatus.MISSING,
        world.gold_schema: CredentialStatus.MISSING,
    }
    assert statuses(history[2].valid_until) == {
        world.license_schema: CredentialStatus.EXPIRED,
        world.gold_schema: CredentialStatus.REVOKED,
    }
    # The chain agrees: latest wins, and the revocation ends the gold card.
    assert creds.has_valid_credential(physician, world.license_schema)
    assert not creds.has_valid_credential(physician, world.gold_schema)
    for entry in history:
        assert creds.is_valid_at(entry.uid, revoked_at - 1) is (
            entry.status_at(revoked_at - 1) is CredentialStatus.VALID
        )


def test_payer_requests_show_each_request_with_its_decisions(
    w3: Web3, deployment: Deployment, world: World, new_index: NewIndex
) -> None:
    auto = world.request()  # gold card: approved at once
    pended = world.pended(units=2, procedure="72148", expedited=True)
    travel_to(w3, world.now() + 3600)
    world.as_payer.deny(pended, 7)
    other = world.request(world.licensed, payer=world.other_payer.address)
    index = synced_index(w3, deployment, world, new_index)
    cases = payer_requests(index, world.payer.address)
    assert [c.request_id for c in cases] == [auto, pended]
    first, second = cases
    assert first.decision is not None and first.decision.automatic and first.decision_seconds == 0
    assert first.state.status is PreauthStatus.APPROVED and first.procedure == "70551"
    assert second.decision is not None and second.decision.status is PreauthStatus.DENIED
    assert (second.decision.reason_code, second.decision_seconds, second.expedited) == (7, 3601, True)
    assert second.state == world.preauth().get_request(pended)
    assert [c.request_id for c in payer_requests(index, world.other_payer.address)] == [other]
    assert payer_requests(index, world.payer.address, since=second.requested_at) == [second]


def test_the_story_ends_with_the_slots_it_tells(consent: ConsentRegistryClient, story: Story) -> None:
    """The story's final slots, as a cross-check of the fixture itself."""
    assert not consent.get_grant(story.patient, story.grantee, story.rid).scopes
    assert consent.get_grant(story.patient, story.billing, WILDCARD).valid_until == story.wildcard_until
