"""Salted commitments of a prior-authorization request: canonical, salted, opened and verified off chain."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from radledger.chain.errors import ValidationError
from radledger.registries.preauth.commitments import (
    CLINICAL_TAG,
    MEMBER_TAG,
    ClinicalOpening,
    MemberOpening,
    Opening,
    claim_id,
    evidence_file_hash,
    evidence_hash,
    icd10_code,
    new_opening,
    new_salt,
    verify_opening,
)

SALT = keccak(text="a fixed synthetic salt")
OTHER_SALT = keccak(text="another synthetic salt")
NOTE = b"synthetic clinical note: headache for six weeks, no red flags"


def test_the_member_commitment_is_keccak_of_the_abi_encoding_of_tag_salt_payer_and_member() -> None:
    opening = MemberOpening(SALT, " PAYER-01 ", "SYNTH-000123")
    expected = keccak(
        abi_encode(["string", "bytes32", "string", "string"], [MEMBER_TAG, SALT, "PAYER-01", "SYNTH-000123"])
    )
    assert opening.commitment() == expected
    assert verify_opening(expected, opening)
    assert not verify_opening(expected, MemberOpening(SALT, "PAYER-01", "SYNTH-000124"))
    assert not verify_opening(expected, MemberOpening(SALT, "PAYER-02", "SYNTH-000123"))
    assert not verify_opening(expected, MemberOpening(OTHER_SALT, "PAYER-01", "SYNTH-000123"))


def test_the_clinical_commitment_is_canonical_in_codes_and_evidence() -> None:
    evidence = (evidence_hash(NOTE), evidence_hash(b"prior CT report"))
    a = ClinicalOpening(SALT, ("g43.909", "R51.9", "G43909"), evidence)
    b = ClinicalOpening(SALT, ("R519", "G43.909"), tuple(reversed(evidence)))
    assert a == b and a.diagnoses == ("G43909", "R519")
    expected = keccak(
        abi_encode(
            ["string", "bytes32", "string[]", "bytes32[]"], [CLINICAL_TAG, SALT, ["G43909", "R519"], sorted(evidence)]
        )
    )
    assert a.commitment() == b.commitment() == expected
    assert verify_opening(expected, b)
    assert not verify_opening(expected, ClinicalOpening(SALT, ("G43.909",), evidence))
    assert not verify_opening(expected, ClinicalOpening(SALT, ("G43.909", "R51.9"), evidence[:1]))
    assert not verify_opening(expected, ClinicalOpening(OTHER_SALT, ("G43.909", "R51.9"), evidence))


def test_icd10_codes_are_checked_and_normalized() -> None:
    for text, code in (
        ("g43.909", "G43909"),
        (" R51.9 ", "R519"),
        ("M54.50", "M5450"),
        ("C71", "C71"),
        ("S06.0X0A", "S060X0A"),
    ):
        assert icd10_code(text) == code
    for bad in ("", "G4", "43.909", "G43.90912", "GG3.1", "G43-909", "ICD G43"):
        with pytest.raises(ValidationError):
            icd10_code(bad)
    with pytest.raises(ValidationError):
        ClinicalOpening(SALT, (), ())
    with pytest.raises(ValidationError):
        ClinicalOpening(SALT, "G43.909", ())  # type: ignore[arg-type]


def test_salts_are_fresh_secret_and_never_zero() -> None:
    salts = {new_salt() for _ in range(64)}
    assert len(salts) == 64 and all(len(s) == 32 for s in salts)
    one, two = new_opening("PAYER-01", "SYNTH-1", ["R51.9"]), new_opening("PAYER-01", "SYNTH-1", ["R51.9"])
    assert one.member_commitment != two.member_commitment  # the same member is unlinkable across requests
    assert one.clinical_commitment != two.clinical_commitment
    assert one.member.salt != one.clinical[0].salt
    for bad in (bytes(32), b"short", "0x1234"):
        with pytest.raises(ValidationError):
            MemberOpening(bad, "PAYER-01", "SYNTH-1")  # type: ignore[arg-type]
    for payer_id, member_id in (("", "SYNTH-1"), ("PAYER-01", "   "), ("PAYER-01", "x" * 81), ("PAYER\n01", "SYNTH-1")):
        with pytest.raises(ValidationError):
            MemberOpening(SALT, payer_id, member_id)


def test_an_unsalted_diagnosis_hash_would_be_found_by_trying_codes_a_salted_one_is_not() -> None:
    """Why salts: hashing a candidate list recovers an unsalted code at once (the whole code set is ~70k)."""
    candidates = [f"{letter}{n:02d}{d}" for letter in "GMR" for n in range(100) for d in range(10)]
    secret = "R519"
    unsalted = keccak(text=secret)
    assert next(c for c in candidates if keccak(text=c) == unsalted) == secret
    salted = ClinicalOpening(new_salt(), (secret,)).commitment()
    guessed_salt = bytes(31) + b"\x01"
    assert not any(ClinicalOpening(guessed_salt, (c,)).commitment() == salted for c in candidates[:200])


def test_an_opening_round_trips_as_a_small_json_document_readable_by_its_owner_only(tmp_path: Path) -> None:
    opening = Opening(
        MemberOpening(SALT, "PAYER-01", "SYNTH-000123"),
        (ClinicalOpening(OTHER_SALT, ("G43.909",), (evidence_hash(NOTE),)),),
    )
    more = ClinicalOpening(keccak(text="salt 3"), ("G43.909", "R51.9"), (evidence_hash(b"MRI report"),))
    extended = opening.with_clinical(more)
    assert extended.clinical_commitment == more.commitment() and extended.member_commitment == opening.member_commitment
    path = extended.save(tmp_path / "opening.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Opening.load(path) == extended
    doc = json.loads(path.read_text())
    assert doc["type"] == "radledger.preauth.opening" and doc["member"]["memberId"] == "SYNTH-000123"
    assert [c["diagnoses"] for c in doc["clinical"]] == [["G43909"], ["G43909", "R519"]]
    assert extended.verify(opening.member_commitment, [opening.clinical_commitment, more.commitment()])
    assert not extended.verify(opening.member_commitment, [opening.clinical_commitment])
    assert len(path.read_bytes()) < 2_000


def test_an_opening_whose_stated_commitment_does_not_match_is_refused(tmp_path: Path) -> None:
    text = new_opening("PAYER-01", "SYNTH-1", ["R51.9"]).to_json()
    doc = json.loads(text)
    doc["member"]["memberId"] = "SYNTH-2"  # the stated commitment is now wrong
    with pytest.raises(ValidationError, match="member commitment"):
        Opening.from_json(json.dumps(doc))
    for broken in (
        "not json",
        "[]",
        json.dumps({"type": "something else", "version": 1}),
        json.dumps({**doc, "clinical": []}),
    ):
        with pytest.raises(ValidationError):
            Opening.from_json(broken)
    with pytest.raises(ValidationError):
        Opening.load(tmp_path / "missing.json")


def test_evidence_is_hashed_with_sha256_and_claims_with_a_salt(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_bytes(NOTE)
    assert evidence_file_hash(note) == evidence_hash(NOTE) == hashlib.sha256(NOTE).digest()
    with pytest.raises(ValidationError):
        evidence_file_hash(tmp_path / "missing.pdf")
    claim_file = b"synthetic X12 837 claim"
    assert claim_id(claim_file, SALT) != claim_id(claim_file, OTHER_SALT) != keccak(claim_file)
    assert claim_id(claim_file, SALT) == keccak(
        abi_encode(["string", "bytes32", "bytes32"], ["radledger claim v1", SALT, hashlib.sha256(claim_file).digest()])
    )


codes = st.from_regex(r"\A[A-Z][0-9][0-9A-Z]([0-9A-Z]{1,4})?\Z")


@given(st.lists(codes, min_size=1, max_size=6), st.lists(st.binary(min_size=32, max_size=32), max_size=4))
def test_any_order_of_the_same_codes_and_evidence_commits_the_same(diagnoses: list[str], evidence: list[bytes]) -> None:
    forward = ClinicalOpening(SALT, tuple(diagnoses), tuple(evidence))
    backward = ClinicalOpening(SALT, tuple(reversed(diagnoses)), tuple(reversed(evidence)))
    assert forward.commitment() == backward.commitment()
    assert Opening.from_json(Opening(MemberOpening(SALT, "P", "M"), (forward,)).to_json()).clinical == (forward,)
