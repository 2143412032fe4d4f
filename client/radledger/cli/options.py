"""The argparse glue the commands share: parsers, the connection, signer, record and JSON options,
and turning parsed options into the library's inputs.

A contract's address comes from its option (--records, --consent, --credentials, --preauth), a
deployment manifest (--deployment PATH: deployments/<chainId>.json, or the folder, where the node's
chain picks the file), its environment variable (RADLEDGER_RECORDS, ...) or the manifest of
RADLEDGER_DEPLOYMENT, in that order: :func:`radledger.deployment.addresses.resolve_deployment`.

Keys and passwords never come from the command line: a key is read from an environment variable
(`--key-env NAME`, default RADLEDGER_PRIVATE_KEY) or from an encrypted keystore (`--keystore PATH`,
password from RADLEDGER_KEYSTORE_PASSWORD or a prompt): :func:`radledger.chain.signers.load_signer`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from radledger.chain import validation
from radledger.chain.connection import connect
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.chain.signers import KEYSTORE_PASSWORD_ENV, SIGNER_KEY_ENV, KeySigner, load_signer
from radledger.chain.transactions import node_errors
from radledger.deployment.addresses import DEPLOYMENT_ENV, Deployment, MissingContract, resolve_deployment
from radledger.deployment.session import RPC_URL_ENV, Session, open_session
from radledger.deployment.specs import CONTRACTS
from radledger.registries.consent.client import WILDCARD
from radledger.registries.records.client import read_site_salt, record_id

# ----------------------------------------------------------------------------- parsers


def add_parser(subparsers: Any, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand parser; option abbreviations are off so that no option is guessed."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=kwargs.pop("description", help), allow_abbrev=False, **kwargs
    )
    return parser


def add_group(subparsers: Any, name: str, help: str) -> Any:
    """A command group (`radledger consent ...`); returns the subparsers its actions go in."""
    parser = add_parser(subparsers, name, help)
    return parser.add_subparsers(required=True, metavar="ACTION")


def set_handler(parser: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]) -> None:
    """Run `handler` for this command; a node's refusal or a lost connection becomes a one-line
    ChainError, and a contract without an address says which option gives it."""

    def run(args: argparse.Namespace) -> int:
        try:
            with node_errors():
                return handler(args)
        except MissingContract as missing:
            option = _OPTION_OF.get(missing.contract)
            if option is None or not hasattr(args, option.dest):
                raise
            raise ConfigurationError(
                f"no {option.contract} address: pass {option.option} ADDRESS or set {option.env}, "
                f"or name a deployment manifest (--deployment PATH or ${DEPLOYMENT_ENV})"
            ) from None

    parser.set_defaults(handler=run)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


# ------------------------------------------------------------------ contract addresses


@dataclass(frozen=True)
class ContractOption:
    """How the command line names one contract's address: its option, its variable, its contract."""

    option: str
    env: str
    contract: str

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--") + "_address"


CONTRACT_OPTIONS: dict[str, ContractOption] = {
    spec.client_attr: ContractOption(f"--{spec.client_attr}", spec.address_env, spec.name) for spec in CONTRACTS
}
"""The contracts by their option's name (`records`), as add_connection_options takes them."""
_OPTION_OF = {option.contract: option for option in CONTRACT_OPTIONS.values()}


