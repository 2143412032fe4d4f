"""Exports: every CSV / JSON Lines row carries checkable provenance; FHIR Consent and AuditEvent resources
(R5 and R4B) validate with fhir.resources and name nobody."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from radledger.audit import AuditIndex
from radledger.audit.exports import PROVENANCE, export, rows_of
from radledger.audit.fhir import (
    ACCOUNT_SYSTEM,
    BALP_DISCLOSURE_SOURCE,
    EVENT_SYSTEM,
    RECORD_SYSTEM,
    audit_event_resources,
    bundle,
    consent_resources,
    parse_resource,
    write_bundle,
)
from radledger.audit.queries.accesses import access_trail, break_glass_events
from radledger.audit.queries.base import hex0x
from radledger.audit.queries.consent import consent_history, who_could_access
from radledger.audit.queries.raw import all_events
from tests.preauth_support import world_base_fixture  # noqa: F401
from tests.support import synthetic_uid
from tests.test_audit_queries import Story, story_fixture, story_index_fixture  # noqa: F401


def assert_provenance_matches_chain(w3: Web3, row: dict[str, Any]) -> None:
    """The row's transaction is in the row's block, and holds a log at the row's index."""
    receipt = w3.eth.get_transaction_receipt(row["tx_hash"])
    assert int(row["block_number"]) == receipt["blockNumber"]
    assert row["block_hash"] == receipt["blockHash"].to_0x_hex()
    assert any(int(log["logIndex"]) == int(row["log_index"]) for log in receipt["logs"])


def every_query(index: AuditIndex, story: Story) -> dict[str, list[Any]]:
    return {
        "consent-history": consent_history(index, story.patient),
        "who-could-access": who_could_access(index, story.rid, story.glass_at).rights,
        "trail": access_trail(index, story.rid),
        "break-glass": break_glass_events(index),
        "events": all_events(index),
    }


def test_csv_rows_start_with_checkable_provenance(w3: Web3, story: Story, story_index: AuditIndex) -> None:
    for name, items in every_query(story_index, story).items():
        assert items, name
        text = export(items, "csv")
        reader = csv.DictReader(io.StringIO(text))
        assert tuple(reader.fieldnames or ())[:4] == PROVENANCE, name
        rows = list(reader)
        assert len(rows) == len(items)
        for row in rows:
            assert_provenance_matches_chain(w3, row)


def test_json_lines_rows_carry_the_same_provenance(w3: Web3, story: Story, story_index: AuditIndex) -> None:
    trail = access_trail(story_index, story.rid)
    lines = export(trail, "jsonl").splitlines()
    assert len(lines) == 2
    for line, entry in zip(lines, trail, strict=True):
        row = json.loads(line)
        assert list(row)[:4] == list(PROVENANCE)
        assert (row["block_number"], row["log_index"], row["tx_hash"]) == (
            entry.source.block_number,
            entry.source.log_index,
            entry.source.tx_hash,
        )
        assert row["basis"] in ("record-grant", "break-glass")
        assert_provenance_matches_chain(w3, row)


def test_a_row_without_provenance_is_refused() -> None:
    with pytest.raises(ValueError, match="provenance"):
        rows_of([{"grantee": "0x0"}])


def test_export_writes_files(story: Story, story_index: AuditIndex, tmp_path: Path) -> None:
    target = tmp_path / "out" / "history.jsonl"
    export(consent_history(story_index, story.patient), "jsonl", target)
    assert len(target.read_text().splitlines()) == 9


