"""Credentials: schemas and issuers (governance), attestations (issuers), checks (sites, payers, auditors).

radledger schema register NAME --max-validity 730d [--irrevocable]                 (schema registrar)
radledger schema list [--json]
radledger issuer authorize|deauthorize ADDRESS --schema ID|NAME                     (issuer authorizer)
radledger credential attest (--subject ADDRESS|HEX | --device MANUFACTURER SERIAL) --schema ID|NAME
                            --until WHEN [--from WHEN] [--value N | --cme-hours H]
                            [--data-file PATH | --data-hash HEX] [--ref-uid HEX] [--json]      (issuer)
radledger credential revoke UID [--reason disciplinary-action|issued-in-error|...|N]  (issuer, disciplinary)
radledger credential sign attest ... --out FILE       (issuer, no ETH: a site relays the file)
radledger credential sign revoke UID --out FILE
radledger credential relay FILE [--json]                                            (anyone, pays the gas)
radledger credential invalidate-signatures                                          (issuer)
radledger credential verify SUBJECT --schema ID|NAME [--schema ...] [--json]   (exit 0: all valid, 3: not)
radledger credential check-device MANUFACTURER SERIAL --schema ID|NAME [--json]  (exit 0: current, 3: not)
radledger credential dossier SUBJECT [--all] [--json]
radledger credential cme SUBJECT --schema ID|NAME --from WHEN --to WHEN
radledger credential export-vc UID [--signed FILE] [--out FILE]
radledger credential device-id MANUFACTURER SERIAL                                 (offline)

The registry's address comes from --credentials, $RADLEDGER_CREDENTIALS or a deployment manifest
(--deployment PATH, $RADLEDGER_DEPLOYMENT). Signing offline needs
no node when --chain-id, --sequence (the next one: the latest's plus one) and --epoch are given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.eip712 import Domain, SignedMessage, sign
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.cli.options import (
    add_connection_options,
    add_group,
    add_json_option,
    add_parser,
    session_for,
    set_handler,
)
from radledger.cli.output import hex0x, print_json, show_time
from radledger.cli.signing import add_signing_options, save_signed, signing_setup
from radledger.deployment.session import Session, SigningSetup
from radledger.registries.credentials.client import (
    NO_MAXIMUM,
    CredentialRegistryClient,
    attest_message,
    cme_value,
    device_id,
    document_hash,
    revoke_message,
    subject_address,
    subject_id,
    uid_sequence,
)
from radledger.registries.credentials.types import (
    Attestation,
    AttestationRequest,
    Credential,
    CredentialCheck,
    Revocation,
    RevocationReason,
    SignatureInvalidation,
)
from radledger.registries.parsing import parse_duration, parse_when
from radledger.registries.records.client import read_site_salt

EXIT_NOT_VALID = 3
"""`credential verify` and `credential check-device` exit status when a credential is not valid (0 when all are)."""

GROUPS = {
    "schema": "credential schemas registered by governance",
    "issuer": "issuers authorized per credential schema",
    "credential": "attest, revoke, sign, relay and verify credentials; dossiers, CME hours, W3C VC export",
}

_REASONS = {r.name.lower().replace("_", "-"): r for r in RevocationReason}


def register(subparsers: Any) -> None:
    _register_schema(add_group(subparsers, "schema", GROUPS["schema"]))
    _register_issuer(add_group(subparsers, "issuer", GROUPS["issuer"]))
    _register_credential(add_group(subparsers, "credential", GROUPS["credential"]))


# ----------------------------------------------------------------------------- shared


def _client(args: argparse.Namespace, signer: bool = False) -> CredentialRegistryClient:
    return session_for(args, signer=signer).credentials()


def _schema(client: CredentialRegistryClient | None, text: str) -> int:
    """A schema id, or (with a node) a schema's exact name."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    if client is None:
        raise ValidationError(f"--schema {text!r}: give the schema's id to sign offline")
    found = client.schema_id_of(value)
    if found is None:
        raise ValidationError(f"--schema {text!r}: no schema has this name (radledger schema list)")
    return found


