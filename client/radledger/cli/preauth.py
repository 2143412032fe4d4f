"""Prior authorization and claims: the payer's, the site's and the ordering physician's commands.

radledger payer register ADDRESS                                             (governance)
radledger payer show ADDRESS
radledger policy set --procedure 70551 [--auto-approval --gold-card-schema ID] [--require-schema ID]...
                     [--max-units N] [--validity-days N] [--standard-decision 7d] [--expedited-decision 72h]
                     [--appeal-window 60d] [--appeal-decision 30d] [--inactive]          (payer)
radledger policy show --payer ADDRESS --procedure 70551 [--json]
radledger preauth prepare --input REQUEST.json --requester ADDRESS --opening-out OPENING.json
                          --order-out ORDER.json [--deadline 3d] [--chain-id N]        (site, offline)
radledger preauth sign-order ORDER.json --out SIGNED.json                              (physician, offline)
radledger preauth request --order SIGNED.json [--json]                                (site)
radledger preauth decide REQUEST_ID approve|modify|deny|request-info [--units N] [--reason CODE]  (payer)
radledger preauth info REQUEST_ID --input CLINICAL.json --opening OPENING.json        (site)
radledger preauth cancel REQUEST_ID                                                   (site)
radledger preauth appeal REQUEST_ID --input CLINICAL.json --opening OPENING.json      (site)
radledger preauth flag-deadline REQUEST_ID                                            (anyone)
radledger preauth status REQUEST_ID [--json]
radledger preauth wait REQUEST_ID [--timeout 10m] [--poll 5s] [--json]
radledger preauth verify-opening REQUEST_ID --opening OPENING.json                    (payer)
radledger claim submit --request-id ID (--claim-id HEX | --claim-file PATH --salt-file PATH) --units N
                       --amount 1234.56                                               (site)
radledger claim adjudicate CLAIM_ID paid|partially-paid|denied [--paid 100.00] [--reason CODE]  (payer)
radledger claim show CLAIM_ID [--json]

A request's input (REQUEST.json) holds PHI and stays at the site; only salted commitments reach
the chain. It names the payer (address and its own payer id), the member id, the procedure, the
units, the ordering physician, whether it is expedited, the diagnoses (ICD-10-CM) and the evidence
documents (paths relative to the input file, or their SHA-256 as "evidenceSha256")::

    {"payer": "0x...", "payerId": "PAYER-01", "memberId": "...", "procedure": "70551", "units": 1,
     "physician": "0x...", "expedited": false, "diagnoses": ["G43.909"], "evidence": ["note.pdf"]}

More information and appeals take the clinical part alone (diagnoses and evidence).
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.eip712 import Domain
from radledger.chain.errors import ValidationError
from radledger.chain.signers import KeySigner
from radledger.cli.options import (
    add_connection_options,
    add_group,
    add_json_option,
    add_parser,
    add_signer_options,
    deployment_from,
    session_for,
    set_handler,
    signer_from,
)
from radledger.cli.output import hex0x, print_json, print_tx, show_time
from radledger.registries.parsing import parse_duration, parse_when, wall_clock
from radledger.registries.preauth.client import (
    DEFAULT_SIGNATURE_VALIDITY,
    DecisionTimeout,
    PreauthRegistryClient,
    draft_json,
    load_order,
    order_id,
    order_message,
    procedure_text,
    sign_order,
)
from radledger.registries.preauth.commitments import (
    ClinicalOpening,
    MemberOpening,
    Opening,
    claim_id,
    evidence_file_hash,
    new_salt,
)
from radledger.registries.preauth.types import ClaimStatus, Policy, PreauthClaim, PreauthRequest
from radledger.registries.records.client import read_site_salt

GROUPS = {
    "payer": "payers registered by governance",
    "policy": "a payer's prior-authorization policy per procedure code",
    "preauth": "prior-authorization requests: prepare, sign, request, decide, appeal, wait",
    "claim": "claims against an authorization, and their adjudication",
}

_ADJUDICATIONS = {
    "paid": ClaimStatus.PAID,
    "partially-paid": ClaimStatus.PARTIALLY_PAID,
    "denied": ClaimStatus.DENIED,
}


def register(subparsers: Any) -> None:
    _register_payer(add_group(subparsers, "payer", GROUPS["payer"]))
    _register_policy(add_group(subparsers, "policy", GROUPS["policy"]))
    _register_preauth(add_group(subparsers, "preauth", GROUPS["preauth"]))
    _register_claim(add_group(subparsers, "claim", GROUPS["claim"]))


# ------------------------------------------------------------------------- shared


def _client(args: argparse.Namespace, signer: bool = False) -> PreauthRegistryClient:
    return session_for(args, signer=signer).preauth()


def _id(text: str, what: str = "request id") -> bytes:
    return validation.bytes32(text.strip(), what)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValidationError(f"{what} {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValidationError(f"{what} {path} must be a JSON object")
    return doc


def _clinical_from(doc: dict[str, Any], base: Path) -> ClinicalOpening:
    """A clinical opening with a fresh salt: diagnoses, and evidence files (relative to `base`) or hashes."""
    diagnoses = doc.get("diagnoses")
    if not isinstance(diagnoses, list):
        raise ValidationError("input: 'diagnoses' must be a list of ICD-10-CM codes")
    files = doc.get("evidence", [])
    hashes = doc.get("evidenceSha256", [])
    if not isinstance(files, list) or not isinstance(hashes, list):
        raise ValidationError("input: 'evidence' and 'evidenceSha256' must be lists")
    evidence = [evidence_file_hash(base / str(f)) for f in files]
    evidence += [validation.bytes32(h, "evidence SHA-256") for h in hashes]
    return ClinicalOpening(new_salt(), tuple(diagnoses), tuple(evidence))


def _field(doc: dict[str, Any], name: str) -> Any:
    if name not in doc:
        raise ValidationError(f"input: missing {name!r}")
    return doc[name]


def _amount(text: str, what: str) -> int:
    """Cents from a decimal amount ("1234.56")."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationError(f"{what}: {text!r} is not an amount (e.g. 1234.56)") from None
    cents = value * 100
    if cents != cents.to_integral_value() or cents < 0:
        raise ValidationError(f"{what}: {text!r} is not a non-negative amount in cents precision")
    return int(cents)