def add_connection_options(parser: argparse.ArgumentParser, *contracts: str, signer: bool = False) -> None:
    """--rpc-url, --deployment and the address options of `contracts` (keys of CONTRACT_OPTIONS);
    with `signer`, the signer's options too (a command that sends)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--rpc-url", metavar="URL", help=f"JSON-RPC endpoint, http(s) (default: ${RPC_URL_ENV})")
    group.add_argument(
        "--deployment",
        type=Path,
        metavar="PATH",
        help="deployment manifest (deployments/<chainId>.json), or its folder: the node's chain picks the file "
        f"(default: ${DEPLOYMENT_ENV})",
    )
    for name in contracts:
        spec = CONTRACT_OPTIONS[name]
        group.add_argument(
            spec.option, dest=spec.dest, metavar="ADDRESS", help=f"{spec.contract} (default: ${spec.env})"
        )
    if signer:
        add_signer_options(parser)


def contract_addresses(args: argparse.Namespace) -> dict[str, str | None]:
    """Contract name → the address its option gave (None when not given)."""
    return {option.contract: getattr(args, option.dest, None) for option in CONTRACT_OPTIONS.values()}


def deployment_option(args: argparse.Namespace) -> Path | None:
    """The deployment manifest (or folder of manifests) of --deployment, else $RADLEDGER_DEPLOYMENT."""
    given = getattr(args, "deployment", None) or os.environ.get(DEPLOYMENT_ENV) or None
    return None if given is None else Path(given)


def deployment_from(
    args: argparse.Namespace,
    chain_id: int | Callable[[], int] | None = None,
    default_manifest: Path | None = None,
) -> Deployment:
    """The deployment the options and the environment name (resolve_deployment)."""
    return resolve_deployment(
        contract_addresses(args),
        getattr(args, "deployment", None),
        chain_id=chain_id,
        environ=os.environ,
        default_manifest=default_manifest,
    )


def rpc_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "rpc_url", None) or os.environ.get(RPC_URL_ENV) or None


def node(args: argparse.Namespace) -> Web3:
    """A connection to the node of --rpc-url / $RADLEDGER_RPC_URL."""
    url = rpc_url(args)
    if url is None:
        raise ConfigurationError(f"no node: pass --rpc-url URL or set {RPC_URL_ENV}")
    return connect(url)


def session_for(args: argparse.Namespace, signer: bool = False) -> Session:
    """The node, the deployment on it and, if the command sends, its signer (open_session)."""
    key = signer_from(args) if signer else None
    return open_session(
        lambda: node(args),
        addresses=contract_addresses(args),
        manifest=getattr(args, "deployment", None),
        environ=os.environ,
        signer=key,
    )


# --------------------------------------------------------------------------- signers


def add_signer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("signer (a key is never accepted on the command line)")
    group.add_argument(
        "--key-env",
        metavar="NAME",
        default=SIGNER_KEY_ENV,
        help=f"name of the environment variable holding the private key (default: {SIGNER_KEY_ENV})",
    )
    group.add_argument(
        "--keystore",
        metavar="PATH",
        help=f"encrypted keystore file; password from ${KEYSTORE_PASSWORD_ENV} or a prompt",
    )


def signer_from(args: argparse.Namespace) -> KeySigner:
    """The signer --keystore or --key-env names."""
    return load_signer(getattr(args, "key_env", None), getattr(args, "keystore", None))


# --------------------------------------------------------------------------- records


def add_record_options(parser: argparse.ArgumentParser, wildcard: bool = False) -> None:
    """A record named by its id, or by a StudyInstanceUID and the site's salt file (computed here)."""
    group = parser.add_argument_group("record")
    group.add_argument(
        "--record-id",
        metavar="HEX|all" if wildcard else "HEX",
        help="the record id" + (" ('all': every record of the patient)" if wildcard else ""),
    )
    group.add_argument(
        "--uid",
        metavar="UID",
        help="StudyInstanceUID, with --salt-file: the id is computed locally, the UID never sent",
    )
    group.add_argument("--salt-file", metavar="PATH", type=Path, help="the site's salt file (radledger salt new)")
    group.add_argument(
        "--custodian",
        metavar="ADDRESS",
        help="with --uid: the site whose record it is (record ids are bound to their custodian; "
        "default for the site's own record commands: the sending site)",
    )


def record_from_args(args: argparse.Namespace, wildcard: bool = False, custodian: str | None = None) -> bytes:
    """The record id of --record-id, or of --uid with --salt-file and the custodian (--custodian, else
    `custodian`): record ids are bound to the site that registered them."""
    given = args.record_id
    if given is not None and (args.uid or args.salt_file):
        raise ValidationError("give either --record-id or --uid with --salt-file, not both")
    if given is not None:
        if wildcard and given.strip().lower() in {"all", "0", "0x0"}:
            return WILDCARD
        return validation.bytes32(given.strip(), "record id")
    if args.uid and args.salt_file:
        who = getattr(args, "custodian", None) or custodian
        if who is None:
            raise ValidationError(
                "--uid with --salt-file names a record of one site: give --custodian ADDRESS "
                "(record ids are bound to their custodian)"
            )
        return record_id(read_site_salt(args.salt_file), args.uid, who)
    if args.uid or args.salt_file:
        raise ValidationError("--uid and --salt-file go together: the record id is keccak256(salt, UID)")
    raise ValidationError(
        "no record: give --record-id" + (" (or 'all')" if wildcard else "") + ", or --uid with --salt-file"
    )
