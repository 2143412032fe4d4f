"""Viewer sessions: a requester signs in once and gets a short session (at most 15 minutes).

A per-request token (gateway/tokens.py) needs one signature per request, which a browser viewer
fetching hundreds of frames cannot ask of a wallet. A session replaces it for a short while:

- The requester signs one login, bound to the gateway (audience), the deployment (domain), a
  purpose, an issue time, an expiry at most 5 minutes ahead and a one-time nonce, either as the
  EIP-712 message ``GatewayLogin`` (``eth_signTypedData_v4``) or as a Sign-In with Ethereum
  message (EIP-4361, ``personal_sign``) whose resources name the purpose and the ConsentRegistry.
  Smart-contract wallets sign through ERC-1271.
- ``POST <public URL>/session`` checks it exactly as a token is checked (the nonce is spent only
  after everything else passed) and answers a session: a random bearer token (``rls1.`` + 32
  random bytes) and the same value as an ``HttpOnly; Secure; SameSite=Strict`` cookie, bound to
  the grantee, the audience and the purpose, valid for `session_seconds` (at most 900).
- Renewal is a new login. Every request made with the session is still checked per study
  against ConsentRegistry through the consent cache: a session proves who asks, never what
  they may see.

Sessions are kept in SQLite (only a SHA-256 of the token is stored), with an in-memory copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eth_account.messages import encode_defunct, encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3

from radledger.chain import validation
from radledger.chain.eip712 import GATEWAY_DOMAIN_NAME, Domain, SignedMessage, sign, typed_data
from radledger.chain.errors import ValidationError
from radledger.chain.signers import Signer
from radledger.gateway.errors import (
    LoginMalformed,
    LoginNotYetValid,
    SessionExpired,
    SessionUnknown,
    TokenAudienceMismatch,
    TokenExpired,
    TokenLifetimeTooLong,
    TokenReplayed,
    TokenWrongDomain,
)
from radledger.gateway.sqlite import Database
from radledger.gateway.tokens import CLOCK_SKEW, MAX_LIFETIME, NonceStore, check_signature, normalize_audience
from radledger.registries.common import Purpose

LOGIN_TYPE = "GatewayLogin"
SESSION_MAX_SECONDS = 900
"""A session lasts at most 15 minutes; renewing it takes a new login."""
SESSION_COOKIE = "radledger_session"
SESSION_PREFIX = "rls1."
PURPOSE_RESOURCE = "urn:radledger:purpose:"
CONSENT_RESOURCE = "urn:radledger:consent:"
SIWE_HEADER = " wants you to sign in with your Ethereum account:"
MAX_LOGIN_LENGTH = 8192


@dataclass(frozen=True)
class Login:
    """A checked sign-in (before its nonce is spent)."""

    grantee: ChecksumAddress
    purpose: Purpose
    audience: str
    issued_at: int
    expiry: int
    nonce: bytes
    kind: str
    """"eip712" or "eip4361"."""


@dataclass(frozen=True)
class Session:
    token: str = field(repr=False)
    grantee: ChecksumAddress
    purpose: Purpose
    audience: str
    created_at: int
    expires_at: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.token,
            "grantee": self.grantee,
            "purpose": self.purpose.name,
            "audience": self.audience,
            "expiresAt": self.expires_at,
        }


def is_session_token(token: str) -> bool:
    return token.strip().startswith(SESSION_PREFIX)


# ------------------------------------------------------------------------------ signing


def login_message(
    grantee: str, audience: str, purpose: int, issued_at: int, expiry: int, nonce: bytes
) -> dict[str, Any]:
    return {
        "grantee": validation.nonzero_address(grantee, "grantee"),
        "audience": normalize_audience(audience),
        "purpose": int(Purpose.checked(purpose, single=True)),
        "issuedAt": int(issued_at),
        "expiry": int(expiry),
        "nonce": validation.bytes32(nonce, "nonce"),
    }


def sign_login(
    signer: Signer, domain: Domain, audience: str, purpose: int, lifetime: int = 60, now: int | None = None
) -> SignedMessage:
    """The EIP-712 GatewayLogin a requester posts to ``/session``."""
    issued = int(time.time()) if now is None else now
    message = login_message(signer.address, audience, purpose, issued, issued + lifetime, secrets.token_bytes(32))
    return sign(signer, domain, LOGIN_TYPE, message)


def siwe_message(
    grantee: str, audience: str, domain: Domain, purpose: int, issued_at: int, expiry: int, nonce: str,
    statement: str = "Sign in to view the imaging studies shared with you.",
) -> str:  # fmt: skip
    """The EIP-4361 text a wallet signs with ``personal_sign`` for this gateway."""
    purpose_name = Purpose.checked(purpose, single=True).name
    lines = [
        f"{urlsplit(audience).netloc}{SIWE_HEADER}",
        validation.nonzero_address(grantee, "grantee"),
        "",
        statement,
        "",
        f"URI: {normalize_audience(audience)}",
        "Version: 1",
        f"Chain ID: {domain.chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {_iso(issued_at)}",
        f"Expiration Time: {_iso(expiry)}",
        "Resources:",
        f"- {PURPOSE_RESOURCE}{purpose_name}",
        f"- {CONSENT_RESOURCE}{domain.chain_id}:{domain.verifying_contract}",
    ]
    return "\n".join(lines)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str, name: str) -> int:
    try:
        return int(datetime.fromisoformat(text.strip()).timestamp())
    except ValueError:
        raise LoginMalformed(f"{name} {text!r} is not an RFC 3339 time") from None


_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")


def parse_siwe(text: str) -> dict[str, Any]:
    """The fields of an EIP-4361 message (LoginMalformed when it is not one)."""
    if len(text) > MAX_LOGIN_LENGTH:
        raise LoginMalformed("sign-in message too long")
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0].endswith(SIWE_HEADER):
        raise LoginMalformed("not a Sign-In with Ethereum message")
    fields: dict[str, Any] = {"domain": lines[0][: -len(SIWE_HEADER)], "address": lines[1].strip(), "resources": []}
    in_resources = False
    for line in lines[2:]:
        if in_resources:
            if line.startswith("- "):
                fields["resources"].append(line[2:].strip())
                continue
            in_resources = False
        if line == "Resources:":
            in_resources = True
            continue
        key, sep, value = line.partition(": ")
        if sep and key in ("URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time", "Not Before"):
            fields[key] = value.strip()
    for key in ("URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time"):
        if key not in fields:
            raise LoginMalformed(f"the sign-in message has no {key}")
    if fields["Version"] != "1":
        raise LoginMalformed(f"Sign-In with Ethereum version {fields['Version']!r}")
    if not _NONCE.match(fields["Nonce"]):
        raise LoginMalformed("the nonce must be at least 8 letters or digits")
    try:
        fields["address"] = validation.nonzero_address(fields["address"], "address")
        fields["Chain ID"] = int(fields["Chain ID"])
    except (ValidationError, ValueError):
        raise LoginMalformed("the address must be an Ethereum address and the chain id a number") from None
    return fields


# ----------------------------------------------------------------------------- the store


class SessionStore:
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS sessions (
        token_hash BLOB PRIMARY KEY,
        grantee    TEXT    NOT NULL,
        purpose    INTEGER NOT NULL,
        audience   TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
    """

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path, self.SCHEMA)
        self._cache: dict[bytes, Session] = {}
        self._lock = threading.Lock()

    def add(self, session: Session, now: int) -> None:
        key = _hash(session.token)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (key, session.grantee, int(session.purpose), session.audience, session.created_at, session.expires_at),
            )
        with self._lock:
            if len(self._cache) > 50_000:
                self._cache = {k: v for k, v in self._cache.items() if v.expires_at >= now}
            self._cache[key] = session

    def get(self, token: str) -> Session | None:
        key = _hash(token)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        rows = self.db.query("SELECT * FROM sessions WHERE token_hash = ?", (key,))
        if not rows:
            return None
        r = rows[0]
        session = Session(
            token, validation.address(r["grantee"]), Purpose(r["purpose"]), r["audience"],
            int(r["created_at"]), int(r["expires_at"]),
        )  # fmt: skip
        with self._lock:
            self._cache[key] = session
        return session

    def remove(self, token: str) -> None:
        key = _hash(token)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
        with self._lock:
            self._cache.pop(key, None)

    def close(self) -> None:
        self.db.close()


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.strip().encode()).digest()


