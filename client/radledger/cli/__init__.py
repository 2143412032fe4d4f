"""The `radledger` command line: it parses, calls the library and prints.

Each module of this package holds whole command groups and adds them through its `register*`
functions; errors derived from RadledgerError print as one readable line (exit 1), never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from radledger.chain.errors import RadledgerError
from radledger.cli import (
    audit,
    compiler,
    consent,
    credentials,
    demo,
    deploy,
    gas,
    gateway,
    images,
    portal,
    preauth,
    records,
    roles,
)

COMMANDS: tuple[Callable[[Any], None], ...] = (
    compiler.register,
    gas.register,
    records.register_salt,
    records.register_custodian,
    records.register_record,
    consent.register_consent,
    consent.register_access,
    roles.register,
    consent.register_break_glass,
    consent.register_guardian,
    demo.register,
    deploy.register,
    preauth.register,
    gateway.register,
    images.register,
    audit.register,
    credentials.register,
    portal.register,
)
"""Every command, in the order `radledger --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radledger",
        description="Patient-controlled consent, credentials and prior authorization for medical imaging.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RadledgerError as exc:
        print(f"radledger: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("radledger: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
