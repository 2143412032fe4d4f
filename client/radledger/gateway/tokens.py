"""The gateway token: a requester proves control of its grantee key, once per request.

DESIGN.md's rule: an EIP-712 message signed by the grantee naming the grantee, the audience
(the gateway's public URL), the purpose of use, an expiry at most 5 minutes ahead and a nonce;
a nonce is accepted once. The domain is ``radledger Gateway`` v1 with the chain id and the
ConsentRegistry the gateway checks, so a token is useless on another deployment; the audience
makes it useless at another gateway.

On the wire the signed message (:class:`radledger.eip712.SignedMessage` JSON, compact) is
base64url-encoded and sent as ``Authorization: Bearer <token>``, which browser viewers such
as OHIF can attach to every request. Signatures of smart-contract wallets are checked with
ERC-1271 when the verifier has a node.

Used nonces are kept in SQLite (durable, shared by the server's threads) until their token has
expired; a token is verified completely before its nonce is spent, so a forged or expired
token cannot burn a requester's nonce.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3

from radledger.chain import validation
from radledger.chain.eip712 import GATEWAY_DOMAIN_NAME, Domain, SignedMessage, sign, typed_data
from radledger.chain.errors import ValidationError
from radledger.chain.signers import Signer
from radledger.gateway.errors import (
    TokenAudienceMismatch,
    TokenBadSignature,
    TokenExpired,
    TokenLifetimeTooLong,
    TokenMalformed,
    TokenMissing,
    TokenReplayed,
    TokenWrongDomain,
)
from radledger.gateway.sqlite import Database
from radledger.registries.common import Purpose

TOKEN_TYPE = "GatewayToken"
WELL_KNOWN = "/.well-known/radledger-gateway"
"""Where a gateway declares its audience and token domain (no token needed)."""
MAX_LIFETIME = 300
"""A token's expiry is at most this many seconds ahead of the gateway's clock."""
CLOCK_SKEW = 30
"""Tolerance for a requester's clock running ahead of the gateway's."""
DEFAULT_LIFETIME = 60
MAX_TOKEN_LENGTH = 8192

_ERC1271_ABI = [
    {
        "name": "isValidSignature",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "", "type": "bytes4"}],
    }
]
_ERC1271_MAGIC = bytes.fromhex("1626ba7e")


@dataclass(frozen=True)
class VerifiedToken:
    """What a valid token establishes: who asks, for which purpose, until when."""

    grantee: ChecksumAddress
    purpose: Purpose
    expiry: int
    nonce: bytes
    audience: str


def normalize_audience(url: str) -> str:
    return url.strip().rstrip("/")


def token_message(grantee: str, audience: str, purpose: int, expiry: int, nonce: bytes) -> dict[str, Any]:
    return {
        "grantee": validation.nonzero_address(grantee, "grantee"),
        "audience": normalize_audience(audience),
        "purpose": int(Purpose.checked(purpose, single=True)),
        "expiry": int(expiry),
        "nonce": validation.bytes32(nonce, "nonce"),
    }


def encode_token(signed: SignedMessage) -> str:
    """The bearer form: base64url (no padding) of the compact JSON of the signed message."""
    compact = json.dumps(json.loads(signed.to_json()), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(compact.encode()).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> SignedMessage:
    """The signed message inside a bearer token (TokenMalformed when it is not one)."""
    text = token.strip()
    if not text or len(text) > MAX_TOKEN_LENGTH:
        raise TokenMalformed("token is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        signed = SignedMessage.from_json(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValidationError, ValueError) as exc:
        raise TokenMalformed(f"not a gateway token: {exc}") from None
    if signed.primary_type != TOKEN_TYPE or signed.domain.name != GATEWAY_DOMAIN_NAME:
        raise TokenMalformed(f"not a gateway token: a {signed.primary_type} message of {signed.domain.name!r}")
    return signed


def mint_token(
    signer: Signer,
    domain: Domain,
    audience: str,
    purpose: int,
    lifetime: int = DEFAULT_LIFETIME,
    now: int | None = None,
    nonce: bytes | None = None,
) -> str:
    """A fresh bearer token signed by `signer` (the grantee) for one request to `audience`."""
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValidationError(f"token lifetime {lifetime} s: between 1 and {MAX_LIFETIME} seconds")
    issued = int(time.time()) if now is None else now
    message = token_message(signer.address, audience, purpose, issued + lifetime, nonce or secrets.token_bytes(32))
    return encode_token(sign(signer, domain, TOKEN_TYPE, message))


class NonceStore:
    """Nonces already accepted, per grantee, kept until their token's expiry has passed."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS used_nonces (
        grantee    TEXT    NOT NULL,
        nonce      BLOB    NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (grantee, nonce)
    );
    CREATE INDEX IF NOT EXISTS used_nonces_expiry ON used_nonces (expires_at);
    """

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path, self.SCHEMA)

    def consume(self, grantee: str, nonce: bytes, expiry: int, now: int) -> bool:
        """Record the nonce; False when it was already used. Forgets nonces of expired tokens."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM used_nonces WHERE expires_at < ?", (now - CLOCK_SKEW,))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO used_nonces (grantee, nonce, expires_at) VALUES (?, ?, ?)",
                (grantee, nonce, expiry),
            ).rowcount
        return inserted == 1

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM used_nonces")[0][0])

    def close(self) -> None:
        self.db.close()


