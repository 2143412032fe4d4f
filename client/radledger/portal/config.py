"""The patient portal's configuration file (TOML). Secrets are never written in it.

Example (paths are relative to the file)::

    [portal]
    site_name = "Example Imaging Centre"
    listen_host = "127.0.0.1"
    listen_port = 8090
    state_dir = "portal-state"              # SQLite: event index, relayed submissions
    allow_any_patient = false               # relay only for patients of a record at this site
    signature_lifetime_seconds = 600        # the deadline the page asks the wallet to sign
    patient_requests_per_minute = 10
    ip_requests_per_minute = 30

    [chain]
    rpc_url = "https://rpc.example"
    manifest = "deployments/11155111.json"  # or records = "0x...", consent = "0x..."

    [relayer]
    key_env = "RADLEDGER_RELAYER_KEY"       # or keystore = "relayer.json" + password_env

    [site]
    custodians = ["0x..."]                  # whose records make a patient "a patient here" (default: the relayer)

    [[directory]]                           # grantees a patient can pick (custodians are added from the chain)
    name = "Northside Teleradiology"
    kind = "teleradiology group"
    address = "0x..."
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.chain.signers import KeySigner

DEFAULT_KEY_ENV = "RADLEDGER_RELAYER_KEY"
DEFAULT_KEYSTORE_PASSWORD_ENV = "RADLEDGER_KEYSTORE_PASSWORD"
_SECRET_NAMES = {"password", "private_key", "key", "secret", "mnemonic"}
_SECTIONS = {"portal", "chain", "relayer", "site", "directory"}


@dataclass(frozen=True)
class DirectoryEntry:
    """A grantee a patient can pick by name: an organisation the site knows."""

    name: str
    address: ChecksumAddress
    kind: str = "organisation"

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address, "kind": self.kind}


@dataclass(frozen=True)
class PortalSettings:
    state_dir: Path
    site_name: str = "this imaging site"
    rpc_url: str | None = None
    manifest: Path | None = None
    records_address: ChecksumAddress | None = None
    consent_address: ChecksumAddress | None = None
    from_block: int = 0
    key_env: str = DEFAULT_KEY_ENV
    keystore: Path | None = None
    keystore_password_env: str = DEFAULT_KEYSTORE_PASSWORD_ENV
    custodians: tuple[ChecksumAddress, ...] = ()
    directory: tuple[DirectoryEntry, ...] = ()
    allow_any_patient: bool = False
    signature_lifetime_seconds: int = 600
    patient_requests_per_minute: int = 10
    ip_requests_per_minute: int = 30
    listen_host: str = "127.0.0.1"
    listen_port: int = 8090
    source: Path | None = field(default=None, compare=False)

    @property
    def index_path(self) -> Path:
        return self.state_dir / "portal-index.sqlite"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "portal.sqlite"

    def relayer_signer(self) -> KeySigner:
        """The site's key that sends (and pays for) relayed consents: its keystore, or its environment variable."""
        if self.keystore is not None:
            password = os.environ.get(self.keystore_password_env)
            if password is None:
                raise ConfigurationError(f"keystore {self.keystore}: set ${self.keystore_password_env}")
            return KeySigner.from_keystore(self.keystore, password)
        return KeySigner.from_env(self.key_env)


def load_settings(path: Path | str) -> PortalSettings:
    """Read and check a portal configuration file."""
    source = Path(path)
    try:
        doc = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read portal configuration {source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"portal configuration {source} is not valid TOML: {exc}") from None
    unknown = set(doc) - _SECTIONS
    if unknown:
        raise ConfigurationError(f"{source}: unknown section(s) {sorted(unknown)}; known: {sorted(_SECTIONS)}")
    for section in ("portal", "chain", "relayer", "site"):
        inline = _SECRET_NAMES & set(doc.get(section, {}))
        if inline:
            raise ConfigurationError(
                f"{source}: [{section}] {sorted(inline)[0]} is a secret and never goes in the configuration; "
                "use key_env, or keystore with password_env"
            )
    base = source.resolve().parent
    portal, chain, relayer, site = (dict(doc.get(s, {})) for s in ("portal", "chain", "relayer", "site"))
    entries = doc.get("directory", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: [[directory]] must be an array of tables")
    try:
        return PortalSettings(
            state_dir=_path(base, portal.get("state_dir", "portal-state")),
            site_name=str(portal.get("site_name", "this imaging site")),
            rpc_url=chain.get("rpc_url"),
            manifest=_path(base, chain["manifest"]) if "manifest" in chain else None,
            records_address=validation.nonzero_address(chain["records"], "[chain] records")
            if "records" in chain
            else None,
            consent_address=validation.nonzero_address(chain["consent"], "[chain] consent")
            if "consent" in chain
            else None,
            from_block=int(chain.get("from_block", 0)),
            key_env=str(relayer.get("key_env", DEFAULT_KEY_ENV)),
            keystore=_path(base, relayer["keystore"]) if "keystore" in relayer else None,
            keystore_password_env=str(relayer.get("password_env", DEFAULT_KEYSTORE_PASSWORD_ENV)),
            custodians=tuple(
                validation.nonzero_address(a, f"[site] custodians[{i}]")
                for i, a in enumerate(site.get("custodians", []))
            ),
            directory=tuple(_entry(e, i) for i, e in enumerate(entries)),
            allow_any_patient=_bool(portal, "allow_any_patient", False),
            signature_lifetime_seconds=_positive(portal, "signature_lifetime_seconds", 600),
            patient_requests_per_minute=_positive(portal, "patient_requests_per_minute", 10),
            ip_requests_per_minute=_positive(portal, "ip_requests_per_minute", 30),
            listen_host=str(portal.get("listen_host", "127.0.0.1")),
            listen_port=int(portal.get("listen_port", 8090)),
            source=source,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError | ConfigurationError):
            raise ConfigurationError(f"{source}: {exc}") from None
        raise ConfigurationError(f"{source}: {exc}") from None


def _entry(entry: Any, i: int) -> DirectoryEntry:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"[[directory]] {i}: expected a table with name and address")
    unknown = set(entry) - {"name", "address", "kind"}
    if unknown:
        raise ConfigurationError(f"[[directory]] {i}: unknown key(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"[[directory]] {i}: name is required")
    address = validation.nonzero_address(entry.get("address"), f"[[directory]] {i} address")
    return DirectoryEntry(name.strip(), address, str(entry.get("kind", "organisation")))


def _path(base: Path, value: Any) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def _bool(section: dict[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"[portal] {key}: expected true or false")
    return value


def _positive(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"[portal] {key}: expected a positive whole number")
    return value
