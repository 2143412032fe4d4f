"""`radledger demo`: consent, credentials, prior authorization and claims on the in-process chain, run once
and inspected against the chain itself."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pytest

from radledger.chain import errors
from radledger.chain.contract import ContractClient
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.cli import main
from radledger.demo.acts.preauth import MODIFIED_UNITS, PENDED_UNITS
from radledger.demo.data import CLAIM_AMOUNT_CENTS, MRI_BRAIN, PAYER_ID
from radledger.demo.result import DemoResult
from radledger.demo.story import run_demo
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from radledger.registries.credentials.client import CredentialRegistryClient, device_id, subject_id
from radledger.registries.credentials.types import CredentialStatus, RevocationReason
from radledger.registries.preauth.client import DecisionReason, PreauthRegistryClient, procedure_code
from radledger.registries.preauth.commitments import claim_id
from radledger.registries.preauth.types import ClaimStatus, PreauthStatus, X12ActionCode
from radledger.registries.records.client import RecordRegistryClient, record_id
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
    assert site.scanner.salt is not None
    assert site.scanner.device_id == device_id(site.scanner.manufacturer, site.scanner.serial, site.scanner.salt)
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


def test_the_order_without_a_gold_card_was_pended_as_a4_for_two_units(demo: DemoResult) -> None:
    pended = demo.pended_request
    assert (pended.status, pended.x12_action_code) == (PreauthStatus.PENDED, X12ActionCode.PENDED)
    assert (pended.units, pended.approved_units, pended.expedited) == (PENDED_UNITS, 0, False) == (2, 0, False)
    assert pended.due_at == pended.requested_at + 7 * 86400
    (requested,) = events_of(demo, preauth_of(demo), "requests for another member", "PreauthRequested")
    assert (requested["physician"], requested["units"]) == (demo.accounts.second_physician, 2)
    assert requested["clinicalCommitment"] == demo.site.cases[1].clinical_commitments[0]
    assert not events_of(demo, preauth_of(demo), "requests for another member", "PreauthDecided")
    # the policy allows two units automatically: the gold card is the only obstacle
    assert preauth_of(demo).get_policy(demo.accounts.payer, MRI_BRAIN).max_units >= 2
    assert [line for line in demo.step("requests for another member").details if line.startswith("why:")] == [
        f"why: the physician holds no valid gold card (schema {demo.schemas.gold_card})"
    ]


def test_the_payer_asked_for_more_information_and_the_answer_left_the_deadline_unchanged(demo: DemoResult) -> None:
    preauth, pended = preauth_of(demo), demo.pended_request
    asked, answered = demo.information_requested, demo.information_provided
    assert (asked.status, asked.x12_action_code, asked.information_requested) == (
        PreauthStatus.PENDED, X12ActionCode.PENDED, True
    )  # fmt: skip
    assert (answered.status, answered.x12_action_code, answered.information_requested) == (
        PreauthStatus.PENDED, X12ActionCode.PENDED, False
    )  # fmt: skip
    # the deadline still runs from the request
    assert asked.due_at == answered.due_at == pended.due_at == pended.requested_at + 7 * 86400
    assert answered.requested_at == pended.requested_at and answered.decided_at == 0
    (info,) = events_of(demo, preauth, "opens the commitments off chain and asks", "InformationRequested")
    assert (info["requestId"], info["payer"], info["reasonCode"]) == (
        pended.request_id, demo.accounts.payer, int(DecisionReason.INSUFFICIENT_DOCUMENTATION)
    )  # fmt: skip
    (provided,) = events_of(demo, preauth, "answers with a new clinical commitment", "InformationProvided")
    case = demo.site.cases[1]
    assert (provided["requestId"], provided["requester"], provided["clinicalCommitment"]) == (
        pended.request_id, demo.accounts.site, case.clinical_commitments[1]
    )  # fmt: skip
    assert case.opening.clinical[1].diagnoses == ("G44209", "H538", "R519")  # a new code, and new evidence
    assert len(case.opening.clinical[1].evidence) == 2
    assert position(demo, "opens the commitments off chain and asks") < position(demo, "answers with a new clinical")


def test_the_payer_modified_the_request_to_fewer_units_as_a6(demo: DemoResult) -> None:
    modified = demo.modified
    assert (modified.status, modified.x12_action_code) == (PreauthStatus.MODIFIED, X12ActionCode.CERTIFIED_PARTIAL)
    assert (modified.units, modified.approved_units, modified.used_units) == (2, MODIFIED_UNITS, 0) == (2, 1, 0)
    policy = preauth_of(demo).get_policy(demo.accounts.payer, MRI_BRAIN)
    assert modified.appeal_by == modified.decided_at + policy.appeal_window_seconds
    assert modified.decided_at <= modified.due_at == demo.pended_request.due_at
    (decided,) = events_of(demo, preauth_of(demo), "opens the new commitment and modifies", "PreauthDecided")
    assert (decided["requestId"], PreauthStatus(decided["status"]), decided["approvedUnits"]) == (
        modified.request_id, PreauthStatus.MODIFIED, 1
    )  # fmt: skip
    assert (decided["automatic"], decided["onAppeal"], decided["appealBy"]) == (False, False, modified.appeal_by)
    assert position(demo, "answers with a new clinical") < position(demo, "opens the new commitment and modifies")


def test_the_site_appealed_and_the_payer_approved_in_full_on_appeal(demo: DemoResult) -> None:
    preauth = preauth_of(demo)
    appealed, decided_state = demo.appealed, demo.appeal_decided
    case = demo.site.cases[1]
    policy = preauth.get_policy(demo.accounts.payer, MRI_BRAIN)
    assert (appealed.status, appealed.x12_action_code, appealed.appealed) == (
        PreauthStatus.APPEALED, X12ActionCode.PENDED, True
    )  # fmt: skip
    (appeal,) = events_of(demo, preauth, "appeals the modification", "PreauthAppealed")
    appealed_at = demo.w3.eth.get_block(
        demo.w3.eth.get_transaction_receipt(demo.step("appeals the modification").tx_hashes[0])["blockNumber"]  # type: ignore[arg-type]
    )["timestamp"]
    assert appealed_at <= demo.modified.appeal_by
    assert (appeal["requestId"], appeal["requester"], appeal["clinicalCommitment"], appeal["dueAt"]) == (
        appealed.request_id, demo.accounts.site, case.clinical_commitments[2],
        appealed_at + policy.appeal_decision_seconds,
    )  # fmt: skip
    assert appealed.due_at == appeal["dueAt"] != demo.pended_request.due_at  # the appeal's own deadline

    assert (decided_state.status, decided_state.x12_action_code) == (
        PreauthStatus.APPROVED, X12ActionCode.CERTIFIED_IN_TOTAL
    )  # fmt: skip
    assert (decided_state.units, decided_state.approved_units, decided_state.appealed) == (2, 2, True)
    assert decided_state.decided_at <= decided_state.due_at and not decided_state.deadline_missed
    (decided,) = events_of(demo, preauth, "decides the appeal", "PreauthDecided")
    assert (decided["requestId"], PreauthStatus(decided["status"]), decided["approvedUnits"]) == (
        appealed.request_id, PreauthStatus.APPROVED, 2
    )  # fmt: skip
    assert (decided["onAppeal"], decided["automatic"], decided["appealBy"]) == (True, False, 0)
    assert preauth.get_request(appealed.request_id) == decided_state  # nothing changed it since
    # the chain holds the three clinical commitments, in order, and the site's full opening opens them
    member, clinical = preauth.commitments(appealed.request_id, demo.first_block)
    assert (member, tuple(clinical)) == (case.opening.member_commitment, case.clinical_commitments)
    assert position(demo, "opens the new commitment and modifies") < position(demo, "appeals the modification")
    assert position(demo, "appeals the modification") < position(demo, "decides the appeal")


def test_the_expedited_request_missed_its_deadline_and_the_auditor_flagged_it(demo: DemoResult) -> None:
    preauth, late, flagged = preauth_of(demo), demo.late_request, demo.late_flagged
    assert (late.status, late.x12_action_code, late.expedited) == (PreauthStatus.PENDED, X12ActionCode.PENDED, True)
    assert late.due_at == late.requested_at + 72 * 3600 and not late.deadline_missed
    step = demo.step("flags the missed deadline")
    (tx_hash,) = step.tx_hashes
    receipt = demo.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    assert demo.w3.eth.get_transaction(tx_hash)["from"] == demo.accounts.auditor  # type: ignore[arg-type]
    assert demo.w3.eth.get_block(receipt["blockNumber"])["timestamp"] > late.due_at  # the chain travelled past it
    (missed,) = preauth.events(receipt, "DeadlineMissed")
    assert (missed["requestId"], missed["payer"], missed["dueAt"], missed["onAppeal"], missed["flaggedBy"]) == (
        late.request_id, demo.accounts.payer, late.due_at, False, demo.accounts.auditor
    )  # fmt: skip
    assert (flagged.status, flagged.x12_action_code, flagged.deadline_missed) == (
        PreauthStatus.PENDED, X12ActionCode.PENDED, True
    )  # fmt: skip
    assert (flagged.due_at, flagged.decided_at) == (late.due_at, 0)
    assert preauth.get_request(late.request_id) == flagged  # still undecided at the end
    # no other request's deadline was flagged: the others were decided in time
    flags = [e for s in demo.steps for h in s.tx_hashes
             for e in preauth.events(demo.w3.eth.get_transaction_receipt(h), "DeadlineMissed")]  # type: ignore[arg-type]  # fmt: skip
    assert flags == [missed]
    assert position(demo, "requests an expedited MRI") < step.number


def test_the_time_travel_came_before_the_consent_part_so_its_windows_are_open_at_the_end(demo: DemoResult) -> None:
    """Time travel moves the whole chain: the missed deadline comes before the consent, the break-glass window
    and the claim, so that they all happen after it and the auditor sees the window still open."""
    assert position(demo, "flags the missed deadline") < position(demo, "checks the scanner's inspection")
    profile = demo.site.records[1]
    consent = consent_of(demo)
    assert consent.has_access(
        demo.accounts.patient, demo.accounts.emergency, profile.record_id, Scope.SAFETY_PROFILE, Purpose.ETREAT
    )
    assert demo.audit.count("break-glass  images|reports|safety-profile") == 1  # who could access, at the end
    assert demo.claim.submitted_at < demo.auto_request.expires_at


def test_the_openings_stay_at_the_site_and_open_the_commitments_on_chain(demo: DemoResult) -> None:
    preauth = preauth_of(demo)
    requests = (demo.auto_request, demo.pended_request, demo.late_request)
    assert [len(case.opening.clinical) for case in demo.site.cases] == [1, 3, 1]
    for case, request in zip(demo.site.cases, requests, strict=True):
        assert preauth.verify_opening(request.request_id, case.opening, demo.first_block)
        assert case.opening.member.payer_id == PAYER_ID and case.opening.member.member_id == case.member_id
    pended_case = demo.site.cases[1]
    assert not preauth.verify_opening(demo.pended_request.request_id, pended_case.opening_as_of(2), demo.first_block)
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


def test_a_second_claim_beyond_the_approved_units_is_refused_with_insufficient_units(demo: DemoResult) -> None:
    refused = demo.refused_claim
    assert isinstance(refused, errors.InsufficientUnits)
    assert refused.args == (demo.auto_request.request_id, 1, 0)
    step = demo.step("submits a second claim beyond the approved units")
    assert step.tx_hashes == () and step.gas_used is None
    assert "0 blocks mined; the claim is unknown on chain" in step.details
    preauth = preauth_of(demo)
    assert demo.refused_claim_id == claim_id(demo.site.second_claim_file, demo.site.second_claim_salt)
    assert demo.refused_claim_id != demo.claim.claim_id
    with pytest.raises(errors.ClaimNotFound) as missing:
        preauth.get_claim(demo.refused_claim_id, demo.auto_request.request_id)
    assert missing.value.args == (demo.auto_request.request_id, demo.refused_claim_id)
    assert preauth.get_request(demo.auto_request.request_id).used_units == 1
    # the chain would still refuse it, with the same error
    with pytest.raises(errors.InsufficientUnits) as exc:
        preauth.with_sender(Transactor(demo.w3, UnlockedAccount(demo.accounts.site))).submit_claim(
            demo.auto_request.request_id, demo.refused_claim_id, 1, CLAIM_AMOUNT_CENTS
        )
    assert exc.value.args == (demo.auto_request.request_id, 1, 0)
    assert position(demo, "adjudicates the claim") < step.number


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
    assert demo.accounts.auditor in senders  # the auditor sent one transaction: the flag
    assert not senders & physicians  # the physicians sign offline, or are only subjects


def test_every_transaction_step_reports_the_gas_its_receipts_used(demo: DemoResult) -> None:
    transacting = [s for s in demo.steps if s.tx_hashes]
    assert len(transacting) == 30
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
        assert record.record_id == record_id(demo.site.site_salt, record.uid, demo.accounts.site)
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
    assert "CredentialRevoked 1" in audit and "ClaimAdjudicated 1" in audit and "ClaimSubmitted 1" in audit
    for event in ("PreauthRequested 3", "PreauthDecided 3", "InformationRequested 1", "InformationProvided 1",
                  "PreauthAppealed 1", "DeadlineMissed 1"):  # fmt: skip
        assert event in audit
    assert "Break-glass: 1 invocation" in audit and "Prior authorization (CMS-0057-F metrics, 3 requests)" in audit
    text = "\n".join(output)
    assert text.index(audit.splitlines()[2].strip()) > text.index(demo.steps[-1].action) > 0
    assert text.index("8. The auditor's view") < text.index("What the chain holds")


def test_the_auditors_metrics_show_the_prior_authorization_outcomes(demo: DemoResult) -> None:
    payer = f"{demo.accounts.payer[:6]}…{demo.accounts.payer[-4:]}"
    rows = {line.split()[2]: line.split() for line in demo.audit.splitlines() if line.strip().startswith(payer)}
    # payer period priority requests decided approved denied modified appeal→approved late mean-h median-h pending:
    # the gold-carded approval and the modification (first decisions), approved on appeal, none late
    assert rows["standard"][3:] == ["2", "2", "50.0%", "0.0%", "50.0%", "50.0%", "0.0%", "0.0", "0.0", "0"]
    # the expedited request the payer never decided: pending, no decision time (its flag is the DeadlineMissed event)
    assert rows["expedited"][3:] == ["1", "0", "1"]
    assert set(rows) == {"standard", "expedited"}


def test_the_account_names_every_step_with_its_gas_and_the_summary(demo: DemoResult, output: list[str]) -> None:
    text = "\n".join(output)
    for step in demo.steps:
        cost = f"gas {step.gas_used:,}" if step.gas_used is not None else "no transaction"
        assert f"{step.number:>2}. {step.actor}: {step.action}  [{cost}]" in text
    assert "AccessDenied(" in text
    for code in ("A1 (certified in total)", "A4 (pended)", "A2 (certified partial)"):
        assert f"X12 {code}" in text
    assert "PreauthDecided(onAppeal=True)" in text and "the deadline still runs from the request" in text
    assert "InsufficientUnits(requestId=" in text and "DeadlineMissed(requestId=" in text
    assert "── 4. A missed deadline" in text and "hours pass" in text
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
    preauth = doc["preauth"]
    assert [preauth[k]["x12"] for k in (
        "autoApproved", "pended", "informationRequested", "informationProvided", "modified", "appealed",
        "appealDecided", "late", "lateFlagged",
    )] == ["A1", "A4", "A4", "A4", "A2", "A4", "A1", "A4", "A4"]  # fmt: skip
    assert (preauth["modified"]["approvedUnits"], preauth["appealDecided"]["approvedUnits"]) == (1, 2)
    assert preauth["informationProvided"]["dueAt"] == preauth["pended"]["dueAt"]
    assert preauth["lateFlagged"]["deadlineMissed"] is True
    assert {k: preauth["refusedClaim"][k] for k in ("error", "requested", "remaining")} == {
        "error": "InsufficientUnits", "requested": 1, "remaining": 0
    }  # fmt: skip
    assert doc["credentials"]["readerAfter"] == {"ok": False, "checks": {"1": "revoked", "2": "valid"}, "revoked": [1]}


def test_the_brownie_script_main_is_a_thin_call_of_run_demo(monkeypatch: pytest.MonkeyPatch, demo: DemoResult) -> None:
    calls: list[dict[str, object]] = []

    def recorded_run_demo(**kwargs: object) -> DemoResult:
        calls.append(kwargs)
        return demo

    monkeypatch.setattr("radledger.demo.story.run_demo", recorded_run_demo)
    namespace = runpy.run_path(str(ROOT / "scripts" / "demo.py"))
    assert namespace["main"]() is demo
    assert calls == [{}]
