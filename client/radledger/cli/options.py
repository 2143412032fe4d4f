"""What the CLI commands share: connection and signer options, contract addresses, parsing of
times, durations, scopes, purposes and records, and the output of transactions.

A contract's address comes from its option (--records, --consent, --credentials, --preauth),
a deployment manifest given on the command line (--deployment PATH: deployments/<chainId>.json,
or the folder, where the node's chain picks the file), its environment variable
(RADLEDGER_RECORDS, ...), or the manifest of RADLEDGER_DEPLOYMENT, in that order
(resolve_contracts); a manifest's addresses bring their creation blocks, where event readers start.

Keys and passwords never come from the command line: a key is read from an environment
variable (`--key-env NAME`, default RADLEDGER_PRIVATE_KEY) or from an encrypted keystore
(`--keystore PATH`, password from RADLEDGER_KEYSTORE_PASSWORD or a prompt).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxReceipt

from radledger import validation
from radledger.chain import connect
from radledger.consent import WILDCARD, ConsentRegistryClient
from radledger.credentials import CredentialRegistryClient
from radledger.eip712 import Domain, SignedMessage
from radledger.errors import ConfigurationError, SignerError, ValidationError
from radledger.manifest import Manifest, load_deployment_manifest, manifest_file
from radledger.models import FOREVER, Purpose, RecordKind, Scope
from radledger.preauth import PreauthRegistryClient
from radledger.records import RecordRegistryClient, read_site_salt, record_id
from radledger.signers import KeySigner
from radledger.transactions import Transactor, node_errors

ENV_RPC_URL = "RADLEDGER_RPC_URL"
ENV_RECORDS = "RADLEDGER_RECORDS"
ENV_CONSENT = "RADLEDGER_CONSENT"
ENV_CREDENTIALS = "RADLEDGER_CREDENTIALS"
ENV_PREAUTH = "RADLEDGER_PREAUTH"
ENV_DEPLOYMENT = "RADLEDGER_DEPLOYMENT"
DEFAULT_KEY_ENV = "RADLEDGER_PRIVATE_KEY"
ENV_KEYSTORE_PASSWORD = "RADLEDGER_KEYSTORE_PASSWORD"

GROUP_HELP = {
    "salt": "a site's secret salt for record ids",
    "custodian": "imaging sites registered by governance",
    "record": "record ids and record pointers",
    "consent": "grant, revoke, check, sign offline and relay consents",
    "guardian": "guardians who act for a patient",
    "access": "the access trail (accounting of disclosures)",
    "role": "governance roles (break-glass accounts, custodian registrars)",
    "gateway": "the consent-gated DICOMweb gateway of an imaging site",
    "images": "retrieve consented studies through a site's gateway",
}

# ----------------------------------------------------------------------------- parsers


def add_parser(subparsers: Any, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand parser; option abbreviations are off so that no option is guessed."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=kwargs.pop("description", help), allow_abbrev=False, **kwargs
    )
    return parser


def command_group(subparsers: Any, name: str, help: str | None = None) -> Any:
    """The subcommands of group `name` (`radledger consent ...`), created by the first module that
    asks; `help` describes a group GROUP_HELP does not."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = add_parser(subparsers, name, help or GROUP_HELP[name])
        parser.set_defaults(radledger_group_actions=parser.add_subparsers(required=True, metavar="ACTION"))
    return parser.get_default("radledger_group_actions")


def set_handler(parser: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]) -> None:
    """Run `handler` for this command; a node's refusal or a lost connection becomes a one-line ChainError."""

    def run(args: argparse.Namespace) -> int:
        with node_errors():
            return handler(args)

    parser.set_defaults(handler=run)