def _subject(args: argparse.Namespace) -> bytes:
    if getattr(args, "device", None):
        if args.subject:
            raise ValidationError("give either --subject or --device, not both")
        return _device(args, *args.device)
    if not args.subject:
        raise ValidationError("no subject: give --subject ADDRESS|HEX or --device MANUFACTURER SERIAL")
    return subject_id(args.subject.strip())


def _add_subject(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("subject (one of)")
    group.add_argument("--subject", metavar="ADDRESS|HEX", help="a physician's address, or a 32-byte subject")
    group.add_argument(
        "--device", nargs=2, metavar=("MANUFACTURER", "SERIAL"), help="a device, by manufacturer and serial number"
    )
    _device_salt_option(p)


def _device_salt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device-salt-file",
        type=Path,
        metavar="PATH",
        help="the device salt the site shares with its inspector (without it a device id is as public as the serial)",
    )


def _device(args: argparse.Namespace, manufacturer: str, serial: str) -> bytes:
    salt = read_site_salt(args.device_salt_file) if getattr(args, "device_salt_file", None) else None
    return device_id(manufacturer, serial, salt)


def _reason(text: str) -> int:
    key = text.strip().lower().replace("_", "-")
    if key in _REASONS:
        return int(_REASONS[key])
    if key.isdigit():
        return int(key)
    raise ValidationError(f"--reason {text!r}: one of {', '.join(_REASONS)}, or a number from 1 to 65535")


def _show_subject(subject: bytes) -> str:
    address = subject_address(subject)
    return address if address else hex0x(subject)


def _attestation_json(a: Attestation) -> dict[str, Any]:
    return {
        "uid": hex0x(a.uid),
        "subject": hex0x(a.subject),
        "schema": a.schema_id,
        "issuer": a.issuer,
        "dataHash": hex0x(a.data_hash),
        "value": a.value,
        "validFrom": a.valid_from,
        "validUntil": a.valid_until,
        "refUid": hex0x(a.ref_uid),
        "sequence": a.sequence,
        "txHash": a.tx_hash,
        "blockNumber": a.block_number,
    }


def _check_json(check: CredentialCheck) -> dict[str, Any]:
    state = check.state
    return {
        "schema": check.schema_id,
        "status": check.status.value,
        "uid": hex0x(check.uid) if check.uid else None,
        "issuer": state.issuer if state else None,
        "validFrom": state.valid_from if state else None,
        "validUntil": state.valid_until if state else None,
        "revokedAt": state.revoked_at if state else None,
    }


def _credential_json(c: Credential) -> dict[str, Any]:
    return {
        **_attestation_json(c.attestation),
        "schemaName": c.schema_name,
        "status": c.status.value,
        "revokedAt": c.state.revoked_at,
        "latest": c.state.latest,
    }


def _print_result(result: Attestation | Revocation | SignatureInvalidation, as_json: bool) -> None:
    if as_json:
        if isinstance(result, Attestation):
            print_json(_attestation_json(result))
        elif isinstance(result, Revocation):
            print_json(
                {
                    "uid": hex0x(result.uid),
                    "revoker": result.revoker,
                    "reasonCode": result.reason_code,
                    "txHash": result.tx_hash,
                    "blockNumber": result.block_number,
                }
            )
        else:
            print_json(
                {
                    "issuer": result.issuer,
                    "epoch": result.epoch,
                    "txHash": result.tx_hash,
                    "blockNumber": result.block_number,
                }
            )
        return
    if isinstance(result, Attestation):
        print(
            f"attested {hex0x(result.uid)}: schema {result.schema_id} about {_show_subject(result.subject)} by "
            f"{result.issuer}, valid {show_time(result.valid_from)} to {show_time(result.valid_until)}"
        )
    elif isinstance(result, Revocation):
        reason = result.reason.name if result.reason else str(result.reason_code)
        print(f"revoked {hex0x(result.uid)} by {result.revoker}, reason {reason}")
    else:
        print(f"invalidated every outstanding signature of {result.issuer} (epoch now {result.epoch})")
    print(f"  tx {result.tx_hash}  block {result.block_number}")


