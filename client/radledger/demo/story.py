"""`radledger demo`: consent, credentials, prior authorization and claims, end to end on the embedded
in-process chain.

Nothing but the Python package is needed (no node, no compiler). Every person, site and
identifier in it is synthetic (:mod:`radledger.demo.data`). The story:

1. governance deploys the four contracts, registers an imaging site as custodian (with the public
   URL of its gateway), gives an emergency department the break-glass role, registers the credential
   schemas (state medical license, radiology board certification, MRI annual inspection, the payer's
   gold card), authorizes their issuers and registers the payer;
2. the issuers attest: licenses of the teleradiologist and the ordering physicians, the
   teleradiologist's board certification, the MRI scanner's inspection (the scanner's id is a hash of
   manufacturer and serial), the payer's gold card for one ordering physician;
3. prior authorization: the payer sets its policy for CPT 70551; the site builds salted member and
   clinical commitments (the opening stays at the site); the gold-carded physician signs the order
   offline and the site's request is approved at once (X12 A1); a physician without a gold card
   orders two units and is pended (A4); the payer, having opened the commitments off chain, asks for
   more information (A4), the site answers with a new clinical commitment (the deadline still runs
   from the request), the payer modifies the request to one unit (A6), the site appeals (A4) and the
   payer approves in full on appeal (A1); a third, expedited request is pended (A4, due in 72 h);
4. a missed deadline: the in-process chain travels past that due date without a decision, and an
   auditor (anyone may) flags it: DeadlineMissed. This comes before the consent part so that the
   consent, the break-glass window and the auditor's view all happen in the same (later) hours;
5. consent: the site checks the scanner's inspection, registers the MRI study and a safety profile;
   the patient (no ETH) signs a consent for a teleradiology group, relayed by the site; before
   assigning the read the site verifies the reader's license and board certification; the group
   checks and records its access; the emergency department breaks the glass; the patient revokes
   and the group is refused;
6. the site claims the authorization's unit and the payer pays; a second claim beyond the approved
   units is refused (InsufficientUnits, decoded; nothing mined);
7. the state board revokes the reader's license; the next verification fails, and says why;
8. an auditor's view of every event and the payer's CMS-0057-F metrics
   (:func:`radledger.audit.audit_summary`).

:func:`run_demo` prints the account and returns a :class:`~radledger.demo.result.DemoResult` for tests
to inspect. This module holds the order of the acts; the acts are in :mod:`radledger.demo.acts`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from web3 import Web3

from radledger.chain.connection import DEFAULT_START_TIMESTAMP, gas_estimator, in_process_chain
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.demo.acts import claims, closing, consent, credentials, governance, preauth
from radledger.demo.data import (
    AUDITOR_NAME,
    EMERGENCY_NAME,
    PATIENT_NAME,
    PAYER_NAME,
    PHYSICIST_NAME,
    SITE_NAME,
    SPECIALTY_BOARD_NAME,
    STATE_BOARD_NAME,
    TELERADIOLOGY_NAME,
    synthetic_site,
)
from radledger.demo.narration import Narrator
from radledger.demo.result import DemoAccounts, DemoResult
from radledger.demo.scene import Actors, Cast

if TYPE_CHECKING:
    from eth.abc import SignedTransactionAPI, StateAPI

__all__ = ["run_demo"]


def simulate_once(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """The demo chain's gas estimator: run the transaction once with the block's gas limit and raise its
    error if it fails (so reverts are still decoded before anything is sent), then let it have that limit.

    py-evm's default binary search runs every transaction about thirteen times, which is half the demo's
    time. On the in-process chain a high limit costs nothing, and the gas *used* (what the story shows)
    does not depend on the limit.
    """
    from eth.vm.spoof import SpoofTransaction  # py-evm: imported when the in-process chain runs

    spoof = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(spoof)  # type: ignore[arg-type]
    finally:
        state.revert(snapshot)
    if computation.is_error:
        raise computation.error
    return int(state.gas_limit)


def run_demo(seed: int | None = None, out: Callable[[str], None] | None = print) -> DemoResult:
    """Run the story on a fresh in-process chain; print it through `out` (None: silent).

    With `seed`, the synthetic identifiers, salts and keys repeat from run to run (and so do the
    chain's addresses, hashes, gas and times).
    """
    with gas_estimator(f"{__name__}.simulate_once"):  # for the chains built (or rebuilt by eth-tester) inside
        return _run(seed, out)


def _run(seed: int | None, out: Callable[[str], None] | None) -> DemoResult:
    rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
    w3 = in_process_chain(DEFAULT_START_TIMESTAMP)
    story = Narrator(w3, out)
    first_block = w3.eth.block_number
    actors = Actors(*(Transactor(w3, UnlockedAccount(account)) for account in w3.eth.accounts[:9]))
    patient, local = synthetic_site(rng, actors.site.address)
    cast = Cast(w3, story, actors, patient, local, rng, first_block)
    _introduce(cast)

    story.part("1. Governance")
    scene = governance.governance(cast)

    story.part("2. Credentials")
    reader_license = credentials.attestations(scene)

    story.part("3. Prior authorization")
    preauth.payer_policy(scene)
    auto_request = preauth.automatic_approval(scene)
    # the second physician: pended, more information, modified, appealed, approved on appeal
    pended_request = preauth.pended_request(scene)
    information = preauth.more_information(scene, pended_request)
    modified = preauth.modification(scene, pended_request)
    appeal = preauth.appeal(scene, modified)
    # the third request: expedited, and the payer will not decide in time
    late_request = preauth.expedited_request(scene)

    story.part("4. A missed deadline")
    late_flagged = preauth.missed_deadline(scene, late_request)

    story.part("5. Imaging, consent and the teleradiology read")
    equipment = consent.imaging(scene)
    reader_before = consent.consent_and_read(scene)
    consent.break_glass(scene)
    denied = consent.revocation(scene)

    story.part("6. Claims")
    claimed = claims.claims(scene, auto_request)

    story.part("7. Disciplinary action")
    revocation, reader_after = credentials.disciplinary_action(scene, reader_license)

    story.part("8. The auditor's view")
    audit = closing.auditors_view(scene)

    result = DemoResult(
        w3=w3,
        deployment=scene.deployment,
        accounts=_accounts(cast),
        site=local,
        steps=story.steps,
        schemas=scene.schemas,
        reader_license_uid=reader_license.uid,
        license_revocation=revocation,
        equipment=equipment,
        reader_before=reader_before,
        reader_after=reader_after,
        auto_request=auto_request,
        pended_request=pended_request,
        information_requested=information.requested,
        information_provided=information.provided,
        modified=modified,
        appealed=appeal.appealed,
        appeal_decided=appeal.decided,
        late_request=late_request,
        late_flagged=late_flagged,
        claim=claimed.claim,
        refused_claim=claimed.refused,
        refused_claim_id=claimed.refused_claim_id,
        denied=denied,
        audit=audit,
        patient_balance=int(w3.eth.get_balance(patient.address)),
        patient_transactions=int(w3.eth.get_transaction_count(patient.address)),
        first_block=first_block,
        last_block=w3.eth.block_number,
    )
    closing.summary(scene, result)
    return result


def _introduce(cast: Cast) -> None:
    """The story's title and its cast: every account, with who holds it."""
    story, a, patient, local = cast.story, cast.actors, cast.patient, cast.site
    story.say("radledger demo: consent, credentials, prior authorization and claims for imaging (in-process chain)")
    story.say("(every person, site and identifier below is synthetic)")
    story.say()
    balance = cast.w3.eth.get_balance(patient.address)
    for label, address, name in (
        ("governance", a.governance.address, ""),
        ("imaging site", a.site.address, SITE_NAME),
        ("teleradiology group", a.teleradiology.address, TELERADIOLOGY_NAME),
        ("emergency department", a.emergency.address, EMERGENCY_NAME),
        ("state medical board", a.state_board.address, STATE_BOARD_NAME),
        ("specialty board", a.specialty_board.address, SPECIALTY_BOARD_NAME),
        ("medical physicist", a.physicist.address, PHYSICIST_NAME),
        ("payer", a.payer.address, PAYER_NAME),
        ("auditor", a.auditor.address, AUDITOR_NAME),
        ("patient", patient.address, f"{PATIENT_NAME}, balance {balance} ETH"),
        *((p.role.split(",")[0], p.address, p.name) for p in local.physicians),
    ):
        story.say(f"  {label:<26} {address}  {name}".rstrip())


def _accounts(cast: Cast) -> DemoAccounts:
    a = cast.actors
    return DemoAccounts(
        a.governance.address, a.site.address, a.teleradiology.address, a.emergency.address, cast.patient.address,
        a.state_board.address, a.specialty_board.address, a.physicist.address, a.payer.address, a.auditor.address,
        *(Web3.to_checksum_address(p.address) for p in cast.site.physicians),
    )  # fmt: skip
