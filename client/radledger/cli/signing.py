"""The options of commands that sign a message into a file a site relays (`consent sign`,
`credential sign`): offline (--chain-id, the counters and the contract's address, no node) or
with a node that reads them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from radledger.chain.contract import SIGNATURE_LIFETIME, SigningContractClient
from radledger.chain.eip712 import Domain, SignedMessage
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.cli.options import (
    CONTRACT_OPTIONS,
    add_connection_options,
    deployment_from,
    rpc_url,
    session_for,
    signer_from,
)
from radledger.cli.output import show_time
from radledger.deployment.session import RPC_URL_ENV, Session, SigningSetup

DEFAULT_DEADLINE = f"{SIGNATURE_LIFETIME // 86400}d"
"""--deadline's default: the library's signature lifetime, in days."""

SignedFor = TypeVar("SignedFor", bound=SigningContractClient)


def add_signing_options(parser: argparse.ArgumentParser, contract: str, offline_title: str) -> Any:
    """The options of a command that signs a message into a file a site relays: --out, --deadline,
    the connection to `contract` and the signer. Returns the group of the offline options, holding
    --chain-id: the caller adds the counters the message commits to."""
    parser.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="where to write the signed message (JSON)"
    )
    parser.add_argument(
        "--deadline",
        default=DEFAULT_DEADLINE,
        metavar="WHEN",
        help=f"last moment a site may relay it (default: {DEFAULT_DEADLINE} from now)",
    )
    offline = parser.add_argument_group(offline_title)
    offline.add_argument("--chain-id", type=int, metavar="N", help="the chain the message is for")
    add_connection_options(parser, contract, signer=True)
    return offline


def signing_setup(
    args: argparse.Namespace,
    contract: str,
    counters: Mapping[str, int | None],
    required: Sequence[str],
    needs: str,
    client: Callable[[Session], SignedFor],
    offline_domain: Callable[[int, str], Domain],
) -> SigningSetup[SignedFor]:
    """Where a message is signed for, and the counters it commits to: given as options (offline:
    --chain-id, the counters and the contract's address, no node), else read from a node.

    `counters`: the offline options (any given means offline) by option name; `required`: those
    offline signing cannot do without; `needs`: how an error names what is needed."""
    signer = signer_from(args)
    if any(value is not None for value in counters.values()):
        if args.chain_id is None or any(counters[name] is None for name in required):
            raise ConfigurationError(f"offline signing needs {needs}")
        if getattr(args, "rpc_url", None):  # $RADLEDGER_RPC_URL alone does not stop offline signing
            raise ConfigurationError(f"give either --rpc-url or {'/'.join(counters)}, not both")
        for name, value in {"--chain-id": args.chain_id, **counters}.items():
            if value is not None and value < 0:
                raise ValidationError(f"{name}: {value} is negative")
        address = deployment_from(args, args.chain_id).require(CONTRACT_OPTIONS[contract].contract)
        return SigningSetup.offline(signer, offline_domain(args.chain_id, address))
    if rpc_url(args) is None:
        raise ConfigurationError(
            f"to sign offline give {needs}; otherwise give --rpc-url (or set {RPC_URL_ENV}) to read them from a node"
        )
    return SigningSetup.online(signer, client(session_for(args)), args.chain_id)


def save_signed(
    signed: SignedMessage, path: Path, summary: str, *, contract: str, counters: Sequence[str], relay_command: str
) -> int:
    """Write a signed message for `contract` and say what it commits to (its `counters` fields) and
    how a site relays it (`radledger <relay_command> FILE`)."""
    signed.save(path)
    m = signed.message
    committed = "".join(f"{name} {m[name]}, " for name in counters)
    print(summary)
    print(
        f"  chain {signed.domain.chain_id}, {CONTRACT_OPTIONS[contract].contract} {signed.domain.verifying_contract}, "
        f"{committed}relay before {show_time(int(m['deadline']))}"
    )
    print(f"wrote {path}: a site relays it with `radledger {relay_command} {path}`")
    return 0