def _money(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


# -------------------------------------------------------------------------- payer


def _register_payer(actions: Any) -> None:
    p = add_parser(actions, "register", "governance (payer-registrar role) registers a payer")
    p.add_argument("payer", metavar="ADDRESS")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, payer_register)

    p = add_parser(actions, "show", "whether an account is a registered payer, and its index")
    p.add_argument("payer", metavar="ADDRESS")
    add_connection_options(p, "preauth")
    set_handler(p, payer_show)


def payer_register(args: argparse.Namespace) -> int:
    client = _client(args, signer=True)
    index = client.register_payer(args.payer)
    print(f"registered payer {validation.address(args.payer)} (index {index})")
    return 0


def payer_show(args: argparse.Namespace) -> int:
    index = _client(args).payer_index(args.payer)
    payer = validation.address(args.payer)
    print(f"payer {payer}: index {index}" if index else f"{payer} is not a registered payer")
    return 0


# ------------------------------------------------------------------------- policy


def _register_policy(actions: Any) -> None:
    defaults = Policy()
    p = add_parser(
        actions,
        "set",
        "the sending payer sets its policy for a procedure code",
        epilog="Decision times are capped by CMS-0057-F: 7 days standard, 72 hours expedited.",
    )
    p.add_argument("--procedure", required=True, metavar="CODE", help="CPT or HCPCS code, e.g. 70551")
    p.add_argument("--inactive", action="store_true", help="publish the policy inactive (requests refused)")
    p.add_argument("--auto-approval", action="store_true", help="approve gold-carded physicians' orders at once")
    p.add_argument("--gold-card-schema", type=int, default=0, metavar="ID", help="the payer's gold-card schema")
    p.add_argument(
        "--require-schema", type=int, action="append", default=[], metavar="ID", help="a credential the physician needs"
    )
    p.add_argument("--max-units", type=int, default=defaults.max_units, metavar="N")
    p.add_argument("--validity-days", type=int, default=defaults.approval_validity_days, metavar="N")
    p.add_argument("--standard-decision", default="7d", metavar="DURATION", help="default 7d (the CMS maximum)")
    p.add_argument("--expedited-decision", default="72h", metavar="DURATION", help="default 72h (the CMS maximum)")
    p.add_argument("--appeal-window", default="60d", metavar="DURATION")
    p.add_argument("--appeal-decision", default="30d", metavar="DURATION")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, policy_set)

    p = add_parser(actions, "show", "a payer's policy for a procedure code")
    p.add_argument("--payer", required=True, metavar="ADDRESS")
    p.add_argument("--procedure", required=True, metavar="CODE")
    add_connection_options(p, "preauth")
    add_json_option(p)
    set_handler(p, policy_show)


