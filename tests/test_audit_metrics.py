"""CMS-0057-F payer metrics from the index, on a scripted prior-authorization history with known answers;
and the preauth and credential state rebuilt from the index equals the contracts' views."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_utils import keccak
from web3 import Web3

from radledger.audit import AuditIndex, audit_summary
from radledger.audit.cms0057 import CMS_COLUMNS, CmsYear, cms_report, cms_report_of, write_cms_csv
from radledger.audit.index import EventRow
from radledger.audit.metrics import PayerMetrics, metrics_table, payer_metrics, plot_metrics, write_metrics_csv
from radledger.audit.queries.preauth import cases_from_rows, payer_requests
from radledger.audit.state import credential_state, preauth_state
from radledger.chain.artifacts import load_artifact
from radledger.deployment.addresses import Deployment
from radledger.registries.preauth.types import ClaimStatus
from tests.audit_backends import NewIndex
from tests.preauth_support import MRI_BRAIN, MRI_LUMBAR, World, travel_to, world_base_fixture, world_fixture  # noqa: F401
from tests.test_audit_queries import synced_index

HOUR = 3600


@dataclass(frozen=True)
class Script:
    payer: str
    other_payer: str
    requests: list[bytes]


def decide_after(w3: Web3, requested_at: int, hours: float) -> None:
    """Travel so that the next transaction is mined exactly `hours` after `requested_at`."""
    travel_to(w3, requested_at + int(hours * HOUR) - 1)


@pytest.fixture(scope="module")
def script(chain: Web3, world_base: World) -> Iterator[Script]:
    """Played once per module inside a snapshot (each test's `w3` snapshot nests inside it)."""
    snapshot = chain.testing.snapshot()
    try:
        yield play_script(chain, world_base)
    finally:
        chain.testing.revert(snapshot)


def play_script(w3: Web3, world: World) -> Script:
    """Payer A: six standard requests (auto-approved; approved in 10 h; denied in 20 h then approved on appeal;
    modified in 30 h; denied in 8 days, past the 7-day deadline; cancelled) and three expedited ones (approved
    in 2 h; approved in 80 h, past 72 h; still pending, flagged missed). Payer B: one standard, approved in 1 h."""
    payer, site = world.as_payer, world.as_site
    made: list[bytes] = []

    def pended(**kwargs: object) -> tuple[bytes, int]:
        rid = world.pended(procedure=MRI_LUMBAR, **kwargs)  # type: ignore[arg-type]
        made.append(rid)
        return rid, world.now()

    made.append(world.request())  # 1: gold card, approved at once
    rid, at = pended()  # 2
    decide_after(w3, at, 10)
    payer.approve(rid)
    rid, at = pended()  # 3
    decide_after(w3, at, 20)
    payer.deny(rid, 3)
    site.appeal(rid, keccak(text="appeal evidence"))
    payer.approve(rid)
    rid, at = pended(units=2)  # 4
    decide_after(w3, at, 30)
    payer.modify(rid, 1)
    rid, at = pended()  # 5
    decide_after(w3, at, 8 * 24)
    payer.deny(rid, 4)
    rid, _ = pended()  # 6
    site.cancel(rid)
    rid, at = pended(expedited=True)  # 7
    decide_after(w3, at, 2)
    payer.approve(rid)
    rid, at = pended(expedited=True)  # 8
    decide_after(w3, at, 80)
    payer.approve(rid)
    rid, at = pended(expedited=True)  # 9
    decide_after(w3, at, 73)
    world.preauth(world.stranger).flag_missed_deadline(rid)
    other = world.request(world.licensed, payer=world.other_payer.address)  # 10, payer B
    made.append(other)
    decide_after(w3, world.now(), 1)
    world.preauth(world.other_payer).approve(other)
    return Script(world.payer.address, world.other_payer.address, made)


def metric(rows: list[PayerMetrics], payer: str, priority: str) -> PayerMetrics:
    (found,) = [r for r in rows if r.payer == payer and r.priority == priority]
    return found


def test_payer_metrics_have_the_known_answers(
    w3: Web3, deployment: Deployment, world: World, script: Script, new_index: NewIndex
) -> None:
    index = synced_index(w3, deployment, world, new_index)
    rows = payer_metrics(payer_requests(index), "year")
    assert [(r.payer, r.period, r.priority) for r in rows] == sorted(
        [
            (script.payer, "2030", "expedited"),
            (script.payer, "2030", "standard"),
            (script.other_payer, "2030", "standard"),
        ]
    )
    standard = metric(rows, script.payer, "standard")
    assert (standard.requests, standard.decided, standard.pending, standard.cancelled) == (6, 5, 0, 1)
    assert (standard.approved_share, standard.denied_share, standard.modified_share) == (0.4, 0.4, 0.2)
    assert (standard.approved_after_appeal_share, standard.late_share, standard.appealed) == (0.2, 0.2, 1)
    assert (standard.mean_decision_hours, standard.median_decision_hours) == (50.4, 20.0)  # 0, 10, 20, 30, 192 h
    expedited = metric(rows, script.payer, "expedited")
    assert (expedited.requests, expedited.decided, expedited.pending, expedited.deadline_flags) == (3, 2, 1, 1)
    assert (expedited.approved_share, expedited.denied_share, expedited.late_share) == (1.0, 0.0, 0.5)
    assert (expedited.mean_decision_hours, expedited.median_decision_hours) == (41.0, 41.0)
    other = metric(rows, script.other_payer, "standard")
    assert (other.requests, other.approved_share, other.mean_decision_hours, other.late_share) == (1, 1.0, 1.0, 0.0)

    monthly = payer_metrics(payer_requests(index, script.payer), "month")
    assert sum(r.requests for r in monthly) == 9
    assert {r.period for r in monthly} <= {"2030-03", "2030-04"}
    assert [r.requests for r in payer_metrics(payer_requests(index, script.payer), "all")] == [3, 6]


def test_metrics_come_out_as_a_table_csv_and_a_png_chart(
    w3: Web3, deployment: Deployment, world: World, script: Script, tmp_path: Path, new_index: NewIndex
) -> None:
    rows = payer_metrics(payer_requests(synced_index(w3, deployment, world, new_index)), "year")
    table = metrics_table(rows)
    assert "40.0%" in table and "50.4" in table and table.splitlines()[0].split()[:3] == ["payer", "period", "priority"]
    buffer = io.StringIO()
    assert write_metrics_csv(rows, buffer) == 3
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    standard = next(r for r in parsed if r["payer"] == script.payer and r["priority"] == "standard")
    assert (standard["approved_share"], standard["median_decision_hours"], standard["decided_late_share"]) == (
        "0.4",
        "20.0",
        "0.2",
    )
    chart = plot_metrics(rows, tmp_path / "metrics.png")
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_preauth_and_credential_state_rebuilt_from_the_index_equals_the_views(
    w3: Web3, deployment: Deployment, world: World, script: Script, new_index: NewIndex
) -> None:
    site, payer = world.as_site, world.as_payer
    approved = script.requests[1]
    claim, denied_claim = keccak(text="claim 1"), keccak(text="claim 2")
    site.submit_claim(approved, claim, 1, 12_500)
    payer.adjudicate_claim(claim, ClaimStatus.PARTIALLY_PAID, 10_000)
    site.submit_claim(script.requests[0], denied_claim, 1, 9_900)
    payer.adjudicate_claim(denied_claim, ClaimStatus.DENIED, reason=2)
    world.creds.with_sender(world.payer).revoke(world.gold_uid, 5)
    index: AuditIndex = synced_index(w3, deployment, world, new_index)

    requests, claims = preauth_state(index)
    client = world.preauth()
    assert set(script.requests) <= set(requests)
    for request_id, rebuilt in requests.items():
        assert rebuilt == client.get_request(request_id)
    assert set(claims) == {claim, denied_claim}
    for claim_id, rebuilt_claim in claims.items():
        assert rebuilt_claim == client.get_claim(claim_id)
    attestations = credential_state(index)
    assert world.gold_uid in attestations and len(attestations) >= 3
    for uid, rebuilt_attestation in attestations.items():
        assert rebuilt_attestation == world.creds.get_attestation(uid)


def test_audit_summary_tells_the_auditors_view(w3: Web3, deployment: Deployment, world: World, script: Script) -> None:
    extra = {"CredentialRegistry": world.creds.address, "PreauthRegistry": world.address}
    text = audit_summary(w3, deployment, extra)
    lines = text.splitlines()
    assert lines[0].startswith(f"Auditor's view (chain {deployment.chain_id}): indexed ")
    assert "  PreauthRegistry: " in text and "PreauthDecided 9" in text
    assert "Prior authorization (CMS-0057-F metrics, 10 requests):" in text
    assert "Credentials: 3 attestations about 2 subjects; now: valid 3" in text
    standard_a = next(line for line in lines if script.payer[:6] in line and "standard" in line)
    assert standard_a.split()[3:6] == ["6", "5", "40.0%"]


# ------------------------------------------------------------------------------ CMS-0057-F, exactly


def cms_row(rows: list[CmsYear], payer: str) -> dict[str, object]:
    (found,) = [r for r in rows if r.payer == payer]
    return found.row()


def test_the_cms_0057_f_report_has_the_rules_metrics_with_known_answers(
    w3: Web3, deployment: Deployment, world: World, script: Script, new_index: NewIndex
) -> None:
    index = synced_index(w3, deployment, world, new_index)
    rows = cms_report_of(index)
    assert [(r.payer, r.year) for r in rows] == sorted([(script.payer, 2030), (script.other_payer, 2030)])
    a = cms_row(rows, script.payer)
    assert a["items and services that require prior authorization"] == f"{MRI_BRAIN}; {MRI_LUMBAR}"
    # standard: approved at once and in 10 h; denied in 20 h (approved on appeal); modified in 30 h (denied in
    # part); denied in 192 h; one cancelled
    assert a["percent of standard prior authorization requests that were approved"] == 40.0
    assert a["percent of standard prior authorization requests that were denied"] == 60.0
    assert a["percent of standard prior authorization requests that were approved after appeal"] == 20.0
    assert a["percent of standard determinations that were partial approvals (counted as denied)"] == 20.0
    assert a[CMS_COLUMNS[6]] == 0.0  # nothing extended
    assert a["percent of expedited prior authorization requests that were approved"] == 100.0
    assert a["percent of expedited prior authorization requests that were denied"] == 0.0
    assert (a[CMS_COLUMNS[9]], a[CMS_COLUMNS[10]]) == (50.4, 20.0)  # standard: mean, median hours
    assert (a[CMS_COLUMNS[11]], a[CMS_COLUMNS[12]]) == (41.0, 41.0)  # expedited
    assert (a["requests pending at the end of the data"], a["requests cancelled before a determination"]) == (1, 1)
    b = cms_row(rows, script.other_payer)
    assert b["items and services that require prior authorization"] == MRI_BRAIN
    assert b[CMS_COLUMNS[3]] == 100.0 and b[CMS_COLUMNS[11]] == ""  # no expedited request: no figure
    out = io.StringIO()
    assert write_cms_csv(rows, out) == 2
    header = next(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(header) == CMS_COLUMNS
    assert header[6] == (
        "percent of prior authorization requests for which the timeframe for review was extended, and the request "
        "was approved"
    )


def extension_row(request: EventRow, payer: str, previous_due: int, new_due: int, at: EventRow) -> EventRow:
    """An event of IPreauthRegistry's `DecisionTimeframeExtended(requestId, payer, previousDueAt, newDueAt,
    reasonCode)` (branch sol-registries), placed just before the event `at`: the shape the index will hold
    once the contract emits it."""
    return dataclasses.replace(
        at,
        log_index=at.log_index - 1,
        event="DecisionTimeframeExtended",
        args={
            "requestId": request.args["requestId"],
            "payer": payer,
            "previousDueAt": previous_due,
            "newDueAt": new_due,
            "reasonCode": 2,
        },
    )


def test_a_request_whose_timeframe_was_extended_and_then_approved_counts_once(
    w3: Web3, deployment: Deployment, world: World, script: Script, new_index: NewIndex
) -> None:
    """Until PreauthRegistry emits DecisionTimeframeExtended (sol-registries), the extensions are rows of its shape
    added to the index's own: request 2 (approved in 10 h) and request 5 (denied in 8 days) are extended by 14 days."""
    index = synced_index(w3, deployment, world, new_index)
    rows = index.events(contract="PreauthRegistry")
    added = []
    for request_id in (script.requests[1], script.requests[4]):
        mine = [r for r in rows if r.args.get("requestId") == request_id]
        requested = next(r for r in mine if r.event == "PreauthRequested")
        decided = next(r for r in mine if r.event == "PreauthDecided")
        due = int(requested.args["dueAt"])
        added.append(extension_row(requested, script.payer, due, due + 14 * 24 * HOUR, decided))
    cases = {c.request_id: c for c in cases_from_rows([*rows, *added])}
    approved, denied = cases[script.requests[1]], cases[script.requests[4]]
    assert approved.extended is not None and approved.fields()["extension_reason"] == 2
    assert denied.decision is not None and not denied.decision.late  # 8 days: within the extended deadline
    report = cms_report(cases.values(), index.events(["PolicySet"]))
    a = cms_row(report, script.payer)
    assert a[CMS_COLUMNS[6]] == round(100 / 7, 2)  # one of the payer's seven determinations: extended, approved
    assert a[CMS_COLUMNS[3]] == 40.0  # the extension changes no other figure


@pytest.mark.skipif(
    "extend" not in {i.get("name") for i in load_artifact("PreauthRegistry").abi},
    reason="PreauthRegistry.extend arrives with branch sol-registries: re-run this test after the merge",
)
def test_the_payers_extend_is_read_from_the_chain_and_counted(
    w3: Web3, deployment: Deployment, world: World, new_index: NewIndex
) -> None:
    rid = world.pended(procedure=MRI_LUMBAR)
    due = int(world.as_payer.get_request(rid).due_at)
    world.as_payer._send("extend", rid, due + 7 * 24 * HOUR, 1)
    world.as_payer.approve(rid)
    index = synced_index(w3, deployment, world, new_index)
    (case,) = [c for c in payer_requests(index, world.payer.address) if c.request_id == rid]
    assert case.extended is not None and case.extended.args["newDueAt"] == due + 7 * 24 * HOUR
    assert case.extended.args["previousDueAt"] == due and case.extended.args["reasonCode"] == 1
    report = cms_report_of(index)
    assert sum(r.extended_and_approved for r in report if r.payer == world.payer.address) == 1
