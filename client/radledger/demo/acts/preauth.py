"""The prior-authorization acts of `radledger demo` (act 3 and act 4).

The payer sets its policy for CPT 70551; the site builds salted member and clinical commitments (the
opening stays at the site); the gold-carded physician signs the order offline and the site's request
is approved at once (X12 A1). A physician without a gold card orders two units and is pended (A4);
the payer, having opened the commitments off chain, asks for more information (A4), the site answers
with a new clinical commitment (the deadline still runs from the request), the payer modifies the
request to one unit (A6), the site appeals (A4) and the payer approves in full on appeal (A1). A
third, expedited request is pended (A4, due in 72 h); the chain travels past its due date without a
decision and an auditor (anyone may) flags it: DeadlineMissed.
"""

from __future__ import annotations

from dataclasses import dataclass

from radledger.chain.connection import time_travel
from radledger.demo.data import INFORMATION_DIAGNOSES, MRI_BRAIN, MRI_BRAIN_TEXT, SECOND_DIAGNOSES
from radledger.demo.narration import short, status_text, units_text, when
from radledger.demo.scene import Scene
from radledger.registries.preauth.client import DecisionReason, order_message
from radledger.registries.preauth.types import DAY, Policy, PreauthRequest

ORDER_SIGNATURE_SECONDS = 3600
PENDED_UNITS = 2
"""The second physician's order: a baseline MRI and a follow-up."""
MODIFIED_UNITS = 1
"""What the payer approves of it before the appeal."""
LATE_BY_SECONDS = 3600
"""How far past the third request's due date the chain travels before the deadline is flagged."""


@dataclass(frozen=True)
class Information:
    """The pended request after the payer asked for more information, and after the site answered."""

    requested: PreauthRequest
    provided: PreauthRequest


@dataclass(frozen=True)
class Appeal:
    """The modified request after the site appealed, and after the payer decided the appeal."""

    appealed: PreauthRequest
    decided: PreauthRequest


def payer_policy(scene: Scene) -> None:
    """The payer's policy for CPT 70551: auto-approval for its gold card, a license required."""
    story, schemas = scene.story, scene.schemas
    policy = Policy(
        auto_approval=True, max_units=2, gold_card_schema=schemas.gold_card, required_schemas=(schemas.license,)
    )
    before = story.mark()
    policy_id = scene.preauth(scene.actors.payer).set_policy(MRI_BRAIN, policy)
    story.step(
        "payer", f"sets its policy for CPT {MRI_BRAIN} ({MRI_BRAIN_TEXT})", story.receipts_since(before),
        f"policy #{policy_id}: auto-approval for holders of its gold card (schema {schemas.gold_card}), "
        f"the state license (schema {schemas.license}) required of every ordering physician, at most "
        f"{policy.max_units} units approved automatically",
        f"decisions within {policy.standard_decision_seconds // DAY} days (standard), "
        f"{policy.expedited_decision_seconds // 3600} h (expedited); approvals valid "
        f"{policy.approval_validity_days} days; appeals within {policy.appeal_window_seconds // DAY} days",
    )  # fmt: skip


