"""Deploy radledger: a thin script over :mod:`radledger.deployment`.

From a shell (the same as `radledger deploy`)::

    python scripts/deploy.py --network anvil [--setup setup.toml] [--dry-run] [--handoff-to 0x...]

From brownie (its own virtualenv; see docs/deploying.md)::

    brownie run scripts/deploy.py                      # the development network (anvil)
    brownie run scripts/deploy.py --network sepolia    # a live network brownie knows

Under brownie, `main()` deploys with brownie's connection: on a development network from its
first unlocked account, recording the manifest under build/ (the chain ends with brownie);
on a live network from RADLEDGER_DEPLOYER_KEY (or the keystore RADLEDGER_KEYSTORE, password
from RADLEDGER_KEYSTORE_PASSWORD or a prompt), recording deployments/<chainId>.json.
RADLEDGER_SETUP names a setup file, RADLEDGER_HANDOFF_TO a new admin.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _brownie_network() -> Any | None:
    """brownie's `network` module when this runs inside `brownie run` with a connection."""
    brownie = sys.modules.get("brownie")
    if brownie is None:
        return None
    network = brownie.network
    return network if network.is_connected() else None


def _brownie_signer(network: Any) -> Any:
    from brownie import accounts
    from brownie._config import CONFIG

    from radledger.chain.signers import UnlockedAccount, load_signer
    from radledger.deployment.networks import DEPLOYER_KEY_ENV

    if CONFIG.network_type == "development":
        return UnlockedAccount(accounts[0].address)
    return load_signer(DEPLOYER_KEY_ENV, os.environ.get("RADLEDGER_KEYSTORE") or None)


def deploy_with_brownie(network: Any) -> Any:
    """Deploy over brownie's connection with the library's deployment module."""
    from brownie import web3
    from brownie._config import CONFIG

    from radledger.chain.transactions import Transactor
    from radledger.deployment.deploy import deploy
    from radledger.deployment.manifest import manifest_path, standard_input_dir
    from radledger.deployment.setup_file import load_setup

    development = CONFIG.network_type == "development"
    transactor = Transactor(web3, _brownie_signer(network), poll_latency=0.05 if development else 0.5)
    folder = ROOT / ("build/radledger-deployments" if development else "deployments")
    path = manifest_path(folder, web3.eth.chain_id)
    if development:
        # brownie's development chain is new on every run: its last manifest describes nothing.
        path.unlink(missing_ok=True)
        shutil.rmtree(standard_input_dir(path), ignore_errors=True)
    setup = os.environ.get("RADLEDGER_SETUP")
    result = deploy(
        transactor,
        manifest_path=path,
        network=f"brownie:{network.show_active()}",
        setup=load_setup(setup) if setup else None,
        handoff_to=os.environ.get("RADLEDGER_HANDOFF_TO") or None,
        log=print,
    )
    for name, record in result.manifest.contracts.items():
        print(f"{name:20} {record.address}")
    print(f"manifest: {path}")
    return result


def main(argv: Sequence[str] | None = None) -> Any:
    """brownie's entry point (no arguments) and the command line's."""
    network = _brownie_network()
    if network is not None:
        return deploy_with_brownie(network)
    from radledger.cli import main as cli_main

    return cli_main(["deploy", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
