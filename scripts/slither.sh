#!/usr/bin/env bash
# Static analysis of contracts/ with slither, in its own virtualenv (slither needs web3 < 8).
#
#   scripts/slither.sh            analyse; exit 1 on a high or medium finding not triaged in
#                                 slither-triage.toml (each accepted finding says why)
#   scripts/slither.sh --report   also print slither's full human-readable report
#
# The compiler is the npm solc (wasm) behind tools/solc-shim.cjs. crytic-compile's default
# `--combined-json` call does not work with it, so slither gets the project's own standard-JSON
# input (client/radledger/artifacts/standard-input.json: every source inlined, viaIR, the
# optimizer and EVM version of the real build), with the AST added to its output selection.
# Mocks and OpenZeppelin are compiled but not reported on.
#
# Environment: SLITHER_VENV (default .cache/venvs/slither) is created from
# requirements/slither.txt when missing; PYTHON (default python3) creates it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${SLITHER_VENV:-.cache/venvs/slither}"
if [ ! -x "$venv/bin/slither" ]; then
    echo "slither.sh: creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements/slither.txt 2> >(grep -v '^WARNING: Location' >&2)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" - "$work/input.json" <<'EOF'
import json, sys
doc = json.load(open("client/radledger/artifacts/standard-input.json"))
doc["settings"]["outputSelection"] = {
    "*": {"*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
}
json.dump(doc, open(sys.argv[1], "w"))
EOF

args=(
    "$work/input.json"
    --compile-force-framework solc-json
    --solc tools/solc-shim.cjs
    --filter-paths '@openzeppelin|contracts/mocks'
    --json "$work/report.json"
)
if [ "${1:-}" = "--report" ]; then
    "$venv/bin/slither" "${args[@]}" || true
else
    "$venv/bin/slither" "${args[@]}" > "$work/slither.log" 2>&1 || true
fi
if [ ! -s "$work/report.json" ]; then
    cat "$work/slither.log" >&2 2>/dev/null || true
    echo "slither.sh: slither produced no report" >&2
    exit 2
fi
"$venv/bin/python" scripts/slither_triage.py "$work/report.json" slither-triage.toml
