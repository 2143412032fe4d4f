"""The imaging site's (and governance's, and an emergency department's) commands.

radledger salt new PATH
radledger custodian register ADDRESS --gateway-url URL      (governance)
radledger custodian show ADDRESS [--json]
radledger record id --salt-file PATH UID                    (offline)
radledger record register --uid UID --salt-file PATH --patient ADDRESS --kind study --content-hash HEX
radledger record amend --uid UID --salt-file PATH --content-hash HEX
radledger record show --record-id HEX [--json]
radledger consent relay FILE
radledger consent check --grantee ADDRESS --record-id HEX --scopes images --purposes TREAT [--json]
radledger consent show --patient ADDRESS --grantee ADDRESS --record-id HEX|all [--json]
radledger break-glass --patient ADDRESS --reason CODE          (emergency account)
radledger access record --record-id HEX --scopes images --purpose TREAT [--grantee ADDRESS]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radledger import validation
from radledger.cli import options
from radledger.cli.options import (
    add_connection_options,
    add_json_option,
    add_parser,
    add_record_options,
    command_group,
    hex0x,
    names_of,
    open_connection,
    print_json,
    print_tx,
    set_handler,
    show_record_id,
    show_time,
    show_window,
)
from radledger.consent import WILDCARD
from radledger.eip712 import SignedMessage
from radledger.errors import ValidationError
from radledger.models import AccessBasis, Purpose, Scope
from radledger.records import read_site_salt, record_id, write_site_salt

EXIT_NO_ACCESS = 3
"""`consent check` (and `role check`) exit status for "no" (0 for "yes")."""

ROLE_CONTRACTS = {"BREAK_GLASS_ROLE": "consent", "CUSTODIAN_REGISTRAR_ROLE": "records"}
"""Which contract holds each role; DEFAULT_ADMIN_ROLE exists on both (--contract says which)."""


def register(subparsers: Any) -> None:
    _register_salt(command_group(subparsers, "salt"))
    _register_custodian(command_group(subparsers, "custodian"))
    _register_record(command_group(subparsers, "record"))
    _register_consent(command_group(subparsers, "consent"))
    _register_access(command_group(subparsers, "access"))
    _register_role(command_group(subparsers, "role"))

    p = add_parser(
        subparsers,
        "break-glass",
        "emergency access to all of a patient's records (ETREAT, all scopes, the contract's fixed window)",
    )
    p.add_argument("--patient", required=True, metavar="ADDRESS")
    p.add_argument("--reason", required=True, type=int, metavar="CODE", help="reason code, 1 to 65535")
    add_connection_options(p, "consent", signer=True)
    set_handler(p, break_glass)


# ------------------------------------------------------------------------------ salt


def _register_salt(actions: Any) -> None:
    p = add_parser(actions, "new", "write a new secret site salt (hex) to a file readable by its owner only")
    p.add_argument("path", type=Path, metavar="PATH")
    p.add_argument("--force", action="store_true", help="replace an existing salt file (its record ids are lost)")
    set_handler(p, salt_new)


def salt_new(args: argparse.Namespace) -> int:
    path = write_site_salt(args.path, replace=args.force)
    print(f"wrote a new site salt to {path} (mode 600): keep it secret and back it up with the site's UID map")
    return 0


# ------------------------------------------------------------------------- custodian


def _register_custodian(actions: Any) -> None:
    p = add_parser(actions, "register", "governance registers an imaging site with its gateway's public URL")
    p.add_argument("custodian", metavar="ADDRESS", help="the site's account")
    p.add_argument("--gateway-url", required=True, metavar="URL", help="public URL of its gateway (never the PACS)")
    add_connection_options(p, "records", "consent", signer=True)
    set_handler(p, custodian_register)

    p = add_parser(actions, "show", "a custodian's index, status and gateway URL")
    p.add_argument("custodian", metavar="ADDRESS")
    add_connection_options(p, "records", "consent")
    add_json_option(p)
    set_handler(p, custodian_show)


def custodian_register(args: argparse.Namespace) -> int:
    conn = open_connection(args, signer=True)
    records = conn.records()
    receipt = records.register_custodian(args.custodian, args.gateway_url)
    custodian = records.get_custodian(args.custodian)
    print_tx(
        f"registered custodian {custodian.address} (index {custodian.index}), gateway {custodian.gateway_url}", receipt
    )
    return 0


def custodian_show(args: argparse.Namespace) -> int:
    custodian = open_connection(args).records().get_custodian(args.custodian)
    if args.json:
        print_json(
            {
                "address": custodian.address,
                "index": custodian.index,
                "active": custodian.active,
                "gatewayUrl": custodian.gateway_url,
            }
        )
    else:
        status = "active" if custodian.active else "inactive"
        print(f"custodian {custodian.address}: index {custodian.index}, {status}, gateway {custodian.gateway_url}")
    return 0


# --------------------------------------------------------------------------- records


def _register_record(actions: Any) -> None:
    p = add_parser(actions, "id", "compute a record id from the site's salt and a StudyInstanceUID (offline)")
    p.add_argument("uid", metavar="UID", help="StudyInstanceUID (stays here: only the salted hash is printed)")
    p.add_argument("--salt-file", required=True, type=Path, metavar="PATH")
    p.add_argument(
        "--custodian",
        metavar="ADDRESS",
        help="the site's address: prints the on-chain record id bound to it (without: the site's local id)",
    )
    set_handler(p, record_id_cmd)

    p = add_parser(actions, "register", "the site registers a record pointer for a patient")
    add_record_options(p)
    p.add_argument("--patient", required=True, metavar="ADDRESS")
    p.add_argument("--kind", required=True, metavar="KIND", help="study, report, safety-profile or credential-file")
    p.add_argument("--content-hash", required=True, metavar="HEX", help="the record's content hash (32 bytes)")
    add_connection_options(p, "records", "consent", signer=True)
    set_handler(p, record_register)

    p = add_parser(actions, "amend", "the site registers a new version of its record (a series added, an addendum)")
    add_record_options(p)
    p.add_argument("--content-hash", required=True, metavar="HEX", help="the new content hash (32 bytes)")
    add_connection_options(p, "records", "consent", signer=True)
    set_handler(p, record_amend)

    p = add_parser(actions, "show", "a record pointer and where to fetch it")
    add_record_options(p)
    add_connection_options(p, "records", "consent")
    add_json_option(p)
    set_handler(p, record_show)


def record_id_cmd(args: argparse.Namespace) -> int:
    print(hex0x(record_id(read_site_salt(args.salt_file), args.uid, args.custodian)))
    return 0


def record_register(args: argparse.Namespace) -> int:
    # The site sends its local id (--record-id, or --uid with --salt-file); the chain binds it to the site.
    if args.uid and args.salt_file and args.record_id is None:
        local = record_id(read_site_salt(args.salt_file), args.uid)
    else:
        if args.record_id is None or args.uid or args.salt_file:
            options.record_from_args(args)  # the same errors as every record command
        local = validation.bytes32(args.record_id.strip(), "local id")
    kind = options.parse_kind(args.kind)
    digest = validation.bytes32(args.content_hash, "content hash")
    conn = open_connection(args, signer=True)
    records = conn.records()
    receipt = records.register(local, args.patient, kind, digest)
    rid = records.record_id_of(local)
    print_tx(f"registered record {hex0x(rid)} ({kind.name}) of patient {validation.address(args.patient)}", receipt)
    return 0


def record_amend(args: argparse.Namespace) -> int:
    digest = validation.bytes32(args.content_hash, "content hash")
    records = open_connection(args, signer=True).records()
    rid = options.record_from_args(args, custodian=records.transactor.address if records.transactor else None)
    receipt = records.amend(rid, digest)
    print_tx(f"amended record {hex0x(rid)}: version {records.get_record(rid).version}", receipt)
    return 0


def record_show(args: argparse.Namespace) -> int:
    rid = options.record_from_args(args)
    records = open_connection(args).records()
    record = records.get_record(rid)
    gateway = records.get_custodian(record.custodian).gateway_url
    if args.json:
        print_json(
            {
                "recordId": hex0x(record.record_id),
                "patient": record.patient,
                "custodian": record.custodian,
                "gatewayUrl": gateway,
                "kind": record.kind.name,
                "version": record.version,
                "registeredAt": record.registered_at,
                "contentHash": hex0x(record.content_hash),
            }
        )
        return 0
    print(f"record {hex0x(record.record_id)}")
    print(f"  kind          {record.kind.name}, version {record.version}")
    print(f"  patient       {record.patient}")
    print(f"  custodian     {record.custodian} (gateway {gateway})")
    print(f"  registered    {show_time(record.registered_at)}")
    print(f"  content hash  {hex0x(record.content_hash)}")
    return 0


# --------------------------------------------------------------------------- consent


def _register_consent(actions: Any) -> None:
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
    conn = open_connection(args, signer=True)
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
    rid = options.record_from_args(args, wildcard=True)
    scopes = options.parse_scopes(args.scopes)
    purposes = options.parse_purposes(args.purposes)
    grantee = validation.address(args.grantee, "grantee")
    conn = open_connection(args)
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


def _patient_of(conn: options.Connection, rid: bytes, given: str | None) -> str:
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
    rid = options.record_from_args(args, wildcard=True)
    conn = open_connection(args)
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


# ------------------------------------------------------------ break-glass and access


def break_glass(args: argparse.Namespace) -> int:
    consent = open_connection(args, signer=True).consent()
    receipt = consent.break_glass(args.patient, args.reason)
    (event,) = consent.events(receipt, "BreakGlassInvoked")
    print_tx(
        f"break-glass: {event['account']} may access every record of patient {event['patient']} for ETREAT "
        f"until {show_time(event['validUntil'])} (reason code {event['reasonCode']})",
        receipt,
    )
    return 0


def _register_access(actions: Any) -> None:
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


def access_record(args: argparse.Namespace) -> int:
    rid = options.record_from_args(args)
    scopes: Scope = options.parse_scopes(args.scopes)
    purpose: Purpose = options.parse_purposes(args.purpose, single=True)
    conn = open_connection(args, signer=True)
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


# ------------------------------------------------------------------------------ roles


def _register_role(actions: Any) -> None:
    for name, help_text, handler in (
        ("grant", "governance grants a role (BREAK_GLASS_ROLE, CUSTODIAN_REGISTRAR_ROLE, ...)", role_grant),
        ("revoke", "governance revokes a role", role_revoke),
        ("check", "whether an account holds a role (exit 0: yes, 3: no)", role_check),
    ):
        p = add_parser(actions, name, help_text)
        p.add_argument("role", metavar="ROLE", help=", ".join([*ROLE_CONTRACTS, "DEFAULT_ADMIN_ROLE"]))
        p.add_argument("account", metavar="ADDRESS")
        p.add_argument("--contract", choices=["records", "consent"], help="the contract (default: the role's own)")
        add_connection_options(p, "records", "consent", signer=name != "check")
        set_handler(p, handler)


def _role_client(args: argparse.Namespace, signer: bool) -> tuple[Any, str]:
    role = args.role.strip().upper()
    contract = args.contract or ROLE_CONTRACTS.get(role)
    if contract is None:
        known = ", ".join(ROLE_CONTRACTS)
        raise ValidationError(f"role {args.role!r}: name the contract with --contract (known roles: {known})")
    conn = open_connection(args, signer=signer)
    client = conn.records() if contract == "records" else conn.consent()
    return client, role


def role_grant(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=True)
    receipt = client.grant_role(role, args.account)
    print_tx(f"granted {role} on {client.CONTRACT_NAME} to {validation.address(args.account)}", receipt)
    return 0


def role_revoke(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=True)
    receipt = client.revoke_role(role, args.account)
    print_tx(f"revoked {role} on {client.CONTRACT_NAME} from {validation.address(args.account)}", receipt)
    return 0


def role_check(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=False)
    holds = client.has_role(role, args.account)
    print(
        f"{validation.address(args.account)} {'holds' if holds else 'does not hold'} {role} on {client.CONTRACT_NAME}"
    )
    return 0 if holds else EXIT_NO_ACCESS
