"""Consent: the patient's (or a guardian's) grants, revocations and offline signatures, the site's
relaying and checks, the access trail, break-glass and guardians (ConsentRegistry).

Direct actions need a funded account:

    radledger consent grant --grantee ADDRESS --record-id HEX|all --scopes images,reports --purposes TREAT --until 30d
    radledger consent revoke --grantee ADDRESS --record-id HEX|all
    radledger guardian set ADDRESS --until 1y | radledger guardian remove ADDRESS

Signing offline needs no ETH and no node; a site relays the file (`radledger consent relay FILE`):

    radledger consent sign grant  --grantee ... --until 30d --out grant.json --chain-id N --consent ADDRESS \
        --version 0 --epoch 0
    radledger consent sign revoke --grantee ... --out revoke.json --rpc-url URL   (version and epoch from the node)
    radledger consent sign guardian ADDRESS --until 365d --out guardian.json ...

The site's side:

    radledger consent relay FILE
    radledger consent check --grantee ADDRESS --record-id HEX --scopes images --purposes TREAT [--json]
    radledger consent show --patient ADDRESS --grantee ADDRESS --record-id HEX|all [--json]
    radledger access record --record-id HEX --scopes images --purpose TREAT [--grantee ADDRESS]
    radledger break-glass --patient ADDRESS --reason CODE          (emergency account)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.eip712 import Domain, SignedMessage, sign
from radledger.chain.errors import ValidationError
from radledger.cli.options import (
    add_connection_options,
    add_group,
    add_json_option,
    add_parser,
    add_record_options,
    record_from_args,
    session_for,
    set_handler,
)
from radledger.cli.output import hex0x, print_json, print_tx, show_record_id, show_time, show_window
from radledger.cli.signing import add_signing_options, save_signed, signing_setup
from radledger.deployment.session import Session, SigningSetup
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import (
    WILDCARD,
    ConsentRegistryClient,
    grant_message,
    guardian_message,
    revoke_message,
)
from radledger.registries.consent.types import AccessBasis
from radledger.registries.parsing import names_of, parse_purposes, parse_scopes, parse_when

EXIT_NO_ACCESS = 3
"""`consent check` exit status for "no" (0 for "yes")."""


def register_consent(subparsers: Any) -> None:
    consent = add_group(subparsers, "consent", "grant, revoke, check, sign offline and relay consents")
    _register_site_actions(consent)

    p = add_parser(consent, "grant", "grant (or replace) a grantee's access; the signer is the patient or a guardian")
    _grant_arguments(p)
    add_connection_options(p, "consent", signer=True)
    set_handler(p, consent_grant)

    p = add_parser(consent, "revoke", "revoke exactly the grant named; the signer is the patient or a guardian")
    _revoke_arguments(p)
    add_connection_options(p, "consent", signer=True)
    set_handler(p, consent_revoke)

    p = add_parser(consent, "sign", "sign a consent offline into a JSON file that a site relays (no ETH needed)")
    kinds = p.add_subparsers(required=True, metavar="MESSAGE")
    _register_sign(kinds)


def register_access(subparsers: Any) -> None:
    actions = add_group(subparsers, "access", "the access trail (accounting of disclosures)")
    p = add_parser(
        actions,
        "record",
        "put an access on the trail (as the grantee, or as the record's custodian on its behalf)",
    )
    add_record_options(p)
    p.add_argument("--grantee", metavar="ADDRESS", help="who accessed (default: the signer)")
    p.add_argument("--scopes", required=True, help="images, reports, safety-profile, all (comma separated)")
    p.add_argument("--purpose", required=True, help="one of TREAT, HPAYMT, HOPERAT, HRESCH, ETREAT")
    add_connection_options(p, "consent", signer=True)
    set_handler(p, access_record)


def register_break_glass(subparsers: Any) -> None:
    p = add_parser(
        subparsers,
        "break-glass",
        "emergency access to all of a patient's records (ETREAT, all scopes, the contract's fixed window)",
    )
    p.add_argument("--patient", required=True, metavar="ADDRESS")
    p.add_argument("--reason", required=True, type=int, metavar="CODE", help="reason code, 1 to 65535")
    add_connection_options(p, "consent", signer=True)
    set_handler(p, break_glass)


def register_guardian(subparsers: Any) -> None:
    guardian = add_group(subparsers, "guardian", "guardians who act for a patient")
    p = add_parser(guardian, "set", "appoint (or renew) a guardian who may grant and revoke for the patient")
    p.add_argument("guardian", metavar="ADDRESS")
    p.add_argument("--until", required=True, metavar="WHEN", help="end of the appointment (ISO date, unix, 365d)")
    add_connection_options(p, "consent", signer=True)
    set_handler(p, guardian_set)

    p = add_parser(guardian, "remove", "end a guardian's appointment now")
    p.add_argument("guardian", metavar="ADDRESS")
    add_connection_options(p, "consent", signer=True)
    p.set_defaults(until=None)
    set_handler(p, guardian_set)


# ----------------------------------------------------------------------- site actions


def _register_site_actions(actions: Any) -> None:
    p = add_parser(actions, "relay", "submit a consent signed offline (radledger consent sign); the site pays the gas")
    p.add_argument("file", type=Path, metavar="FILE")
    add_connection_options(p, "consent", signer=True)
    set_handler(p, consent_relay)

    p = add_parser(
        actions,
        "check",
        "may a grantee access a record now, for these scopes and purposes? (exit 0: yes, 3: no)",
        epilog="The patient is taken from the record (RecordRegistry), never from the requester; "
        "--patient is needed only for 'all' records, and is checked against the record otherwise.",
    )
    p.add_argument("--grantee", required=True, metavar="ADDRESS")
    add_record_options(p, wildcard=True)
    p.add_argument("--patient", metavar="ADDRESS", help="the patient (default: the record's patient)")
    p.add_argument("--scopes", required=True, help="images, reports, safety-profile, all (comma separated)")
    p.add_argument("--purposes", required=True, help="TREAT, HPAYMT, HOPERAT, HRESCH, ETREAT, all (comma separated)")
    add_connection_options(p, "records", "consent")
    add_json_option(p)
    set_handler(p, consent_check)

    p = add_parser(actions, "show", "a grant slot (active or not), with the version and epoch signatures commit to")
    p.add_argument("--patient", required=True, metavar="ADDRESS")
    p.add_argument("--grantee", required=True, metavar="ADDRESS")
    add_record_options(p, wildcard=True)
    add_connection_options(p, "consent")
    add_json_option(p)
    set_handler(p, consent_show)


def consent_relay(args: argparse.Namespace) -> int:
    signed = SignedMessage.load(args.file)
    conn = session_for(args, signer=True)
    receipt = conn.consent().relay(signed)
    m = signed.message
    about = {
        "Grant": lambda: f"grant to {m['grantee']} on {show_record_id(m['recordId'])}",
        "Revoke": lambda: f"revocation of {m['grantee']} on {show_record_id(m['recordId'])}",
        "SetGuardian": lambda: f"guardian {m['guardian']} until {show_time(int(m['validUntil']))}",
        "InvalidateSignatures": lambda: "invalidation of outstanding signatures",
    }[signed.primary_type]()
    signer = m.get("signer", m.get("patient"))
    print_tx(f"relayed {about} for patient {m['patient']}, signed by {signer}", receipt)
    return 0


def consent_check(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    scopes = parse_scopes(args.scopes)
    purposes = parse_purposes(args.purposes)
    grantee = validation.address(args.grantee, "grantee")
    conn = session_for(args)
    patient = _patient_of(conn, rid, args.patient)
    consent = conn.consent()
    basis = consent.access_basis(patient, grantee, rid, scopes, purposes)
    allowed = consent.has_access(patient, grantee, rid, scopes, purposes)
    if allowed != (basis != AccessBasis.NONE):  # pragma: no cover - the two views disagree: a contract bug
        raise ValidationError(f"hasAccess says {allowed} but accessBasis says {basis.name}")
    if args.json:
        print_json(
            {
                "access": allowed,
                "basis": basis.name,
                "patient": patient,
                "grantee": grantee,
                "recordId": hex0x(rid),
                "scopes": names_of(scopes),
                "purposes": names_of(purposes),
                "checkedAt": conn.now(),
            }
        )
    else:
        what = f"{'+'.join(names_of(scopes)).lower()} for {'+'.join(names_of(purposes))}"
        if allowed:
            print(f"access: yes ({basis.name}): {grantee} may see {what} of {show_record_id(rid)}, patient {patient}")
        else:
            print(f"access: no: {grantee} may not see {what} of {show_record_id(rid)}, patient {patient}")
    return 0 if allowed else EXIT_NO_ACCESS


def _patient_of(conn: Session, rid: bytes, given: str | None) -> str:
    """The record's patient (binding); --patient only for the wildcard, and it must agree."""
    if rid == WILDCARD:
        if given is None:
            raise ValidationError("checking 'all' records needs --patient")
        return validation.nonzero_address(given, "patient")
    patient = conn.records().get_record(rid).patient
    if given is not None and validation.address(given, "patient") != patient:
        raise ValidationError(f"record {hex0x(rid)} is not a record of {given}: access is checked for its own patient")
    return patient


