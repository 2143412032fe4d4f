"""`radledger demo`: consent, credentials, prior authorization, claims and an auditor's view on the embedded
in-process chain (synthetic data only)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from radledger.cli.options import add_parser, set_handler
from radledger.demo.story import run_demo


def register(subparsers: Any) -> None:
    parser = add_parser(
        subparsers,
        "demo",
        "run the whole story (consent, credentials, prior authorization, claims, audit) on an in-process chain: "
        "nothing to install, synthetic data only",
    )
    parser.add_argument("--seed", type=int, help="repeat the same synthetic identifiers and keys")
    parser.add_argument("--json", action="store_true", help="print the steps as JSON instead of the story")
    set_handler(parser, run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(seed=args.seed, out=None if args.json else print)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    return 0