def automatic_approval(scene: Scene) -> PreauthRequest:
    """The patient's own request: commitments built at the site, the gold-carded physician's signed order,
    approved at once."""
    story, a, ordering = scene.story, scene.actors, scene.site.ordering
    preauth_site = scene.preauth(a.site)
    case = scene.site.cases[0]
    opening_json = case.opening.to_json()
    story.step(
        "imaging site", "builds the salted member and clinical commitments (off chain)", None,
        f"member {short(case.opening.member_commitment)} = keccak256(salt, payer id, member id)",
        f"clinical {short(case.opening.clinical_commitment)} = keccak256(salt, ICD-10 codes, referral note SHA-256)",
        f"the opening ({len(opening_json)} bytes of JSON: salts, member {case.member_id}, diagnoses "
        f"{', '.join(case.diagnoses)}) stays at the site, mode 600; the payer gets it over its PHI channel",
    )  # fmt: skip
    signed = preauth_site.sign_order(
        ordering.signer,
        order_message(
            a.site.address, a.payer.address, case.opening.member_commitment, MRI_BRAIN, 1, ordering.address, False,
            case.opening.clinical_commitment, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    obstacles = preauth_site.auto_approval_obstacles(signed)
    story.step(
        "ordering physician", f"{ordering.name} signs the order offline (EIP-712 OrderAttestation; no ETH)", None,
        f"the order meets the payer's criteria: CPT {MRI_BRAIN}, 1 unit, for member commitment "
        f"{short(case.opening.member_commitment)}",
        f"request id known before sending: {short(preauth_site.order_digest(signed.message))}; "
        f"obstacles to auto-approval: {'; '.join(obstacles) or 'none'}",
    )  # fmt: skip
    before = story.mark()
    auto_id = preauth_site.request(signed)
    auto_request = preauth_site.get_request(auto_id)
    story.step(
        "imaging site", "requests prior authorization: approved at once", story.receipts_since(before),
        f"request {short(auto_id)}: {status_text(auto_request)}, {units_text(auto_request.approved_units)}, "
        f"valid until {when(auto_request.expires_at)}",
        "checked on chain: the physician's license and gold card, the units, the physician's signature",
    )  # fmt: skip
    return auto_request


def pended_request(scene: Scene) -> PreauthRequest:
    """Another member's request, ordered by the physician without a gold card: pended for the payer."""
    story, a, second = scene.story, scene.actors, scene.site.second_ordering
    preauth_site = scene.preauth(a.site)
    pended_case = scene.site.cases[1]
    first_clinical = pended_case.clinical_commitments[0]
    signed_second = preauth_site.sign_order(
        second.signer,
        order_message(
            a.site.address, a.payer.address, pended_case.opening.member_commitment, MRI_BRAIN, PENDED_UNITS,
            second.address, False, first_clinical, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    obstacles = preauth_site.auto_approval_obstacles(signed_second)
    before = story.mark()
    pended_id = preauth_site.request(signed_second)
    pended = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", f"requests for another member, ordered by {second.name}: pended", story.receipts_since(before),
        f"{units_text(PENDED_UNITS)} (a baseline MRI and a follow-up at 3 months), the order signed offline by "
        f"{second.name.split(' (')[0]}, who holds a license but no gold card",
        f"request {short(pended_id)}: {status_text(pended)}, decision due by {when(pended.due_at)}",
        f"why: {'; '.join(obstacles)}",
    )  # fmt: skip
    return pended


def more_information(scene: Scene, pended: PreauthRequest) -> Information:
    """The payer opens the commitments and asks for more; the site answers with a new clinical commitment."""
    story, pended_id = scene.story, pended.request_id
    preauth_payer, preauth_site = scene.preauth(scene.actors.payer), scene.preauth(scene.actors.site)
    pended_case = scene.site.cases[1]
    info_clinical = pended_case.clinical_commitments[1]
    opened = preauth_payer.verify_opening(pended_id, pended_case.opening_as_of(1), scene.first_block)
    receipt = preauth_payer.request_information(pended_id, DecisionReason.INSUFFICIENT_DOCUMENTATION)
    information_requested = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "opens the commitments off chain and asks for more information", [receipt],
        f"the site's opening {'opens' if opened else 'does NOT open'} the commitments on chain "
        f"(member {pended_case.member_id}, {', '.join(SECOND_DIAGNOSES)}: seen by the payer, not the chain)",
        f"InformationRequested, reason {int(DecisionReason.INSUFFICIENT_DOCUMENTATION)} (insufficient "
        f"documentation); request {short(pended_id)}: {status_text(information_requested)}, still due by "
        f"{when(information_requested.due_at)}",
    )  # fmt: skip
    receipt = preauth_site.provide_information(pended_id, info_clinical)
    information_provided = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", "answers with a new clinical commitment (provideInformation)", [receipt],
        f"clinical {short(info_clinical)} = keccak256(new salt, {', '.join(INFORMATION_DIAGNOSES)}, the referral "
        "note and the neurological examination note); the opening gains a second clinical entry",
        f"request {short(pended_id)}: {status_text(information_provided)}; the deadline still runs from the request: "
        f"due by {when(information_provided.due_at)}, unchanged",
    )  # fmt: skip
    return Information(information_requested, information_provided)


def modification(scene: Scene, pended: PreauthRequest) -> PreauthRequest:
    """The payer opens the new commitment and approves fewer units than ordered."""
    story, pended_id = scene.story, pended.request_id
    preauth_payer = scene.preauth(scene.actors.payer)
    opened = preauth_payer.verify_opening(pended_id, scene.site.cases[1].opening_as_of(2), scene.first_block)
    receipt = preauth_payer.modify(pended_id, MODIFIED_UNITS)
    modified = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "opens the new commitment and modifies: fewer units", [receipt],
        f"the opening {'opens' if opened else 'does NOT open'} both clinical commitments on chain; the baseline "
        "MRI is approved, the follow-up is not",
        f"request {short(pended_id)}: {status_text(modified)}, {modified.approved_units} of "
        f"{units_text(modified.units)}, decided {modified.decided_at - modified.requested_at} s after the request; "
        f"appeal by {when(modified.appeal_by)}",
    )  # fmt: skip
    return modified


