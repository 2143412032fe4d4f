"""`radledger gas snapshot | check | table`: the committed gas snapshot and DESIGN.md's targets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import radledger.gas as gas


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gas", help="measure gas on a fresh in-process chain; write or check the snapshot")
    commands = parser.add_subparsers(dest="gas_command", required=True, metavar="ACTION")

    snapshot = commands.add_parser("snapshot", help="measure every operation and write the snapshot file")
    snapshot.add_argument(
        "--out", type=Path, default=gas.DEFAULT_SNAPSHOT, help=f"file to write (default: {gas.DEFAULT_SNAPSHOT})"
    )
    snapshot.set_defaults(handler=run_snapshot)

    check = commands.add_parser(
        "check",
        help="measure again; exit 1 when a figure differs from the snapshot's by more than the tolerance, either way",
    )
    check.add_argument(
        "--snapshot", type=Path, default=gas.DEFAULT_SNAPSHOT, help=f"committed file (default: {gas.DEFAULT_SNAPSHOT})"
    )
    check.add_argument(
        "--tolerance",
        type=float,
        default=gas.DEFAULT_TOLERANCE,
        help=f"allowed rise or fall as a fraction (default: {gas.DEFAULT_TOLERANCE})",
    )
    check.set_defaults(handler=run_check)

    table = commands.add_parser("table", help="print the snapshot against the targets as a markdown table (README)")
    table.add_argument(
        "--snapshot", type=Path, default=gas.DEFAULT_SNAPSHOT, help=f"snapshot file (default: {gas.DEFAULT_SNAPSHOT})"
    )
    table.set_defaults(handler=run_table)


def run_snapshot(args: argparse.Namespace) -> int:
    figures = gas.measure()
    path = gas.write_snapshot(figures, args.out)
    print(f"wrote {len(figures)} figures to {path}")
    over = [f"{k} ({figures[k]:,} > {t:,})" for k, t in gas.TARGETS.items() if k in figures and figures[k] > t]
    if over:
        print("over target: " + ", ".join(over))
    return 0


def run_check(args: argparse.Namespace) -> int:
    committed = gas.read_snapshot(args.snapshot)
    rows = gas.compare(committed, gas.measure(), args.tolerance)
    print(gas.format_rows(rows))
    failed = [r.key for r in rows if r.failed]
    over = [r.key for r in rows if r.over_target]
    if over:
        print(f"over their DESIGN.md target: {', '.join(over)}")
    if failed:
        print(
            f"gas check failed for {', '.join(failed)}: a figure rose or fell more than {args.tolerance:.0%} against "
            f"{args.snapshot}, or a key is missing (run `radledger gas snapshot` when the change is intended)"
        )
        return 1
    print(f"gas check passed: every figure within {args.tolerance:.0%} of {args.snapshot}")
    return 0


def run_table(args: argparse.Namespace) -> int:
    print(gas.markdown_table(gas.read_snapshot(args.snapshot)), end="")
    return 0
