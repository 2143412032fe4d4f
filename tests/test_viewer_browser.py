"""A radiologist opens a consented study in the real OHIF viewer through the gateway.

Headless Chromium (Debian's `chromium`, driven by Playwright with its executable: no browser
download) signs in on the gateway's sign-in page with an injected EIP-1193 wallet (its
`eth_signTypedData_v4` signs with the grantee's key, here in Python), then uses the stock OHIF
viewer (npm `@ohif/app`'s built dist/) served by the gateway at /viewer/: the study list shows
exactly the consented studies, the consented study renders non-uniform pixels, a non-consented
study's URL shows an error and no pixels, and after the patient revokes, the study disappears
within the consent cache time. A screenshot of the viewer is saved under $RADLEDGER_ARTIFACTS
(default tests/artifacts/).

Skipped without Chromium, Playwright, Orthanc or the built viewer (`npm ci`); failed instead
with RADLEDGER_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from radledger.gateway.app import create_app
from radledger.gateway.consent_check import ConsentChecker
from radledger.gateway.context import GatewayContext
from radledger.gateway.orthanc import free_port
from radledger.gateway.synthetic import synthetic_study
from radledger.registries.common import Purpose
from tests import test_gateway_orthanc as base
from tests.gateway_http import serve_in_thread
from tests.support import SITE_SALT
from tests.test_gateway_orthanc import Site, settings_for

orthanc, site = base.orthanc, base.site  # the Orthanc and site fixtures, shared

ROOT = Path(__file__).resolve().parent.parent
VIEWER_DIST = ROOT / "node_modules" / "@ohif" / "app" / "dist"
CHROMIUM = os.environ.get("RADLEDGER_CHROMIUM", "/usr/bin/chromium")
REQUIRE_ENV = "RADLEDGER_REQUIRE_BROWSER"
CACHE_SECONDS = 2.0
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("RADLEDGER_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    if not (VIEWER_DIST / "index.html").is_file():
        return "the OHIF viewer is not installed (npm ci: @ohif/app)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    return None


@dataclass
class Viewer:
    site: Site
    origin: str
    ctx: GatewayContext
    page: Any
    log: list[str]
    consented: str
    withheld: str

    def sign_in(self) -> None:
        self.page.goto(self.origin + "/viewer/")
        self.page.wait_for_url("**/viewer/signin**")
        self.page.click("#wallet")
        self.page.wait_for_url(lambda url: "/signin" not in url, timeout=30_000)

    def study_list_text(self) -> str:
        self.page.goto(self.origin + "/viewer/")
        self.page.wait_for_load_state("networkidle", timeout=60_000)
        self.page.wait_for_timeout(1500)
        return str(self.page.inner_text("body"))


@pytest.fixture
def viewer(site: Site, tmp_path: Path) -> Iterator[Viewer]:
    missing = _missing()
    if missing is not None:
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    # Registered before the browser starts (Playwright's sync API holds an event loop in this thread).
    consented = site.upload(synthetic_study(4, patient_id="SYN-VIEW-OK", patient_name="SYNTHETIC^SHOWN", rows=128,
                                            columns=128))  # fmt: skip
    site.register(consented, site.patient)
    withheld = site.upload(synthetic_study(2, patient_id="SYN-VIEW-NO", patient_name="SYNTHETIC^HIDDEN", rows=128,
                                           columns=128))  # fmt: skip
    site.register(withheld, site.patient)
    site.grant(consented, purposes=Purpose.TREAT)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = settings_for(
        site.orthanc, site.ctx.settings.state_dir, public_url=origin + "/dicomweb", record_on_chain=False,
        viewer_dir=VIEWER_DIST, consent_cache_seconds=CACHE_SECONDS, cors_origins=(),
    )  # fmt: skip
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    checker = ConsentChecker(ctx.consent(), CACHE_SECONDS)
    key = site.grantee.account.key

    def sign_typed(document: str) -> str:
        return "0x" + Account.sign_message(encode_typed_data(full_message=json.loads(document)), key).signature.hex()

    wallet = """
      window.ethereum = {
        isRadledgerTestWallet: true,
        request: async ({method, params}) => {
          if (method === "eth_requestAccounts" || method === "eth_accounts") { return [ADDRESS]; }
          if (method === "eth_signTypedData_v4") { return await window.radledgerSignTyped(params[1]); }
          throw Object.assign(new Error("unsupported " + method), {code: 4200});
        },
      };
    """.replace("ADDRESS", json.dumps(site.grantee.address.lower()))
    with serve_in_thread(create_app(ctx, checker=checker), port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.expose_function("radledgerSignTyped", sign_typed)
            context.add_init_script(wallet)
            page = context.new_page()
            page.set_default_timeout(60_000)
            log: list[str] = []
            page.on("console", lambda m: log.append(f"console {m.type}: {m.text}"))
            page.on("response", lambda r: log.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("requestfailed", lambda r: log.append(f"failed {r.url}"))
            yield Viewer(site, origin, ctx, page, log, consented, withheld)
        finally:
            browser.close()
    ctx.close()


def _viewport_pixels(page: Any) -> tuple[int, bytes]:
    """(distinct grey levels, PNG) of the first viewport's canvas, from a screenshot."""
    from PIL import Image

    canvas = page.locator("canvas").first
    png = canvas.screenshot()
    image = Image.open(io.BytesIO(png)).convert("L")
    return len(image.getcolors(maxcolors=256) or []), png


def _wait_for_pixels(page: Any, seconds: float) -> tuple[int, bytes]:
    deadline = time.monotonic() + seconds
    best: tuple[int, bytes] = (0, b"")
    while time.monotonic() < deadline:
        if page.locator("canvas").count():
            best = max(best, _viewport_pixels(page), key=lambda t: t[0])
            if best[0] > 8:
                return best
        page.wait_for_timeout(500)
    return best


def test_a_radiologist_sees_exactly_the_consented_studies_in_ohif_and_loses_them_on_revocation(
    viewer: Viewer,
) -> None:
    site, consented, withheld = viewer.site, viewer.consented, viewer.withheld

    viewer.sign_in()
    listed = viewer.study_list_text()
    viewer.page.screenshot(path=str(artifacts_dir() / "ohif-study-list.png"))
    assert "SYNTHETIC, SHOWN" in listed and "HIDDEN" not in listed, (listed[:2000], viewer.log[-40:])
    assert "1-1 of 1" in listed

    page = viewer.page
    page.goto(f"{viewer.origin}/viewer/viewer?StudyInstanceUIDs={consented}")
    levels, png = _wait_for_pixels(page, 60)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir() / "ohif-consented-study.png"))
    assert levels > 8, ("the viewport shows no image (uniform pixels)", viewer.log[-40:])
    assert png

    page.goto(f"{viewer.origin}/viewer/viewer?StudyInstanceUIDs={withheld}")
    page.wait_for_timeout(8000)
    page.screenshot(path=str(artifacts_dir() / "ohif-withheld-study.png"))
    text = str(page.inner_text("body")).lower()
    assert "not available" in text, (text[:2000], viewer.log[-40:])
    levels, _ = _wait_for_pixels(page, 2) if page.locator("canvas").count() else (0, b"")
    assert levels <= 2, "pixels of a study without consent were rendered"

    site.revoke(consented)
    time.sleep(CACHE_SECONDS + 0.5)
    after = viewer.study_list_text()
    assert "SHOWN" not in after and "HIDDEN" not in after, after[:2000]
