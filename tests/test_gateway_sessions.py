"""Viewer sessions: one signed login (EIP-712 GatewayLogin or EIP-4361), a short session (bearer
and an HttpOnly, Secure, SameSite=Strict cookie), every request still checked per study."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from radledger.chain.eip712 import sign
from radledger.chain.errors import ValidationError
from radledger.chain.signers import KeySigner
from radledger.cli import main
from radledger.deployment.deploy import deploy_contract
from radledger.gateway.app import create_app
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import AccessRefused
from radledger.gateway.orthanc import free_port
from radledger.gateway.requester import GatewayRequester
from radledger.gateway.sessions import (
    LOGIN_TYPE,
    SESSION_COOKIE,
    SessionManager,
    login_message,
    sign_login,
    siwe_message,
)
from radledger.registries.common import Purpose
from tests import test_gateway_orthanc as base
from tests.conftest import ARTIFACTS, SITE_URL
from tests.gateway_http import serve_in_thread
from tests.support import SITE_SALT
from tests.test_gateway_orthanc import PREFIX, PUBLIC_ORIGIN, Site, TestClient, refusal, settings_for

orthanc, site = base.orthanc, base.site  # the Orthanc and site fixtures, shared


def _typed(signed: Any) -> dict[str, Any]:
    return {"typed": json.loads(signed.to_json())}


def login(site: Site, signer: KeySigner | None = None, purpose: int = Purpose.TREAT, **kw: Any) -> Any:
    signed = sign_login(signer or site.grantee, site.domain, SITE_URL, purpose, **kw)
    return site.client.post(PREFIX + "/session", json=_typed(signed))


def test_an_eip712_login_opens_a_short_session_as_bearer_and_strict_cookie(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    answer = login(site)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["grantee"], body["purpose"], body["audience"]) == (site.grantee.address, "TREAT", SITE_URL)
    assert 0 < body["expiresAt"] - time.time() <= 900
    cookie = answer.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/", f"{SESSION_COOKIE}={body['session']}"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "max-age=9" in cookie.lower() or "max-age=8" in cookie.lower()
    site.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {body['session']}"}
    for _ in range(3):  # one login, many requests: no new signature
        assert site.client.get(f"{PREFIX}/studies/{uid}/metadata", headers=bearer).status_code == 200
    assert site.client.get(PREFIX + "/session", headers=bearer).json()["grantee"] == site.grantee.address


def test_the_session_cookie_alone_authorizes_and_sign_out_ends_it(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    assert login(site).status_code == 200
    assert site.client.get(f"{PREFIX}/studies/{uid}/metadata").status_code == 200  # the cookie jar
    assert site.client.post(PREFIX + "/session/logout").status_code == 200
    site.client.cookies.clear()
    assert refusal(site.client.get(f"{PREFIX}/studies/{uid}/metadata")) == (401, "missing-token")


def test_a_sign_in_with_ethereum_message_opens_a_session(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    now = int(time.time())
    text = siwe_message(site.grantee.address, SITE_URL, site.domain, Purpose.TREAT, now, now + 60, "abcdef123456")

    def post(message: str) -> Any:
        signature = Account.sign_message(encode_defunct(text=message), site.grantee.account.key).signature
        return site.client.post(PREFIX + "/session", json={"siwe": {"message": message, "signature": signature.hex()}})

    answer = post(text)
    assert answer.status_code == 200, answer.text
    assert answer.json()["purpose"] == "TREAT"
    assert refusal(post(text)) == (401, "replayed-nonce")
    other_chain = text.replace(f"Chain ID: {site.domain.chain_id}", "Chain ID: 1").replace("123456", "654321")
    assert refusal(post(other_chain)) == (401, "wrong-domain")


def test_logins_are_refused_for_the_same_causes_as_tokens(site: Site) -> None:
    signed = sign_login(site.grantee, site.domain, SITE_URL, Purpose.TREAT)
    assert site.client.post(PREFIX + "/session", json=_typed(signed)).status_code == 200
    assert refusal(site.client.post(PREFIX + "/session", json=_typed(signed))) == (401, "replayed-nonce")
    foreign = sign_login(site.grantee, site.domain, "https://elsewhere.example/dicomweb", Purpose.TREAT)
    assert refusal(site.client.post(PREFIX + "/session", json=_typed(foreign))) == (401, "foreign-audience")
    old = sign_login(site.grantee, site.domain, SITE_URL, Purpose.TREAT, now=int(time.time()) - 600)
    assert refusal(site.client.post(PREFIX + "/session", json=_typed(old))) == (401, "expired")
    far = sign_login(site.grantee, site.domain, SITE_URL, Purpose.TREAT, lifetime=3600)
    assert refusal(site.client.post(PREFIX + "/session", json=_typed(far))) == (401, "expiry-too-far")
    impostor = KeySigner.create()
    message = login_message(site.grantee.address, SITE_URL, Purpose.TREAT, int(time.time()), int(time.time()) + 60,
                            b"\x01" * 32)  # fmt: skip
    forged = sign(impostor, site.domain, LOGIN_TYPE, message)
    assert refusal(site.client.post(PREFIX + "/session", json=_typed(forged))) == (401, "bad-signature")
    assert refusal(site.client.post(PREFIX + "/session", content=b"not json")) == (401, "malformed-login")
    assert refusal(site.client.get(PREFIX + "/studies", headers={"Authorization": "Bearer rls1.unknown"})) == (
        401, "unknown-session",
    )  # fmt: skip


def test_every_session_request_is_still_checked_per_study_and_revocation_applies(site: Site) -> None:
    granted, other = site.new_study(), site.new_study()
    site.grant(granted)
    bearer = {"Authorization": f"Bearer {login(site).json()['session']}"}
    site.client.cookies.clear()
    assert site.client.get(f"{PREFIX}/studies/{granted}/metadata", headers=bearer).status_code == 200
    assert refusal(site.client.get(f"{PREFIX}/studies/{other}/metadata", headers=bearer)) == (403, "no-consent")
    site.revoke(granted)
    assert site.client.get(f"{PREFIX}/studies/{granted}/metadata", headers=bearer).status_code == 200  # cached
    site.clock.advance(base.CACHE_SECONDS + 0.1)
    assert refusal(site.client.get(f"{PREFIX}/studies/{granted}/metadata", headers=bearer)) == (403, "no-consent")
    listed = site.client.get(PREFIX + "/studies", headers=bearer)
    assert listed.status_code == 200 and listed.json() == []


def test_a_session_ends_after_at_most_fifteen_minutes(site: Site, tmp_path: Path) -> None:
    settings = settings_for(site.orthanc, tmp_path / "short")
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    now = [time.time()]
    manager = SessionManager(ctx.domain(), SITE_URL, ctx.nonces, ctx.sessions, clock=lambda: now[0])
    with pytest.raises(ValidationError):
        SessionManager(ctx.domain(), SITE_URL, ctx.nonces, ctx.sessions, lifetime=901)
    with TestClient(create_app(ctx, sessions=manager), base_url=PUBLIC_ORIGIN) as client:
        signed = sign_login(site.grantee, ctx.domain(), SITE_URL, Purpose.TREAT, now=int(now[0]))
        token = client.post(PREFIX + "/session", json=_typed(signed)).json()["session"]
        client.cookies.clear()
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get(PREFIX + "/session", headers=bearer).status_code == 200
        now[0] += 900
        assert refusal(client.get(PREFIX + "/session", headers=bearer)) == (401, "session-expired")
    ctx.close()


def test_a_smart_contract_wallet_signs_in_through_erc1271(site: Site) -> None:
    owner = KeySigner.create()
    wallet = deploy_contract(site.actors.admin, "ERC1271WalletMock", owner.address, artifacts_dir=ARTIFACTS)
    message = login_message(wallet, SITE_URL, Purpose.TREAT, int(time.time()), int(time.time()) + 60, b"\x02" * 32)
    signed = sign(owner, site.domain, LOGIN_TYPE, message)
    answer = site.client.post(PREFIX + "/session", json=_typed(signed))
    assert answer.status_code == 200, answer.text
    assert answer.json()["grantee"] == wallet


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    port = free_port()
    public = f"http://127.0.0.1:{port}/dicomweb"
    settings = settings_for(site.orthanc, site.ctx.settings.state_dir, public_url=public, record_on_chain=False)
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    with serve_in_thread(create_app(ctx), port):
        yield public
    ctx.close()


def test_the_requester_and_images_commands_use_one_session_by_default(
    site: Site, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = site.new_study(instances=2)
    site.grant(uid)
    nonces = site.ctx.nonces.count()
    requester = GatewayRequester(served, site.grantee, Purpose.TREAT)
    assert [r["0020000D"]["Value"][0] for r in requester.search_studies()] == [uid]
    assert len(requester.fetch_study(uid, tmp_path / "out").files) == 2
    assert site.ctx.nonces.count() - nonces == 1  # one login for three requests
    with pytest.raises(AccessRefused) as exc:
        GatewayRequester(served, site.grantee, Purpose.HRESCH).fetch_study(uid, tmp_path / "no")
    assert (exc.value.status, exc.value.reason) == (403, "purpose-not-granted")

    monkeypatch.setenv("RL_TEST_GRANTEE_KEY", "0x" + site.grantee.account.key.hex().removeprefix("0x"))
    args = ["--gateway", served, "--purpose", "TREAT", "--key-env", "RL_TEST_GRANTEE_KEY", "--json"]
    assert main(["images", "login", *args]) == 0
    session = json.loads(capsys.readouterr().out)
    assert session["grantee"] == site.grantee.address and session["session"].startswith("rls1.")
    assert main(["images", "search", *args, "--per-request-tokens"]) == 0
    assert [r["0020000D"]["Value"][0] for r in json.loads(capsys.readouterr().out)] == [uid]
