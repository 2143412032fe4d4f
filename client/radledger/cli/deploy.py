"""Deploying and checking deployments.

    radledger networks [--networks FILE]
    radledger deploy --network NAME [--setup FILE] [--handoff-to ADDRESS] [--dry-run] [--fresh]
                     [--confirmations N] [--break-glass 24h] [--key-env NAME | --keystore PATH] [--json]
    radledger verify-deployment --network NAME [--deployment PATH] [--json]

The deployer's key comes from the environment variable the network names (default
RADLEDGER_DEPLOYER_KEY, or --key-env NAME) or from an encrypted keystore (--keystore PATH,
password from RADLEDGER_KEYSTORE_PASSWORD or a prompt); never from the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import Signer, UnlockedAccount
from radledger.cli.options import (
    add_json_option,
    add_parser,
    add_signer_options,
    deployment_option,
    set_handler,
    signer_from,
)
from radledger.cli.output import print_json
from radledger.deployment.addresses import DEPLOYMENT_ENV
from radledger.deployment.deploy import deploy, plan_deployment
from radledger.deployment.manifest import load_manifest, manifest_file, manifest_path
from radledger.deployment.networks import DEPLOYER_KEY_ENV, Network, get_network, load_networks, redact
from radledger.deployment.plan import DEFAULT_BREAK_GLASS_SECONDS
from radledger.deployment.setup_file import load_setup
from radledger.deployment.verification import verify_deployment
from radledger.registries.parsing import parse_duration

EXIT_MISMATCH = 3
"""`verify-deployment` exit status when a check fails."""


def register(subparsers: Any) -> None:
    p = add_parser(subparsers, "networks", "list the networks of networks.toml")
    _add_networks_option(p)
    set_handler(p, run_networks)

    p = add_parser(
        subparsers,
        "deploy",
        "deploy the contracts to a network, record deployments/<chainId>.json (resumes; idempotent)",
    )
    _add_networks_option(p)
    p.add_argument("--network", required=True, metavar="NAME", help="an entry of networks.toml")
    p.add_argument("--setup", type=Path, metavar="FILE", help="post-deploy setup (custodians, emergency accounts...)")
    p.add_argument("--handoff-to", metavar="ADDRESS", help="hand the admin role to this address (a multisig)")
    p.add_argument(
        "--break-glass",
        metavar="DURATION",
        type=parse_duration,
        default=DEFAULT_BREAK_GLASS_SECONDS,
        help="break-glass window, e.g. 24h (default 24h)",
    )
    p.add_argument("--confirmations", type=int, metavar="N", help="blocks to wait after each transaction")
    p.add_argument("--deployments-dir", type=Path, metavar="DIR", help="where manifests live (default: the network's)")
    p.add_argument("--fresh", action="store_true", help="deploy anew even if a matching deployment exists")
    p.add_argument("--dry-run", action="store_true", help="print each transaction with its gas and cost; send nothing")
    add_signer_options(p)
    p.set_defaults(key_env=None)  # the network's key_env unless given
    for action in p._actions:
        if action.dest == "key_env":
            action.help = "environment variable holding the deployer's key (default: the network's key_env, else "
            action.help += f"{DEPLOYER_KEY_ENV})"
    add_json_option(p)
    set_handler(p, run_deploy)

    p = add_parser(
        subparsers,
        "verify-deployment",
        "check deployed bytecode against the artifacts (immutables masked) and roles against the manifest",
    )
    _add_networks_option(p)
    p.add_argument("--network", required=True, metavar="NAME", help="an entry of networks.toml")
    p.add_argument(
        "--deployment",
        "--manifest",
        dest="deployment",
        type=Path,
        metavar="PATH",
        help=f"the manifest, or its folder (default: ${DEPLOYMENT_ENV}, else <deployments>/<chainId>.json)",
    )
    add_json_option(p)
    set_handler(p, run_verify)


def _add_networks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--networks", type=Path, metavar="FILE", help="networks file (default: $RADLEDGER_NETWORKS, ./networks.toml)"
    )


def run_networks(args: argparse.Namespace) -> int:
    for name, net in sorted(load_networks(args.networks).items()):
        if net.in_process:
            where = "in-process chain"
        else:
            where = f"chain {net.chain_id}, RPC from ${net.rpc_url_env}" if net.rpc_url_env else f"chain {net.chain_id}"
            if net.rpc_url:
                where += f" (default {redact(net.rpc_url)})"
        print(f"{name:16} {where}" + (f"  - {net.description}" if net.description else ""))
    return 0


def _signer(args: argparse.Namespace, network: Network, w3: Any) -> Signer:
    if network.in_process:
        return UnlockedAccount(w3.eth.accounts[0])
    if args.key_env is None:
        args.key_env = network.key_env
    return signer_from(args)


def run_deploy(args: argparse.Namespace) -> int:
    network = get_network(args.network, args.networks)
    setup = load_setup(args.setup) if args.setup else None
    w3 = network.connect()
    transactor = network.transactor(w3, _signer(args, network, w3), args.confirmations)
    chain_id = w3.eth.chain_id
    directory = args.deployments_dir or network.deployments_dir
    path = manifest_path(directory, chain_id) if network.persistent else None
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    common: dict[str, Any] = {
        "manifest_path": path,
        "network": network.name,
        "break_glass_seconds": args.break_glass,
        "handoff_to": args.handoff_to,
        "setup": setup,
        "fresh": args.fresh,
    }
    if args.dry_run:
        report = plan_deployment(transactor, **common)
        if args.json:
            print_json(report.to_json())
        else:
            for line in [f"network {network.name}", *report.lines()]:
                print(line)
        return 0
    log(f"deploying to {network.name} (chain {chain_id}) as {transactor.address}")
    result = deploy(transactor, log=log, **common)
    manifest = result.manifest
    if args.json:
        print_json(manifest.to_json())
        return 0
    if result.up_to_date:
        print("the deployment matches the manifest: nothing deployed (--fresh deploys anew)")
    for name, record in manifest.contracts.items():
        print(f"{name:20} {record.address}")
    print(f"manifest: {path}" if path else "in-process chain: nothing recorded (it ends with this process)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    network = get_network(args.network, args.networks)
    if network.in_process:
        raise ConfigurationError("an in-process chain ends with its process: there is no deployment to verify")
    w3 = network.connect()
    given = deployment_option(args)
    chain_id = int(w3.eth.chain_id)
    path = manifest_file(given, chain_id) if given else manifest_path(network.deployments_dir, chain_id)
    report = verify_deployment(w3, load_manifest(path))
    if args.json:
        print_json({"chainId": report.chain_id, "ok": report.ok, "checks": [c.to_json() for c in report.checks]})
    else:
        print(f"verifying {path} on {network.name} (chain {report.chain_id})")
        for check in report.checks:
            print(check.line())
        print("deployment verified" if report.ok else f"{len(report.failures)} check(s) failed")
    return 0 if report.ok else EXIT_MISMATCH
