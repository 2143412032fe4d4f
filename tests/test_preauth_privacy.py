"""No member id and no diagnosis reaches the chain, not even hashed: a scripted run of every preauthorization
step (auto-approval, pended, more information, modification, appeal, decision, claims), then a scan of every
transaction's input and every event for each member id and ICD-10 code, plain or hashed."""

from __future__ import annotations

from eth_utils import keccak

from radledger.registries.preauth.commitments import (
    ClinicalOpening,
    MemberOpening,
    Opening,
    evidence_hash,
    new_salt,
)
from radledger.registries.preauth.types import ClaimStatus
from tests.phi_scan import assert_no_phi, chain_bytes, combined_forms, phi_forms
from tests.preauth_support import (
    World,
    world_base_fixture,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

PAYER_ID = "PAYER-SYNTH-01"
MEMBERS = ["SYNTH-M-100234", "SYNTH-M-100987"]
FIRST_DIAGNOSES = ["G43.909", "R51.9"]  # migraine, headache: MRI brain
SECOND_DIAGNOSES = ["M54.50", "M51.26"]  # low back pain, disc displacement: MRI lumbar
MORE_DIAGNOSES = ["M54.16"]  # radiculopathy, lumbar: the information provided


def _opening(member: str, codes: list[str], note: bytes) -> Opening:
    return Opening(MemberOpening.new(PAYER_ID, member), (ClinicalOpening.new(codes, [evidence_hash(note)]),))


def test_no_member_id_or_diagnosis_appears_on_chain_even_hashed(world: World) -> None:
    start = world.w3.eth.block_number + 1
    first = _opening(MEMBERS[0], FIRST_DIAGNOSES, b"synthetic note: six weeks of headache")
    second = _opening(MEMBERS[1], SECOND_DIAGNOSES, b"synthetic note: back pain, failed therapy")

    auto = world.request(world.gold, opening=first)
    world.as_site.submit_claim(auto, keccak(text="claim 1"), 1, 110_000)
    world.as_payer.adjudicate_claim(keccak(text="claim 1"), ClaimStatus.PAID)

    pended = world.request(world.licensed, opening=second, units=2)
    world.as_payer.request_information(pended, 2)
    more = ClinicalOpening(
        new_salt(), (*SECOND_DIAGNOSES, *MORE_DIAGNOSES), (evidence_hash(b"synthetic x-ray report"),)
    )
    world.as_site.provide_information(pended, more.commitment())
    world.as_payer.modify(pended, 1)
    appeal = ClinicalOpening(new_salt(), (*SECOND_DIAGNOSES, *MORE_DIAGNOSES), (evidence_hash(b"synthetic letter"),))
    world.as_site.appeal(pended, appeal.commitment())
    world.as_payer.approve(pended)
    world.as_site.submit_claim(pended, keccak(text="claim 2"), 2, 220_000)

    haystack = chain_bytes(world.w3, start)
    # The scan sees what the chain holds: the commitments are there (in calldata and events).
    assert first.member_commitment in haystack and more.commitment() in haystack
    assert world.as_payer.verify_opening(pended, second.with_clinical(more).with_clinical(appeal), start)

    codes = FIRST_DIAGNOSES + SECOND_DIAGNOSES + MORE_DIAGNOSES
    needles = {value: phi_forms(value) for value in [*MEMBERS, *codes]}
    for member, diagnoses in ((MEMBERS[0], FIRST_DIAGNOSES), (MEMBERS[1], SECOND_DIAGNOSES)):
        needles[f"{member} with {diagnoses}"] = combined_forms(PAYER_ID, member, diagnoses)
    assert_no_phi(haystack, needles)


def test_the_scan_would_see_an_unsalted_hash_of_a_diagnosis(world: World) -> None:
    """The scan can fail: a request whose 'commitment' is an unsalted keccak of a code is caught."""
    start = world.w3.eth.block_number + 1
    leaky = Opening(MemberOpening.new(PAYER_ID, MEMBERS[0]), (ClinicalOpening.new(["R51.9"]),))
    message = world.order(world.licensed, opening=leaky)
    message["clinicalCommitment"] = keccak(text="R51.9")
    world.as_site.request(message, world.signature(message))
    haystack = chain_bytes(world.w3, start)
    try:
        assert_no_phi(haystack, {"R51.9": phi_forms("R51.9")})
    except AssertionError as exc:
        assert "R51.9" in str(exc)
    else:
        raise AssertionError("the scan missed an unsalted hash of a diagnosis")
