"""Guardian abuses (issue 11, items 1 and 2), each performed step by step as an attacker would,
and shown to fail now:

- a guardian front-runs the patient's signed removal (or the patient's signed invalidation) with
  `invalidateSignatures(patient)`, so that the relay fails and a gasless patient can never remove
  it; now a guardian's invalidation moves only its own epoch, and the patient's signatures hold;
- a guardian's signature made under one appointment comes back to life when the patient removes
  and later re-appoints it; now the guardian's signatures commit to its appointment epoch, which
  every setGuardian bumps.

Each of these tests passed the attack (and so failed) on the contract before the fix.
"""

from __future__ import annotations

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.chain.signers import KeySigner
from radledger.deployment.addresses import Deployment
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import Guardian
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import Actors
from tests.support import register_record

IMAGES, TREAT = Scope.IMAGES, Purpose.TREAT


@pytest.fixture
def gasless_patient(w3: Web3) -> KeySigner:
    """A patient key that never holds ETH: every action it takes is a signature relayed by the site."""
    return KeySigner.create()


@pytest.fixture
def rid(records: RecordRegistryClient, gasless_patient: KeySigner) -> bytes:
    return register_record(records, gasless_patient.address, "ct head of a gasless patient")


@pytest.fixture
def rogue(w3: Web3, deployment: Deployment, actors: Actors) -> ConsentRegistryClient:
    """The guardian turned rogue: a funded account that sends its own transactions."""
    return deployment.consent(w3, actors.guardian)


def appoint(consent: ConsentRegistryClient, patient: KeySigner, guardian: str, seconds: int = 3600) -> None:
    consent.relay(consent.sign_set_guardian(patient, guardian, consent.now() + seconds))


# ------------------------------------------------------------------- item 1: the veto


def test_a_guardian_cannot_veto_its_removal_by_invalidating_the_patients_signatures(
    w3: Web3,
    consent: ConsentRegistryClient,
    rogue: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
) -> None:
    patient, guardian = gasless_patient.address, actors.guardian.address
    appoint(consent, gasless_patient, guardian)
    epoch_before = consent.signature_epoch(patient)

    # The patient signs the guardian's removal and hands it to the site...
    removal = consent.sign_set_guardian(gasless_patient, guardian, 0)
    # ...the guardian sees it coming and front-runs it with an invalidation of its own...
    receipt = rogue.invalidate_signatures(patient)
    (event,) = rogue.events(receipt, "SignaturesInvalidated")
    assert event["actor"] == guardian
    # ...which no longer touches the patient's epoch...
    assert consent.signature_epoch(patient) == epoch_before

    # ...so the relay of the removal lands (before the fix: InvalidSignature(patient), forever).
    receipt = consent.relay(removal)
    assert consent.events(receipt, "GuardianSet") == [{"patient": patient, "guardian": guardian, "validUntil": 0}]
    assert not consent.is_guardian(patient, guardian)
    # The removed guardian can do nothing more for the patient.
    with pytest.raises(errors.NotPatientOrGuardian) as exc:
        rogue.grant(patient, guardian, rid, IMAGES, TREAT)
    assert exc.value.args == (patient, guardian)
    with pytest.raises(errors.NotPatientOrGuardian) as exc:
        rogue.invalidate_signatures(patient)
    assert exc.value.args == (patient, guardian)
    assert not consent.has_access(patient, guardian, rid, IMAGES, TREAT)


def test_a_guardian_invalidating_again_and_again_never_blocks_the_patients_signatures(
    consent: ConsentRegistryClient,
    rogue: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
) -> None:
    """The patient's own signed invalidation, and a signed grant, survive a guardian's invalidations."""
    patient, guardian = gasless_patient.address, actors.guardian.address
    appoint(consent, gasless_patient, guardian)
    patients_grant = consent.sign_grant(gasless_patient, patient, actors.grantee.address, rid, IMAGES, TREAT)
    patients_invalidation = consent.sign_invalidate_signatures(gasless_patient, patient)
    for _ in range(3):
        rogue.invalidate_signatures(patient)
    consent.relay(patients_grant)
    assert consent.has_access(patient, actors.grantee.address, rid, IMAGES, TREAT)
    receipt = consent.relay(patients_invalidation)
    assert consent.events(receipt, "SignaturesInvalidated") == [{"patient": patient, "epoch": 1, "actor": patient}]


