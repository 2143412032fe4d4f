"""`radledger compile [--check]`: the contracts into client/radledger/artifacts/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radledger.chain.artifact_dir import ARTIFACTS_DIR
from radledger.chain.compiler import stale_reasons, write_artifacts
from radledger.chain.errors import CompilerError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("compile", help="compile contracts/ into the package's artifacts")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current folder)")
    parser.add_argument("--out", type=Path, default=None, help="artifacts folder (default: the package's own)")
    parser.add_argument(
        "--check", action="store_true", help="compile and compare; exit 1 when the committed artifacts are stale"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    if not (root / "contracts").is_dir():
        raise CompilerError(f"{root} has no contracts/ folder: run from the project root or pass --root")
    out = args.out or _default_out(root)
    if args.check:
        reasons = stale_reasons(root, out)
        if reasons:
            raise CompilerError("artifacts are stale (run `radledger compile`):\n  " + "\n  ".join(reasons))
        print(f"artifacts in {out} match the sources")
        return 0
    for path in write_artifacts(root, out):
        print(f"wrote {path}")
    return 0


def _default_out(root: Path) -> Path:
    in_tree = root / "client" / "radledger" / "artifacts"
    return in_tree if in_tree.parent.is_dir() else ARTIFACTS_DIR