def policy_set(args: argparse.Namespace) -> int:
    policy = Policy(
        active=not args.inactive,
        auto_approval=args.auto_approval,
        max_units=args.max_units,
        approval_validity_days=args.validity_days,
        standard_decision_seconds=parse_duration(args.standard_decision),
        expedited_decision_seconds=parse_duration(args.expedited_decision),
        appeal_window_seconds=parse_duration(args.appeal_window),
        appeal_decision_seconds=parse_duration(args.appeal_decision),
        gold_card_schema=args.gold_card_schema,
        required_schemas=tuple(args.require_schema),
    )
    client = _client(args, signer=True)
    policy_id = client.set_policy(args.procedure, policy)
    print(f"policy {policy_id} set for procedure {args.procedure.strip().upper()}")
    return 0


def _policy_doc(policy: Policy) -> dict[str, Any]:
    return {
        "active": policy.active,
        "autoApproval": policy.auto_approval,
        "maxUnits": policy.max_units,
        "approvalValidityDays": policy.approval_validity_days,
        "standardDecisionSeconds": policy.standard_decision_seconds,
        "expeditedDecisionSeconds": policy.expedited_decision_seconds,
        "appealWindowSeconds": policy.appeal_window_seconds,
        "appealDecisionSeconds": policy.appeal_decision_seconds,
        "goldCardSchema": policy.gold_card_schema,
        "requiredSchemas": list(policy.required_schemas),
    }


def policy_show(args: argparse.Namespace) -> int:
    policy = _client(args).get_policy(args.payer, args.procedure)
    if args.json:
        print_json(_policy_doc(policy))
        return 0
    if not policy.active and not policy.max_units:
        print(f"no policy of {validation.address(args.payer)} for {args.procedure}")
        return 0
    auto = (
        f"auto-approval with gold card schema {policy.gold_card_schema}" if policy.auto_approval else "no auto-approval"
    )
    print(
        f"policy of {validation.address(args.payer)} for {args.procedure}: {'active' if policy.active else 'inactive'}"
    )
    print(f"  {auto}; required schemas {list(policy.required_schemas) or 'none'}")
    print(f"  at most {policy.max_units} units, approvals valid {policy.approval_validity_days} days")
    print(
        f"  decisions within {policy.standard_decision_seconds // 3600} h standard, "
        f"{policy.expedited_decision_seconds // 3600} h expedited"
    )
    print(
        f"  appeals within {policy.appeal_window_seconds // 86400} days, "
        f"decided within {policy.appeal_decision_seconds // 86400} days"
    )
    return 0


# ------------------------------------------------------------------------ preauth


