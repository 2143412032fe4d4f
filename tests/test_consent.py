"""ConsentRegistry: grants and revokes, windows, guardians, break-glass, recordAccess, and the
client's input checks that refuse bad input before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_contract
from radledger.deployment.plan import DEFAULT_BREAK_GLASS_SECONDS
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis, Grant, Guardian
from radledger.registries.records.client import RecordRegistryClient, record_id
from tests.conftest import ARTIFACTS, Actors
from tests.support import (
    OTHER_SITE_SALT,
    SITE_SALT,
    ZERO_ADDRESS,
    bad_checksum,
    nothing_sent,
    register_record,
    synthetic_uid,
)

IMAGES, REPORTS, SAFETY, ALL_SCOPES = Scope.IMAGES, Scope.REPORTS, Scope.SAFETY_PROFILE, Scope.ALL
TREAT, HPAYMT, HRESCH, ETREAT = Purpose.TREAT, Purpose.HPAYMT, Purpose.HRESCH, Purpose.ETREAT


def travel_to(w3: Web3, timestamp: int) -> None:
    """Mine a block at `timestamp` (views then see it; the next transaction runs one second later)."""
    now = int(w3.eth.get_block("latest")["timestamp"])
    assert timestamp >= now, "time only moves forward"
    time_travel(w3, timestamp - now)
    assert int(w3.eth.get_block("latest")["timestamp"]) == timestamp


def block_time(w3: Web3, receipt: Any) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


@pytest.fixture
def patient(actors: Actors) -> str:
    return actors.patient_signer.address


@pytest.fixture
def as_patient(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.patient)


@pytest.fixture
def as_guardian(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.guardian)


@pytest.fixture
def as_grantee(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.grantee)


@pytest.fixture
def as_emergency(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.emergency)


@pytest.fixture
def as_stranger(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    return deployment.consent(w3, actors.stranger)


@pytest.fixture
def rid(records: RecordRegistryClient, patient: str) -> bytes:
    """An MRI study of the patient held by the first site."""
    return register_record(records, patient, "mri lumbar spine")


@pytest.fixture
def other_rid(w3: Web3, deployment: Deployment, actors: Actors, patient: str) -> bytes:
    """A safety profile of the patient held by the other site."""
    other = deployment.records(w3, actors.other_site)
    return register_record(other, patient, "contrast allergy", RecordKind.SAFETY_PROFILE, OTHER_SITE_SALT)


UNREGISTERED = record_id(SITE_SALT, synthetic_uid("a study never registered"))


# ------------------------------------------------------------------------------ grants


def test_patient_grants_a_record_and_the_grantee_gains_exactly_those_terms(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    receipt = as_patient.grant(patient, grantee, rid, IMAGES | REPORTS, TREAT)
    assert as_patient.events(receipt, "ConsentGranted") == [
        {
            "patient": patient,
            "grantee": grantee,
            "recordId": rid,
            "scopes": 3,
            "purposes": 1,
            "validFrom": 0,
            "validUntil": FOREVER,
            "actor": patient,
        }
    ]
    assert as_patient.get_grant(patient, grantee, rid) == Grant(
        patient, grantee, rid, IMAGES | REPORTS, TREAT, 0, FOREVER, 1, 0
    )
    for scopes in (IMAGES, REPORTS, IMAGES | REPORTS):
        assert as_patient.has_access(patient, grantee, rid, scopes, TREAT)
        assert as_patient.access_basis(patient, grantee, rid, scopes, TREAT) == AccessBasis.RECORD_GRANT
    for scopes, purposes in ((SAFETY, TREAT), (ALL_SCOPES, TREAT), (IMAGES, HPAYMT), (IMAGES, TREAT | HPAYMT)):
        assert not as_patient.has_access(patient, grantee, rid, scopes, purposes)
        assert as_patient.access_basis(patient, grantee, rid, scopes, purposes) == AccessBasis.NONE


def test_a_record_grant_covers_only_that_record_grantee_and_patient(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, ALL_SCOPES, Purpose.ALL)
    assert as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert not as_patient.has_access(patient, grantee, other_rid, IMAGES, TREAT)
    assert not as_patient.has_access(patient, grantee, WILDCARD, IMAGES, TREAT)
    assert not as_patient.has_access(patient, actors.stranger.address, rid, IMAGES, TREAT)
    assert not as_patient.has_access(actors.stranger.address, grantee, rid, IMAGES, TREAT)


def test_each_scope_and_purpose_combination_is_checked_as_a_bitmask(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    granted_scopes, granted_purposes = IMAGES | SAFETY, TREAT | HRESCH
    as_patient.grant(patient, actors.grantee.address, rid, granted_scopes, granted_purposes)
    for scopes in range(1, 8):
        for purposes in range(1, 32):
            expected = scopes & ~granted_scopes == 0 and purposes & ~granted_purposes == 0
            assert as_patient.has_access(patient, actors.grantee.address, rid, scopes, purposes) is expected


def test_a_new_grant_replaces_the_terms_and_bumps_the_version(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, ALL_SCOPES, Purpose.ALL)
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT, 5, FOREVER - 1)
    assert as_patient.get_grant(patient, grantee, rid) == Grant(
        patient, grantee, rid, IMAGES, TREAT, 5, FOREVER - 1, 2, 0
    )
    assert as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert not as_patient.has_access(patient, grantee, rid, REPORTS, TREAT)
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, HRESCH)


def test_patient_revokes_a_grant(as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    receipt = as_patient.revoke(patient, grantee, rid)
    assert as_patient.events(receipt, "ConsentRevoked") == [
        {"patient": patient, "grantee": grantee, "recordId": rid, "actor": patient}
    ]
    # The slot keeps its version (replay protection of signatures); the terms are cleared.
    assert as_patient.get_grant(patient, grantee, rid) == Grant(patient, grantee, rid, Scope(0), Purpose(0), 0, 0, 2, 0)
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    with pytest.raises(errors.GrantNotFound) as exc:
        as_patient.revoke(patient, grantee, rid)
    assert exc.value.args == (patient, grantee, rid)
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    assert as_patient.get_grant(patient, grantee, rid).version == 3
    assert as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_revoke_of_a_grant_never_made_reverts(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    with pytest.raises(errors.GrantNotFound) as exc:
        as_patient.revoke(patient, actors.grantee.address, rid)
    assert exc.value.args == (patient, actors.grantee.address, rid)


def test_an_expired_grant_is_still_there_to_revoke(
    w3: Web3, as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    until = as_patient.now() + 10
    as_patient.grant(patient, actors.grantee.address, rid, IMAGES, TREAT, 0, until)
    travel_to(w3, until + 5)
    assert not as_patient.has_access(patient, actors.grantee.address, rid, IMAGES, TREAT)
    receipt = as_patient.revoke(patient, actors.grantee.address, rid)
    assert len(as_patient.events(receipt, "ConsentRevoked")) == 1


# ------------------------------------------------------------------ wildcard and additivity


def test_a_wildcard_grant_covers_every_record_of_the_patient(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    receipt = as_patient.grant(patient, grantee, WILDCARD, IMAGES, TREAT)
    assert as_patient.events(receipt, "ConsentGranted")[0]["recordId"] == WILDCARD
    for record in (rid, other_rid, UNREGISTERED, WILDCARD):
        assert as_patient.has_access(patient, grantee, record, IMAGES, TREAT)
        assert as_patient.access_basis(patient, grantee, record, IMAGES, TREAT) == AccessBasis.WILDCARD_GRANT
        assert not as_patient.has_access(patient, grantee, record, REPORTS, TREAT)
    assert not as_patient.has_access(actors.stranger.address, grantee, rid, IMAGES, TREAT)


def test_a_record_grant_is_the_basis_before_the_wildcard(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, WILDCARD, IMAGES | REPORTS, TREAT)
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    assert as_patient.access_basis(patient, grantee, rid, IMAGES, TREAT) == AccessBasis.RECORD_GRANT
    assert as_patient.access_basis(patient, grantee, rid, REPORTS, TREAT) == AccessBasis.WILDCARD_GRANT
    assert as_patient.access_basis(patient, grantee, other_rid, IMAGES, TREAT) == AccessBasis.WILDCARD_GRANT


def test_a_narrow_record_grant_never_restricts_the_wildcard(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    """Permit-only: there is no deny, so a narrower record grant takes nothing away."""
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, WILDCARD, ALL_SCOPES, Purpose.ALL)
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT, 0, as_patient.now() + 100)
    assert as_patient.access_basis(patient, grantee, rid, SAFETY, HRESCH) == AccessBasis.WILDCARD_GRANT


def test_revoke_removes_exactly_the_grant_named(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, REPORTS, TREAT)
    as_patient.grant(patient, grantee, WILDCARD, IMAGES, TREAT)

    as_patient.revoke(patient, grantee, rid)
    assert as_patient.access_basis(patient, grantee, rid, IMAGES, TREAT) == AccessBasis.WILDCARD_GRANT
    assert not as_patient.has_access(patient, grantee, rid, REPORTS, TREAT)
    assert as_patient.has_access(patient, grantee, other_rid, IMAGES, TREAT)

    as_patient.grant(patient, grantee, rid, REPORTS, TREAT)
    as_patient.revoke(patient, grantee, WILDCARD)
    assert as_patient.access_basis(patient, grantee, rid, REPORTS, TREAT) == AccessBasis.RECORD_GRANT
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert not as_patient.has_access(patient, grantee, other_rid, IMAGES, TREAT)


def test_one_grant_must_cover_the_whole_question(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    """Grants add up as separate permissions: each question (scopes x purposes) is answered by one
    grant, so images from the record grant and reports from the wildcard are two questions."""
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    as_patient.grant(patient, grantee, WILDCARD, REPORTS, TREAT)
    assert as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert as_patient.has_access(patient, grantee, rid, REPORTS, TREAT)
    assert not as_patient.has_access(patient, grantee, rid, IMAGES | REPORTS, TREAT)


def test_revoke_all_revokes_every_active_grant_of_a_grantee(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    as_patient.grant(patient, grantee, WILDCARD, IMAGES, TREAT)
    receipts = as_patient.revoke_all(patient, grantee, [rid, other_rid, WILDCARD])
    assert len(receipts) == 2
    for record in (rid, other_rid):
        assert not as_patient.has_access(patient, grantee, record, IMAGES, TREAT)


def test_has_access_says_no_to_empty_or_unknown_bits(
    as_patient: ConsentRegistryClient, as_emergency: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    """Past the client's checks, the contract itself answers no for 0 and for bits it does not know."""
    emergency = actors.emergency.address
    as_patient.grant(patient, emergency, WILDCARD, ALL_SCOPES, Purpose.ALL)
    as_emergency.break_glass(patient, 5)
    views = as_patient.contract.functions
    assert views.hasAccess(patient, emergency, rid, int(IMAGES), int(ETREAT)).call()
    for scopes, purposes in ((0, ETREAT), (IMAGES, 0), (8, ETREAT), (9, TREAT), (ALL_SCOPES, 32), (IMAGES, 33)):
        assert views.hasAccess(patient, emergency, rid, int(scopes), int(purposes)).call() is False
        assert views.accessBasis(patient, emergency, rid, int(scopes), int(purposes)).call() == AccessBasis.NONE