def add_connection_options(parser: argparse.ArgumentParser, *contracts: str, signer: bool = False) -> None:
    """--rpc-url, --deployment and the address options of `contracts` (keys of CONTRACT_OPTIONS);
    with `signer`, the signer's options too (a command that sends)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--rpc-url", metavar="URL", help=f"JSON-RPC endpoint, http(s) (default: ${ENV_RPC_URL})")
    group.add_argument(
        "--deployment",
        type=Path,
        metavar="PATH",
        help="deployment manifest (deployments/<chainId>.json), or its folder: the node's chain picks the file "
        f"(default: ${ENV_DEPLOYMENT})",
    )
    for name in contracts:
        spec = CONTRACT_OPTIONS[name]
        group.add_argument(
            spec.option, dest=spec.dest, metavar="ADDRESS", help=f"{spec.contract} (default: ${spec.env})"
        )
    if signer:
        add_signer_options(parser)


def add_signer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("signer (a key is never accepted on the command line)")
    group.add_argument(
        "--key-env",
        metavar="NAME",
        default=DEFAULT_KEY_ENV,
        help=f"name of the environment variable holding the private key (default: {DEFAULT_KEY_ENV})",
    )
    group.add_argument(
        "--keystore",
        metavar="PATH",
        help=f"encrypted keystore file; password from ${ENV_KEYSTORE_PASSWORD} or a prompt",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


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


# ------------------------------------------------------------------ contract addresses


@dataclass(frozen=True)
class ContractOption:
    """How the command line names one contract's address: its option, its variable, its manifest entry."""

    option: str
    env: str
    contract: str

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--") + "_address"


CONTRACT_OPTIONS: dict[str, ContractOption] = {
    "records": ContractOption("--records", ENV_RECORDS, "RecordRegistry"),
    "consent": ContractOption("--consent", ENV_CONSENT, "ConsentRegistry"),
    "credentials": ContractOption("--credentials", ENV_CREDENTIALS, "CredentialRegistry"),
    "preauth": ContractOption("--preauth", ENV_PREAUTH, "PreauthRegistry"),
}
"""The four contracts by their option's name (`records`), as add_connection_options and resolve_contracts know them."""


@dataclass(frozen=True)
class ContractAddresses:
    """Where the contracts are (by CONTRACT_OPTIONS key); a missing one is an error only when a
    command needs it."""

    addresses: Mapping[str, ChecksumAddress] = field(default_factory=dict)
    start_blocks: Mapping[str, int] = field(default_factory=dict)
    """The block a contract's events start at, for the addresses a manifest gave (else 0)."""
    manifest: Manifest | None = None
    manifest_path: Path | None = None
    """The deployment manifest consulted, if any, and its file."""

    @property
    def records(self) -> ChecksumAddress | None:
        return self.addresses.get("records")

    @property
    def consent(self) -> ChecksumAddress | None:
        return self.addresses.get("consent")

    def require(self, name: str) -> ChecksumAddress:
        found = self.addresses.get(name)
        if found is None:
            spec = CONTRACT_OPTIONS[name]
            raise ConfigurationError(
                f"no {spec.contract} address: pass {spec.option} ADDRESS or set {spec.env}, "
                f"or name a deployment manifest (--deployment PATH or ${ENV_DEPLOYMENT})"
            )
        return found

    def start_block(self, name: str) -> int:
        return self.start_blocks.get(name, 0)

    def by_contract(self) -> tuple[dict[str, ChecksumAddress], dict[str, int]]:
        """Contract name (`RecordRegistry`) → address, and → start block, for every contract found."""
        names = {key: CONTRACT_OPTIONS[key].contract for key in self.addresses}
        return (
            {names[key]: address for key, address in self.addresses.items()},
            {names[key]: block for key, block in self.start_blocks.items()},
        )


def deployment_option(args: argparse.Namespace) -> Path | None:
    """The deployment manifest (or folder of manifests) of --deployment, else $RADLEDGER_DEPLOYMENT."""
    given = getattr(args, "deployment", None) or os.environ.get(ENV_DEPLOYMENT) or None
    return None if given is None else Path(given)


