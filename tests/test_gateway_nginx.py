"""The production byte path: a real nginx (started here, loopback only, its own prefix folder) in
front of the gateway (uvicorn) and a real Orthanc: WADO-RS bytes go nginx → PACS after the
gateway's auth_request decision; refusals come back with the gateway's JSON bodies.

Skipped without nginx (failed instead with RADLEDGER_REQUIRE_NGINX=1, as in CI)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from radledger.chain.signers import KeySigner
from radledger.gateway.app import create_app
from radledger.gateway.context import GatewayContext
from radledger.gateway.nginx import LocalNginx, find_nginx, missing_reason, nginx_config
from radledger.gateway.nginx import required as nginx_required
from radledger.gateway.orthanc import free_port
from radledger.gateway.sessions import sign_login
from radledger.gateway.synthetic import synthetic_study
from radledger.gateway.tokens import mint_token
from radledger.registries.common import Purpose
from tests import test_gateway_orthanc as base
from tests.gateway_http import serve_in_thread
from tests.support import SITE_SALT
from tests.test_gateway_orthanc import CACHE_SECONDS, Site, multipart_parts, settings_for

orthanc, site = base.orthanc, base.site  # the Orthanc and site fixtures, shared

ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@dataclass
class Proxied:
    site: Site
    url: str
    """The public URL (nginx, then the gateway's path)."""
    nginx: LocalNginx
    ctx: GatewayContext

    def token(self, signer: KeySigner | None = None, purpose: int = Purpose.TREAT) -> str:
        return mint_token(signer or self.site.grantee, self.ctx.domain(), self.url, purpose)

    def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        auth = {"Authorization": f"Bearer {token or self.token()}"} if token != "" else {}
        return httpx.get(self.url + path, headers={**auth, **headers}, timeout=30)


@pytest.fixture
def proxied(site: Site, tmp_path: Path) -> Iterator[Proxied]:
    if find_nginx() is None:
        if nginx_required():
            pytest.fail(missing_reason(), pytrace=False)
        pytest.skip(missing_reason())
    nginx_port, gateway_port = free_port(), free_port()
    public = f"http://127.0.0.1:{nginx_port}/dicomweb"
    settings = settings_for(site.orthanc, site.ctx.settings.state_dir, public_url=public, record_on_chain=False)
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    with serve_in_thread(create_app(ctx), gateway_port):
        nginx = LocalNginx.start(tmp_path / "nginx", settings, f"127.0.0.1:{gateway_port}", port=nginx_port)
        try:
            yield Proxied(site, public, nginx, ctx)
        finally:
            nginx.stop()
    ctx.close()


def _reason(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["reason"]


def test_nginx_streams_a_consented_study_from_the_pacs_with_the_gateways_decision(proxied: Proxied) -> None:
    site = proxied.site
    uid = site.new_study(instances=3)
    site.grant(uid)
    response = proxied.get(f"/studies/{uid}", Accept=ACCEPT)
    assert response.status_code == 200, response.text
    stored = sorted(i.data for i in site.studies[uid])
    assert sorted(multipart_parts(response)) == stored
    assert response.headers["x-radledger-record-id"] == "0x" + site.record_of(uid).hex()
    assert response.headers["x-radledger-access-basis"] == "record-grant"
    assert response.headers["cache-control"] == "private, no-store"
    instance = site.studies[uid][0]
    frame = proxied.get(f"/studies/{uid}/series/{instance.series_uid}/instances/{instance.sop_uid}/frames/1",
                        Accept='multipart/related; type="application/octet-stream"; transfer-syntax=*')  # fmt: skip
    assert frame.status_code == 200 and instance.pixels in frame.content
    served = [a for a in site.ctx.store.accesses() if a.study_uid == uid and a.status == 200]
    assert {a.resource for a in served} == {"study", "frames"}


def test_nginx_sends_searches_and_metadata_to_the_gateway(proxied: Proxied) -> None:
    site = proxied.site
    uid = site.new_study(instances=2)
    site.grant(uid)
    listed = proxied.get("/studies")
    assert [r["0020000D"]["Value"][0] for r in listed.json()] == [uid]
    metadata = proxied.get(f"/studies/{uid}/metadata")
    assert metadata.status_code == 200
    assert site.orthanc.dicomweb_url not in metadata.text and str(site.orthanc.http_port) not in metadata.text


def test_nginx_answers_refusals_with_the_gateways_reasons_and_no_bytes(proxied: Proxied) -> None:
    site = proxied.site
    granted, other = site.new_study(), site.new_study()
    site.grant(granted)
    unregistered = site.upload(synthetic_study())
    missing = proxied.get(f"/studies/{granted}", token="", Accept=ACCEPT)
    assert _reason(missing) == (401, "missing-token") and "www-authenticate" in missing.headers
    assert _reason(proxied.get(f"/studies/{other}", Accept=ACCEPT)) == (403, "no-consent")
    assert proxied.get(f"/studies/{unregistered}").json() == proxied.get(f"/studies/{other}").json()
    token = proxied.token()
    assert proxied.get(f"/studies/{granted}", token=token).status_code == 200
    assert _reason(proxied.get(f"/studies/{granted}", token=token)) == (401, "replayed-nonce")
    sneaky = proxied.get(f"/studies/{granted}?StudyInstanceUID={other}")
    assert _reason(sneaky) == (400, "bad-path")
    stranger = proxied.get(f"/studies/{granted}", token=proxied.token(KeySigner.create()))
    assert _reason(stranger) == (403, "no-consent") and b"DICM" not in stranger.content
    for internal in ("/_radledger/authorize", "/_radledger/refusal"):
        assert proxied.get(internal).status_code == 404


def test_nginx_answers_errors_of_the_pacs_with_its_own_bodies(proxied: Proxied) -> None:
    site = proxied.site
    uid = site.new_study()
    site.grant(uid)
    response = proxied.get(f"/studies/{uid}/series/2.25.1234/instances/2.25.5678", Accept=ACCEPT)
    assert _reason(response) == (404, "not-found")
    assert "2.25.1234" not in response.text and "Orthanc" not in response.text


def test_nginx_serves_a_session_and_applies_a_revocation_within_the_cache_time(proxied: Proxied) -> None:
    site = proxied.site
    uid = site.new_study()
    site.grant(uid)
    signed = sign_login(site.grantee, proxied.ctx.domain(), proxied.url, Purpose.TREAT)
    session = httpx.post(proxied.url + "/session", json={"typed": json.loads(signed.to_json())})
    assert session.status_code == 200, session.text
    bearer = session.json()["session"]
    for _ in range(3):
        assert proxied.get(f"/studies/{uid}", token=bearer, Accept=ACCEPT).status_code == 200
    site.revoke(uid)
    time.sleep(CACHE_SECONDS + 0.2)  # the proxied gateway's consent cache runs on the real clock
    assert _reason(proxied.get(f"/studies/{uid}", token=bearer, Accept=ACCEPT)) == (403, "no-consent")


def test_the_shipped_nginx_configuration_is_the_generated_one() -> None:
    from radledger.gateway.config import load_settings

    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "deploy" / "nginx" / "gateway.example.toml", environ={"PACS_PASSWORD": "x"})
    shipped = (root / "deploy" / "nginx" / "radledger-gateway.conf").read_text()
    assert shipped == nginx_config(settings, "127.0.0.1:8443", "127.0.0.1:8080", run_as=None)