# --------------------------------------------------------------------------- schemas


def _register_schema(actions: Any) -> None:
    p = add_parser(actions, "register", "register a credential schema (schema-registrar role)")
    p.add_argument("name", metavar="NAME", help="unique name, e.g. 'US-CA Medical Board: physician license'")
    p.add_argument(
        "--max-validity", required=True, metavar="DURATION", help="longest validity window (730d, 52w) or 'none'"
    )
    p.add_argument("--irrevocable", action="store_true", help="attestations of this schema can never be revoked")
    add_connection_options(p, "credentials", signer=True)
    set_handler(p, schema_register)

    p = add_parser(actions, "list", "list the registered schemas")
    add_json_option(p)
    add_connection_options(p, "credentials")
    set_handler(p, schema_list)


def schema_register(args: argparse.Namespace) -> int:
    text = args.max_validity.strip().lower()
    max_validity = NO_MAXIMUM if text in {"none", "never", "forever"} else parse_duration(text)
    schema = _client(args, signer=True).register_schema(args.name, not args.irrevocable, max_validity)
    limit = "no maximum" if schema.max_validity == NO_MAXIMUM else f"at most {schema.max_validity} s"
    revocable = "revocable" if schema.revocable else "irrevocable"
    print(f"registered schema {schema.schema_id}: {schema.name!r} ({revocable}, {limit})")
    return 0


def schema_list(args: argparse.Namespace) -> int:
    schemas = _client(args).schemas()
    if args.json:
        print_json(
            [
                {"id": s.schema_id, "name": s.name, "revocable": s.revocable, "maxValidity": s.max_validity}
                for s in schemas
            ]
        )
        return 0
    for s in schemas:
        limit = "no maximum" if s.max_validity == NO_MAXIMUM else f"max {s.max_validity // 86400} d"
        print(f"{s.schema_id:>4}  {s.name}  ({'revocable' if s.revocable else 'irrevocable'}, {limit})")
    return 0


# --------------------------------------------------------------------------- issuers


def _register_issuer(actions: Any) -> None:
    for name, handler, text in [
        ("authorize", issuer_authorize, "let an issuer attest credentials of a schema (issuer-authorizer role)"),
        ("deauthorize", issuer_deauthorize, "withdraw an issuer's authorization; its attestations stand"),
    ]:
        p = add_parser(actions, name, text)
        p.add_argument("issuer", metavar="ADDRESS")
        p.add_argument("--schema", required=True, metavar="ID|NAME")
        add_connection_options(p, "credentials", signer=True)
        set_handler(p, handler)


def issuer_authorize(args: argparse.Namespace) -> int:
    client = _client(args, signer=True)
    schema = _schema(client, args.schema)
    client.authorize_issuer(schema, args.issuer)
    print(f"authorized {validation.address(args.issuer)} for schema {schema}")
    return 0


def issuer_deauthorize(args: argparse.Namespace) -> int:
    client = _client(args, signer=True)
    schema = _schema(client, args.schema)
    client.deauthorize_issuer(schema, args.issuer)
    print(f"deauthorized {validation.address(args.issuer)} for schema {schema}")
    return 0


# ----------------------------------------------------------------------- credentials


def _add_attestation_terms(p: argparse.ArgumentParser) -> None:
    _add_subject(p)
    p.add_argument("--schema", required=True, metavar="ID|NAME")
    p.add_argument("--until", required=True, metavar="WHEN", help="end of validity (ISO date, unix time, 365d, never)")
    p.add_argument("--from", dest="valid_from", metavar="WHEN", help="start of validity (default: now)")
    value = p.add_mutually_exclusive_group()
    value.add_argument("--value", type=int, default=None, metavar="N", help="a count the schema defines (default 0)")
    value.add_argument("--cme-hours", metavar="H", help="CME credit hours (stored as hundredths: 1.25 -> 125)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data-file", type=Path, metavar="PATH", help="the document: its SHA-256 is the data hash")
    data.add_argument("--data-hash", metavar="HEX", help="the document's hash, computed elsewhere")
    p.add_argument("--ref-uid", metavar="HEX", help="an earlier attestation this one refers to")


