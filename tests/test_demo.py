"""`radledger demo`: consent, credentials, prior authorization and claims on the in-process chain, run once
and inspected against the chain itself."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pytest

from radledger import errors
from radledger.cli import main
from radledger.consent import ConsentRegistryClient
from radledger.contract import ContractClient
from radledger.credentials import CredentialRegistryClient, device_id, subject_id
from radledger.demo import CLAIM_AMOUNT_CENTS, DemoResult, run_demo
from radledger.demo_data import MRI_BRAIN, PAYER_ID
from radledger.models import (
    AccessBasis,
    ClaimStatus,
    CredentialStatus,
    PreauthStatus,
    Purpose,
    RecordKind,
    RevocationReason,
    Scope,
    X12ActionCode,
)
from radledger.preauth import PreauthRegistryClient, procedure_code
from radledger.records import RecordRegistryClient, record_id
from tests.conftest import ROOT

SEED = 2024


@pytest.fixture(scope="module")
def output() -> list[str]:
    return []


@pytest.fixture(scope="module")
def demo(output: list[str]) -> DemoResult:
    return run_demo(seed=SEED, out=output.append)


def consent_of(demo: DemoResult) -> ConsentRegistryClient:
    return demo.deployment.consent(demo.w3)


def records_of(demo: DemoResult) -> RecordRegistryClient:
    return demo.deployment.records(demo.w3)


def credentials_of(demo: DemoResult) -> CredentialRegistryClient:
    return demo.deployment.credentials(demo.w3)


def preauth_of(demo: DemoResult) -> PreauthRegistryClient:
    return demo.deployment.preauth(demo.w3)


def events_of(demo: DemoResult, client: ContractClient, step_prefix: str, event: str) -> list[dict[str, Any]]:
    out = []
    for tx_hash in demo.step(step_prefix).tx_hashes:
        receipt = demo.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        out += client.events(receipt, event)
    return out


def position(demo: DemoResult, step_prefix: str) -> int:
    return demo.step(step_prefix).number


# ------------------------------------------------------------------------------------ governance


def test_governance_deployed_all_four_contracts_and_registered_schemas_issuers_and_the_payer(demo: DemoResult) -> None:
    assert set(demo.deployment.addresses()) == {
        "RecordRegistry", "ConsentRegistry", "CredentialRegistry", "PreauthRegistry"
    }  # fmt: skip
    creds = credentials_of(demo)
    schemas = demo.schemas
    assert (schemas.license, schemas.board_certification, schemas.mri_inspection, schemas.gold_card) == (1, 2, 3, 4)
    issuers = {
        schemas.license: demo.accounts.state_board,
        schemas.board_certification: demo.accounts.specialty_board,
        schemas.mri_inspection: demo.accounts.physicist,
        schemas.gold_card: demo.accounts.payer,
    }
    for schema_id, issuer in issuers.items():
        assert creds.is_authorized_issuer(schema_id, issuer)
        assert creds.get_schema(schema_id).revocable
        others = set(issuers.values()) - {issuer}
        assert not any(creds.is_authorized_issuer(schema_id, other) for other in others)
    assert preauth_of(demo).is_payer(demo.accounts.payer)
    assert preauth_of(demo).credential_registry() == demo.deployment.credential_registry


# ----------------------------------------------------------------------------------- credentials


def test_the_issuers_attested_the_readers_license_and_certification_the_scanner_and_the_gold_card(
    demo: DemoResult,
) -> None:
    creds = credentials_of(demo)
    site, accounts, schemas = demo.site, demo.accounts, demo.schemas
    attested = events_of(demo, creds, "attests three medical licenses", "CredentialAttested")
    assert [e["subject"] for e in attested] == [
        subject_id(accounts.reader), subject_id(accounts.ordering_physician), subject_id(accounts.second_physician)
    ]  # fmt: skip
    assert attested[0]["uid"] == demo.reader_license_uid
    assert creds.check(accounts.reader, schemas.board_certification).ok
    assert site.scanner.device_id == device_id(site.scanner.manufacturer, site.scanner.serial)
    assert creds.check(site.scanner.device_id, schemas.mri_inspection).ok
    assert creds.check(accounts.ordering_physician, schemas.gold_card).ok
    assert not creds.has_valid_credential(accounts.second_physician, schemas.gold_card)


def test_the_scanner_inspection_was_checked_current_before_the_study_was_registered(demo: DemoResult) -> None:
    assert demo.equipment.ok and demo.equipment.status is CredentialStatus.VALID
    assert demo.equipment.subject == demo.site.scanner.device_id
    assert demo.equipment.schema_id == demo.schemas.mri_inspection
    assert demo.equipment.checked_at < demo.equipment.state.valid_until  # type: ignore[union-attr]
    assert position(demo, "checks the scanner's inspection") < position(demo, "registers the MRI study")


def test_the_reader_was_verified_before_the_read_and_fails_after_the_board_revoked_the_license(
    demo: DemoResult,
) -> None:
    required = (demo.schemas.license, demo.schemas.board_certification)
    before, after = demo.reader_before, demo.reader_after
    assert before.ok and before.subject == subject_id(demo.accounts.reader)
    assert [(c.schema_id, c.status) for c in before.checks] == [(s, CredentialStatus.VALID) for s in required]
    assert position(demo, "verifies the reader before assigning the read") < position(demo, "records its access")

    assert not after.ok
    assert after.revoked == (demo.schemas.license,)
    assert (after.missing, after.expired, after.not_yet_valid) == ((), (), ())
    assert [c.status for c in after.checks] == [CredentialStatus.REVOKED, CredentialStatus.VALID]
    revocation = demo.license_revocation
    assert (revocation.uid, revocation.revoker, revocation.reason) == (
        demo.reader_license_uid, demo.accounts.state_board, RevocationReason.DISCIPLINARY_ACTION
    )  # fmt: skip
    # the chain agrees now: the license is revoked, the certification still valid
    assert credentials_of(demo).verify_reader(demo.accounts.reader, required).revoked == (demo.schemas.license,)
    assert not credentials_of(demo).is_valid(demo.reader_license_uid)
    assert position(demo, "revokes the reader's") < position(demo, "verifies the reader before assigning the next")


# ------------------------------------------------------------------------------- prior authorization


def test_the_gold_carded_order_was_approved_at_once_as_x12_a1(demo: DemoResult) -> None:
    preauth = preauth_of(demo)
    auto = demo.auto_request
    assert (auto.status, auto.x12_action_code) == (PreauthStatus.APPROVED, X12ActionCode.CERTIFIED_IN_TOTAL)
    assert (auto.requester, auto.payer, auto.units, auto.approved_units) == (
        demo.accounts.site, demo.accounts.payer, 1, 1
    )  # fmt: skip
    (requested,) = events_of(demo, preauth, "requests prior authorization", "PreauthRequested")
    assert (requested["physician"], bytes(requested["procedure"])) == (
        demo.accounts.ordering_physician, procedure_code(MRI_BRAIN)
    )  # fmt: skip
    decided = events_of(demo, preauth, "requests prior authorization", "PreauthDecided")
    assert [e["requestId"] for e in decided] == [auto.request_id]  # decided in the request's own transaction
    assert demo.step("requests prior authorization").gas_used <= 120_000  # type: ignore[operator]
    policy = preauth.get_policy(demo.accounts.payer, MRI_BRAIN)
    assert policy.auto_approval and policy.gold_card_schema == demo.schemas.gold_card
    assert policy.required_schemas == (demo.schemas.license,)


def test_the_order_without_a_gold_card_was_pended_as_a4_then_approved_by_the_payer(demo: DemoResult) -> None:
    pended, decided = demo.pended_request, demo.pended_decided
    assert (pended.status, pended.x12_action_code) == (PreauthStatus.PENDED, X12ActionCode.PENDED)
    assert pended.due_at == pended.requested_at + 7 * 86400
    assert (decided.status, decided.x12_action_code, decided.approved_units) == (
        PreauthStatus.APPROVED, X12ActionCode.CERTIFIED_IN_TOTAL, 1
    )  # fmt: skip
    assert not decided.deadline_missed and decided.decided_at <= decided.due_at
    (requested,) = events_of(demo, preauth_of(demo), "requests for another member", "PreauthRequested")
    assert requested["physician"] == demo.accounts.second_physician
    assert any("no valid gold card" in line for line in demo.step("requests for another member").details)


def test_the_openings_stay_at_the_site_and_open_the_commitments_on_chain(demo: DemoResult) -> None:
    preauth = preauth_of(demo)
    for case, request in zip(demo.site.cases, (demo.auto_request, demo.pended_request), strict=True):
        assert preauth.verify_opening(request.request_id, case.opening, demo.first_block)
        assert case.opening.member.payer_id == PAYER_ID and case.opening.member.member_id == case.member_id
    doc = json.dumps(demo.to_json())  # the site's account names the member ids and codes, never the salts
    for case in demo.site.cases:
        salts = [case.opening.member.salt, *(c.salt for c in case.opening.clinical)]
        assert not any(salt.hex() in doc for salt in salts)
        assert case.member_id in doc


def test_the_claim_against_the_authorization_was_paid_in_full(demo: DemoResult) -> None:
    claim = demo.claim
    assert (claim.request_id, claim.status, claim.units) == (demo.auto_request.request_id, ClaimStatus.PAID, 1)
    assert claim.amount == claim.paid_amount == CLAIM_AMOUNT_CENTS
    assert preauth_of(demo).get_claim(claim.claim_id) == claim
    request = preauth_of(demo).get_request(demo.auto_request.request_id)
    assert (request.used_units, request.remaining_units) == (1, 0)
    assert position(demo, "submits its claim") < position(demo, "adjudicates the claim")


# ------------------------------------------------------------------------------------- consent


def test_the_group_is_refused_after_the_revocation_with_the_decoded_access_denied(demo: DemoResult) -> None:
    study = demo.site.records[0]
    assert isinstance(demo.denied, errors.AccessDenied)
    assert demo.denied.args == (
        demo.accounts.patient,
        demo.accounts.teleradiology,
        study.record_id,
        int(Scope.IMAGES | Scope.REPORTS),
        int(Purpose.TREAT),
    )
    assert not consent_of(demo).has_access(
        demo.accounts.patient, demo.accounts.teleradiology, study.record_id, Scope.IMAGES, Purpose.TREAT
    )
    refused = demo.step("tries to record another access")
    assert refused.gas_used is None and refused.tx_hashes == ()
    assert position(demo, "relays the revocation") < refused.number


def test_the_patient_never_holds_eth_nor_sends_a_transaction(demo: DemoResult) -> None:
    assert demo.patient_balance == 0
    assert demo.patient_transactions == 0
    assert demo.w3.eth.get_balance(demo.accounts.patient) == 0
    senders = {demo.w3.eth.get_transaction(h)["from"] for h in demo.tx_hashes}  # type: ignore[arg-type]
    assert demo.accounts.patient not in senders
    physicians = {demo.accounts.reader, demo.accounts.ordering_physician, demo.accounts.second_physician}
    assert not senders & physicians  # the physicians sign offline, or are only subjects


def test_every_transaction_step_reports_the_gas_its_receipts_used(demo: DemoResult) -> None:
    transacting = [s for s in demo.steps if s.tx_hashes]
    assert len(transacting) == 24
    for step in transacting:
        receipts = [demo.w3.eth.get_transaction_receipt(h) for h in step.tx_hashes]  # type: ignore[arg-type]
        assert all(r["status"] == 1 for r in receipts)
        assert step.gas_used == sum(r["gasUsed"] for r in receipts) > 21_000
    for step in demo.steps:
        if not step.tx_hashes:
            assert step.gas_used is None
    assert demo.total_gas == sum(s.gas_used or 0 for s in demo.steps)
    # every transaction of the chain belongs to a step
    mined = [h.to_0x_hex() for n in range(demo.last_block + 1) for h in demo.w3.eth.get_block(n)["transactions"]]  # type: ignore[union-attr]
    assert sorted(mined) == sorted(demo.tx_hashes)
    # the relayed consent costs what a first grantBySig costs (DESIGN.md target 65,000)
    assert demo.step("relays the patient's signed consent").gas_used <= 65_000  # type: ignore[operator]


def test_the_site_registered_both_records_with_salted_ids_and_content_hashes(demo: DemoResult) -> None:
    records = records_of(demo)
    study, profile = demo.site.records
    assert (study.kind, profile.kind) == (RecordKind.IMAGING_STUDY, RecordKind.SAFETY_PROFILE)
    for record in demo.site.records:
        assert record.record_id == record_id(demo.site.site_salt, record.uid)
        on_chain = records.get_record(record.record_id)
        assert (on_chain.patient, on_chain.custodian, on_chain.kind, on_chain.version) == (
            demo.accounts.patient, demo.accounts.site, record.kind, 1,
        )  # fmt: skip
        assert on_chain.content_hash == record.content_hash
    assert study.uid.startswith("2.25.") and len(study.instance_uids) == 12
    assert len(set(study.instance_uids)) == 12
    assert records.get_custodian(demo.accounts.site).gateway_url.startswith("https://")


def test_the_trail_holds_both_accesses_with_their_basis(demo: DemoResult) -> None:
    consent = consent_of(demo)
    study, profile = demo.site.records
    recorded = []
    for step in demo.steps:
        for tx_hash in step.tx_hashes:
            receipt = demo.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            recorded += consent.events(receipt, "AccessRecorded")
    assert [(e["recordId"], e["grantee"], e["purpose"], AccessBasis(e["basis"])) for e in recorded] == [
        (study.record_id, demo.accounts.teleradiology, int(Purpose.TREAT), AccessBasis.RECORD_GRANT),
        (profile.record_id, demo.accounts.emergency, int(Purpose.ETREAT), AccessBasis.BREAK_GLASS),
    ]


def test_the_consent_was_granted_and_revoked_by_the_patients_signatures(demo: DemoResult) -> None:
    consent = consent_of(demo)
    granted = events_of(demo, consent, "relays the patient's signed consent", "ConsentGranted")
    revoked = events_of(demo, consent, "relays the revocation", "ConsentRevoked")
    assert [(e["actor"], e["scopes"], e["purposes"]) for e in granted] == [
        (demo.accounts.patient, int(Scope.IMAGES | Scope.REPORTS), int(Purpose.TREAT))
    ]
    relay = demo.w3.eth.get_transaction_receipt(demo.step("relays the patient's signed consent").tx_hashes[0])  # type: ignore[arg-type]
    relayed_at = demo.w3.eth.get_block(relay["blockNumber"])["timestamp"]
    assert 29 * 86400 < granted[0]["validUntil"] - relayed_at <= 30 * 86400
    assert [e["actor"] for e in revoked] == [demo.accounts.patient]


# ------------------------------------------------------------------------------- the account


def test_the_story_ends_with_the_auditors_view_of_every_event(demo: DemoResult, output: list[str]) -> None:
    audit = demo.audit
    assert audit.startswith(f"Auditor's view (chain {demo.deployment.chain_id})")
    for contract in demo.deployment.addresses():
        assert f"{contract}:" in audit
    assert "CredentialRevoked 1" in audit and "ClaimAdjudicated 1" in audit and "PreauthDecided 2" in audit
    assert "Break-glass: 1 invocation" in audit and "Prior authorization" in audit
    text = "\n".join(output)
    assert text.index(audit.splitlines()[2].strip()) > text.index(demo.steps[-1].action) > 0
    assert text.index("7. The auditor's view") < text.index("What the chain holds")


def test_the_account_names_every_step_with_its_gas_and_the_summary(demo: DemoResult, output: list[str]) -> None:
    text = "\n".join(output)
    for step in demo.steps:
        cost = f"gas {step.gas_used:,}" if step.gas_used is not None else "no transaction"
        assert f"{step.number:>2}. {step.actor}: {step.action}  [{cost}]" in text
    assert "AccessDenied(" in text
    assert "X12 A1 (certified in total)" in text and "X12 A4" in text
    assert "revoked schema(s) [1]" in text and "REVOKED at" in text
    assert "What the chain holds" in text and "What stayed at" in text
    assert "(synthetic)" in text
    assert demo.site.site_salt.hex() not in text  # the salts are never printed
    assert demo.site.claim_salt.hex() not in text
    assert not any(case.opening.member.salt.hex() in text for case in demo.site.cases)


def test_the_cli_demo_repeats_the_seeded_story_as_json(demo: DemoResult, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["demo", "--seed", str(SEED), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = json.loads(json.dumps(demo.to_json()))
    # same seed, same chain: same ids, gas, hashes and times (the auditor's first line says how long indexing took)
    assert doc["audit"].splitlines()[1:] == expected["audit"].splitlines()[1:]
    assert {k: v for k, v in doc.items() if k != "audit"} == {k: v for k, v in expected.items() if k != "audit"}
    assert doc["patientBalance"] == 0 and doc["denied"]["error"] == "AccessDenied"
    assert doc["preauth"]["autoApproved"]["x12"] == "A1" and doc["preauth"]["pended"]["x12"] == "A4"
    assert doc["credentials"]["readerAfter"] == {"ok": False, "checks": {"1": "revoked", "2": "valid"}, "revoked": [1]}


def test_the_brownie_script_main_is_a_thin_call_of_run_demo(monkeypatch: pytest.MonkeyPatch, demo: DemoResult) -> None:
    calls: list[dict[str, object]] = []

    def recorded_run_demo(**kwargs: object) -> DemoResult:
        calls.append(kwargs)
        return demo

    monkeypatch.setattr("radledger.demo.run_demo", recorded_run_demo)
    namespace = runpy.run_path(str(ROOT / "scripts" / "demo.py"))
    assert namespace["main"]() is demo
    assert calls == [{}]