def _register_preauth(actions: Any) -> None:
    p = add_parser(
        actions,
        "prepare",
        "build the salted commitments of a request (opening file) and the order the physician signs (offline)",
    )
    p.add_argument("--input", required=True, type=Path, metavar="REQUEST.json", help="the request's PHI (stays here)")
    p.add_argument("--requester", required=True, metavar="ADDRESS", help="the site's account, that will send it")
    p.add_argument("--opening-out", required=True, type=Path, metavar="PATH", help="the opening (mode 600)")
    p.add_argument("--order-out", required=True, type=Path, metavar="PATH", help="the unsigned order (no PHI)")
    p.add_argument(
        "--deadline",
        default=f"{DEFAULT_SIGNATURE_VALIDITY // 86400}d",
        metavar="WHEN",
        help="the physician's signature is good until (default: 3 days from now)",
    )
    p.add_argument("--chain-id", type=int, metavar="N", help="work offline: the chain id (else read from the node)")
    add_connection_options(p, "preauth")
    set_handler(p, preauth_prepare)

    p = add_parser(actions, "sign-order", "the ordering physician signs an order (offline, EIP-712)")
    p.add_argument("order", type=Path, metavar="ORDER.json")
    p.add_argument("--out", required=True, type=Path, metavar="PATH")
    add_signer_options(p)
    set_handler(p, preauth_sign_order)

    p = add_parser(actions, "request", "the site requests authorization for an order signed by the physician")
    p.add_argument("--order", required=True, type=Path, metavar="ORDER.json")
    add_connection_options(p, "preauth", signer=True)
    add_json_option(p)
    set_handler(p, preauth_request)

    p = add_parser(actions, "decide", "the payer decides a pended or appealed request")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("action", choices=["approve", "modify", "deny", "request-info"])
    p.add_argument("--units", type=int, metavar="N", help="modify: the units approved")
    p.add_argument("--reason", type=int, metavar="CODE", help="deny, request-info: the reason code")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, preauth_decide)

    p = add_parser(
        actions, "extend", "the payer extends a pended standard request's decision deadline (once, at most 14 days)"
    )
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument(
        "--until",
        required=True,
        metavar="WHEN",
        help="the new deadline: a date and time, or a duration after the current deadline (e.g. 14d)",
    )
    p.add_argument(
        "--reason", required=True, type=int, choices=(1, 2), help="1: the patient asked; 2: more information needed"
    )
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, preauth_extend)

    for name, help_text in (
        ("info", "the site answers an information request with new evidence (appended to the opening)"),
        ("appeal", "the site appeals a denial or modification with new evidence (appended to the opening)"),
    ):
        p = add_parser(actions, name, help_text)
        p.add_argument("request_id", metavar="REQUEST_ID")
        p.add_argument("--input", required=True, type=Path, metavar="CLINICAL.json", help="diagnoses and evidence")
        p.add_argument("--opening", required=True, type=Path, metavar="OPENING.json", help="the request's opening")
        add_connection_options(p, "preauth", signer=True)
        set_handler(p, preauth_info if name == "info" else preauth_appeal)

    p = add_parser(actions, "cancel", "the site withdraws a request awaiting a decision")
    p.add_argument("request_id", metavar="REQUEST_ID")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, preauth_cancel)

    p = add_parser(actions, "flag-deadline", "anyone puts on record that a decision deadline passed")
    p.add_argument("request_id", metavar="REQUEST_ID")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, preauth_flag)

    p = add_parser(actions, "status", "a request's status, its X12 278 HCR01 action code and its deadlines")
    p.add_argument("request_id", metavar="REQUEST_ID")
    add_connection_options(p, "preauth")
    add_json_option(p)
    set_handler(p, preauth_status)

    p = add_parser(actions, "wait", "wait until the payer decides (exit 0), or time out (exit 4)")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--timeout", default="10m", metavar="DURATION")
    p.add_argument("--poll", default="5s", metavar="DURATION")
    add_connection_options(p, "preauth")
    add_json_option(p)
    set_handler(p, preauth_wait)

    p = add_parser(actions, "verify-opening", "the payer checks a site's opening against the request's commitments")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--opening", required=True, type=Path, metavar="OPENING.json")
    add_connection_options(p, "preauth")
    set_handler(p, preauth_verify_opening)


EXIT_TIMEOUT = 4
"""`preauth wait` exit status when no decision came in time."""
EXIT_MISMATCH = 3
"""`preauth verify-opening` exit status when the opening does not open the request's commitments."""


