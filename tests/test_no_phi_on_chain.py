"""No plain identifier of the demo reaches the chain (DESIGN.md principle 1).

After the demo, every transaction input and every log (topics and data) of its chain is searched
for each identifier the site kept local (StudyInstanceUIDs, SOP Instance UIDs, the synthetic
patient's name and MRN, the PACS URL and the file paths, the physicians' names, the scanner's
serial number, the members' ids and their ICD-10 codes: those of each request and those the site
sent later, with more information or an appeal) in every form of :mod:`tests.phi_scan`: as written
and canonical, as hex text, hashed without a salt (keccak-256, SHA-256, keccak-256 of the ABI
encoding: a hash of a known value is a leak too) and, for 2.25 UIDs, as the UUID's 16 bytes; and
for the unsalted hashes of each member with its payer and of each list of codes a clinical
commitment covers.
What the chain must show is found: the salted record ids, the commitments, the device id (proof that
the scan sees the data).
"""

from __future__ import annotations

import hashlib

import pytest
from eth_utils import keccak

from radledger.demo.data import PAYER_ID
from radledger.demo.result import DemoResult
from radledger.demo.story import run_demo
from tests.phi_scan import Haystack, chain_haystacks, combined_forms, encodings, leaks


@pytest.fixture(scope="module")
def demo() -> DemoResult:
    return run_demo(out=None)  # fresh random identifiers each run


@pytest.fixture(scope="module")
def haystacks(demo: DemoResult) -> list[Haystack]:
    return chain_haystacks(demo.w3)


def test_the_demo_used_every_kind_of_plain_identifier(demo: DemoResult) -> None:
    site = demo.site
    identifiers = site.plain_identifiers()
    study, profile = site.records
    assert site.patient_name in identifiers and site.patient_mrn in identifiers
    assert {study.uid, profile.uid, *study.instance_uids, *study.local_paths, *profile.local_paths} <= set(identifiers)
    assert site.pacs_url in identifiers
    assert {p.name for p in site.physicians} <= set(identifiers) and len(site.physicians) == 3
    assert site.scanner.serial in identifiers
    members = {case.member_id for case in site.cases}
    codes = {code for case in site.cases for code in case.diagnoses}
    assert members <= set(identifiers) and len(members) == 3
    assert codes <= set(identifiers) and len(codes) == 7
    # every code a clinical commitment covers (the request's, the information's, the appeal's) is a case's code
    committed = {code for case in site.cases for clinical in case.opening.clinical for code in clinical.diagnoses}
    assert committed == {code.replace(".", "") for code in codes}
    assert len(identifiers) == 2 + 1 + 2 + 2 + 12 + 13 + 3 + 1 + 3 + 7


def test_no_plain_identifier_appears_in_any_transaction_input_or_log(
    demo: DemoResult, haystacks: list[Haystack]
) -> None:
    assert leaks(demo.site.plain_identifiers(), haystacks) == []


def test_no_unsalted_hash_of_a_member_with_its_payer_or_of_a_list_of_codes_appears(
    demo: DemoResult, haystacks: list[Haystack]
) -> None:
    needles = {
        f"{case.member_id} with {codes}": combined_forms(PAYER_ID, case.member_id, codes)
        for case in demo.site.cases
        for codes in {tuple(sorted(c.replace(".", "") for c in case.diagnoses))}
        | {clinical.diagnoses for clinical in case.opening.clinical}
    }
    # all codes of each case, and each clinical commitment's: the request's, then more information (one code more)
    assert len(needles) == 1 + 2 + 1
    assert leaks(needles, haystacks) == []


def test_the_scan_sees_what_the_chain_must_show(demo: DemoResult, haystacks: list[Haystack]) -> None:
    def places(value: bytes) -> list[str]:
        return [h.where for h in haystacks if value in h.data]

    for record in demo.site.records:
        hits = places(record.record_id)
        assert any("topic" in where for where in hits) and any("input" in where for where in hits)
    for case in demo.site.cases:  # the commitments, in the calldata and the event of the request, information, appeal
        for commitment in (case.opening.member_commitment, *case.clinical_commitments):
            hits = places(commitment)
            assert any("input" in where for where in hits) and any("log" in where for where in hits)
    assert places(demo.site.scanner.device_id)
    for address in (demo.accounts.patient, demo.accounts.reader, demo.accounts.ordering_physician):
        assert places(bytes.fromhex(address[2:]))
    assert {h.tx_hash for h in haystacks} == set(demo.tx_hashes)  # every transaction of the chain was scanned


def test_the_scan_finds_an_identifier_planted_in_any_encoding(demo: DemoResult) -> None:
    uid = demo.site.records[0].uid
    raw = uid.encode()
    planted = [
        Haystack("utf-8", b"\x00" * 7 + raw + b"\x00"),
        Haystack("hex text upper case", b"0x" + raw.hex().upper().encode()),
        Haystack("keccak", bytes(32) + keccak(raw)),
        Haystack("sha256", hashlib.sha256(raw).digest()),
        Haystack("nibble shifted", bytes.fromhex("0" + raw.hex() + "0")),
        Haystack("uuid", int(uid[5:]).to_bytes(32, "big")),
    ]
    found = {where for _, _, where in leaks([uid], planted)}
    assert found == {h.where for h in planted}
    assert leaks([uid], [Haystack("salted", demo.site.records[0].record_id)]) == []


def test_the_scan_finds_a_code_hashed_in_its_canonical_form_and_a_serial_in_lower_case(demo: DemoResult) -> None:
    code = demo.site.cases[0].diagnoses[0]  # as written, with its dot: G43.909
    serial = demo.site.scanner.serial
    planted = [
        Haystack("canonical keccak", keccak(code.replace(".", "").encode())),
        Haystack("serial lower case", b"device " + serial.lower().encode()),
        Haystack("serial sha256", hashlib.sha256(serial.encode()).digest()),
    ]
    assert "." in code and set(encodings(code)) > {"canonical keccak256"}
    found = {(label, where) for label, _, where in leaks([code, serial], planted)}
    assert found == {(code, "canonical keccak"), (serial, "serial lower case"), (serial, "serial sha256")}