def appeal(scene: Scene, modified: PreauthRequest) -> Appeal:
    """The site appeals the modification with a new clinical commitment; the payer approves in full."""
    story, pended_id = scene.story, modified.request_id
    preauth_payer, preauth_site = scene.preauth(scene.actors.payer), scene.preauth(scene.actors.site)
    pended_case = scene.site.cases[1]
    appeal_clinical = pended_case.clinical_commitments[2]
    receipt = preauth_site.appeal(pended_id, appeal_clinical)
    appealed = preauth_site.get_request(pended_id)
    story.step(
        "imaging site", "appeals the modification with a new clinical commitment", [receipt],
        f"clinical {short(appeal_clinical)}: the same codes and a letter of medical necessity for the follow-up",
        f"request {short(pended_id)}: {status_text(appealed)}, appeal decision due by {when(appealed.due_at)}",
    )  # fmt: skip
    opened = preauth_payer.verify_opening(pended_id, pended_case.opening, scene.first_block)
    receipt = preauth_payer.approve(pended_id)
    (appeal_decision,) = preauth_payer.events(receipt, "PreauthDecided")
    appeal_decided = preauth_payer.get_request(pended_id)
    story.step(
        "payer", "decides the appeal: approved in full", [receipt],
        f"the opening {'opens' if opened else 'does NOT open'} all three clinical commitments on chain",
        f"PreauthDecided(onAppeal={appeal_decision['onAppeal']}); request {short(pended_id)}: "
        f"{status_text(appeal_decided)}, {units_text(appeal_decided.approved_units)}, valid until "
        f"{when(appeal_decided.expires_at)}",
    )  # fmt: skip
    return Appeal(appealed, appeal_decided)


def expedited_request(scene: Scene) -> PreauthRequest:
    """A third member's expedited request: pended, and the payer will not decide in time."""
    story, a, second = scene.story, scene.actors, scene.site.second_ordering
    preauth_site = scene.preauth(a.site)
    late_case = scene.site.cases[2]
    signed_third = preauth_site.sign_order(
        second.signer,
        order_message(
            a.site.address, a.payer.address, late_case.opening.member_commitment, MRI_BRAIN, 1, second.address,
            True, late_case.opening.clinical_commitment, preauth_site.now() + ORDER_SIGNATURE_SECONDS,
        ),
    )  # fmt: skip
    before = story.mark()
    late_id = preauth_site.request(signed_third)
    late_request = preauth_site.get_request(late_id)
    story.step(
        "imaging site", f"requests an expedited MRI for a third member, ordered by {second.name}: pended",
        story.receipts_since(before),
        f"the site sends the payer the opening (member {late_case.member_id}, {', '.join(late_case.diagnoses)}) "
        "over its PHI channel, as before",
        f"request {short(late_id)}: {status_text(late_request)}, expedited: decision due within "
        f"{(late_request.due_at - late_request.requested_at) // 3600} h, by {when(late_request.due_at)}",
    )  # fmt: skip
    return late_request


def missed_deadline(scene: Scene, late_request: PreauthRequest) -> PreauthRequest:
    """The chain travels past the expedited request's due date; the auditor flags the missed deadline."""
    story, late_id = scene.story, late_request.request_id
    now = time_travel(scene.w3, late_request.due_at + LATE_BY_SECONDS - scene.preauth().now())
    story.say(
        f"    ({(now - late_request.requested_at) // 3600} hours pass: the in-process chain travels to {when(now)}; "
        "the payer has not decided)"
    )
    preauth_anyone = scene.preauth(scene.actors.auditor)
    receipt = preauth_anyone.flag_missed_deadline(late_id)
    (missed,) = preauth_anyone.events(receipt, "DeadlineMissed")
    late_flagged = preauth_anyone.get_request(late_id)
    story.step(
        "auditor", "flags the missed deadline (flagMissedDeadline: anyone may)", [receipt],
        f"DeadlineMissed(requestId={short(missed['requestId'])}, payer={short(missed['payer'])}, "
        f"dueAt={when(missed['dueAt'])}, onAppeal={missed['onAppeal']}, flaggedBy={short(missed['flaggedBy'])})",
        f"request {short(late_id)}: {status_text(late_flagged)}, deadline missed: {late_flagged.deadline_missed}; "
        "a late decision is still a decision, and the flag stays on record",
    )  # fmt: skip
    return late_flagged
