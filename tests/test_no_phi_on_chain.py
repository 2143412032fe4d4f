"""No plain identifier of the demo reaches the chain (DESIGN.md principle 1).

After the demo, every transaction input and every log (topics and data) of its chain is
searched for each identifier the site kept local (StudyInstanceUIDs, SOP Instance UIDs, the
synthetic patient's name and MRN, the PACS URL and the file paths), as UTF-8 bytes, as hex
text, as an unsalted hash (keccak256 and SHA-256: a hash of a known value is a leak too) and,
for 2.25 UIDs, as the UUID's 16 bytes. The salted record ids must be found: proof that the
scan sees the data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from eth_utils import keccak

from radledger.demo import DemoResult, run_demo


@dataclass(frozen=True)
class Haystack:
    where: str
    data: bytes
    tx_hash: str = ""


def chain_data(demo: DemoResult) -> list[Haystack]:
    """Every transaction input and every log topic and data of the demo's chain."""
    w3 = demo.w3
    out: list[Haystack] = []
    for number in range(0, w3.eth.block_number + 1):
        for hash_bytes in w3.eth.get_block(number)["transactions"]:
            tx = w3.eth.get_transaction(hash_bytes)  # type: ignore[arg-type]
            tx_hash = tx["hash"].to_0x_hex()
            out.append(Haystack(f"input of {tx_hash}", bytes(tx["input"]), tx_hash))
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                where = f"log {log['logIndex']} of {tx_hash}"
                out += [Haystack(f"{where} topic", bytes(topic), tx_hash) for topic in log["topics"]]
                out.append(Haystack(f"{where} data", bytes(log["data"]), tx_hash))
    return out


def encodings(identifier: str) -> dict[str, bytes]:
    """The forms in which `identifier` could leak."""
    raw = identifier.encode("utf-8")
    forms = {
        "utf-8": raw,
        "hex text": raw.hex().encode(),
        "keccak256": keccak(raw),
        "sha256": hashlib.sha256(raw).digest(),
    }
    if identifier.startswith("2.25.") and identifier[5:].isdigit():
        forms["uuid bytes"] = int(identifier[5:]).to_bytes(16, "big")
    return forms


def leaks(identifiers: list[str], haystacks: list[Haystack]) -> list[tuple[str, str, str]]:
    """(identifier, encoding, where) for every occurrence, byte-aligned or shifted by a nibble."""
    found = []
    for haystack in haystacks:
        data, as_hex = haystack.data.lower(), haystack.data.hex()
        for identifier in identifiers:
            for name, needle in encodings(identifier).items():
                if needle.lower() in data or needle.hex() in as_hex:
                    found.append((identifier, name, haystack.where))
    return found


@pytest.fixture(scope="module")
def demo() -> DemoResult:
    return run_demo(out=None)  # fresh random identifiers each run


@pytest.fixture(scope="module")
def haystacks(demo: DemoResult) -> list[Haystack]:
    return chain_data(demo)


def test_the_demo_used_every_kind_of_plain_identifier(demo: DemoResult) -> None:
    identifiers = demo.site.plain_identifiers()
    study, profile = demo.site.records
    assert demo.site.patient_name in identifiers and demo.site.patient_mrn in identifiers
    assert {study.uid, profile.uid, *study.instance_uids, *study.local_paths, *profile.local_paths} <= set(identifiers)
    assert demo.site.pacs_url in identifiers
    assert len(identifiers) >= 2 + 1 + 2 + 12 + 13


def test_no_plain_identifier_appears_in_any_transaction_input_or_log(
    demo: DemoResult, haystacks: list[Haystack]
) -> None:
    assert leaks(list(demo.site.plain_identifiers()), haystacks) == []


def test_the_scan_sees_the_record_ids_and_the_patient_on_chain(demo: DemoResult, haystacks: list[Haystack]) -> None:
    for record in demo.site.records:
        hits = [h.where for h in haystacks if record.record_id in h.data]
        assert any("topic" in where for where in hits) and any("input" in where for where in hits)
    patient = bytes.fromhex(demo.accounts.patient[2:])
    assert any(patient in h.data for h in haystacks)
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