def _request(args: argparse.Namespace, now: int) -> AttestationRequest:
    if args.data_file is not None:
        try:
            data_hash = document_hash(args.data_file.read_bytes())
        except OSError as exc:
            raise ValidationError(f"cannot read {args.data_file}: {exc.strerror}") from exc
    else:
        data_hash = validation.bytes32(args.data_hash, "--data-hash") if args.data_hash else bytes(32)
    value = cme_value(args.cme_hours) if args.cme_hours is not None else (args.value or 0)
    valid_from = parse_when(args.valid_from, now, "--from") if args.valid_from else now
    return AttestationRequest(
        subject=_subject(args),
        valid_until=parse_when(args.until, now, "--until"),
        data_hash=data_hash,
        value=value,
        valid_from=valid_from,
        ref_uid=validation.bytes32(args.ref_uid, "--ref-uid") if args.ref_uid else bytes(32),
    )


def _register_credential(actions: Any) -> None:
    p = add_parser(actions, "attest", "attest a credential (the signer is an authorized issuer)")
    _add_attestation_terms(p)
    add_json_option(p)
    add_connection_options(p, "credentials", signer=True)
    set_handler(p, credential_attest)

    p = add_parser(actions, "revoke", "revoke an attestation (its issuer, or a disciplinary account)")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--reason", default="disciplinary-action", metavar="REASON", help=", ".join(_REASONS))
    add_json_option(p)
    add_connection_options(p, "credentials", signer=True)
    set_handler(p, credential_revoke)

    p = add_parser(actions, "invalidate-signatures", "void every outstanding signature of the signer (an issuer)")
    add_json_option(p)
    add_connection_options(p, "credentials", signer=True)
    set_handler(p, credential_invalidate_signatures)

    p = add_parser(actions, "sign", "sign an attestation or a revocation into a JSON file a site relays (no ETH)")
    kinds = p.add_subparsers(required=True, metavar="MESSAGE")
    s = add_parser(kinds, "attest", "sign an attestation")
    _add_attestation_terms(s)
    _add_sign_options(s)
    set_handler(s, sign_attest)
    s = add_parser(kinds, "revoke", "sign a revocation")
    s.add_argument("uid", metavar="UID")
    s.add_argument("--reason", default="disciplinary-action", metavar="REASON", help=", ".join(_REASONS))
    _add_sign_options(s)
    set_handler(s, sign_revoke)

    p = add_parser(actions, "relay", "submit a signed attestation, revocation or invalidation (the sender pays gas)")
    p.add_argument("file", type=Path, metavar="FILE")
    add_json_option(p)
    add_connection_options(p, "credentials", signer=True)
    set_handler(p, credential_relay)

    p = add_parser(actions, "verify", "does a reader hold every required credential now? (exit 0: yes, 3: no)")
    p.add_argument("subject", metavar="ADDRESS|HEX")
    p.add_argument("--schema", action="append", required=True, metavar="ID|NAME", help="a required schema (repeat)")
    add_json_option(p)
    add_connection_options(p, "credentials")
    set_handler(p, credential_verify)

    p = add_parser(actions, "check-device", "is a device's latest inspection current? (exit 0: yes, 3: no)")
    p.add_argument("manufacturer", metavar="MANUFACTURER")
    p.add_argument("serial", metavar="SERIAL")
    _device_salt_option(p)
    p.add_argument("--schema", required=True, metavar="ID|NAME", help="the inspection schema")
    add_json_option(p)
    add_connection_options(p, "credentials")
    set_handler(p, credential_check_device)

    p = add_parser(actions, "dossier", "a subject's credentials, with schema names, issuers and validity")
    p.add_argument("subject", metavar="ADDRESS|HEX")
    p.add_argument("--all", action="store_true", help="also revoked, expired, not yet valid ones")
    add_json_option(p)
    add_connection_options(p, "credentials")
    set_handler(p, credential_dossier)

    p = add_parser(actions, "cme", "total valid CME credit hours earned in a window")
    p.add_argument("subject", metavar="ADDRESS|HEX")
    p.add_argument("--schema", required=True, metavar="ID|NAME")
    p.add_argument("--from", dest="window_start", required=True, metavar="WHEN")
    p.add_argument("--to", dest="window_end", required=True, metavar="WHEN")
    add_connection_options(p, "credentials")
    set_handler(p, credential_cme)

    p = add_parser(actions, "export-vc", "an attestation as a W3C Verifiable Credential (2.0 style) JSON document")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--signed", type=Path, metavar="FILE", help="the issuer's signed Attest message, as the proof")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the document here (default: print it)")
    add_connection_options(p, "credentials")
    set_handler(p, credential_export_vc)

    p = add_parser(actions, "device-id", "the subject id of a device (offline)")
    p.add_argument("manufacturer", metavar="MANUFACTURER")
    p.add_argument("serial", metavar="SERIAL")
    _device_salt_option(p)
    p.set_defaults(handler=credential_device_id)


