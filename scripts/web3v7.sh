#!/usr/bin/env bash
# The client's test suite under web3 7.16 and eth-tester 0.13.0b1 (what brownie, ape and slither
# users have), in a virtualenv of its own and without brownie: brownie's pytest plugin takes over
# any run where brownie-config.yaml is present.
#
#   scripts/web3v7.sh [PYTEST ARGS...]
#
# WEB3V7_VENV (default .cache/venvs/web3v7) is created when missing; PYTHON (default python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${WEB3V7_VENV:-.cache/venvs/web3v7}"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import radledger" 2>/dev/null; then
    echo "web3v7.sh: creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[test]" -c requirements/web3v7.txt \
        2> >(grep -v '^WARNING: Location' >&2)
fi
"$venv/bin/python" -c "import web3, eth_tester; print(f'web3 {web3.__version__}, eth-tester {eth_tester.__version__}')"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