def resolve_contracts(
    args: argparse.Namespace,
    chain_id: int | Callable[[], int] | None = None,
    default_manifest: Path | None = None,
) -> ContractAddresses:
    """The contract addresses for a command: the one place they are resolved.

    Each contract's address comes from, in order: its option (`--consent`), the --deployment
    manifest, its environment variable ($RADLEDGER_CONSENT), the $RADLEDGER_DEPLOYMENT manifest
    (the command line before the environment; a single address before a manifest), and last
    `default_manifest` if that file exists. A manifest folder needs the chain id (`chain_id`, or a
    function asking the node); a manifest of another chain than `chain_id` is refused.
    """
    on_command_line = bool(getattr(args, "deployment", None))
    source = deployment_option(args)
    if source is None and default_manifest is not None and default_manifest.is_file():
        source = default_manifest
    manifest = path = None
    if source is not None:
        known = chain_id() if callable(chain_id) else chain_id
        path = manifest_file(source, known)
        manifest = load_deployment_manifest(path, known)
    addresses: dict[str, ChecksumAddress] = {}
    start_blocks: dict[str, int] = {}
    for name, spec in CONTRACT_OPTIONS.items():
        listed = manifest is not None and spec.contract in manifest.contracts
        given = getattr(args, spec.dest, None) or None
        if given is None and not (listed and on_command_line):
            given = os.environ.get(spec.env) or None
        if given is not None:
            addresses[name] = validation.nonzero_address(given.strip(), f"{spec.contract} address")
        elif manifest is not None and listed:
            addresses[name] = manifest.address_of(spec.contract)
            start_blocks[name] = manifest.start_block(spec.contract)
    return ContractAddresses(addresses, start_blocks, manifest, path)


def rpc_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "rpc_url", None) or os.environ.get(ENV_RPC_URL) or None


# --------------------------------------------------------------------------- signers

_KEY_LIKE = re.compile(r"^(0[xX])?[0-9a-fA-F]{32,}$")


def _looks_like_key(text: str) -> bool:
    return bool(_KEY_LIKE.match(text.strip()))


def load_signer(args: argparse.Namespace) -> KeySigner:
    """The signer named by --keystore or --key-env; refuses (without echoing it) a key typed as an option."""
    keystore = getattr(args, "keystore", None)
    if keystore:
        path = Path(keystore)
        if not path.is_file():
            if _looks_like_key(str(keystore)):
                raise SignerError("--keystore takes the path of a keystore file: a key is never accepted as an option")
            raise SignerError(f"keystore {path} does not exist")
        password = os.environ.get(ENV_KEYSTORE_PASSWORD)
        if password is None:
            try:
                password = getpass.getpass(f"password for {path}: ")
            except (EOFError, OSError) as exc:
                raise SignerError(f"no password for {path}: set {ENV_KEYSTORE_PASSWORD} or run interactively") from exc
        return KeySigner.from_keystore(path, password)
    variable = getattr(args, "key_env", None) or DEFAULT_KEY_ENV
    if _looks_like_key(variable):
        raise SignerError(
            "--key-env takes the NAME of an environment variable holding the key, not the key: "
            "a key is never accepted as an option"
        )
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise SignerError("--key-env: not an environment variable name")
    return KeySigner.from_env(variable)


# ------------------------------------------------------------------------ connection


