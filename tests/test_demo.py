"""`radledger demo`: the consent story on the in-process chain, run once and inspected."""

from __future__ import annotations

import json
import runpy

import pytest

from radledger import errors
from radledger.cli import main
from radledger.consent import ConsentRegistryClient
from radledger.demo import DemoResult, run_demo
from radledger.models import AccessBasis, Purpose, RecordKind, Scope
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
    assert demo.steps[-1].gas_used is None and demo.steps[-1].tx_hashes == ()


def test_the_patient_never_holds_eth_nor_sends_a_transaction(demo: DemoResult) -> None:
    assert demo.patient_balance == 0
    assert demo.patient_transactions == 0
    assert demo.w3.eth.get_balance(demo.accounts.patient) == 0
    senders = {demo.w3.eth.get_transaction(h)["from"] for h in demo.tx_hashes}  # type: ignore[arg-type]
    assert demo.accounts.patient not in senders


def test_every_transaction_step_reports_the_gas_its_receipts_used(demo: DemoResult) -> None:
    transacting = [s for s in demo.steps if s.tx_hashes]
    assert len(transacting) == 10
    for step in transacting:
        receipts = [demo.w3.eth.get_transaction_receipt(h) for h in step.tx_hashes]  # type: ignore[arg-type]
        assert all(r["status"] == 1 for r in receipts)
        assert step.gas_used == sum(r["gasUsed"] for r in receipts) > 21_000
    for step in demo.steps:
        if not step.tx_hashes:
            assert step.gas_used is None
    assert demo.total_gas == sum(s.gas_used or 0 for s in demo.steps)
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
    granted = consent.events(
        demo.w3.eth.get_transaction_receipt(demo.step("relays the patient's signed consent").tx_hashes[0]),  # type: ignore[arg-type]
        "ConsentGranted",
    )
    revoked = consent.events(
        demo.w3.eth.get_transaction_receipt(demo.step("relays the revocation").tx_hashes[0]),  # type: ignore[arg-type]
        "ConsentRevoked",
    )
    assert [(e["actor"], e["scopes"], e["purposes"]) for e in granted] == [
        (demo.accounts.patient, int(Scope.IMAGES | Scope.REPORTS), int(Purpose.TREAT))
    ]
    relay = demo.w3.eth.get_transaction_receipt(demo.step("relays the patient's signed consent").tx_hashes[0])  # type: ignore[arg-type]
    relayed_at = demo.w3.eth.get_block(relay["blockNumber"])["timestamp"]
    assert 29 * 86400 < granted[0]["validUntil"] - relayed_at <= 30 * 86400
    assert [e["actor"] for e in revoked] == [demo.accounts.patient]


def test_the_account_names_every_step_with_its_gas_and_the_summary(demo: DemoResult, output: list[str]) -> None:
    text = "\n".join(output)
    for step in demo.steps:
        cost = f"gas {step.gas_used:,}" if step.gas_used is not None else "no transaction"
        assert f"{step.number:>2}. {step.actor}: {step.action}  [{cost}]" in text
    assert "AccessDenied(" in text
    assert "What the chain holds" in text and "What stayed at" in text
    assert "(synthetic)" in text
    assert demo.site.site_salt.hex() not in text  # the salt is never printed


def test_the_cli_demo_repeats_the_seeded_story_as_json(demo: DemoResult, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["demo", "--seed", str(SEED), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads(json.dumps(demo.to_json()))  # same seed, same chain: same ids, gas and hashes
    assert doc["patientBalance"] == 0 and doc["denied"]["error"] == "AccessDenied"


def test_the_brownie_script_main_is_a_thin_call_of_run_demo(monkeypatch: pytest.MonkeyPatch, demo: DemoResult) -> None:
    calls: list[dict[str, object]] = []

    def recorded_run_demo(**kwargs: object) -> DemoResult:
        calls.append(kwargs)
        return demo

    monkeypatch.setattr("radledger.demo.run_demo", recorded_run_demo)
    namespace = runpy.run_path(str(ROOT / "scripts" / "demo.py"))
    assert namespace["main"]() is demo
    assert calls == [{}]