# ---------------------------------------------------------------------- validity windows


def test_a_grant_is_active_from_valid_from_until_just_before_valid_until(
    w3: Web3, as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    start = as_patient.now()
    valid_from, valid_until = start + 20, start + 40
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT, valid_from, valid_until)
    assert as_patient.get_grant(patient, grantee, rid).valid_from == valid_from
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    travel_to(w3, valid_from - 1)
    assert as_patient.access_basis(patient, grantee, rid, IMAGES, TREAT) == AccessBasis.NONE
    travel_to(w3, valid_from)
    assert as_patient.access_basis(patient, grantee, rid, IMAGES, TREAT) == AccessBasis.RECORD_GRANT
    travel_to(w3, valid_until - 1)
    assert as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    travel_to(w3, valid_until)
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_a_wildcard_window_applies_to_every_record(
    w3: Web3, as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes, other_rid: bytes
) -> None:
    grantee = actors.grantee.address
    until = as_patient.now() + 30
    as_patient.grant(patient, grantee, WILDCARD, ALL_SCOPES, TREAT, 0, until)
    assert as_patient.has_access(patient, grantee, other_rid, SAFETY, TREAT)
    travel_to(w3, until)
    assert not as_patient.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert not as_patient.has_access(patient, grantee, other_rid, SAFETY, TREAT)


