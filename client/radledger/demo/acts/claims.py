"""The claims act of `radledger demo` (act 6): the site claims the authorization's unit and the payer
pays; a second claim beyond the approved units is refused (InsufficientUnits, decoded; nothing mined)."""

from __future__ import annotations

from dataclasses import dataclass

from radledger.chain import errors
from radledger.demo.data import CLAIM_AMOUNT_CENTS
from radledger.demo.narration import dollars, short, units_text
from radledger.demo.scene import Scene
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.preauth.commitments import claim_id
from radledger.registries.preauth.types import ClaimStatus, PreauthClaim, PreauthRequest


@dataclass(frozen=True)
class Claims:
    claim: PreauthClaim
    """The claim against the automatic approval, after the payer adjudicated it."""
    refused: errors.ContractError
    """The decoded InsufficientUnits of the second claim against the same authorization."""
    refused_claim_id: bytes


def claims(scene: Scene, approved: PreauthRequest) -> Claims:
    """A claim against the automatic approval, paid; a second one beyond its units, refused."""
    story, local, auto_id = scene.story, scene.site, approved.request_id
    preauth_payer, preauth_site = scene.preauth(scene.actors.payer), scene.preauth(scene.actors.site)
    cid = claim_id(local.claim_file, local.claim_salt)
    receipt = preauth_site.submit_claim(auto_id, cid, 1, CLAIM_AMOUNT_CENTS)
    after_claim = preauth_site.get_request(auto_id)
    story.step(
        "imaging site", "submits its claim against the authorization", [receipt],
        f"claim {short(cid)} = keccak256(salt, SHA-256 of the 837 claim file); the file stays at the site",
        f"1 unit, {dollars(CLAIM_AMOUNT_CENTS)} against request {short(auto_id)}; "
        f"{after_claim.remaining_units} of {units_text(after_claim.approved_units)} approved left",
    )  # fmt: skip
    receipt = preauth_payer.adjudicate_claim(cid, ClaimStatus.PAID)
    claim = preauth_payer.get_claim(cid)
    story.step(
        "payer", "adjudicates the claim: paid", [receipt],
        f"claim {short(cid)}: {claim.status.name}, paid {dollars(claim.paid_amount)} of {dollars(claim.amount)}",
    )  # fmt: skip
    second_cid = claim_id(local.second_claim_file, local.second_claim_salt)
    block_before = story.mark()
    refused_claim = _refused_claim(preauth_site, auto_id, second_cid)
    mined = story.mark() - block_before
    unknown = _claim_unknown(preauth_site, second_cid)
    story.step(
        "imaging site", "submits a second claim beyond the approved units: refused before any transaction", None,
        f"claim {short(second_cid)}, 1 unit against request {short(auto_id)}: "
        f"{refused_claim.error_name}(requestId={short(refused_claim.values['requestId'])}, "
        f"requested={refused_claim.values['requested']}, remaining={refused_claim.values['remaining']})",
        f"{mined} blocks mined; the claim {'is unknown' if unknown else 'IS'} on chain",
    )  # fmt: skip
    return Claims(claim, refused_claim, second_cid)


def _refused_claim(preauth: PreauthRegistryClient, request_id: bytes, cid: bytes) -> errors.ContractError:
    try:
        preauth.submit_claim(request_id, cid, 1, CLAIM_AMOUNT_CENTS)
    except errors.InsufficientUnits as exc:
        return exc
    raise errors.RadledgerError("the demo expected InsufficientUnits for a claim beyond the approved units")


def _claim_unknown(preauth: PreauthRegistryClient, cid: bytes) -> bool:
    try:
        preauth.get_claim(cid)
    except errors.ClaimNotFound:
        return True
    return False