def preauth_prepare(args: argparse.Namespace) -> int:
    doc = _read_json(args.input, "request input")
    base = args.input.resolve().parent
    member = MemberOpening(new_salt(), _field(doc, "payerId"), _field(doc, "memberId"))
    opening = Opening(member, (_clinical_from(doc, base),))
    expedited = doc.get("expedited", False)
    if args.chain_id is not None:
        domain = Domain.preauth(args.chain_id, deployment_from(args, args.chain_id).require("PreauthRegistry"))
        now = wall_clock()
    else:
        client = _client(args)
        domain, now = client.domain(), client.now()
    message = order_message(
        args.requester, _field(doc, "payer"), opening.member_commitment, _field(doc, "procedure"),
        _field(doc, "units"), _field(doc, "physician"), expedited, opening.clinical_commitment,
        parse_when(args.deadline, now, "deadline"),
    )  # fmt: skip
    opening.save(args.opening_out)
    args.order_out.write_text(draft_json(domain, message) + "\n")
    print(f"wrote the opening to {args.opening_out} (mode 600: it holds PHI; hand it to the payer, never the chain)")
    print(f"wrote the order to {args.order_out} (commitments only): the ordering physician signs it")
    print(f"  request id will be {hex0x(order_id(domain, message))}")
    return 0


def preauth_sign_order(args: argparse.Namespace) -> int:
    order = load_order(args.order)
    signer: KeySigner = signer_from(args)
    signed = sign_order(signer, order.domain, order.message)
    signed.save(args.out)
    m = signed.message
    expedited = "expedited" if m["expedited"] else "standard"
    print(
        f"signed order: {procedure_text(m['procedure'])} x{m['units']} ({expedited}) for payer {m['payer']}, "
        f"requested by {m['requester']}, good until {show_time(int(m['deadline']))}"
    )
    print(f"  wrote {args.out}; request id {hex0x(order_id(signed.domain, m))}")
    return 0


def _request_doc(request: PreauthRequest) -> dict[str, Any]:
    return {
        "requestId": hex0x(request.request_id),
        "status": request.status.name,
        "x12ActionCode": request.x12_action_code.value,
        "requester": request.requester,
        "payer": request.payer,
        "expedited": request.expedited,
        "informationRequested": request.information_requested,
        "appealed": request.appealed,
        "deadlineMissed": request.deadline_missed,
        "units": request.units,
        "approvedUnits": request.approved_units,
        "usedUnits": request.used_units,
        "requestedAt": request.requested_at,
        "dueAt": request.due_at,
        "decidedAt": request.decided_at,
        "expiresAt": request.expires_at,
        "appealBy": request.appeal_by,
    }


def _print_request(request: PreauthRequest) -> None:
    r = request
    print(f"request {hex0x(r.request_id)}: {r.status.name} (X12 HCR01 {r.x12_action_code.value})")
    print(f"  payer {r.payer}, requester {r.requester}, {'expedited' if r.expedited else 'standard'}")
    print(f"  units {r.units} requested, {r.approved_units} approved, {r.used_units} used")
    print(f"  requested {show_time(r.requested_at)}, decision due {show_time(r.due_at)}")
    if r.decided_at:
        print(f"  decided {show_time(r.decided_at)}")
    if r.expires_at:
        print(f"  authorization expires {show_time(r.expires_at)}")
    if r.appeal_by:
        print(f"  appeal by {show_time(r.appeal_by)}")
    notes = [
        text
        for flag, text in (
            (r.information_requested, "the payer requested more information"),
            (r.appealed, "appealed"),
            (r.deadline_missed, "the payer missed the decision deadline"),
        )
        if flag
    ]
    if notes:
        print("  " + "; ".join(notes))


def preauth_request(args: argparse.Namespace) -> int:
    order = load_order(args.order)
    client = _client(args, signer=True)
    obstacles = client.auto_approval_obstacles(order)
    request_id = client.request(order)
    request = client.get_request(request_id)
    if args.json:
        print_json({**_request_doc(request), "pendedBecause": obstacles if request.status.is_pending else []})
        return 0
    _print_request(request)
    if request.status.is_pending and obstacles:
        print("  pended because: " + "; ".join(obstacles))
    return 0