def walk(document: Any) -> list[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document."""
    found: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.append((key, value))
            found += walk(value)
    elif isinstance(document, list):
        for item in document:
            found += walk(item)
    return found


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_fhir_consents_validate_and_follow_the_grants(story: Story, story_index: AuditIndex, version: str) -> None:
    resources = consent_resources(story_index, story.patient, version)
    assert len(resources) == 2  # the patient's grant and the guardian's wildcard grant
    documents = [json.loads(r.model_dump_json()) for r in resources]
    for document in documents:
        assert parse_resource(document, version).id == document["id"]
        assert document["identifier"][0]["system"] == EVENT_SYSTEM
    revoked, wildcard = documents
    assert revoked["status"] == "inactive" and wildcard["status"] == "inactive"  # revoked; expired by now
    grantor = wildcard["grantor"][0] if version == "R5" else wildcard["performer"][0]
    assert grantor["type"] == "RelatedPerson" and grantor["identifier"]["value"].endswith(story.guardian)
    provision = wildcard["provision"][0] if version == "R5" else wildcard["provision"]
    assert "data" not in provision  # the wildcard covers every record of the patient
    assert [p["code"] for p in provision["purpose"]] == ["HPAYMT"]
    record_provision = revoked["provision"][0] if version == "R5" else revoked["provision"]
    assert record_provision["data"][0]["reference"]["identifier"] == {
        "system": RECORD_SYSTEM,
        "value": hex0x(story.rid),
    }
    if version == "R5":  # R5 Consent: a base decision, and what it permits in its provision
        assert revoked["decision"] == "permit" and revoked["grantee"][0]["identifier"]["value"].endswith(story.grantee)
        assert record_provision["actor"][0]["role"]["coding"][0]["code"] == "IRCP"
        assert record_provision["action"][0]["coding"][0]["code"] == "access"
        assert [t["code"] for t in record_provision["resourceType"]] == ["ImagingStudy"]
    now = story.wildcard_from
    active = consent_resources(story_index, story.patient, version, now=now)
    assert [json.loads(r.model_dump_json())["status"] for r in active] == ["active", "active"]


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_fhir_audit_events_validate_for_accesses_and_break_glass(
    story: Story, story_index: AuditIndex, version: str
) -> None:
    resources = audit_event_resources(story_index, version=version)
    documents = [json.loads(r.model_dump_json()) for r in resources]
    assert [d["id"].split("-")[0] for d in documents] == ["access", "break", "access", "break"]
    for document in documents:
        assert parse_resource(document, version).id == document["id"]
    access, glass = documents[0], documents[1]
    assert access["action"] == "R" and glass["action"] == "E"
    codes = [c["code"] for c in (glass["code"]["coding"] if version == "R5" else glass["subtype"])]
    assert codes == ["110127"]  # DICOM: Emergency Override Started
    purpose = glass["authorization"] if version == "R5" else glass["purposeOfEvent"]
    assert purpose[0]["coding"][0]["code"] == "ETREAT"
    detail = glass["entity"][0]["detail"][0]
    assert (detail.get("valueInteger") or int(detail["valueString"])) == 11
    by_custodian = documents[2]  # recorded by the custodian for the emergency account: the same two agents
    assert [a["who"]["identifier"]["value"].split(":")[-1] for a in by_custodian["agent"]] == [
        story.emergency,
        story.site,
    ]
    only_record = audit_event_resources(story_index, record_id=story.rid, version=version)
    assert len(only_record) == 3  # both accesses, and the break-glass of its patient (not the other patient's)


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_fhir_access_events_follow_balps_privacy_disclosure_who_what_to_whom_why(
    story: Story, story_index: AuditIndex, version: str
) -> None:
    """IHE BALP PrivacyDisclosure.Source: Export / disclose; the custodian disclosed (Source Role ID, CST), the
    grantee received (Destination Role ID, IRCP, requestor); the record and its patient; the purpose."""
    resources = [r for r in audit_event_resources(story_index, version=version) if r.id.startswith("access")]
    documents = [json.loads(r.model_dump_json()) for r in resources]
    assert len(documents) == 2
    for document in documents:
        if version == "R4B":
            assert document["meta"]["profile"] == [BALP_DISCLOSURE_SOURCE]
            kind, sub = document["type"], document["subtype"][0]
        else:
            kind, sub = document["category"][0]["coding"][0], document["code"]["coding"][0]
        assert (kind["system"], kind["code"]) == ("http://dicom.nema.org/resources/ontology/DCM", "110106")
        assert (sub["system"], sub["code"]) == ("http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "disclose")
        recipient, source = document["agent"]
        assert [c["code"] for c in recipient["type"]["coding"]] == ["110152", "IRCP"] and recipient["requestor"]
        assert [c["code"] for c in source["type"]["coding"]] == ["110153", "CST"] and not source["requestor"]
        assert source["who"]["identifier"]["value"] == f"eip155:{story_index.chain_id}:{story.site}"
        record, patient = document["entity"][0], document["entity"][1]
        assert record["what"]["identifier"]["value"] == "0x" + story.rid.hex()
        assert patient["what"]["identifier"]["value"].endswith(story.patient)
    who = [d["agent"][0]["who"]["identifier"]["value"].split(":")[-1] for d in documents]
    assert who == [story.grantee, story.emergency]
    assert [
        p["coding"][0]["code"] for d in documents for p in d["purposeOfEvent" if version == "R4B" else "authorization"]
    ] == [
        "TREAT",
        "ETREAT",
    ]


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_fhir_resources_are_pseudonymous(story: Story, story_index: AuditIndex, version: str, tmp_path: Path) -> None:
    resources = consent_resources(story_index, version=version) + audit_event_resources(story_index, version=version)
    path = tmp_path / f"bundle-{version}.json"
    assert write_bundle(resources, path, version) == len(resources) == 6
    document = json.loads(path.read_text())
    assert parse_resource(document, version).type == "collection"
    pairs = walk(document)
    assert not [k for k, _ in pairs if k in ("name", "telecom", "address", "birthDate")]
    assert not [v for k, v in pairs if k == "reference" and isinstance(v, str)], "logical references only"
    identifiers = [v for k, v in pairs if k == "identifier" and isinstance(v, dict)]
    assert identifiers and {i["system"] for i in identifiers} <= {ACCOUNT_SYSTEM, RECORD_SYSTEM, EVENT_SYSTEM}
    text = path.read_text()
    assert synthetic_uid("audit: mri knee") not in text  # the StudyInstanceUID never leaves the site
    assert bundle([], version).entry is None or bundle([], version).entry == []
