#!/usr/bin/env bash
# The brownie path, offline, in brownie's own virtualenv (brownie 1.22 pins web3 7.16).
#
#   scripts/brownie.sh                  set up, `brownie compile`, `brownie run scripts/deploy.py`
#   scripts/brownie.sh compile          only compile
#   scripts/brownie.sh run ARGS...      any brownie command (e.g. run scripts/deploy.py --network NAME)
#
# - The virtualenv (BROWNIE_VENV, default .cache/venvs/brownie) is created from the pinned
#   requirements/brownie.txt, with radledger installed into it without dependencies.
# - No compiler is downloaded: SOLCX_BINARY_PATH points at .cache/solcx, where solc-v<version>
#   is a link to tools/solc-shim.cjs (the npm wasm solc that package.json pins).
# - brownie's development network launches `anvil` from node_modules/.bin (put first on PATH)
#   with a base fee of 0 on 127.0.0.1:8545; it stops it when the command ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${BROWNIE_VENV:-.cache/venvs/brownie}"
if [ ! -x "$venv/bin/brownie" ]; then
    echo "brownie.sh: creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements/brownie.txt 2> >(grep -v '^WARNING: Location' >&2)
fi
if ! "$venv/bin/python" -c "import radledger.deployment.specs" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e . 2> >(grep -v '^WARNING: Location' >&2)
fi

solc_version="$(node -p "require('./package.json').devDependencies.solc")"
mkdir -p .cache/solcx
ln -sfn "../../tools/solc-shim.cjs" ".cache/solcx/solc-v${solc_version}"
export SOLCX_BINARY_PATH="$PWD/.cache/solcx"
export PATH="$PWD/node_modules/.bin:$PATH"

if [ "$#" -gt 0 ]; then
    exec "$venv/bin/brownie" "$@"
fi
"$venv/bin/brownie" compile
"$venv/bin/brownie" run scripts/deploy.py
