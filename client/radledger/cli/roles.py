"""Governance roles of RecordRegistry and ConsentRegistry.

radledger role grant BREAK_GLASS_ROLE ADDRESS                 (governance)
radledger role revoke CUSTODIAN_REGISTRAR_ROLE ADDRESS        (governance)
radledger role check ROLE ADDRESS [--contract records|consent]   (exit 0: holds, 3: does not)
"""

from __future__ import annotations

import argparse
from typing import Any

from radledger.chain import validation
from radledger.chain.errors import ValidationError
from radledger.cli.options import add_connection_options, add_group, add_parser, session_for, set_handler
from radledger.cli.output import print_tx

EXIT_NOT_HELD = 3
"""`role check` exit status when the account does not hold the role (0 when it does)."""

ROLE_CONTRACTS = {"BREAK_GLASS_ROLE": "consent", "CUSTODIAN_REGISTRAR_ROLE": "records"}
"""Which contract holds each role; DEFAULT_ADMIN_ROLE exists on both (--contract says which)."""


def register(subparsers: Any) -> None:
    actions = add_group(subparsers, "role", "governance roles (break-glass accounts, custodian registrars)")
    for name, help_text, handler in (
        ("grant", "governance grants a role (BREAK_GLASS_ROLE, CUSTODIAN_REGISTRAR_ROLE, ...)", role_grant),
        ("revoke", "governance revokes a role", role_revoke),
        ("check", "whether an account holds a role (exit 0: yes, 3: no)", role_check),
    ):
        p = add_parser(actions, name, help_text)
        p.add_argument("role", metavar="ROLE", help=", ".join([*ROLE_CONTRACTS, "DEFAULT_ADMIN_ROLE"]))
        p.add_argument("account", metavar="ADDRESS")
        p.add_argument("--contract", choices=["records", "consent"], help="the contract (default: the role's own)")
        add_connection_options(p, "records", "consent", signer=name != "check")
        set_handler(p, handler)


def _role_client(args: argparse.Namespace, signer: bool) -> tuple[Any, str]:
    role = args.role.strip().upper()
    contract = args.contract or ROLE_CONTRACTS.get(role)
    if contract is None:
        known = ", ".join(ROLE_CONTRACTS)
        raise ValidationError(f"role {args.role!r}: name the contract with --contract (known roles: {known})")
    conn = session_for(args, signer=signer)
    client = conn.records() if contract == "records" else conn.consent()
    return client, role


def role_grant(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=True)
    receipt = client.grant_role(role, args.account)
    print_tx(f"granted {role} on {client.CONTRACT_NAME} to {validation.address(args.account)}", receipt)
    return 0


def role_revoke(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=True)
    receipt = client.revoke_role(role, args.account)
    print_tx(f"revoked {role} on {client.CONTRACT_NAME} from {validation.address(args.account)}", receipt)
    return 0


def role_check(args: argparse.Namespace) -> int:
    client, role = _role_client(args, signer=False)
    holds = client.has_role(role, args.account)
    print(
        f"{validation.address(args.account)} {'holds' if holds else 'does not hold'} {role} on {client.CONTRACT_NAME}"
    )
    return 0 if holds else EXIT_NOT_HELD
