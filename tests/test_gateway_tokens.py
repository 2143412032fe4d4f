"""Gateway tokens: each cause of a 401 as its own error class with its arguments, the durable
nonce store, and ERC-1271 wallets as grantees."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain.eip712 import Domain, sign
from radledger.chain.signers import KeySigner
from radledger.deployment.deploy import deploy_contract
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
from radledger.gateway.tokens import (
    CLOCK_SKEW,
    MAX_LIFETIME,
    TOKEN_TYPE,
    NonceStore,
    TokenVerifier,
    decode_token,
    encode_token,
    mint_token,
    token_message,
)
from radledger.registries.common import Purpose
from tests.conftest import ARTIFACTS, Actors, named_key

AUDIENCE = "https://gateway.site-a.example/dicomweb"
CONSENT = "0x" + "c0" * 20
DOMAIN = Domain.gateway(1337, CONSENT)
NOW = 2_000_000_000
NONCE = bytes(range(32))


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def grantee() -> KeySigner:
    return named_key("radiologist")


@pytest.fixture
def nonces(tmp_path: Path) -> NonceStore:
    return NonceStore(tmp_path / "nonces.sqlite")


@pytest.fixture
def verifier(nonces: NonceStore) -> TokenVerifier:
    return TokenVerifier(DOMAIN, AUDIENCE, nonces, clock=Clock())


def token(signer: KeySigner, **kw: object) -> str:
    args: dict[str, object] = {"audience": AUDIENCE, "purpose": Purpose.TREAT, "now": NOW, "nonce": NONCE, **kw}
    domain = args.pop("domain", DOMAIN)
    return mint_token(signer, domain, **args)  # type: ignore[arg-type]


def edited(bearer: str, **message: object) -> str:
    """The token with fields of its message replaced (the signature left as it was)."""
    doc = json.loads(base64.urlsafe_b64decode(bearer + "=" * (-len(bearer) % 4)))
    doc["message"].update(message)
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def test_a_valid_token_names_the_grantee_and_purpose_and_spends_its_nonce(
    verifier: TokenVerifier, grantee: KeySigner
) -> None:
    verified = verifier.verify_header(f"Bearer {token(grantee, purpose=Purpose.HRESCH)}")
    assert (verified.grantee, verified.purpose, verified.expiry, verified.nonce, verified.audience) == (
        grantee.address, Purpose.HRESCH, NOW + 60, NONCE, AUDIENCE,
    )  # fmt: skip
    assert verifier.nonces.count() == 1


def test_the_bearer_form_round_trips_the_signed_message(grantee: KeySigner) -> None:
    bearer = token(grantee)
    assert "=" not in bearer and "+" not in bearer and "/" not in bearer  # base64url, unpadded: header-safe
    signed = decode_token(bearer)
    assert signed.primary_type == "GatewayToken" and signed.domain == DOMAIN
    assert encode_token(signed) == bearer


def test_a_replayed_nonce_is_refused(verifier: TokenVerifier, grantee: KeySigner) -> None:
    verifier.verify(token(grantee))
    with pytest.raises(TokenReplayed) as exc:
        verifier.verify(token(grantee))
    assert (exc.value.grantee, exc.value.nonce, exc.value.reason) == (grantee.address, NONCE, "replayed-nonce")


def test_used_nonces_survive_a_restart(tmp_path: Path, grantee: KeySigner) -> None:
    path = tmp_path / "nonces.sqlite"
    first = NonceStore(path)
    TokenVerifier(DOMAIN, AUDIENCE, first, clock=Clock()).verify(token(grantee))
    first.close()
    with pytest.raises(TokenReplayed):
        TokenVerifier(DOMAIN, AUDIENCE, NonceStore(path), clock=Clock()).verify(token(grantee))


def test_nonces_are_forgotten_once_their_token_has_expired(nonces: NonceStore) -> None:
    grantee = named_key("radiologist").address
    assert nonces.consume(grantee, NONCE, NOW + 60, NOW)
    assert not nonces.consume(grantee, NONCE, NOW + 60, NOW + 30)
    assert nonces.consume(grantee, b"\x01" * 32, NOW + 200, NOW + 60 + CLOCK_SKEW + 1)
    assert nonces.count() == 1  # the first one was purged, its token can no longer be used anyway


def test_the_same_nonce_of_another_grantee_is_another_nonce(verifier: TokenVerifier, grantee: KeySigner) -> None:
    verifier.verify(token(grantee))
    assert verifier.verify(token(named_key("another radiologist"))).nonce == NONCE


def test_an_expired_token_is_refused(verifier: TokenVerifier, grantee: KeySigner) -> None:
    with pytest.raises(TokenExpired) as exc:
        verifier.verify(token(grantee, now=NOW - 61))
    assert (exc.value.expiry, exc.value.now, exc.value.reason) == (NOW - 1, NOW, "expired")
    with pytest.raises(TokenExpired):
        verifier.verify(token(grantee, now=NOW - 60))  # expiry == now: already expired
    assert verifier.nonces.count() == 0  # a refused token spends no nonce


def test_an_expiry_more_than_five_minutes_ahead_is_refused(verifier: TokenVerifier, grantee: KeySigner) -> None:
    assert verifier.verify(token(grantee, lifetime=MAX_LIFETIME, now=NOW + CLOCK_SKEW)).expiry == (
        NOW + MAX_LIFETIME + CLOCK_SKEW
    )
    far = edited(token(grantee, nonce=b"\x02" * 32), expiry=NOW + MAX_LIFETIME + CLOCK_SKEW + 1)
    with pytest.raises(TokenLifetimeTooLong) as exc:
        verifier.verify(far)
    assert (exc.value.expiry, exc.value.latest) == (
        NOW + MAX_LIFETIME + CLOCK_SKEW + 1,
        NOW + MAX_LIFETIME + CLOCK_SKEW,
    )


def test_minting_refuses_a_lifetime_over_five_minutes(grantee: KeySigner) -> None:
    from radledger.chain.errors import ValidationError

    with pytest.raises(ValidationError):
        token(grantee, lifetime=MAX_LIFETIME + 1)


def test_a_token_for_another_gateway_is_refused(verifier: TokenVerifier, grantee: KeySigner) -> None:
    other = "https://gateway.site-b.example/dicomweb"
    with pytest.raises(TokenAudienceMismatch) as exc:
        verifier.verify(token(grantee, audience=other))
    assert (exc.value.audience, exc.value.expected, exc.value.reason) == (other, AUDIENCE, "foreign-audience")
    assert verifier.verify(token(grantee, audience=AUDIENCE + "/")).audience == AUDIENCE  # a trailing slash is the same


@pytest.mark.parametrize(
    "domain",
    [Domain.gateway(1, CONSENT), Domain.gateway(1337, "0x" + "c1" * 20)],
    ids=["other chain", "other deployment"],
)
def test_a_token_for_another_deployment_is_refused(verifier: TokenVerifier, grantee: KeySigner, domain: Domain) -> None:
    with pytest.raises(TokenWrongDomain) as exc:
        verifier.verify(token(grantee, domain=domain))
    assert (exc.value.chain_id, exc.value.verifying_contract) == (domain.chain_id, domain.verifying_contract)


def test_a_message_of_another_domain_is_not_a_token(verifier: TokenVerifier, grantee: KeySigner) -> None:
    doc = json.loads(base64.urlsafe_b64decode(token(grantee) + "=="))
    doc["domain"] = Domain.consent(1337, CONSENT).as_dict()
    with pytest.raises(TokenMalformed):
        verifier.verify(base64.urlsafe_b64encode(json.dumps(doc).encode()).decode())


def test_a_token_not_signed_by_its_grantee_is_refused(verifier: TokenVerifier, grantee: KeySigner) -> None:
    impostor = named_key("impostor")
    forged = edited(token(impostor), grantee=grantee.address)
    with pytest.raises(TokenBadSignature) as exc:
        verifier.verify(forged)
    assert exc.value.grantee == grantee.address
    assert exc.value.recovered not in (None, grantee.address)  # the key of a message the impostor never signed
    altered = edited(token(grantee, nonce=b"\x03" * 32), purpose=int(Purpose.ETREAT))  # escalate the purpose
    with pytest.raises(TokenBadSignature):
        verifier.verify(altered)
    assert verifier.nonces.count() == 0


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer "],
    ids=["absent", "empty", "basic auth", "no token", "blank token"],
)
def test_a_missing_token_is_refused(verifier: TokenVerifier, header: str | None) -> None:
    with pytest.raises(TokenMissing):
        verifier.verify_header(header)


@pytest.mark.parametrize(
    "bearer",
    ["%%%", "bm90IGpzb24", base64.urlsafe_b64encode(b'{"primaryType": "Grant"}').decode(), "A" * 9000],
    ids=["not base64", "not json", "not a signed message", "too long"],
)
def test_a_malformed_token_is_refused(verifier: TokenVerifier, bearer: str) -> None:
    with pytest.raises(TokenMalformed):
        verifier.verify(bearer)


def test_a_token_naming_several_purposes_is_malformed(verifier: TokenVerifier, grantee: KeySigner) -> None:
    with pytest.raises(TokenMalformed):
        verifier.verify(edited(token(grantee), purpose=int(Purpose.TREAT | Purpose.HRESCH)))


def test_a_smart_contract_wallet_grantee_is_accepted_through_erc1271(w3: Web3, actors: Actors, tmp_path: Path) -> None:
    owner = named_key("wallet owner")
    wallet = deploy_contract(actors.admin, "ERC1271WalletMock", owner.address, artifacts_dir=ARTIFACTS)
    verifier = TokenVerifier(DOMAIN, AUDIENCE, NonceStore(tmp_path / "n.sqlite"), clock=Clock(), w3=w3)

    def for_wallet(signer: KeySigner, nonce: bytes) -> str:
        message = token_message(wallet, AUDIENCE, Purpose.TREAT, NOW + 60, nonce)
        return encode_token(sign(signer, DOMAIN, TOKEN_TYPE, message))

    assert verifier.verify(for_wallet(owner, NONCE)).grantee == wallet
    with pytest.raises(TokenBadSignature):
        verifier.verify(for_wallet(named_key("stranger"), b"\x04" * 32))
    offline = TokenVerifier(DOMAIN, AUDIENCE, NonceStore(tmp_path / "m.sqlite"), clock=Clock())  # no node: EOA only
    with pytest.raises(TokenBadSignature):
        offline.verify(for_wallet(owner, NONCE))