def credential_attest(args: argparse.Namespace) -> int:
    client = _client(args, signer=True)
    schema = _schema(client, args.schema)
    r = _request(args, client.now())
    made = client.attest(
        r.subject, schema, r.valid_until, data_hash=r.data_hash, value=r.value, valid_from=r.valid_from,
        ref_uid=r.ref_uid,
    )  # fmt: skip
    _print_result(made, args.json)
    return 0


def credential_revoke(args: argparse.Namespace) -> int:
    client = _client(args, signer=True)
    _print_result(client.revoke(validation.bytes32(args.uid, "uid"), _reason(args.reason)), args.json)
    return 0


def credential_invalidate_signatures(args: argparse.Namespace) -> int:
    _print_result(_client(args, signer=True).invalidate_signatures(), args.json)
    return 0


def credential_relay(args: argparse.Namespace) -> int:
    signed = SignedMessage.load(args.file)
    _print_result(_client(args, signer=True).relay(signed), args.json)
    return 0


def credential_verify(args: argparse.Namespace) -> int:
    client = _client(args)
    result = client.verify_reader(subject_id(args.subject.strip()), [_schema(client, s) for s in args.schema])
    if args.json:
        print_json({"ok": result.ok, "checkedAt": result.checked_at, "checks": [_check_json(c) for c in result.checks]})
    else:
        print(f"{_show_subject(result.subject)}: {'holds every required credential' if result.ok else 'NOT VERIFIED'}")
        for check in result.checks:
            print(f"  schema {check.schema_id}: {_describe(check)}")
    return 0 if result.ok else EXIT_NOT_VALID


def credential_check_device(args: argparse.Namespace) -> int:
    client = _client(args)
    device = _device(args, args.manufacturer, args.serial)
    check = client.equipment_check(device, _schema(client, args.schema))
    if args.json:
        print_json({"device": hex0x(device), **_check_json(check)})
    else:
        print(f"device {hex0x(device)}: {_describe(check)}")
    return 0 if check.ok else EXIT_NOT_VALID


def _describe(check: CredentialCheck) -> str:
    state = check.state
    if state is None:
        return check.status.value
    return (
        f"{check.status.value} ({hex0x(state.uid)} by {state.issuer}, {show_time(state.valid_from)} to "
        f"{show_time(state.valid_until)}{', revoked ' + show_time(state.revoked_at) if state.revoked_at else ''})"
    )


def credential_dossier(args: argparse.Namespace) -> int:
    credentials = _client(args).dossier(subject_id(args.subject.strip()), include_invalid=args.all)
    if args.json:
        print_json([_credential_json(c) for c in credentials])
        return 0
    if not credentials:
        print("no credentials" if args.all else "no valid credentials")
    for c in credentials:
        a = c.attestation
        value = f", value {a.value}" if a.value else ""
        print(
            f"{c.schema_name} [{c.status.value}{'' if c.state.latest else ', superseded'}] by {c.issuer}, "
            f"{show_time(a.valid_from)} to {show_time(a.valid_until)}{value}\n  uid {hex0x(a.uid)}"
        )
    return 0


