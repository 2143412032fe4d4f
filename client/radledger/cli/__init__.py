"""The `radledger` command line.

Each module of this package adds its subcommands through `register(subparsers)`; errors
derived from RadledgerError print as one readable line (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from radledger.chain.errors import RadledgerError
from radledger.cli import (
    audit_cmds,
    compile_cmd,
    credential_cmds,
    demo_cmd,
    deploy_cmds,
    gas_cmd,
    gateway_cmds,
    patient_cmds,
    portal,
    preauth_cmds,
    site_cmds,
)

COMMAND_MODULES = [
    compile_cmd,
    gas_cmd,
    site_cmds,
    patient_cmds,
    demo_cmd,
    deploy_cmds,
    preauth_cmds,
    gateway_cmds,
    audit_cmds,
    credential_cmds,
    portal,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radledger",
        description="Patient-controlled consent, credentials and prior authorization for medical imaging.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
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