@dataclass
class Connection:
    """A node, the contract addresses and (for commands that send) a transactor."""

    w3: Web3
    contracts: ContractAddresses
    transactor: Transactor | None = None
    _records_address: ChecksumAddress | None = field(default=None, repr=False)

    def consent(self) -> ConsentRegistryClient:
        return ConsentRegistryClient(**self._client_args("consent"))

    def records(self) -> RecordRegistryClient:
        """RecordRegistry: its own address, else the one the ConsentRegistry reads."""
        address = self.contracts.records or self._records_address
        if address is None:
            if self.contracts.consent is None:
                self.contracts.require("records")
            address = self._records_address = Web3.to_checksum_address(
                self.consent().contract.functions.recordRegistry().call()
            )
        return RecordRegistryClient(**self._client_args("records", address))

    def credentials(self) -> CredentialRegistryClient:
        return CredentialRegistryClient(**self._client_args("credentials"))

    def preauth(self) -> PreauthRegistryClient:
        return PreauthRegistryClient(**self._client_args("preauth"))

    def _client_args(self, name: str, address: ChecksumAddress | None = None) -> dict[str, Any]:
        return {
            "w3": self.w3,
            "address": address or self.contracts.require(name),
            "transactor": self.transactor,
            "start_block": self.contracts.start_block(name),
        }

    def now(self) -> int:
        """The chain's time (the latest block's timestamp)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    @property
    def sender(self) -> ChecksumAddress:
        if self.transactor is None:  # pragma: no cover - commands that send always ask for a signer
            raise SignerError("this command has no signer")
        return self.transactor.address


def open_connection(args: argparse.Namespace, signer: bool = False) -> Connection:
    """Connect to the node of --rpc-url / $RADLEDGER_RPC_URL, with the command's signer if it sends.

    The contract addresses are resolved (resolve_contracts) before the node is asked anything,
    unless a folder of manifests needs the node's chain id; a manifest of another chain is refused.
    """
    key = load_signer(args) if signer else None
    node: list[Web3] = []

    def w3() -> Web3:
        if not node:
            url = rpc_url(args)
            if url is None:
                raise ConfigurationError(f"no node: pass --rpc-url URL or set {ENV_RPC_URL}")
            node.append(connect(url))
        return node[0]

    contracts = resolve_contracts(args, chain_id=lambda: int(w3().eth.chain_id))
    if contracts.manifest is not None:
        chain_id = int(w3().eth.chain_id)
        if contracts.manifest.chain_id != chain_id:
            raise ConfigurationError(
                f"the deployment manifest is for chain {contracts.manifest.chain_id}; the node is chain {chain_id}"
            )
    return Connection(w3(), contracts, Transactor(w3(), key) if key is not None else None)


# ------------------------------------------------------------------- offline signing

DEFAULT_SIGNATURE_LIFETIME = "1d"

SignedFor = TypeVar("SignedFor", ConsentRegistryClient, CredentialRegistryClient)


def add_signing_options(parser: argparse.ArgumentParser, contract: str, offline_title: str) -> Any:
    """The options of a command that signs a message into a file a site relays: --out, --deadline,
    the connection to `contract` and the signer. Returns the group of the offline options, holding
    --chain-id: the caller adds the counters the message commits to."""
    parser.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="where to write the signed message (JSON)"
    )
    parser.add_argument(
        "--deadline",
        default=DEFAULT_SIGNATURE_LIFETIME,
        metavar="WHEN",
        help=f"last moment a site may relay it (default: {DEFAULT_SIGNATURE_LIFETIME} from now)",
    )
    offline = parser.add_argument_group(offline_title)
    offline.add_argument("--chain-id", type=int, metavar="N", help="the chain the message is for")
    add_connection_options(parser, contract, signer=True)
    return offline


class SigningContext(Generic[SignedFor]):
    """Where a message is signed for, and the counters it commits to: given as options (offline:
    --chain-id, the counters and the contract's address, no node), else read from a node."""

    def __init__(
        self,
        args: argparse.Namespace,
        contract: str,
        counters: Mapping[str, int | None],
        required: Sequence[str],
        needs: str,
        client: Callable[[Connection], SignedFor],
        offline_domain: Callable[[int, str], Domain],
    ) -> None:
        """`counters`: the offline options (any given means offline) by option name; `required`:
        those offline signing cannot do without; `needs`: how an error names what is needed."""
        self.signer: KeySigner = load_signer(args)
        self.client: SignedFor | None = None
        if any(value is not None for value in counters.values()):
            if args.chain_id is None or any(counters[name] is None for name in required):
                raise ConfigurationError(f"offline signing needs {needs}")
            if getattr(args, "rpc_url", None):  # $RADLEDGER_RPC_URL alone does not stop offline signing
                raise ConfigurationError(f"give either --rpc-url or {'/'.join(counters)}, not both")
            for name, value in {"--chain-id": args.chain_id, **counters}.items():
                if value is not None and value < 0:
                    raise ValidationError(f"{name}: {value} is negative")
            address = resolve_contracts(args, args.chain_id).require(contract)
            self.domain = offline_domain(args.chain_id, address)
            self.now = wall_clock()
            return
        if rpc_url(args) is None:
            raise ConfigurationError(
                f"to sign offline give {needs}; otherwise give --rpc-url (or set {ENV_RPC_URL}) to read them "
                "from a node"
            )
        conn = open_connection(args)
        if args.chain_id is not None and conn.w3.eth.chain_id != args.chain_id:
            raise ConfigurationError(f"the node is chain {conn.w3.eth.chain_id}, not --chain-id {args.chain_id}")
        self.client = client(conn)
        self.domain = self.client.domain()
        self.now = conn.now()

    def deadline(self, text: str) -> int:
        return validation.deadline(parse_when(text, self.now, "--deadline"), self.now)


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


# --------------------------------------------------------------------- value parsing

_DURATION = re.compile(r"^(\d+)\s*([smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_NEVER = {"never", "forever"}


def parse_duration(text: str) -> int:
    """Seconds from `30d`, `12h`, `90m`, `45s`, `2w` or `1y` (365 days)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValidationError(f"duration {text!r} is not a number with a unit s, m, h, d, w or y (e.g. 30d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str, now: int, what: str) -> int:
    """A unix timestamp from an ISO date or time (UTC unless it says otherwise), unix seconds,
    a duration from `now` (`30d`), or `never`."""
    value = text.strip()
    if value.lower() in _NEVER:
        return FOREVER
    if _DURATION.match(value.lower()):
        return now + parse_duration(value)
    if value.isdigit():
        return validation.timestamp(int(value), what)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{what}: {text!r} is not a time (an ISO date like 2030-04-01, unix seconds, or a duration like 30d)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return validation.timestamp(int(parsed.timestamp()), what)


def wall_clock() -> int:
    return int(time.time())


_SCOPE_NAMES = {
    "images": Scope.IMAGES,
    "reports": Scope.REPORTS,
    "safety-profile": Scope.SAFETY_PROFILE,
    "safety": Scope.SAFETY_PROFILE,
    "all": Scope.ALL,
}
_PURPOSE_NAMES = {**{p.name.lower(): p for p in Purpose if p.name}, "all": Purpose.ALL}


def _parse_names(text: str, names: dict[str, Any], what: str) -> int:
    value = 0
    for part in text.split(","):
        key = part.strip().lower().replace("_", "-")
        if key not in names:
            known = ", ".join(n for n in names if n != "safety")
            raise ValidationError(f"{what}: {part.strip()!r} is not one of {known}")
        value |= int(names[key])
    if not value:
        raise ValidationError(f"{what}: none given")
    return value


def parse_scopes(text: str) -> Scope:
    """`images,reports` → Scope; names: images, reports, safety-profile, all."""
    return validation.scopes(_parse_names(text, _SCOPE_NAMES, "scopes"))


def parse_purposes(text: str, single: bool = False) -> Purpose:
    """`TREAT,HRESCH` → Purpose; HL7 PurposeOfUse names, or all."""
    return validation.purposes(_parse_names(text, _PURPOSE_NAMES, "purposes"), single=single)


_KIND_NAMES = {
    "study": RecordKind.IMAGING_STUDY,
    "imaging-study": RecordKind.IMAGING_STUDY,
    "report": RecordKind.REPORT,
    "safety-profile": RecordKind.SAFETY_PROFILE,
    "credential-file": RecordKind.CREDENTIAL_FILE,
}


def parse_kind(text: str) -> RecordKind:
    key = text.strip().lower().replace("_", "-")
    if key not in _KIND_NAMES:
        raise ValidationError(f"record kind {text!r} is not one of study, report, safety-profile, credential-file")
    return _KIND_NAMES[key]


def names_of(flags: Scope | Purpose) -> list[str]:
    """The single-bit members of a flag value, by name (`IMAGES`, `REPORTS`)."""
    return [m.name or "" for m in type(flags) if int(m) & int(flags)]


# --------------------------------------------------------------------------- records


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


# ---------------------------------------------------------------------------- output


def hex0x(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def show_record_id(value: bytes) -> str:
    return "all records" if value == WILDCARD else hex0x(value)


def show_time(timestamp: int) -> str:
    if timestamp >= FOREVER:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def show_window(valid_from: int, valid_until: int) -> str:
    if valid_from == 0:
        return f"valid until {show_time(valid_until)}"
    return f"valid from {show_time(valid_from)} until {show_time(valid_until)}"


def print_tx(summary: str, receipt: TxReceipt) -> None:
    print(summary)
    print(f"  tx {receipt['transactionHash'].to_0x_hex()}  block {receipt['blockNumber']}  gas {receipt['gasUsed']:,}")


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True))
