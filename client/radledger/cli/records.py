"""Record pointers: the site's salt, custodians (governance) and records (the imaging site).

radledger salt new PATH
radledger custodian register ADDRESS --gateway-url URL      (governance)
radledger custodian show ADDRESS [--json]
radledger record id --salt-file PATH UID                    (offline)
radledger record register --uid UID --salt-file PATH --patient ADDRESS --kind study --content-hash HEX
radledger record amend --uid UID --salt-file PATH --content-hash HEX
radledger record show --record-id HEX [--json]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radledger.chain import validation
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
from radledger.cli.output import hex0x, print_json, print_tx, show_time
from radledger.registries.parsing import parse_kind
from radledger.registries.records.client import read_site_salt, record_id, write_site_salt

# ------------------------------------------------------------------------------ salt


def register_salt(subparsers: Any) -> None:
    actions = add_group(subparsers, "salt", "a site's secret salt for record ids")
    p = add_parser(actions, "new", "write a new secret site salt (hex) to a file readable by its owner only")
    p.add_argument("path", type=Path, metavar="PATH")
    p.add_argument("--force", action="store_true", help="replace an existing salt file (its record ids are lost)")
    set_handler(p, salt_new)


def salt_new(args: argparse.Namespace) -> int:
    path = write_site_salt(args.path, replace=args.force)
    print(f"wrote a new site salt to {path} (mode 600): keep it secret and back it up with the site's UID map")
    return 0


# ------------------------------------------------------------------------- custodian


def register_custodian(subparsers: Any) -> None:
    actions = add_group(subparsers, "custodian", "imaging sites registered by governance")
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
    conn = session_for(args, signer=True)
    records = conn.records()
    receipt = records.register_custodian(args.custodian, args.gateway_url)
    custodian = records.get_custodian(args.custodian)
    print_tx(
        f"registered custodian {custodian.address} (index {custodian.index}), gateway {custodian.gateway_url}", receipt
    )
    return 0


def custodian_show(args: argparse.Namespace) -> int:
    custodian = session_for(args).records().get_custodian(args.custodian)
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


def register_record(subparsers: Any) -> None:
    actions = add_group(subparsers, "record", "record ids and record pointers")
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
            record_from_args(args)  # the same errors as every record command
        local = validation.bytes32(args.record_id.strip(), "local id")
    kind = parse_kind(args.kind)
    digest = validation.bytes32(args.content_hash, "content hash")
    records = session_for(args, signer=True).records()
    receipt = records.register(local, args.patient, kind, digest)
    rid = records.record_id_of(local)
    print_tx(f"registered record {hex0x(rid)} ({kind.name}) of patient {validation.address(args.patient)}", receipt)
    return 0


def record_amend(args: argparse.Namespace) -> int:
    digest = validation.bytes32(args.content_hash, "content hash")
    records = session_for(args, signer=True).records()
    rid = record_from_args(args, custodian=records.transactor.address if records.transactor else None)
    receipt = records.amend(rid, digest)
    print_tx(f"amended record {hex0x(rid)}: version {records.get_record(rid).version}", receipt)
    return 0


def record_show(args: argparse.Namespace) -> int:
    rid = record_from_args(args)
    records = session_for(args).records()
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
