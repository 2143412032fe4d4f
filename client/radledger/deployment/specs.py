"""The contracts of a radledger deployment: the list :data:`CONTRACTS` of
:class:`~radledger.deployment.plan.ContractSpec`.

Each spec names an artifact, its constructor arguments (functions of the admin, the options and
the addresses of the contracts before it), the roles granted right after it is deployed (declared
here once: every way of deploying grants them from here), the setup-file sections it handles, its
wrapper and where its address is found. A later contract joins by appending a spec (and an
address field to :class:`radledger.deployment.addresses.Deployment`); deploying, resuming, dry
runs, manifests, verify-deployment, address resolution and ``Deployment.clients`` follow from
the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import errors
from radledger.chain.contract import ContractClient
from radledger.chain.errors import ConfigurationError
from radledger.deployment.plan import (
    CallStep,
    ContractSpec,
    DeployContext,
    RoleGrant,
    RoleStep,
    Step,
    fixed,
)
from radledger.deployment.setup_file import entry_address, entry_text
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.credentials.client import NO_MAXIMUM, CredentialRegistryClient
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.records.client import RecordRegistryClient

__all__ = ["CONTRACTS", "CORE_CONTRACTS", "spec_of"]


# --------------------------------------------------------------------- setup sections


def _custodian_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: custodians[{i}]"
        account = entry_address(entry, "account", what, optional={"gateway_url"})
        url = entry_text(entry, "gateway_url", what)
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"{what}.gateway_url: {url!r} must be an http(s) URL (the site's gateway)")
        steps.append(
            CallStep("RecordRegistry", "registerCustodian", (account, url), _custodian_check(account), account)
        )
    return steps


def _custodian_check(account: ChecksumAddress) -> Callable[[ContractClient], bool]:
    def registered(client: ContractClient) -> bool:
        assert isinstance(client, RecordRegistryClient)
        try:
            client.get_custodian(account)
        except errors.CustodianNotRegistered:
            return False
        return True

    return registered


def _emergency_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        account = entry_address(entry, "account", f"{source}: emergency_accounts[{i}]")
        steps.append(RoleStep("ConsentRegistry", "BREAK_GLASS_ROLE", account, fixed(account), prefix="setup"))
    return steps


def _schema_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: schemas[{i}]"
        unknown = set(entry) - {"name", "revocable", "max_validity_seconds", "label"}
        if unknown:
            raise ConfigurationError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")
        name = entry_text(entry, "name", what)
        revocable = entry.get("revocable", True)
        max_validity = entry.get("max_validity_seconds", NO_MAXIMUM)
        if not isinstance(revocable, bool):
            raise ConfigurationError(f"{what}.revocable: expected true or false")
        if not isinstance(max_validity, int) or not 0 < max_validity <= NO_MAXIMUM:
            raise ConfigurationError(f"{what}.max_validity_seconds: expected seconds between 1 and {NO_MAXIMUM}")
        steps.append(
            CallStep("CredentialRegistry", "registerSchema", (name, revocable, max_validity), _schema_known(name), name)
        )
    return steps


def _schema_known(name: str) -> Callable[[ContractClient], bool]:
    def known(client: ContractClient) -> bool:
        assert isinstance(client, CredentialRegistryClient)
        return client.schema_id_of(name) is not None

    return known


def _issuer_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    """Issuers authorized per schema, the schema named (its id is read when the step runs)."""
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: issuers[{i}]"
        issuer = entry_address(entry, "account", what, optional={"schema"})
        schema = entry_text(entry, "schema", what)

        def args(client: ContractClient, schema: str = schema, issuer: ChecksumAddress = issuer) -> tuple[Any, ...]:
            return (_schema_id(client, schema), issuer)

        def done(client: ContractClient, schema: str = schema, issuer: ChecksumAddress = issuer) -> bool:
            assert isinstance(client, CredentialRegistryClient)
            found = client.schema_id_of(schema)
            return found is not None and client.is_authorized_issuer(found, issuer)

        steps.append(
            CallStep(
                "CredentialRegistry", "authorizeIssuer", args, done, f"{schema}:{issuer}", shown=f"{schema!r}, {issuer}"
            )
        )
    return steps


def _schema_id(client: ContractClient, name: str) -> int:
    assert isinstance(client, CredentialRegistryClient)
    found = client.schema_id_of(name)
    if found is None:
        raise ConfigurationError(f"no credential schema named {name!r}: add it to [[schemas]] of the setup file")
    return found


def _payer_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        payer = entry_address(entry, "account", f"{source}: payers[{i}]")

        def registered(client: ContractClient, payer: ChecksumAddress = payer) -> bool:
            assert isinstance(client, PreauthRegistryClient)
            return client.is_payer(payer)

        steps.append(CallStep("PreauthRegistry", "registerPayer", (payer,), registered, payer))
    return steps


# ----------------------------------------------------------------------------- specs


def _admin_if_deployer(ctx: DeployContext) -> str | None:
    """The admin, when the deployer is the admin (an outside admin grants roles itself)."""
    return ctx.admin if ctx.admin == ctx.deployer else None


def _consent_checks(client: ContractClient, ctx: DeployContext) -> list[tuple[str, Any, Any]]:
    functions = client.contract.functions
    return [
        (
            "recordRegistry()",
            ctx.address("RecordRegistry"),
            Web3.to_checksum_address(functions.recordRegistry().call()),
        ),
        ("breakGlassDuration()", ctx.options.break_glass_seconds, int(functions.breakGlassDuration().call())),
    ]


def _preauth_checks(client: ContractClient, ctx: DeployContext) -> list[tuple[str, Any, Any]]:
    found = Web3.to_checksum_address(client.contract.functions.credentialRegistry().call())
    records = Web3.to_checksum_address(client.contract.functions.recordRegistry().call())
    return [
        ("credentialRegistry()", ctx.address("CredentialRegistry"), found),
        ("recordRegistry()", ctx.address("RecordRegistry"), records),
    ]


CONTRACTS: tuple[ContractSpec, ...] = (
    ContractSpec(
        name="RecordRegistry",
        address_field="record_registry",
        client_attr="records",
        address_env="RADLEDGER_RECORDS",
        client=RecordRegistryClient,
        constructor_args=lambda ctx: (ctx.admin,),
        roles=(RoleGrant("CUSTODIAN_REGISTRAR_ROLE", "admin", _admin_if_deployer),),
        setup={"custodians": _custodian_steps},
    ),
    ContractSpec(
        name="ConsentRegistry",
        address_field="consent_registry",
        client_attr="consent",
        address_env="RADLEDGER_CONSENT",
        client=ConsentRegistryClient,
        constructor_args=lambda ctx: (ctx.admin, ctx.address("RecordRegistry"), ctx.options.break_glass_seconds),
        setup={"emergency_accounts": _emergency_steps},
        checks=_consent_checks,
    ),
    ContractSpec(
        name="CredentialRegistry",
        address_field="credential_registry",
        client_attr="credentials",
        address_env="RADLEDGER_CREDENTIALS",
        client=CredentialRegistryClient,
        constructor_args=lambda ctx: (ctx.admin,),
        roles=(
            RoleGrant("SCHEMA_REGISTRAR_ROLE", "admin", _admin_if_deployer),
            RoleGrant("ISSUER_AUTHORIZER_ROLE", "admin", _admin_if_deployer),
        ),
        setup={"schemas": _schema_steps, "issuers": _issuer_steps},
    ),
    ContractSpec(
        name="PreauthRegistry",
        address_field="preauth_registry",
        client_attr="preauth",
        address_env="RADLEDGER_PREAUTH",
        client=PreauthRegistryClient,
        constructor_args=lambda ctx: (ctx.admin, ctx.address("CredentialRegistry"), ctx.address("RecordRegistry")),
        roles=(RoleGrant("PAYER_REGISTRAR_ROLE", "admin", _admin_if_deployer),),
        setup={"payers": _payer_steps},
        checks=_preauth_checks,
    ),
)
"""The contracts of a radledger deployment, in deployment order."""

CORE_CONTRACTS: tuple[ContractSpec, ...] = CONTRACTS[:2]
"""RecordRegistry and ConsentRegistry: what :func:`~radledger.deployment.deploy.deploy_core` deploys."""


def spec_of(name: str) -> ContractSpec:
    """The spec of contract `name` (an artifact name of :data:`CONTRACTS`)."""
    for spec in CONTRACTS:
        if spec.name == name:
            return spec
    raise ConfigurationError(f"{name} is not a contract of radledger (known: {', '.join(s.name for s in CONTRACTS)})")
