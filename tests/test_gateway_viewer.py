"""The viewer routes (OHIF at /viewer/, its generated configuration, the sign-in page) and the
thumbnail route for a PACS without one; real Orthanc, the built viewer from `npm ci`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from radledger.gateway.app import create_app
from radledger.gateway.context import GatewayContext
from radledger.gateway.sessions import SESSION_COOKIE, sign_login
from radledger.registries.common import Purpose
from tests import test_gateway_orthanc as base
from tests.conftest import SITE_URL
from tests.support import SITE_SALT
from tests.test_gateway_orthanc import PREFIX, PUBLIC_ORIGIN, Site, TestClient, refusal, settings_for
from tests.test_viewer_browser import VIEWER_DIST

orthanc, site = base.orthanc, base.site  # the Orthanc and site fixtures, shared


@pytest.fixture
def client(site: Site, tmp_path: Path) -> Iterator[TestClient]:
    if not (VIEWER_DIST / "index.html").is_file():
        pytest.skip("the OHIF viewer is not installed (npm ci)")
    settings = settings_for(site.orthanc, site.ctx.settings.state_dir, viewer_dir=VIEWER_DIST)
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    with TestClient(create_app(ctx), base_url=PUBLIC_ORIGIN) as test_client:
        yield test_client
    ctx.close()


def _sign_in(site: Site, client: TestClient) -> None:
    signed = sign_login(site.grantee, site.domain, SITE_URL, Purpose.TREAT)
    import json

    assert client.post(PREFIX + "/session", json={"typed": json.loads(signed.to_json())}).status_code == 200


def test_the_viewer_sends_a_visitor_without_a_session_to_the_sign_in_page(site: Site, client: TestClient) -> None:
    answer = client.get("/viewer/viewer?StudyInstanceUIDs=2.25.1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(PUBLIC_ORIGIN + "/viewer/signin?next=%2Fviewer%2Fviewer")
    page = client.get("/viewer/signin")
    assert page.status_code == 200 and "eth_signTypedData_v4" in page.text and "personal_sign" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    _sign_in(site, client)
    assert SESSION_COOKIE in client.cookies
    index = client.get("/viewer/", follow_redirects=False)
    assert index.status_code == 200 and 'window.PUBLIC_URL="/viewer/"' in index.text
    assert 'src="/app' not in index.text and 'src="/viewer/app-config.js"' in index.text


def test_the_generated_configuration_names_the_gateway_as_the_only_data_source(client: TestClient) -> None:
    config = client.get("/viewer/app-config.js")
    assert config.status_code == 200 and config.headers["content-type"].startswith("text/javascript")
    assert config.text.count('"qidoRoot": "https://gateway.site-a.example/dicomweb"') == 1
    assert '"routerBasename": "/viewer"' in config.text
    assert "cloudfront" not in config.text
    assert "serviceWorker" not in client.get("/viewer/init-service-worker.js").text


def test_viewer_files_are_served_and_nothing_outside_its_folder(client: TestClient) -> None:
    bundle = next(p.name for p in VIEWER_DIST.iterdir() if p.name.startswith("app.bundle.") and p.suffix == ".js")
    answer = client.get(f"/viewer/{bundle}")
    assert answer.status_code == 200 and b'__webpack_require__.p = "/viewer/";' in answer.content
    wasm = next(p.name for p in VIEWER_DIST.iterdir() if p.suffix == ".wasm")
    assert client.get(f"/viewer/{wasm}").headers["content-type"] == "application/wasm"
    for path in ("/viewer/../pyproject.toml", "/viewer/%2e%2e/%2e%2e/README.md", "/viewer/nothing.js"):
        assert client.get(path, follow_redirects=False).status_code in (303, 404), path


def test_a_login_must_be_json_so_no_cross_site_form_can_sign_anyone_in(site: Site, client: TestClient) -> None:
    import json

    signed = sign_login(site.grantee, site.domain, SITE_URL, Purpose.TREAT)
    form = client.post(PREFIX + "/session", content=json.dumps({"typed": json.loads(signed.to_json())}),
                       headers={"Content-Type": "text/plain"})  # fmt: skip
    assert refusal(form) == (401, "malformed-login") and SESSION_COOKIE not in client.cookies


def test_a_thumbnail_comes_from_the_rendered_image_when_the_pacs_has_no_thumbnail_route(
    site: Site, client: TestClient
) -> None:
    uid = site.new_study(instances=1, rows=64, columns=64)
    site.grant(uid)
    instance = site.studies[uid][0]
    _sign_in(site, client)
    path = f"{PREFIX}/studies/{uid}/series/{instance.series_uid}/instances/{instance.sop_uid}/thumbnail"
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("image/") and len(answer.content) > 100