def consent_show(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    conn = session_for(args)
    consent = conn.consent()
    grant = consent.get_grant(args.patient, args.grantee, rid)
    epoch = consent.signature_epoch(grant.patient)
    active = grant.is_active(conn.now())
    if args.json:
        print_json(
            {
                "patient": grant.patient,
                "grantee": grant.grantee,
                "recordId": hex0x(rid),
                "active": active,
                "scopes": names_of(grant.scopes),
                "purposes": names_of(grant.purposes),
                "validFrom": grant.valid_from,
                "validUntil": grant.valid_until,
                "version": grant.version,
                "epoch": epoch,
                "breakGlassUntil": grant.break_glass_until,
            }
        )
        return 0
    print(f"grant of patient {grant.patient} to {grant.grantee} on {show_record_id(rid)}")
    if grant.scopes:
        print(f"  scopes    {', '.join(names_of(grant.scopes)).lower()}")
        print(f"  purposes  {', '.join(names_of(grant.purposes))}")
        print(f"  {show_window(grant.valid_from, grant.valid_until)}")
    print(f"  status    {'active' if active else 'not active'}")
    print(f"  version   {grant.version} (signature epoch {epoch})")
    if grant.break_glass_until:
        print(f"  break-glass until {show_time(grant.break_glass_until)}")
    return 0


def _grant_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient", metavar="ADDRESS", help="the patient (default: the signer; a guardian names it)")
    p.add_argument("--grantee", required=True, metavar="ADDRESS")
    add_record_options(p, wildcard=True)
    p.add_argument("--scopes", required=True, help="images, reports, safety-profile, all (comma separated)")
    p.add_argument("--purposes", required=True, help="TREAT, HPAYMT, HOPERAT, HRESCH, ETREAT, all (comma separated)")
    p.add_argument("--from", dest="valid_from", metavar="WHEN", help="start (default: now)")
    p.add_argument(
        "--until", required=True, metavar="WHEN", help="end: ISO date, unix seconds, a duration (30d) or never"
    )


def _revoke_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient", metavar="ADDRESS", help="the patient (default: the signer; a guardian names it)")
    p.add_argument("--grantee", required=True, metavar="ADDRESS")
    add_record_options(p, wildcard=True)


# ---------------------------------------------------------------------- direct actions


def consent_grant(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    scopes = parse_scopes(args.scopes)
    purposes = parse_purposes(args.purposes)
    conn = session_for(args, signer=True)
    now = conn.now()
    valid_from = parse_when(args.valid_from, now, "--from") if args.valid_from else 0
    valid_until = parse_when(args.until, now, "--until")
    patient = args.patient or conn.sender
    receipt = conn.consent().grant(patient, args.grantee, rid, scopes, purposes, valid_from, valid_until)
    print_tx(
        f"granted {validation.address(args.grantee, 'grantee')} {_what(scopes, purposes)} on {show_record_id(rid)} "
        f"of patient {validation.address(patient, 'patient')}, {show_window(valid_from, valid_until)}",
        receipt,
    )
    return 0


def consent_revoke(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    conn = session_for(args, signer=True)
    patient = args.patient or conn.sender
    receipt = conn.consent().revoke(patient, args.grantee, rid)
    print_tx(
        f"revoked the grant of {validation.address(args.grantee, 'grantee')} on {show_record_id(rid)} "
        f"of patient {validation.address(patient, 'patient')}",
        receipt,
    )
    return 0


def guardian_set(args: argparse.Namespace) -> int:
    conn = session_for(args, signer=True)
    valid_until = parse_when(args.until, conn.now(), "--until") if args.until else 0
    receipt = conn.consent().set_guardian(args.guardian, valid_until)
    guardian = validation.address(args.guardian, "guardian")
    if valid_until:
        print_tx(f"appointed {guardian} guardian of {conn.sender} until {show_time(valid_until)}", receipt)
    else:
        print_tx(f"removed guardian {guardian} of {conn.sender}", receipt)
    return 0


# ------------------------------------------------------------ break-glass and access


def break_glass(args: argparse.Namespace) -> int:
    consent = session_for(args, signer=True).consent()
    receipt = consent.break_glass(args.patient, args.reason)
    (event,) = consent.events(receipt, "BreakGlassInvoked")
    print_tx(
        f"break-glass: {event['account']} may access every record of patient {event['patient']} for ETREAT "
        f"until {show_time(event['validUntil'])} (reason code {event['reasonCode']})",
        receipt,
    )
    return 0


def access_record(args: argparse.Namespace) -> int:
    rid = record_from_args(args)
    scopes: Scope = parse_scopes(args.scopes)
    purpose: Purpose = parse_purposes(args.purpose, single=True)
    conn = session_for(args, signer=True)
    grantee = validation.nonzero_address(args.grantee or conn.sender, "grantee")
    consent = conn.consent()
    receipt = consent.record_access(grantee, rid, scopes, purpose)
    (event,) = consent.events(receipt, "AccessRecorded")
    print_tx(
        f"recorded access by {grantee} to {hex0x(rid)} ({', '.join(names_of(scopes)).lower()}, {purpose.name}) "
        f"of patient {event['patient']}: basis {AccessBasis(event['basis']).name}",
        receipt,
    )
    return 0


# ------------------------------------------------------------------- offline signing


def _register_sign(kinds: Any) -> None:
    p = add_parser(kinds, "grant", "sign a grant")
    _grant_arguments(p)
    _sign_arguments(p)
    set_handler(p, sign_grant)

    p = add_parser(kinds, "revoke", "sign a revocation")
    _revoke_arguments(p)
    _sign_arguments(p)
    set_handler(p, sign_revoke)

    p = add_parser(kinds, "guardian", "sign the appointment (or, with --until 0, the removal) of a guardian")
    p.add_argument("guardian", metavar="ADDRESS")
    p.add_argument("--until", required=True, metavar="WHEN", help="end of the appointment; 0 removes the guardian")
    _sign_arguments(p)
    set_handler(p, sign_guardian)


def _sign_arguments(p: argparse.ArgumentParser) -> None:
    offline = add_signing_options(
        p,
        "consent",
        "offline signing (no node): all of --chain-id, --version and --epoch, plus the ConsentRegistry address",
    )
    offline.add_argument(
        "--version", type=int, metavar="N", help="the slot's current version (radledger consent show; 0 if never used)"
    )
    offline.add_argument("--epoch", type=int, metavar="N", help="the patient's signature epoch (0 unless invalidated)")


def _signing_context(args: argparse.Namespace) -> SigningSetup[ConsentRegistryClient]:
    """Where a signature is for, and the slot version and epoch it commits to: from the options
    (offline) or read from a node."""
    return signing_setup(
        args,
        "consent",
        {"--version": args.version, "--epoch": args.epoch},
        required=("--version", "--epoch"),
        needs="all of --chain-id, --version and --epoch",
        client=Session.consent,
        offline_domain=Domain.consent,
    )


def _save(signed: SignedMessage, path: Path, summary: str) -> int:
    return save_signed(
        signed, path, summary, contract="consent", counters=("version", "epoch"), relay_command="consent relay"
    )


def sign_grant(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    scopes = parse_scopes(args.scopes)
    purposes = parse_purposes(args.purposes)
    context = _signing_context(args)
    valid_from = parse_when(args.valid_from, context.now, "--from") if args.valid_from else 0
    valid_until = parse_when(args.until, context.now, "--until")
    validation.validity(valid_from, valid_until, context.now)
    patient = validation.nonzero_address(args.patient or context.signer.address, "patient")
    deadline = context.deadline(args.deadline)
    if context.client is not None:
        signed = context.client.sign_grant(
            context.signer, patient, args.grantee, rid, scopes, purposes, valid_from, valid_until, deadline
        )
    else:
        message = grant_message(
            patient, args.grantee, rid, scopes, purposes, valid_from, valid_until, context.signer.address,
            args.version, args.epoch, deadline,
        )  # fmt: skip
        signed = sign(context.signer, context.domain, "Grant", message)
    m = signed.message
    summary = (
        f"signed a grant to {m['grantee']} of {_what(scopes, purposes)} on {show_record_id(rid)} of patient "
        f"{patient} (signer {context.signer.address}), {show_window(valid_from, valid_until)}"
    )
    return _save(signed, args.out, summary)


def sign_revoke(args: argparse.Namespace) -> int:
    rid = record_from_args(args, wildcard=True)
    context = _signing_context(args)
    patient = validation.nonzero_address(args.patient or context.signer.address, "patient")
    deadline = context.deadline(args.deadline)
    if context.client is not None:
        signed = context.client.sign_revoke(context.signer, patient, args.grantee, rid, deadline)
    else:
        message = revoke_message(patient, args.grantee, rid, context.signer.address, args.version, args.epoch, deadline)
        signed = sign(context.signer, context.domain, "Revoke", message)
    summary = (
        f"signed the revocation of {signed.message['grantee']}'s grant on {show_record_id(rid)} of patient "
        f"{patient} (signer {context.signer.address})"
    )
    return _save(signed, args.out, summary)


def sign_guardian(args: argparse.Namespace) -> int:
    context = _signing_context(args)
    valid_until = parse_when(args.until, context.now, "--until")
    if valid_until and valid_until <= context.now:
        raise ValidationError(f"--until {show_time(valid_until)} has already passed")
    deadline = context.deadline(args.deadline)
    if context.client is not None:
        signed = context.client.sign_set_guardian(context.signer, args.guardian, valid_until, deadline)
    else:
        message = guardian_message(
            context.signer.address, args.guardian, valid_until, args.version, args.epoch, deadline
        )
        signed = sign(context.signer, context.domain, "SetGuardian", message)
    guardian = signed.message["guardian"]
    summary = (
        f"signed the appointment of {guardian} as guardian of {context.signer.address} until {show_time(valid_until)}"
        if valid_until
        else f"signed the removal of guardian {guardian} of {context.signer.address}"
    )
    return _save(signed, args.out, summary)


# ---------------------------------------------------------------------------- output


def _what(scopes: int, purposes: int) -> str:
    return f"{', '.join(names_of(Scope(scopes))).lower()} for {', '.join(names_of(Purpose(purposes)))}"
