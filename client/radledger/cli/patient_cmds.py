"""The patient's (or a guardian's) commands.

Direct actions need a funded account:

    radledger consent grant --grantee ADDRESS --record-id HEX|all --scopes images,reports --purposes TREAT --until 30d
    radledger consent revoke --grantee ADDRESS --record-id HEX|all
    radledger guardian set ADDRESS --until 1y | radledger guardian remove ADDRESS

Signing offline needs no ETH and no node; a site relays the file (`radledger consent relay FILE`):

    radledger consent sign grant  --grantee ... --until 30d --out grant.json --chain-id N --consent ADDRESS \
        --version 0 --epoch 0
    radledger consent sign revoke --grantee ... --out revoke.json --rpc-url URL   (version and epoch from the node)
    radledger consent sign guardian ADDRESS --until 365d --out guardian.json ...
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.eip712 import Domain, SignedMessage, sign
from radledger.chain.errors import ValidationError
from radledger.cli import options
from radledger.cli.options import (
    add_connection_options,
    add_parser,
    add_record_options,
    command_group,
    names_of,
    open_connection,
    print_tx,
    set_handler,
    show_record_id,
    show_time,
    show_window,
)
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import (
    ConsentRegistryClient,
    grant_message,
    guardian_message,
    revoke_message,
)


def register(subparsers: Any) -> None:
    consent = command_group(subparsers, "consent")
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

    guardian = command_group(subparsers, "guardian")
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
    rid = options.record_from_args(args, wildcard=True)
    scopes = options.parse_scopes(args.scopes)
    purposes = options.parse_purposes(args.purposes)
    conn = open_connection(args, signer=True)
    now = conn.now()
    valid_from = options.parse_when(args.valid_from, now, "--from") if args.valid_from else 0
    valid_until = options.parse_when(args.until, now, "--until")
    patient = args.patient or conn.sender
    receipt = conn.consent().grant(patient, args.grantee, rid, scopes, purposes, valid_from, valid_until)
    print_tx(
        f"granted {validation.address(args.grantee, 'grantee')} {_what(scopes, purposes)} on {show_record_id(rid)} "
        f"of patient {validation.address(patient, 'patient')}, {show_window(valid_from, valid_until)}",
        receipt,
    )
    return 0


def consent_revoke(args: argparse.Namespace) -> int:
    rid = options.record_from_args(args, wildcard=True)
    conn = open_connection(args, signer=True)
    patient = args.patient or conn.sender
    receipt = conn.consent().revoke(patient, args.grantee, rid)
    print_tx(
        f"revoked the grant of {validation.address(args.grantee, 'grantee')} on {show_record_id(rid)} "
        f"of patient {validation.address(patient, 'patient')}",
        receipt,
    )
    return 0


def guardian_set(args: argparse.Namespace) -> int:
    conn = open_connection(args, signer=True)
    valid_until = options.parse_when(args.until, conn.now(), "--until") if args.until else 0
    receipt = conn.consent().set_guardian(args.guardian, valid_until)
    guardian = validation.address(args.guardian, "guardian")
    if valid_until:
        print_tx(f"appointed {guardian} guardian of {conn.sender} until {show_time(valid_until)}", receipt)
    else:
        print_tx(f"removed guardian {guardian} of {conn.sender}", receipt)
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
    offline = options.add_signing_options(
        p,
        "consent",
        "offline signing (no node): all of --chain-id, --version and --epoch, plus the ConsentRegistry address",
    )
    offline.add_argument(
        "--version", type=int, metavar="N", help="the slot's current version (radledger consent show; 0 if never used)"
    )
    offline.add_argument("--epoch", type=int, metavar="N", help="the patient's signature epoch (0 unless invalidated)")


def _signing_context(args: argparse.Namespace) -> options.SigningContext[ConsentRegistryClient]:
    """Where a signature is for, and the slot version and epoch it commits to: from the options
    (offline) or read from a node."""
    return options.SigningContext(
        args,
        "consent",
        {"--version": args.version, "--epoch": args.epoch},
        required=("--version", "--epoch"),
        needs="all of --chain-id, --version and --epoch",
        client=options.Connection.consent,
        offline_domain=Domain.consent,
    )


def _save(signed: SignedMessage, path: Path, summary: str) -> int:
    return options.save_signed(
        signed, path, summary, contract="consent", counters=("version", "epoch"), relay_command="consent relay"
    )


def sign_grant(args: argparse.Namespace) -> int:
    rid = options.record_from_args(args, wildcard=True)
    scopes = options.parse_scopes(args.scopes)
    purposes = options.parse_purposes(args.purposes)
    context = _signing_context(args)
    valid_from = options.parse_when(args.valid_from, context.now, "--from") if args.valid_from else 0
    valid_until = options.parse_when(args.until, context.now, "--until")
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
    rid = options.record_from_args(args, wildcard=True)
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
    valid_until = options.parse_when(args.until, context.now, "--until")
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
