"""Check slither's JSON report against the committed triage file (run by scripts/slither.sh).

Every finding of high or medium impact must be listed in slither-triage.toml with the reason
it is accepted; anything else fails. Triage entries that no longer match a finding are
reported (the code changed: remove them), and fail with --strict.

    python scripts/slither_triage.py REPORT.json slither-triage.toml [--strict]

Standard library only: it runs in slither's own virtualenv.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

GATED = ("High", "Medium")


def finding_key(result: dict[str, Any]) -> tuple[str, str, str]:
    """(check, contract, function or element) of a slither result: stable across line moves."""
    element = (result.get("elements") or [{}])[0]
    name = str(element.get("name", ""))
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if element.get("type") == "function":
        contract = str(parent.get("name", ""))
        name = str(element.get("type_specific_fields", {}).get("signature", name))
    elif element.get("type") == "contract":
        contract, name = name, ""
    else:
        grand = parent.get("type_specific_fields", {}).get("parent", {})
        contract = str(grand.get("name") or parent.get("name", ""))
    return str(result.get("check", "")), contract, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("triage", type=Path)
    parser.add_argument("--strict", action="store_true", help="stale triage entries fail too")
    args = parser.parse_args(argv)

    report = json.loads(args.report.read_text())
    if not report.get("success", False):
        print(f"slither failed: {report.get('error')}", file=sys.stderr)
        return 2
    results = report.get("results", {}).get("detectors", [])
    accepted = tomllib.loads(args.triage.read_text()).get("accepted", [])
    for entry in accepted:
        if not str(entry.get("reason", "")).strip():
            print(f"triage entry without a reason: {entry}", file=sys.stderr)
            return 2
    triaged = {(e["check"], e["contract"], e.get("function", "")) for e in accepted}

    counts: dict[str, int] = {}
    untriaged: list[dict[str, Any]] = []
    matched: set[tuple[str, str, str]] = set()
    for result in results:
        impact = str(result.get("impact"))
        counts[impact] = counts.get(impact, 0) + 1
        if impact not in GATED:
            continue
        key = finding_key(result)
        if key in triaged:
            matched.add(key)
        else:
            untriaged.append(result)

    summary = ", ".join(f"{n} {impact.lower()}" for impact, n in sorted(counts.items())) or "none"
    print(f"slither: {len(results)} finding(s) ({summary}); {len(matched)} high/medium accepted in {args.triage}")
    for result in untriaged:
        check, contract, function = finding_key(result)
        print(f"UNTRIAGED {result['impact']} {check} in {contract} {function}".rstrip(), file=sys.stderr)
        print("  " + str(result.get("description", "")).strip().replace("\n", "\n  "), file=sys.stderr)
    stale = sorted(triaged - matched)
    for check, contract, function in stale:
        print(f"stale triage entry (no such finding now): {check} {contract} {function}".rstrip(), file=sys.stderr)
    if untriaged:
        print(
            f"{len(untriaged)} high/medium finding(s) not triaged: fix them, or add them to {args.triage} "
            "with the reason they are accepted",
            file=sys.stderr,
        )
        return 1
    return 1 if stale and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