def credential_cme(args: argparse.Namespace) -> int:
    client = _client(args)
    now = client.now()
    start = parse_when(args.window_start, now, "--from")
    end = parse_when(args.window_end, now, "--to")
    hours = client.cme_hours(subject_id(args.subject.strip()), _schema(client, args.schema), start, end)
    print(f"{hours} CME credit hours earned {show_time(start)} to {show_time(end)}, valid now")
    return 0


def credential_export_vc(args: argparse.Namespace) -> int:
    signed = SignedMessage.load(args.signed) if args.signed else None
    document = json.dumps(_client(args).export_vc(validation.bytes32(args.uid, "uid"), signed), indent=2)
    if args.out:
        args.out.write_text(document + "\n")
        print(f"wrote {args.out}")
    else:
        print(document)
    return 0


def credential_device_id(args: argparse.Namespace) -> int:
    print(hex0x(_device(args, args.manufacturer, args.serial)))
    return 0


# ------------------------------------------------------------------------ offline signing


def _add_sign_options(p: argparse.ArgumentParser) -> None:
    offline = add_signing_options(
        p, "credentials", "offline signing (no node): --chain-id, --epoch (and --sequence to attest)"
    )
    offline.add_argument("--epoch", type=int, metavar="N", help="the issuer's signature epoch (0 unless invalidated)")
    offline.add_argument(
        "--sequence",
        type=int,
        metavar="N",
        help="the sequence the attestation takes: the latest's plus one (1 if none)",
    )


def _signing_context(args: argparse.Namespace) -> SigningSetup[CredentialRegistryClient]:
    """The registry a signature is for: from the options (offline) or from a node."""
    return signing_setup(
        args,
        "credentials",
        {"--epoch": args.epoch, "--sequence": getattr(args, "sequence", None)},
        required=("--epoch",),
        needs="--chain-id and --epoch (and --sequence to attest)",
        client=Session.credentials,
        offline_domain=Domain.credentials,
    )


def _save(signed: SignedMessage, path: Path, summary: str) -> int:
    return save_signed(
        signed, path, summary, contract="credentials", counters=("epoch",), relay_command="credential relay"
    )


def sign_attest(args: argparse.Namespace) -> int:
    context = _signing_context(args)
    schema = _schema(context.client, args.schema)
    r = _request(args, context.now)
    deadline = context.deadline(args.deadline)
    if context.client is not None:
        signed = context.client.sign_attest(
            context.signer, r.subject, schema, r.valid_until, data_hash=r.data_hash, value=r.value,
            valid_from=r.valid_from, ref_uid=r.ref_uid, deadline=deadline,
        )  # fmt: skip
    else:
        if args.sequence is None:
            raise ConfigurationError("offline signing of an attestation needs --sequence")
        validation.validity(r.valid_from or 0, r.valid_until, context.now)
        message = attest_message(context.signer.address, r, schema, args.sequence, args.epoch, deadline)
        signed = sign(context.signer, context.domain, "Attest", message)
    m = signed.message
    summary = (
        f"signed attestation #{m['sequence']} of schema {m['schema']} about {_show_subject(m['subject'])} "
        f"(issuer {context.signer.address}), valid {show_time(m['validFrom'])} to {show_time(m['validUntil'])}"
    )
    return _save(signed, args.out, summary)


def sign_revoke(args: argparse.Namespace) -> int:
    context = _signing_context(args)
    uid = validation.bytes32(args.uid, "uid")
    reason = _reason(args.reason)
    deadline = context.deadline(args.deadline)
    if context.client is not None:
        signed = context.client.sign_revoke(context.signer, uid, reason, deadline)
    else:
        signed = sign(
            context.signer,
            context.domain,
            "Revoke",
            revoke_message(context.signer.address, uid, reason, args.epoch, deadline),
        )
    summary = f"signed the revocation of {hex0x(uid)} (attestation #{uid_sequence(uid)}) by {context.signer.address}"
    return _save(signed, args.out, summary)
