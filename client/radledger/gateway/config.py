"""The gateway's configuration file (TOML). Secrets are never written in it.

Example (paths are relative to the file)::

    [gateway]
    public_url = "https://images.site-a.example/dicomweb"   # the audience of tokens; links point here
    listen_host = "127.0.0.1"
    listen_port = 8080
    state_dir = "state"                  # SQLite: study map, access log, used nonces
    cors_origins = ["https://viewer.site-a.example"]
    consent_cache_seconds = 5            # a revocation takes effect within this time
    verify_content = true                # refuse a study whose content no longer matches the chain
    verify_cache_seconds = 30           # each check re-reads the whole study from the PACS
    session_seconds = 900                # viewer sessions: at most 15 minutes
    rate_per_key = 50                    # requests a second per grantee key (bursts of 10 s worth)
    rate_per_address = 100               # requests a second per network address
    viewer_dir = "node_modules/@ohif/app/dist"   # the built OHIF viewer, served at /viewer/
    record_on_chain = true               # put served studies on the trail with recordAccess
    trail_window_seconds = 3600          # at most one recordAccess per grantee, study and purpose per window

    [upstream]
    url = "http://127.0.0.1:8042/dicom-web"
    username = "radledger-gateway"
    password_env = "RADLEDGER_UPSTREAM_PASSWORD"   # or password_file = "upstream.password"
    orthanc_url = "http://127.0.0.1:8042"          # Orthanc REST root, for stable-study events

    [chain]
    rpc_url = "https://rpc.example"
    manifest = "deployments/11155111.json"         # or records = "0x...", consent = "0x..."
    # from_block = 7000000                         # event readers' first block (default: ConsentRegistry's creation)

    [custodian]
    key_env = "RADLEDGER_PRIVATE_KEY"              # or keystore = "site.json" + password_env
    salt_file = "site.salt"
    patient_map = "patients.csv"                   # PatientID,address (for `gateway watch`)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.chain.signers import KEYSTORE_PASSWORD_ENV, KeySigner, load_signer
from radledger.gateway.upstream import UpstreamSettings
from radledger.registries.records.client import read_site_salt

_SECRET_NAMES = {"password", "private_key", "key", "secret", "salt"}
_SECTIONS = {"gateway", "upstream", "chain", "custodian"}
DEFAULT_VERIFY_CACHE_SECONDS = 30.0
"""How long a content check of a study stands (each one re-reads the whole study from the PACS)."""
DEFAULT_SESSION_SECONDS = 900.0
DEFAULT_RATE_PER_KEY = 50.0
DEFAULT_RATE_PER_ADDRESS = 100.0


@dataclass(frozen=True)
class GatewaySettings:
    public_url: str
    state_dir: Path
    upstream: UpstreamSettings
    rpc_url: str | None = None
    manifest: Path | None = None
    records_address: str | None = None
    consent_address: str | None = None
    from_block: int | None = None
    """Where the gateway's event readers start; None: at the deployment's start blocks."""
    key_env: str | None = None
    keystore: Path | None = None
    keystore_password_env: str = KEYSTORE_PASSWORD_ENV
    salt_file: Path | None = None
    patient_map: Path | None = None
    cors_origins: tuple[str, ...] = ()
    consent_cache_seconds: float = 5.0
    verify_content: bool = True
    verify_cache_seconds: float = DEFAULT_VERIFY_CACHE_SECONDS
    record_on_chain: bool = False
    trail_window_seconds: float = 3600.0
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    mount_path: str | None = None
    session_seconds: float = DEFAULT_SESSION_SECONDS
    rate_per_key: float = DEFAULT_RATE_PER_KEY
    """Requests a second per grantee key (0: no limit); bursts of ten seconds' worth."""
    rate_per_address: float = DEFAULT_RATE_PER_ADDRESS
    viewer_dir: Path | None = None
    """The built OHIF viewer (npm @ohif/app's dist/), served at /viewer/ when set."""
    source: Path | None = field(default=None, compare=False)

    @property
    def audience(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def path_prefix(self) -> str:
        """Where the app serves its routes: `mount_path`, else the path of the public URL."""
        prefix = self.mount_path if self.mount_path is not None else urlsplit(self.public_url).path
        return "/" + prefix.strip("/") if prefix.strip("/") else ""

    @property
    def sessions_path(self) -> Path:
        return self.state_dir / "sessions.sqlite"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "gateway.sqlite"

    @property
    def nonces_path(self) -> Path:
        return self.state_dir / "nonces.sqlite"

    def salt(self) -> bytes:
        if self.salt_file is None:
            raise ConfigurationError("no [custodian] salt_file in the gateway configuration")
        try:
            return read_site_salt(self.salt_file)
        except ValidationError as exc:
            raise ConfigurationError(str(exc)) from None

    def custodian_signer(self) -> KeySigner:
        """The custodian's key, from its keystore or its environment variable (never the file); a
        service never prompts for a password."""
        return load_signer(self.key_env, self.keystore, password_env=self.keystore_password_env, prompt=False)


def load_settings(path: Path | str, environ: dict[str, str] | None = None) -> GatewaySettings:
    """Read and check a gateway configuration file; secrets come from `environ` (os.environ)."""
    env = os.environ if environ is None else environ
    source = Path(path)
    try:
        doc = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read gateway configuration {source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"gateway configuration {source} is not valid TOML: {exc}") from None
    base = source.resolve().parent
    unknown = set(doc) - _SECTIONS
    if unknown:
        raise ConfigurationError(f"{source}: unknown section(s) {sorted(unknown)}; known: {sorted(_SECTIONS)}")
    for section, values in doc.items():
        inline = _SECRET_NAMES & set(values)
        if inline:
            raise ConfigurationError(
                f"{source}: [{section}] {sorted(inline)[0]} is a secret and never goes in the configuration; "
                "use password_env / password_file, key_env or keystore, salt_file"
            )
    gw, up, chain, cust = (dict(doc.get(s, {})) for s in ("gateway", "upstream", "chain", "custodian"))

    public_url = _required(gw, "public_url", "gateway", source)
    if not public_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{source}: [gateway] public_url must be an http(s) URL")
    upstream_url = _required(up, "url", "upstream", source)
    if not upstream_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{source}: [upstream] url must be an http(s) URL")

    password = None
    if "password_env" in up:
        password = env.get(str(up["password_env"]))
        if password is None:
            raise ConfigurationError(f"{source}: [upstream] password_env: ${up['password_env']} is not set")
    elif "password_file" in up:
        password = _read_secret_file(_path(base, up["password_file"]), "upstream password")

    records = chain.get("records")
    consent = chain.get("consent")
    cors = gw.get("cors_origins", [])
    if not isinstance(cors, list) or not all(isinstance(o, str) for o in cors):
        raise ConfigurationError(f"{source}: [gateway] cors_origins must be a list of origins")
    if _seconds(gw, "session_seconds", DEFAULT_SESSION_SECONDS, source) > DEFAULT_SESSION_SECONDS:
        raise ConfigurationError(
            f"{source}: [gateway] session_seconds: at most {DEFAULT_SESSION_SECONDS:.0f} (15 minutes)"
        )
    try:
        return GatewaySettings(
            public_url=public_url.rstrip("/"),
            state_dir=_path(base, gw.get("state_dir", "gateway-state")),
            upstream=UpstreamSettings(
                url=upstream_url.rstrip("/"),
                username=up.get("username"),
                password=password,
                timeout=float(up.get("timeout_seconds", 60)),
                orthanc_url=up.get("orthanc_url"),
            ),
            rpc_url=chain.get("rpc_url"),
            manifest=_path(base, chain["manifest"]) if "manifest" in chain else None,
            records_address=validation.nonzero_address(records, "[chain] records") if records else None,
            consent_address=validation.nonzero_address(consent, "[chain] consent") if consent else None,
            from_block=int(chain["from_block"]) if "from_block" in chain else None,
            key_env=cust.get("key_env"),
            keystore=_path(base, cust["keystore"]) if "keystore" in cust else None,
            keystore_password_env=str(cust.get("password_env", KEYSTORE_PASSWORD_ENV)),
            salt_file=_path(base, cust["salt_file"]) if "salt_file" in cust else None,
            patient_map=_path(base, cust["patient_map"]) if "patient_map" in cust else None,
            cors_origins=tuple(cors),
            consent_cache_seconds=_seconds(gw, "consent_cache_seconds", 5.0, source),
            verify_content=bool(gw.get("verify_content", True)),
            verify_cache_seconds=_seconds(gw, "verify_cache_seconds", DEFAULT_VERIFY_CACHE_SECONDS, source),
            record_on_chain=bool(gw.get("record_on_chain", False)),
            trail_window_seconds=_seconds(gw, "trail_window_seconds", 3600.0, source),
            listen_host=str(gw.get("listen_host", "127.0.0.1")),
            listen_port=int(gw.get("listen_port", 8080)),
            mount_path=gw.get("mount_path"),
            session_seconds=_seconds(gw, "session_seconds", DEFAULT_SESSION_SECONDS, source),
            rate_per_key=_seconds(gw, "rate_per_key", DEFAULT_RATE_PER_KEY, source),
            rate_per_address=_seconds(gw, "rate_per_address", DEFAULT_RATE_PER_ADDRESS, source),
            viewer_dir=_path(base, gw["viewer_dir"]) if "viewer_dir" in gw else None,
            source=source,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise ConfigurationError(f"{source}: {exc}") from None
        raise ConfigurationError(f"{source}: {exc}") from None


def _required(section: dict[str, Any], key: str, name: str, source: Path) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{source}: [{name}] {key} is required")
    return value.strip()


def _path(base: Path, value: Any) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def _seconds(section: dict[str, Any], key: str, default: float, source: Path) -> float:
    value = float(section.get(key, default))
    if value < 0:
        raise ConfigurationError(f"{source}: [gateway] {key} must not be negative")
    return value


def _read_secret_file(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} file {path}: {exc.strerror}") from None