def test_a_guardian_cannot_stall_its_removal_through_the_appointment_version(
    consent: ConsentRegistryClient,
    rogue: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
) -> None:
    """Whatever the guardian does with its powers, the appointment's version and the patient's
    epoch (all that a SetGuardian signature commits to) stay put."""
    patient, guardian = gasless_patient.address, actors.guardian.address
    appoint(consent, gasless_patient, guardian)
    before = (consent.get_guardian(patient, guardian), consent.signature_epoch(patient))
    removal = consent.sign_set_guardian(gasless_patient, guardian, 0)
    rogue.grant(patient, guardian, rid, Scope.ALL, Purpose.ALL)
    rogue.revoke(patient, guardian, rid)
    rogue.invalidate_signatures(patient)
    rogue.set_guardian(actors.stranger.address, consent.now() + 60)  # appoints for itself, not the patient
    assert (consent.get_guardian(patient, guardian), consent.signature_epoch(patient)) == before
    consent.relay(removal)
    assert consent.get_guardian(patient, guardian) == Guardian(patient, guardian, 0, before[0].version + 1)


# --------------------------------------------------------- item 2: back from the dead


def test_a_reappointed_guardians_old_signature_stays_dead(
    w3: Web3,
    consent: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    guardian = KeySigner.create()
    appoint(consent, gasless_patient, guardian.address)
    # The guardian signs a grant under its first appointment; nobody relays it (yet).
    stale = consent.sign_grant(guardian, patient, grantee, rid, Scope.ALL, Purpose.ALL)
    # The patient removes the guardian, and some time later appoints it again.
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, 0))
    appoint(consent, gasless_patient, guardian.address)
    assert consent.is_guardian(patient, guardian.address)
    grant_before = consent.get_grant(patient, grantee, rid)
    block_before = w3.eth.block_number

    # The old signature is relayed (before the fix: it landed and granted everything).
    with pytest.raises(errors.InvalidSignature) as exc:
        actors.site.send(consent.by_sig_call(stale))
    assert exc.value.args == (guardian.address,)
    assert w3.eth.block_number == block_before
    assert consent.get_grant(patient, grantee, rid) == grant_before
    assert not consent.has_access(patient, grantee, rid, IMAGES, TREAT)
    # What the guardian signs under its new appointment works.
    consent.relay(consent.sign_grant(guardian, patient, grantee, rid, IMAGES, TREAT))
    assert consent.has_access(patient, grantee, rid, IMAGES, TREAT)


@pytest.mark.parametrize("kind", ["Revoke", "InvalidateSignatures"])
def test_every_kind_of_guardian_signature_dies_with_the_appointment(
    w3: Web3,
    consent: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
    kind: str,
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    guardian = KeySigner.create()
    appoint(consent, gasless_patient, guardian.address)
    consent.relay(consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT))
    if kind == "Revoke":
        stale = consent.sign_revoke(guardian, patient, grantee, rid)
    else:
        stale = consent.sign_invalidate_signatures(guardian, patient)
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, 0))
    appoint(consent, gasless_patient, guardian.address)
    with pytest.raises(errors.InvalidSignature) as exc:
        actors.site.send(consent.by_sig_call(stale))
    assert exc.value.args == (guardian.address,)
    assert consent.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_a_renewal_also_retires_the_guardians_outstanding_signatures(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    """Every setGuardian of a guardian is a new appointment for its signatures: the patient's way to
    void a guardian's outstanding signatures without removing it."""
    patient, guardian = gasless_patient.address, KeySigner.create()
    appoint(consent, gasless_patient, guardian.address)
    stale = consent.sign_grant(guardian, patient, actors.grantee.address, rid, IMAGES, TREAT)
    appoint(consent, gasless_patient, guardian.address, seconds=7200)
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(stale)
    assert exc.value.args == (guardian.address,)