class TokenVerifier:
    """Checks bearer tokens for one gateway (its domain and audience)."""

    def __init__(
        self,
        domain: Domain,
        audience: str,
        nonces: NonceStore,
        clock: Callable[[], float] = time.time,
        w3: Web3 | None = None,
    ) -> None:
        self.domain = domain
        self.audience = normalize_audience(audience)
        self.nonces = nonces
        self.clock = clock
        self.w3 = w3

    def verify_header(self, authorization: str | None) -> VerifiedToken:
        """Verify the token of an `Authorization: Bearer <token>` header (and spend its nonce)."""
        if not authorization:
            raise TokenMissing()
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenMissing()
        return self.verify(token)

    def verify(self, token: str) -> VerifiedToken:
        signed = decode_token(token)
        domain = signed.domain
        if domain != self.domain:
            raise TokenWrongDomain(domain.chain_id, domain.verifying_contract)
        m = signed.message
        try:
            grantee = validation.nonzero_address(m["grantee"], "grantee")
            purpose = Purpose.checked(int(m["purpose"]), single=True)
            expiry = int(m["expiry"])
            audience = str(m["audience"])
            nonce = validation.bytes32(m["nonce"], "nonce")
        except (ValidationError, TypeError, ValueError) as exc:
            raise TokenMalformed(str(exc)) from None
        if normalize_audience(audience) != self.audience:
            raise TokenAudienceMismatch(audience, self.audience)
        now = int(self.clock())
        if expiry <= now:
            raise TokenExpired(expiry, now)
        if expiry > now + MAX_LIFETIME + CLOCK_SKEW:
            raise TokenLifetimeTooLong(expiry, now + MAX_LIFETIME + CLOCK_SKEW)
        self._check_signature(signed, grantee)
        if not self.nonces.consume(grantee, nonce, expiry, now):
            raise TokenReplayed(grantee, nonce)
        return VerifiedToken(grantee, purpose, expiry, nonce, audience)

    def _check_signature(self, signed: SignedMessage, grantee: ChecksumAddress) -> None:
        signable = encode_typed_data(full_message=typed_data(signed.domain, signed.primary_type, signed.message))
        check_signature(self.w3, signable, signed.signature, grantee)


def check_signature(w3: Web3 | None, signable: SignableMessage, signature: bytes, claimed: ChecksumAddress) -> None:
    """Raise TokenBadSignature unless `signature` over `signable` is `claimed`'s: an EOA's
    (recovered) or, with a node, a smart-contract wallet's (ERC-1271 `isValidSignature`)."""
    recovered: str | None
    try:
        recovered = Account.recover_message(signable, signature=signature)
    except Exception:
        recovered = None
    if recovered == claimed:
        return
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    if w3 is not None and _erc1271_accepts(w3, claimed, digest, signature):
        return
    raise TokenBadSignature(claimed, recovered)


def _erc1271_accepts(w3: Web3, wallet: ChecksumAddress, digest: bytes, signature: bytes) -> bool:
    try:
        if not w3.eth.get_code(wallet):
            return False
        contract = w3.eth.contract(address=wallet, abi=_ERC1271_ABI)
        return bytes(contract.functions.isValidSignature(digest, signature).call()) == _ERC1271_MAGIC
    except Exception:
        return False
