"""The patient portal (the `portal` extra's packages are imported by the commands that need them).

radledger portal serve --config FILE [--host H] [--port P]
radledger portal verify-receipt FILE --rpc-url URL
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from radledger.chain.errors import ValidationError
from radledger.cli.options import add_group, add_json_option, add_parser, rpc_url, set_handler
from radledger.cli.output import print_json


def register(subparsers: Any) -> None:
    portal = add_group(subparsers, "portal", "the patients' page and the relay of their signed consents")

    p = add_parser(portal, "serve", "serve the patient portal and its relay (uvicorn) as the configuration says")
    p.add_argument("--config", required=True, type=Path, metavar="FILE", help="the portal's TOML configuration")
    p.add_argument("--host", help="listen address (default: [portal] listen_host)")
    p.add_argument("--port", type=int, help="listen port (default: [portal] listen_port)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    set_handler(p, serve)

    p = add_parser(portal, "verify-receipt", "check a patient's consent receipt against the chain")
    p.add_argument("receipt", type=Path, metavar="FILE", help="the receipt (JSON) the portal gave")
    p.add_argument("--rpc-url", metavar="URL", help="JSON-RPC endpoint (default: $RADLEDGER_RPC_URL)")
    add_json_option(p)
    set_handler(p, verify_receipt_cmd)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from radledger.portal.app import create_app
    from radledger.portal.config import load_settings
    from radledger.portal.service import PortalService

    settings = load_settings(args.config)
    service = PortalService.from_settings(settings)
    host, port = args.host or settings.listen_host, args.port or settings.listen_port
    print(
        f"radledger portal for {settings.site_name} on http://{host}:{port}/ (relaying as {service.relayer.address})",
        flush=True,
    )
    uvicorn.run(create_app(service), host=host, port=port, log_level=args.log_level, proxy_headers=True)
    return 0


def verify_receipt_cmd(args: argparse.Namespace) -> int:
    from radledger.chain.connection import connect
    from radledger.portal.receipts import verify_receipt

    url = rpc_url(args)
    if not url:
        raise ValidationError("give --rpc-url (or set $RADLEDGER_RPC_URL): a receipt is checked against a node")
    try:
        receipt = json.loads(args.receipt.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the receipt {args.receipt}: {exc}") from None
    verified = verify_receipt(connect(url), receipt)
    if args.json:
        print_json(
            {"ok": True, "txHash": verified.tx_hash, "blockNumber": verified.block_number, "event": verified.event}
        )
    else:
        print(f"receipt ok: {verified.event} in block {verified.block_number} (transaction {verified.tx_hash})")
    return 0