def preauth_decide(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    client = _client(args, signer=True)
    if args.action == "approve":
        receipt = client.approve(rid)
    elif args.action == "modify":
        if args.units is None:
            raise ValidationError("modify needs --units N (fewer than requested)")
        receipt = client.modify(rid, args.units)
    else:
        if args.reason is None:
            raise ValidationError(f"{args.action} needs --reason CODE (a denial without a reason is refused)")
        receipt = (
            client.deny(rid, args.reason) if args.action == "deny" else client.request_information(rid, args.reason)
        )
    request = client.get_request(rid)
    print_tx(
        f"{args.action}: request {hex0x(rid)} is {request.status.name} (X12 {request.x12_action_code.value})", receipt
    )
    return 0


def preauth_extend(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    client = _client(args, signer=True)
    due = client.get_request(rid).due_at
    receipt = client.extend(rid, parse_when(args.until, due, "new deadline"), args.reason)
    print_tx(f"extend: request {hex0x(rid)} is now due {show_time(client.get_request(rid).due_at)}", receipt)
    return 0


def _new_evidence(args: argparse.Namespace) -> tuple[Opening, ClinicalOpening]:
    opening = Opening.load(args.opening)
    clinical = _clinical_from(_read_json(args.input, "clinical input"), args.input.resolve().parent)
    return opening, clinical


def preauth_info(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    opening, clinical = _new_evidence(args)
    client = _client(args, signer=True)
    receipt = client.provide_information(rid, clinical.commitment())
    opening.with_clinical(clinical).save(args.opening)
    print_tx(f"provided information for {hex0x(rid)}; the opening {args.opening} now holds it", receipt)
    return 0


def preauth_appeal(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    opening, clinical = _new_evidence(args)
    client = _client(args, signer=True)
    receipt = client.appeal(rid, clinical.commitment())
    opening.with_clinical(clinical).save(args.opening)
    request = client.get_request(rid)
    print_tx(f"appealed {hex0x(rid)}: decision due {show_time(request.due_at)}", receipt)
    return 0


def preauth_cancel(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    print_tx(f"cancelled {hex0x(rid)} (X12 C)", _client(args, signer=True).cancel(rid))
    return 0


def preauth_flag(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    client = _client(args, signer=True)
    receipt = client.flag_missed_deadline(rid)
    print_tx(
        f"flagged: the payer missed the deadline of {hex0x(rid)} ({show_time(client.get_request(rid).due_at)})", receipt
    )
    return 0


def preauth_status(args: argparse.Namespace) -> int:
    request = _client(args).get_request(_id(args.request_id))
    if args.json:
        print_json(_request_doc(request))
    else:
        _print_request(request)
    return 0


def preauth_wait(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        request = client.wait_for_decision(
            _id(args.request_id), timeout=parse_duration(args.timeout), poll=parse_duration(args.poll)
        )
    except DecisionTimeout as exc:
        print(f"no decision yet: {exc}")
        return EXIT_TIMEOUT
    if args.json:
        print_json(_request_doc(request))
    else:
        _print_request(request)
    return 0


def preauth_verify_opening(args: argparse.Namespace) -> int:
    rid = _id(args.request_id)
    opening = Opening.load(args.opening)
    if _client(args).verify_opening(rid, opening):
        print(f"the opening opens the commitments of {hex0x(rid)}")
        return 0
    print(f"the opening does NOT open the commitments of {hex0x(rid)}")
    return EXIT_MISMATCH


# -------------------------------------------------------------------------- claim


def _register_claim(actions: Any) -> None:
    p = add_parser(actions, "submit", "the site claims units of an approved authorization")
    p.add_argument("--request-id", required=True, metavar="ID")
    p.add_argument("--claim-id", metavar="HEX", help="the claim's id (a salted hash of the claim file)")
    p.add_argument("--claim-file", type=Path, metavar="PATH", help="the claim file; its id is computed here")
    p.add_argument("--salt-file", type=Path, metavar="PATH", help="with --claim-file: the site's salt file")
    p.add_argument("--units", required=True, type=int, metavar="N")
    p.add_argument("--amount", required=True, metavar="AMOUNT", help="the amount claimed, e.g. 1234.56")
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, claim_submit)

    p = add_parser(actions, "adjudicate", "the payer adjudicates a claim")
    p.add_argument("claim_id", metavar="CLAIM_ID")
    p.add_argument("outcome", choices=sorted(_ADJUDICATIONS))
    p.add_argument("--paid", metavar="AMOUNT", help="partially-paid: the amount paid")
    p.add_argument("--reason", type=int, default=0, metavar="CODE", help="denied: the reason code")
    p.add_argument("--request-id", metavar="HEX", help=_REQUEST_ID_HELP)
    add_connection_options(p, "preauth", signer=True)
    set_handler(p, claim_adjudicate)

    p = add_parser(actions, "show", "a claim and its adjudication")
    p.add_argument("claim_id", metavar="CLAIM_ID")
    p.add_argument("--request-id", metavar="HEX", help=_REQUEST_ID_HELP)
    add_connection_options(p, "preauth")
    add_json_option(p)
    set_handler(p, claim_show)


_REQUEST_ID_HELP = (
    "the authorization the claim is under (claim ids are namespaced by authorization; "
    "default: the only one with this claim id, from the events)"
)


def _claim_request(args: argparse.Namespace) -> bytes | None:
    return None if getattr(args, "request_id", None) is None else _id(args.request_id, "request id")


def claim_submit(args: argparse.Namespace) -> int:
    if (args.claim_id is None) == (args.claim_file is None):
        raise ValidationError("give --claim-id, or --claim-file with --salt-file")
    if args.claim_file is not None:
        if args.salt_file is None:
            raise ValidationError("--claim-file needs --salt-file (the site's salt: the claim id is a salted hash)")
        try:
            document = args.claim_file.read_bytes()
        except OSError as exc:
            raise ValidationError(f"cannot read claim file {args.claim_file}: {exc.strerror}") from exc
        cid = claim_id(document, read_site_salt(args.salt_file))
    else:
        cid = _id(args.claim_id, "claim id")
    rid = _id(args.request_id)
    amount = _amount(args.amount, "amount")
    client = _client(args, signer=True)
    receipt = client.submit_claim(rid, cid, args.units, amount)
    remaining = client.get_request(rid).remaining_units
    print_tx(
        f"claim {hex0x(cid)}: {args.units} units, {_money(amount)} against {hex0x(rid)} ({remaining} units left)",
        receipt,
    )
    return 0


def claim_adjudicate(args: argparse.Namespace) -> int:
    cid = _id(args.claim_id, "claim id")
    status = _ADJUDICATIONS[args.outcome]
    paid = _amount(args.paid, "paid amount") if args.paid is not None else None
    client = _client(args, signer=True)
    rid = _claim_request(args) or client.claim_request(cid)
    receipt = client.adjudicate_claim(cid, status, paid, args.reason, request_id=rid)
    claim = client.get_claim(cid, rid)
    print_tx(f"claim {hex0x(cid)}: {claim.status.name}, paid {_money(claim.paid_amount)}", receipt)
    return 0


def _claim_doc(claim: PreauthClaim) -> dict[str, Any]:
    return {
        "claimId": hex0x(claim.claim_id),
        "requestId": hex0x(claim.request_id),
        "status": claim.status.name,
        "units": claim.units,
        "amountCents": claim.amount,
        "paidAmountCents": claim.paid_amount,
        "submittedAt": claim.submitted_at,
    }


def claim_show(args: argparse.Namespace) -> int:
    claim = _client(args).get_claim(_id(args.claim_id, "claim id"), _claim_request(args))
    if args.json:
        print_json(_claim_doc(claim))
        return 0
    print(f"claim {hex0x(claim.claim_id)}: {claim.status.name}")
    print(f"  request {hex0x(claim.request_id)}, {claim.units} units, submitted {show_time(claim.submitted_at)}")
    print(f"  amount {_money(claim.amount)}, paid {_money(claim.paid_amount)}")
    return 0
