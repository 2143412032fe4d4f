"""The requester's side of a site's gateway: search and fetch consented studies (the `gateway` extra's
packages, httpx among them, are imported by the commands that need them).

radledger images search --gateway URL --purpose P [--json]
radledger images fetch --gateway URL --study UID --purpose P --out DIR [--verify --rpc-url URL --records ADDRESS]
radledger images login --gateway URL --purpose P [--json]   (a viewer session for the sign-in page)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from radledger.cli.options import (
    add_connection_options,
    add_group,
    add_json_option,
    add_parser,
    add_signer_options,
    session_for,
    set_handler,
    signer_from,
)
from radledger.cli.output import hex0x, print_json, show_time
from radledger.registries.common import Purpose
from radledger.registries.parsing import parse_purposes

EXIT_MISMATCH = 3
"""`images fetch --verify` exit status when the files do not match RecordRegistry."""


def register(subparsers: Any) -> None:
    images = add_group(subparsers, "images", "retrieve consented studies through a site's gateway")
    p = add_parser(images, "search", "list the studies a gateway lets this requester see")
    _requester_options(p)
    add_json_option(p)
    set_handler(p, images_search)

    p = add_parser(images, "fetch", "retrieve a consented study through a gateway into a folder")
    _requester_options(p)
    p.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for <SOPInstanceUID>.dcm files")
    p.add_argument(
        "--verify", action="store_true", help="check the files' content hash against RecordRegistry (needs a node)"
    )
    add_connection_options(p, "records", "consent")
    add_json_option(p)
    set_handler(p, images_fetch)

    p = add_parser(images, "login", "open a viewer session at a gateway (paste it into the viewer's sign-in page)")
    _requester_options(p)
    add_json_option(p)
    set_handler(p, images_login)


def _requester_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway", required=True, metavar="URL", help="the site's gateway URL (its audience)")
    parser.add_argument("--purpose", required=True, metavar="PURPOSE", help="TREAT, HPAYMT, HOPERAT, HRESCH or ETREAT")
    parser.add_argument("--lifetime", type=int, default=60, metavar="SECONDS", help="token lifetime (max 300)")
    parser.add_argument(
        "--per-request-tokens", action="store_true", help="sign a token for every request instead of one session"
    )
    add_signer_options(parser)


def _requester(args: argparse.Namespace) -> Any:
    # the gateway extra (an optional dependency): imported only when this command runs
    from radledger.gateway.requester import GatewayRequester

    purpose = Purpose(parse_purposes(args.purpose, single=True))
    return GatewayRequester(
        args.gateway, signer_from(args), purpose, lifetime=args.lifetime,
        use_session=not getattr(args, "per_request_tokens", False),
    )  # fmt: skip


def images_login(args: argparse.Namespace) -> int:
    session = _requester(args).login()
    if args.json:
        print_json(session.as_dict())
    else:
        print(session.token)
        print(
            f"session for {session.grantee} ({session.purpose}) until {show_time(session.expires_at)}", file=sys.stderr
        )
    return 0


def images_search(args: argparse.Namespace) -> int:
    results = _requester(args).search_studies()
    if args.json:
        print_json(results)
        return 0
    for study in results:
        uid = (study.get("0020000D", {}).get("Value") or ["?"])[0]
        date = (study.get("00080020", {}).get("Value") or [""])[0]
        description = (study.get("00081030", {}).get("Value") or [""])[0]
        print(f"{uid}  {date}  {description}".rstrip())
    print(f"{len(results)} stud{'y' if len(results) == 1 else 'ies'} visible")
    return 0


def images_fetch(args: argparse.Namespace) -> int:
    # the gateway extra (an optional dependency): imported only when this command runs
    from radledger.gateway.requester import verify_on_chain

    fetched = _requester(args).fetch_study(args.study, args.out)
    verified = None
    if args.verify:
        verified = verify_on_chain(fetched, session_for(args).records())
    if args.json:
        print_json(
            {
                "studyInstanceUid": fetched.study_uid,
                "files": [str(f) for f in fetched.files],
                "contentHash": hex0x(fetched.content_hash),
                "recordId": hex0x(fetched.record_id) if fetched.record_id else None,
                "verifiedOnChain": verified,
            }
        )
    else:
        print(f"wrote {len(fetched.files)} instances of study {fetched.study_uid} to {fetched.folder}")
        print(f"  content hash {hex0x(fetched.content_hash)}")
        if verified is not None:
            print("  matches RecordRegistry" if verified else "  DOES NOT MATCH RecordRegistry")
    return 0 if verified is not False else EXIT_MISMATCH