# ------------------------------------------------------------------------------ the manager


class SessionManager:
    """Checks logins and issues and looks up sessions for one gateway (its domain and audience)."""

    def __init__(
        self,
        domain: Domain,
        audience: str,
        nonces: NonceStore,
        store: SessionStore,
        lifetime: float = SESSION_MAX_SECONDS,
        clock: Callable[[], float] = time.time,
        w3: Web3 | None = None,
    ) -> None:
        if not 0 < lifetime <= SESSION_MAX_SECONDS:
            raise ValidationError(f"session lifetime {lifetime} s: between 1 and {SESSION_MAX_SECONDS} seconds")
        self.domain = domain
        self.audience = normalize_audience(audience)
        self.nonces = nonces
        self.store = store
        self.lifetime = int(lifetime)
        self.clock = clock
        self.w3 = w3

    # ----------------------------------------------------------------- logins

    def login(self, body: Any) -> Session:
        """A session for the login in a ``POST /session`` body: ``{"typed": <signed GatewayLogin>}``
        or ``{"siwe": {"message": ..., "signature": ...}}``."""
        if not isinstance(body, dict):
            raise LoginMalformed("the body must be a JSON object with `typed` or `siwe`")
        if "typed" in body:
            return self.login_typed(body["typed"])
        if "siwe" in body and isinstance(body["siwe"], dict):
            return self.login_siwe(str(body["siwe"].get("message", "")), str(body["siwe"].get("signature", "")))
        raise LoginMalformed("the body must hold `typed` (EIP-712) or `siwe` (EIP-4361)")

    def login_typed(self, document: Any) -> Session:
        try:
            signed = SignedMessage.from_json(document if isinstance(document, str) else json.dumps(document))
        except ValidationError as exc:
            raise LoginMalformed(f"not a signed GatewayLogin: {exc}") from None
        if signed.primary_type != LOGIN_TYPE or signed.domain.name != GATEWAY_DOMAIN_NAME:
            raise LoginMalformed(f"not a GatewayLogin: a {signed.primary_type} message of {signed.domain.name!r}")
        if signed.domain != self.domain:
            raise TokenWrongDomain(signed.domain.chain_id, signed.domain.verifying_contract)
        m = signed.message
        try:
            login = Login(
                validation.nonzero_address(m["grantee"], "grantee"), Purpose.checked(int(m["purpose"]), single=True),
                str(m["audience"]), int(m["issuedAt"]), int(m["expiry"]), validation.bytes32(m["nonce"], "nonce"),
                "eip712",
            )  # fmt: skip
        except (ValidationError, TypeError, ValueError) as exc:
            raise LoginMalformed(str(exc)) from None
        self._check_times(login)
        signable = encode_typed_data(full_message=typed_data(signed.domain, signed.primary_type, signed.message))
        check_signature(self.w3, signable, signed.signature, login.grantee)
        return self._open(login)

    def login_siwe(self, message: str, signature: str) -> Session:
        fields = parse_siwe(message)
        try:
            sig = validation.signature(signature)
        except ValidationError as exc:
            raise LoginMalformed(str(exc)) from None
        if fields["Chain ID"] != self.domain.chain_id:
            raise TokenWrongDomain(fields["Chain ID"], self.domain.verifying_contract)
        consent = [r[len(CONSENT_RESOURCE) :] for r in fields["resources"] if r.startswith(CONSENT_RESOURCE)]
        expected = f"{self.domain.chain_id}:{self.domain.verifying_contract}"
        if consent != [expected]:
            chain, _, contract = (consent[0] if consent else ":").partition(":")
            raise TokenWrongDomain(int(chain or 0), contract)
        purposes = [r[len(PURPOSE_RESOURCE) :] for r in fields["resources"] if r.startswith(PURPOSE_RESOURCE)]
        if len(purposes) != 1 or purposes[0] not in Purpose.__members__ or purposes[0] == "ALL":
            raise LoginMalformed(f"the resources must name one purpose ({PURPOSE_RESOURCE}TREAT, ...)")
        if normalize_audience(fields["URI"]) != self.audience or fields["domain"] != urlsplit(self.audience).netloc:
            raise TokenAudienceMismatch(fields["URI"], self.audience)
        login = Login(
            fields["address"], Purpose[purposes[0]], fields["URI"], _parse_time(fields["Issued At"], "Issued At"),
            _parse_time(fields["Expiration Time"], "Expiration Time"), keccak(text="eip4361:" + fields["Nonce"]),
            "eip4361",
        )  # fmt: skip
        self._check_times(login)
        check_signature(self.w3, encode_defunct(text=message), sig, login.grantee)
        return self._open(login)

    def _check_times(self, login: Login) -> None:
        if normalize_audience(login.audience) != self.audience:
            raise TokenAudienceMismatch(login.audience, self.audience)
        now = int(self.clock())
        if login.expiry <= now:
            raise TokenExpired(login.expiry, now)
        if login.expiry > now + MAX_LIFETIME + CLOCK_SKEW:
            raise TokenLifetimeTooLong(login.expiry, now + MAX_LIFETIME + CLOCK_SKEW)
        if login.issued_at > now + CLOCK_SKEW:
            raise LoginNotYetValid(login.issued_at, now)

    def _open(self, login: Login) -> Session:
        now = int(self.clock())
        if not self.nonces.consume(login.grantee, login.nonce, login.expiry, now):
            raise TokenReplayed(login.grantee, login.nonce)
        token = SESSION_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        session = Session(token, login.grantee, login.purpose, self.audience, now, now + self.lifetime)
        self.store.add(session, now)
        return session

    # ---------------------------------------------------------------- lookups

    def lookup(self, token: str) -> Session:
        """The live session of a token (SessionUnknown, SessionExpired)."""
        session = self.store.get(token) if is_session_token(token) and len(token) < 200 else None
        if session is None or session.audience != self.audience:
            raise SessionUnknown()
        now = int(self.clock())
        if session.expires_at <= now:
            raise SessionExpired(session.expires_at, now)
        return session

    def logout(self, token: str) -> None:
        self.store.remove(token)