# --------------------------------------------------------------------------- guardians


def test_patient_appoints_a_guardian_with_an_expiry(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    guardian = actors.guardian.address
    until = as_patient.now() + 3600
    receipt = as_patient.set_guardian(guardian, until)
    assert as_patient.events(receipt, "GuardianSet") == [
        {"patient": patient, "guardian": guardian, "validUntil": until}
    ]
    assert as_patient.get_guardian(patient, guardian) == Guardian(patient, guardian, until, 1)
    assert as_patient.is_guardian(patient, guardian)
    as_patient.set_guardian(guardian, until + 3600)
    assert as_patient.get_guardian(patient, guardian) == Guardian(patient, guardian, until + 3600, 2)


def test_a_guardian_grants_and_revokes_for_the_patient(
    as_patient: ConsentRegistryClient, as_guardian: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    guardian, grantee = actors.guardian.address, actors.grantee.address
    as_patient.set_guardian(guardian, as_patient.now() + 3600)
    receipt = as_guardian.grant(patient, grantee, rid, IMAGES, TREAT)
    assert as_guardian.events(receipt, "ConsentGranted")[0]["actor"] == guardian
    assert as_guardian.has_access(patient, grantee, rid, IMAGES, TREAT)
    receipt = as_guardian.revoke(patient, grantee, rid)
    assert as_guardian.events(receipt, "ConsentRevoked") == [
        {"patient": patient, "grantee": grantee, "recordId": rid, "actor": guardian}
    ]
    assert not as_guardian.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_a_guardian_sees_nothing_unless_granted(
    as_patient: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    guardian = actors.guardian.address
    as_patient.set_guardian(guardian, as_patient.now() + 3600)
    for purpose in Purpose:
        if purpose != Purpose.ALL:
            assert not as_patient.has_access(patient, guardian, rid, IMAGES, purpose)


def test_an_expired_guardian_is_refused_but_its_grants_stay(
    w3: Web3,
    as_patient: ConsentRegistryClient,
    as_guardian: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
) -> None:
    guardian, grantee = actors.guardian.address, actors.grantee.address
    until = as_patient.now() + 10
    as_patient.set_guardian(guardian, until)
    travel_to(w3, until - 2)
    as_guardian.grant(patient, grantee, rid, IMAGES, TREAT)  # runs at until - 1: the last second
    assert as_guardian.is_guardian(patient, guardian)  # the view, at until - 1
    with pytest.raises(errors.NotPatientOrGuardian):
        as_guardian.revoke(patient, grantee, rid)  # would run at until: too late
    travel_to(w3, until)
    assert not as_guardian.is_guardian(patient, guardian)
    assert as_guardian.get_guardian(patient, guardian) == Guardian(patient, guardian, until, 1)
    for action in (
        lambda: as_guardian.grant(patient, grantee, rid, ALL_SCOPES, TREAT),
        lambda: as_guardian.revoke(patient, grantee, rid),
        lambda: as_guardian.invalidate_signatures(patient),
    ):
        with pytest.raises(errors.NotPatientOrGuardian) as exc:
            action()
        assert exc.value.args == (patient, guardian)
    assert as_guardian.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_a_guardian_cannot_appoint_guardians(
    w3: Web3,
    deployment: Deployment,
    as_patient: ConsentRegistryClient,
    as_guardian: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
) -> None:
    guardian, deputy = actors.guardian.address, actors.stranger.address
    as_patient.set_guardian(guardian, as_patient.now() + 3600)
    # setGuardian always acts for the caller: the guardian appoints a guardian of its own.
    receipt = as_guardian.set_guardian(deputy, as_patient.now() + 3600)
    assert as_guardian.events(receipt, "GuardianSet")[0]["patient"] == guardian
    assert as_guardian.is_guardian(guardian, deputy)
    assert not as_guardian.is_guardian(patient, deputy)
    with pytest.raises(errors.NotPatientOrGuardian) as exc:
        deployment.consent(w3, actors.stranger).grant(patient, deputy, rid, IMAGES, TREAT)
    assert exc.value.args == (patient, deputy)


def test_patient_removes_a_guardian_with_zero(
    as_patient: ConsentRegistryClient, as_guardian: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    guardian = actors.guardian.address
    as_patient.set_guardian(guardian, as_patient.now() + 3600)
    receipt = as_patient.set_guardian(guardian, 0)
    assert as_patient.events(receipt, "GuardianSet") == [{"patient": patient, "guardian": guardian, "validUntil": 0}]
    assert as_patient.get_guardian(patient, guardian) == Guardian(patient, guardian, 0, 2)
    assert not as_patient.is_guardian(patient, guardian)
    with pytest.raises(errors.NotPatientOrGuardian):
        as_guardian.grant(patient, actors.grantee.address, rid, IMAGES, TREAT)


def test_set_guardian_refuses_bad_guardians_and_past_expiries(
    w3: Web3, as_patient: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    now = as_patient.now()
    guardian = actors.guardian.address
    with nothing_sent(w3):
        for bad_guardian, until in ((guardian, now - 1), (guardian, now), (ZERO_ADDRESS, now + 100)):
            with pytest.raises(errors.ValidationError):
                as_patient.set_guardian(bad_guardian, until)
    with pytest.raises(errors.InvalidGuardian) as exc:
        as_patient.set_guardian(patient, now + 100)
    assert exc.value.args == (patient, patient)
    fn = as_patient.contract.functions
    with pytest.raises(errors.InvalidGuardian) as exc:
        actors.patient.send(fn.setGuardian(ZERO_ADDRESS, now + 100))
    assert exc.value.args == (patient, ZERO_ADDRESS)
    # The transaction runs one second after the latest block: an expiry at that second is past.
    with pytest.raises(errors.ExpiryInPast) as past:
        actors.patient.send(fn.setGuardian(guardian, now + 1))
    assert past.value.args == (now + 1, now + 1)


def test_patient_and_guardian_invalidate_signatures(
    as_patient: ConsentRegistryClient, as_guardian: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    assert as_patient.signature_epoch(patient) == 0
    receipt = as_patient.invalidate_signatures(patient)
    assert as_patient.events(receipt, "SignaturesInvalidated") == [{"patient": patient, "epoch": 1, "actor": patient}]
    as_patient.set_guardian(actors.guardian.address, as_patient.now() + 3600)
    assert as_patient.signer_epoch(patient, actors.guardian.address) == 1 << 32 | 1  # appointment epoch 1
    receipt = as_guardian.invalidate_signatures(patient)
    # A guardian's invalidation moves only its own appointment epoch (the high half of its signer
    # epoch), never the patient's: it cannot void the patient's own signatures.
    assert as_guardian.events(receipt, "SignaturesInvalidated") == [
        {"patient": patient, "epoch": 2 << 32 | 1, "actor": actors.guardian.address}
    ]
    assert as_patient.signature_epoch(patient) == 1
    assert as_patient.signer_epoch(patient, actors.guardian.address) == 2 << 32 | 1


# ------------------------------------------------------------------------- break-glass


def test_break_glass_opens_every_record_for_emergency_treatment_only(
    w3: Web3,
    as_emergency: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
    other_rid: bytes,
) -> None:
    emergency = actors.emergency.address
    receipt = as_emergency.break_glass(patient, 7)
    until = block_time(w3, receipt) + DEFAULT_BREAK_GLASS_SECONDS
    assert as_emergency.events(receipt, "BreakGlassInvoked") == [
        {"patient": patient, "account": emergency, "reasonCode": 7, "validUntil": until}
    ]
    assert as_emergency.get_grant(patient, emergency, WILDCARD) == Grant(
        patient, emergency, WILDCARD, Scope(0), Purpose(0), 0, 0, 0, until
    )
    for record in (rid, other_rid, UNREGISTERED, WILDCARD):
        for scopes in (IMAGES, REPORTS, SAFETY, ALL_SCOPES):
            assert as_emergency.access_basis(patient, emergency, record, scopes, ETREAT) == AccessBasis.BREAK_GLASS
        for purposes in (TREAT, ETREAT | TREAT, Purpose.ALL):
            assert not as_emergency.has_access(patient, emergency, record, IMAGES, purposes)
    assert not as_emergency.has_access(actors.stranger.address, emergency, rid, IMAGES, ETREAT)
    assert not as_emergency.has_access(patient, actors.grantee.address, rid, IMAGES, ETREAT)


def test_break_glass_ends_after_its_window(
    w3: Web3, as_emergency: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    emergency = actors.emergency.address
    assert as_emergency.break_glass_duration() == DEFAULT_BREAK_GLASS_SECONDS
    until = block_time(w3, as_emergency.break_glass(patient, 1)) + DEFAULT_BREAK_GLASS_SECONDS
    travel_to(w3, until - 1)
    assert as_emergency.has_access(patient, emergency, rid, ALL_SCOPES, ETREAT)
    travel_to(w3, until)
    assert not as_emergency.has_access(patient, emergency, rid, ALL_SCOPES, ETREAT)
    with pytest.raises(errors.AccessDenied) as exc:
        as_emergency.record_access(emergency, rid, IMAGES, ETREAT)
    assert exc.value.args == (patient, emergency, rid, int(IMAGES), int(ETREAT))
    # Invoking it again opens a new window, evented again.
    receipt = as_emergency.break_glass(patient, 2)
    assert as_emergency.events(receipt, "BreakGlassInvoked")[0]["reasonCode"] == 2
    assert as_emergency.has_access(patient, emergency, rid, ALL_SCOPES, ETREAT)


def test_break_glass_requires_the_role(
    w3: Web3,
    deployment: Deployment,
    as_stranger: ConsentRegistryClient,
    patient: str,
    actors: Actors,
) -> None:
    role = as_stranger.role("BREAK_GLASS_ROLE")
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        as_stranger.break_glass(patient, 7)
    assert exc.value.args == (actors.stranger.address, role)
    governance = deployment.consent(w3, actors.admin)
    governance.grant_role("BREAK_GLASS_ROLE", actors.stranger.address)
    as_stranger.break_glass(patient, 7)
    governance.revoke_role("BREAK_GLASS_ROLE", actors.stranger.address)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        as_stranger.break_glass(patient, 7)


def test_break_glass_refuses_reason_code_zero_and_the_zero_patient(
    w3: Web3, as_emergency: ConsentRegistryClient, patient: str, actors: Actors
) -> None:
    with nothing_sent(w3):
        for bad_patient, reason in ((patient, 0), (patient, 65536), (patient, -1), (ZERO_ADDRESS, 7)):
            with pytest.raises(errors.ValidationError):
                as_emergency.break_glass(bad_patient, reason)
    fn = as_emergency.contract.functions
    with pytest.raises(errors.InvalidReasonCode) as exc:
        actors.emergency.send(fn.breakGlass(patient, 0))
    assert exc.value.args == (0,)
    with pytest.raises(errors.ZeroAddress):
        actors.emergency.send(fn.breakGlass(ZERO_ADDRESS, 7))


def test_break_glass_and_a_grant_to_the_same_account_keep_each_other(
    as_patient: ConsentRegistryClient, as_emergency: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    emergency = actors.emergency.address
    as_patient.grant(patient, emergency, WILDCARD, IMAGES, TREAT)
    as_emergency.break_glass(patient, 3)
    until = as_patient.get_grant(patient, emergency, WILDCARD).break_glass_until
    assert as_patient.access_basis(patient, emergency, rid, REPORTS, ETREAT) == AccessBasis.BREAK_GLASS
    as_patient.revoke(patient, emergency, WILDCARD)
    assert as_patient.get_grant(patient, emergency, WILDCARD).break_glass_until == until
    assert as_patient.access_basis(patient, emergency, rid, REPORTS, ETREAT) == AccessBasis.BREAK_GLASS
    as_patient.grant(patient, emergency, WILDCARD, ALL_SCOPES, ETREAT)
    assert as_patient.get_grant(patient, emergency, WILDCARD).break_glass_until == until
    assert as_patient.access_basis(patient, emergency, rid, REPORTS, ETREAT) == AccessBasis.WILDCARD_GRANT


@pytest.mark.parametrize(("duration", "admin_is_zero"), [(59, False), (3 * 24 * 3600 + 1, False), (60, True)], ids=str)
def test_constructor_refuses_a_bad_break_glass_window_or_admin(
    w3: Web3, deployment: Deployment, actors: Actors, duration: int, admin_is_zero: bool
) -> None:
    admin = ZERO_ADDRESS if admin_is_zero else actors.admin.address
    expected: errors.ContractError = (
        errors.ZeroAddress() if admin_is_zero else errors.InvalidBreakGlassDuration(duration)
    )
    with pytest.raises(errors.ContractError) as exc:
        deploy_contract(
            actors.admin, "ConsentRegistry", admin, deployment.record_registry, duration, artifacts_dir=ARTIFACTS
        )
    assert exc.value == expected


# ------------------------------------------------------------------------ recordAccess


def test_the_grantee_records_its_access(
    as_patient: ConsentRegistryClient, as_grantee: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, IMAGES | REPORTS, TREAT | HPAYMT)
    simulated = as_grantee.contract.functions.recordAccess(grantee, rid, int(IMAGES), int(TREAT))
    assert simulated.call({"from": grantee}) == AccessBasis.RECORD_GRANT
    receipt = as_grantee.record_access(grantee, rid, IMAGES | REPORTS, HPAYMT)
    assert as_grantee.events(receipt, "AccessRecorded") == [
        {
            "recordId": rid,
            "patient": patient,
            "grantee": grantee,
            "scopes": 3,
            "purpose": int(HPAYMT),
            "basis": int(AccessBasis.RECORD_GRANT),
            "recorder": grantee,
        }
    ]


def test_the_records_custodian_records_an_access_for_the_grantee(
    as_patient: ConsentRegistryClient, consent: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    as_patient.grant(patient, actors.grantee.address, WILDCARD, IMAGES, TREAT)
    receipt = consent.record_access(actors.grantee.address, rid, IMAGES, TREAT)
    event = consent.events(receipt, "AccessRecorded")[0]
    assert (event["recorder"], event["basis"]) == (actors.site.address, AccessBasis.WILDCARD_GRANT)


def test_break_glass_access_is_recorded_with_its_basis(
    as_emergency: ConsentRegistryClient, patient: str, actors: Actors, other_rid: bytes
) -> None:
    as_emergency.break_glass(patient, 9)
    receipt = as_emergency.record_access(actors.emergency.address, other_rid, ALL_SCOPES, ETREAT)
    assert as_emergency.events(receipt, "AccessRecorded")[0]["basis"] == AccessBasis.BREAK_GLASS


@pytest.mark.parametrize("caller", ["other_site", "stranger", "patient"])
def test_only_the_grantee_or_the_records_custodian_records_an_access(
    w3: Web3,
    deployment: Deployment,
    as_patient: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
    caller: str,
) -> None:
    as_patient.grant(patient, actors.grantee.address, rid, IMAGES, TREAT)
    sender = getattr(actors, caller)
    with pytest.raises(errors.NotGranteeOrCustodian) as exc:
        deployment.consent(w3, sender).record_access(actors.grantee.address, rid, IMAGES, TREAT)
    assert exc.value.args == (rid, sender.address)


def test_record_access_of_an_unknown_record_reverts(as_grantee: ConsentRegistryClient, actors: Actors) -> None:
    with pytest.raises(errors.UnknownRecord) as exc:
        as_grantee.record_access(actors.grantee.address, UNREGISTERED, IMAGES, TREAT)
    assert exc.value.args == (UNREGISTERED,)


def test_record_access_without_access_reverts_with_the_question(
    as_patient: ConsentRegistryClient, as_grantee: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    as_patient.grant(patient, grantee, rid, IMAGES, TREAT)
    with pytest.raises(errors.AccessDenied) as exc:
        as_grantee.record_access(grantee, rid, REPORTS, HRESCH)
    assert exc.value.args == (patient, grantee, rid, int(REPORTS), int(HRESCH))
    assert isinstance(exc.value, errors.ContractError)
    assert (exc.value.patient, exc.value.scopes, exc.value.purpose) == (patient, 2, 8)  # type: ignore[attr-defined]


def test_record_access_takes_the_patient_from_the_record_registry(
    as_stranger: ConsentRegistryClient, as_grantee: ConsentRegistryClient, patient: str, actors: Actors, rid: bytes
) -> None:
    """Another patient's grant on the record does not open it: the record says whose it is."""
    impostor, grantee = actors.stranger.address, actors.grantee.address
    as_stranger.grant(impostor, grantee, rid, ALL_SCOPES, Purpose.ALL)
    as_stranger.grant(impostor, grantee, WILDCARD, ALL_SCOPES, Purpose.ALL)
    assert as_stranger.has_access(impostor, grantee, rid, IMAGES, TREAT)  # the checker's binding job
    with pytest.raises(errors.AccessDenied) as exc:
        as_grantee.record_access(grantee, rid, IMAGES, TREAT)
    assert exc.value.args == (patient, grantee, rid, int(IMAGES), int(TREAT))


def test_record_access_checks_scopes_and_a_single_purpose(
    w3: Web3, as_grantee: ConsentRegistryClient, actors: Actors, rid: bytes
) -> None:
    grantee = actors.grantee.address
    with nothing_sent(w3):
        for scopes, purpose in ((IMAGES, TREAT | HPAYMT), (0, TREAT), (8, TREAT), (IMAGES, 0), (IMAGES, 32)):
            with pytest.raises(errors.ValidationError):
                as_grantee.record_access(grantee, rid, scopes, purpose)
    fn = as_grantee.contract.functions.recordAccess
    for scopes, purpose, expected in (
        (1, 3, errors.InvalidPurposes(3)),
        (1, 0, errors.InvalidPurposes(0)),
        (1, 32, errors.InvalidPurposes(32)),
        (0, 1, errors.InvalidScopes(0)),
        (8, 1, errors.InvalidScopes(8)),
    ):
        with pytest.raises(errors.ContractError) as exc:
            actors.grantee.send(fn(grantee, rid, scopes, purpose))
        assert exc.value == expected


# ------------------------------------------------------------- contract-side grant checks


@pytest.mark.parametrize(
    ("case", "args", "expected"),
    [
        ("no scopes", dict(scopes=0), lambda now, p: errors.InvalidScopes(0)),
        ("unknown scope", dict(scopes=8), lambda now, p: errors.InvalidScopes(8)),
        ("no purposes", dict(purposes=0), lambda now, p: errors.InvalidPurposes(0)),
        ("unknown purpose", dict(purposes=32), lambda now, p: errors.InvalidPurposes(32)),
        ("empty window", dict(valid_from=500, valid_until=500), lambda now, p: errors.InvalidValidity(500, 500)),
        (
            "from after until",
            dict(valid_from=FOREVER, valid_until=FOREVER - 1),
            lambda now, p: errors.InvalidValidity(FOREVER, FOREVER - 1),
        ),
        ("until in the past", dict(valid_until=1000), lambda now, p: errors.ExpiryInPast(1000, now + 1)),
        ("until at the tx's second", dict(valid_until=-1), lambda now, p: errors.ExpiryInPast(now + 1, now + 1)),
        ("zero grantee", dict(grantee=ZERO_ADDRESS), lambda now, p: errors.ZeroAddress()),
        ("zero patient", dict(patient=ZERO_ADDRESS), lambda now, p: errors.ZeroAddress()),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_contract_checks_grant_terms(
    as_patient: ConsentRegistryClient,
    patient: str,
    actors: Actors,
    rid: bytes,
    case: str,
    args: dict[str, Any],
    expected: Callable[[int, str], errors.ContractError],
) -> None:
    now = as_patient.now()
    terms: dict[str, Any] = dict(
        patient=patient, grantee=actors.grantee.address, scopes=1, purposes=1, valid_from=0, valid_until=FOREVER
    )
    terms.update(args)
    if terms["valid_until"] == -1:
        terms["valid_until"] = now + 1
    fn = as_patient.contract.functions.grant(
        terms["patient"], terms["grantee"], rid, terms["scopes"], terms["purposes"], terms["valid_from"],
        terms["valid_until"],
    )  # fmt: skip
    with pytest.raises(errors.ContractError) as exc:
        actors.patient.send(fn)
    assert exc.value == expected(now, patient)


# ------------------------------------------------------------- client checks, nothing sent


@dataclass(frozen=True)
class Ctx:
    patient_client: ConsentRegistryClient
    emergency_client: ConsentRegistryClient
    actors: Actors
    patient: str
    rid: bytes
    now: int


def _grant(ctx: Ctx, **overrides: Any) -> Callable[[], Any]:
    terms: dict[str, Any] = dict(
        patient=ctx.patient,
        grantee=ctx.actors.grantee.address,
        record_id=ctx.rid,
        scopes=IMAGES,
        purposes=TREAT,
        valid_from=0,
        valid_until=FOREVER,
    )
    terms.update(overrides)
    return lambda: ctx.patient_client.grant(**terms)


def _sign_grant(ctx: Ctx, **overrides: Any) -> Callable[[], Any]:
    terms: dict[str, Any] = dict(
        signer=ctx.actors.patient_signer,
        patient=ctx.patient,
        grantee=ctx.actors.grantee.address,
        record_id=ctx.rid,
        scopes=IMAGES,
        purposes=TREAT,
    )
    terms.update(overrides)
    return lambda: ctx.patient_client.sign_grant(**terms)


MALFORMED = "0x12345"
INVALID_INPUT: list[tuple[str, Callable[[Ctx], Callable[[], Any]]]] = [
    ("grant: malformed patient", lambda c: _grant(c, patient=MALFORMED)),
    ("grant: malformed grantee", lambda c: _grant(c, grantee="not an address")),
    ("grant: grantee with a bad checksum", lambda c: _grant(c, grantee=bad_checksum(c.actors.grantee.address))),
    ("grant: zero grantee", lambda c: _grant(c, grantee=ZERO_ADDRESS)),
    ("grant: record id of 31 bytes", lambda c: _grant(c, record_id=c.rid[:31])),
    ("grant: record id of 33 bytes", lambda c: _grant(c, record_id=c.rid + b"\x00")),
    ("grant: record id not hex", lambda c: _grant(c, record_id="0x" + "zz" * 32)),
    ("grant: no scopes", lambda c: _grant(c, scopes=0)),
    ("grant: scopes out of range", lambda c: _grant(c, scopes=8)),
    ("grant: negative scopes", lambda c: _grant(c, scopes=-1)),
    ("grant: no purposes", lambda c: _grant(c, purposes=0)),
    ("grant: purposes out of range", lambda c: _grant(c, purposes=32)),
    ("grant: valid_until in the past", lambda c: _grant(c, valid_until=c.now - 1)),
    ("grant: valid_until now", lambda c: _grant(c, valid_until=c.now)),
    ("grant: valid_from after valid_until", lambda c: _grant(c, valid_from=c.now + 50, valid_until=c.now + 40)),
    ("grant: valid_from equal to valid_until", lambda c: _grant(c, valid_from=c.now + 50, valid_until=c.now + 50)),
    ("grant: valid_until beyond uint40", lambda c: _grant(c, valid_until=FOREVER + 1)),
    (
        "revoke: malformed patient",
        lambda c: lambda: c.patient_client.revoke(MALFORMED, c.actors.grantee.address, c.rid),
    ),
    (
        "revoke: grantee with a bad checksum",
        lambda c: lambda: c.patient_client.revoke(c.patient, bad_checksum(c.actors.grantee.address), c.rid),
    ),
    (
        "revoke: record id of 31 bytes",
        lambda c: lambda: c.patient_client.revoke(c.patient, c.actors.grantee.address, c.rid[:31]),
    ),
    ("setGuardian: malformed guardian", lambda c: lambda: c.patient_client.set_guardian(MALFORMED, c.now + 100)),
    ("setGuardian: expiry in the past", lambda c: lambda: c.patient_client.set_guardian(c.patient, c.now - 5)),
    (
        "invalidateSignatures: bad checksum",
        lambda c: lambda: c.patient_client.invalidate_signatures(bad_checksum(c.patient)),
    ),
    ("breakGlass: malformed patient", lambda c: lambda: c.emergency_client.break_glass(MALFORMED, 7)),
    (
        "recordAccess: record id of 33 bytes",
        lambda c: lambda: c.emergency_client.record_access(c.actors.emergency.address, c.rid + b"\x01", 1, 16),
    ),
    ("signGrant: deadline already past", lambda c: _sign_grant(c, deadline=c.now - 1)),
    ("signGrant: scopes out of range", lambda c: _sign_grant(c, scopes=64)),
    ("signGrant: valid_from after valid_until", lambda c: _sign_grant(c, valid_from=100, valid_until=99)),
    ("signGrant: malformed grantee", lambda c: _sign_grant(c, grantee=MALFORMED)),
    (
        "signRevoke: deadline already past",
        lambda c: (
            lambda: c.patient_client.sign_revoke(
                c.actors.patient_signer, c.patient, c.actors.grantee.address, c.rid, deadline=c.now - 60
            )
        ),
    ),
    (
        "signSetGuardian: deadline already past",
        lambda c: (
            lambda: c.patient_client.sign_set_guardian(
                c.actors.patient_signer, c.actors.guardian.address, c.now + 100, deadline=c.now - 1
            )
        ),
    ),
    (
        "signInvalidateSignatures: deadline already past",
        lambda c: (
            lambda: c.patient_client.sign_invalidate_signatures(c.actors.patient_signer, c.patient, deadline=c.now - 1)
        ),
    ),
    (
        "hasAccess: purposes out of range",
        lambda c: lambda: c.patient_client.has_access(c.patient, c.actors.grantee.address, c.rid, 1, 64),
    ),
]


@pytest.mark.parametrize(("case", "action"), INVALID_INPUT, ids=[case for case, _ in INVALID_INPUT])
def test_the_client_refuses_bad_input_before_sending(
    w3: Web3,
    as_patient: ConsentRegistryClient,
    as_emergency: ConsentRegistryClient,
    actors: Actors,
    patient: str,
    rid: bytes,
    case: str,
    action: Callable[[Ctx], Callable[[], Any]],
) -> None:
    ctx = Ctx(as_patient, as_emergency, actors, patient, rid, as_patient.now())
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        action(ctx)()
