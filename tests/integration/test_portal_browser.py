"""The patient portal in a real browser: Debian chromium through Playwright, `radledger portal serve`
on anvil, and an injected EIP-1193 wallet whose key signs with @metamask/eth-sig-util (the library
MetaMask runs for eth_signTypedData_v4) through a Node bridge exposed to the page.

Screenshots at a phone's width (390 px) go to tests/artifacts/ (gitignored). Without chromium the
test skips, unless RADLEDGER_REQUIRE_BROWSER=1 (CI), where it fails instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radledger.chain.signers import KeySigner
from radledger.portal.receipts import verify_receipt
from radledger.registries.common import Purpose, Scope
from tests.conftest import named_key
from tests.integration.conftest import AnvilNode, dev_key, free_port
from tests.integration.portal_chain import PortalChain, deploy_portal_chain
from tests.portal_support import NODE_MODULES, NodeWallet

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
TELERADIOLOGY = named_key("Northside Teleradiology (synthetic)")
RELAYER_KEY_ENV = "RADLEDGER_TEST_PORTAL_RELAYER_KEY"

WALLET_SCRIPT = """
(() => {
  const wallet = { chainId: "%(chain)s", account: "%(account)s", reject: false, signed: 0 };
  window.__testWallet = wallet;
  const fail = (code, message) => Object.assign(new Error(message), { code });
  window.ethereum = {
    request: async ({ method, params }) => {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [wallet.account];
      if (method === "eth_chainId") return wallet.chainId;
      if (method === "eth_signTypedData_v4") {
        if (wallet.reject) throw fail(4001, "User rejected the request.");
        if (String(params[0]).toLowerCase() !== wallet.account.toLowerCase()) throw fail(4100, "unknown account");
        wallet.signed += 1;
        return await window.radledgerTestSign(params[1]);
      }
      throw fail(4200, "unsupported method " + method);
    },
    on: () => {},
    removeListener: () => {},
  };
})();
"""


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian chromium is not installed at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not (NODE_MODULES / "axe-core" / "axe.min.js").is_file():
        return "npm package axe-core is not installed (run `npm ci`)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    missing = _browser_missing()
    if missing:
        if os.environ.get("RADLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RADLEDGER_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode) -> PortalChain:
    return deploy_portal_chain(anvil)


@pytest.fixture
def portal_url(chain: PortalChain, tmp_path: Path) -> Iterator[str]:
    """`radledger portal serve` on a free port, relaying with the site's key (dev account 1)."""
    port = free_port()
    config = tmp_path / "portal.toml"
    d = chain.deployment
    config.write_text(
        f'[portal]\nsite_name = "Example Imaging Centre"\nlisten_port = {port}\nstate_dir = "state"\n'
        f'[chain]\nrpc_url = "{chain.anvil.url}"\nconsent = "{d.consent_registry}"\nrecords = "{d.record_registry}"\n'
        f'[relayer]\nkey_env = "{RELAYER_KEY_ENV}"\n'
        '[[directory]]\nname = "Northside Teleradiology"\nkind = "teleradiology group"\n'
        f'address = "{TELERADIOLOGY.address}"\n'
    )
    env = {**os.environ, RELAYER_KEY_ENV: "0x" + dev_key(1).account.key.hex()}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "radledger"), "portal", "serve", "--config", str(config),
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"portal exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                with urllib.request.urlopen(url + "/api/site", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the portal's own process group, SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_patient_grants_and_revokes_in_a_real_browser_and_the_chain_follows(
    browser_ready: None, chain: PortalChain, portal_url: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS_DIR.mkdir(exist_ok=True)
    patient = KeySigner.create()
    study = chain.register_study(patient.address, "portal browser: synthetic knee MRI")
    consent = chain.deployment.consent(chain.anvil.w3())
    w3 = consent.w3

    def access() -> bool:
        return consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)

    wallet = NodeWallet()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
            page = context.new_page()
            page.expose_function(
                "radledgerTestSign", lambda document: wallet.sign(patient, json.loads(document), "metamask")
            )
            page.add_init_script(WALLET_SCRIPT % {"chain": "0x1", "account": patient.address})
            page.goto(portal_url)
            expect(page.locator(".site-name").first).to_have_text("Example Imaging Centre")

            # Keyboard only: the first Tab reaches the skip link, the second the connect button.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "connect"

            # A wallet on another network is refused, with a message, and nothing is shown or signed.
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_contain_text("wrong network (chain 1)")
            expect(page.locator("#patient")).to_be_hidden()
            page.screenshot(path=str(ARTIFACTS_DIR / "portal-390px-wrong-network.png"), full_page=True)

            # The patient switches the wallet's network and connects again (Enter on the focused button).
            page.evaluate(f"window.__testWallet.chainId = '{hex(w3.eth.chain_id)}'")
            page.keyboard.press("Enter")
            expect(page.locator("#records")).to_contain_text("Imaging study")
            expect(page.get_by_role("alert")).to_have_text("")

            # Labels and roles: every control of the forms is reachable by its label.
            for label in ("Who may see them", "Which records", "Until (leave empty for no end date)",
                          "Guardian's wallet address", "Until", "images", "treatment"):  # fmt: skip
                expect(page.get_by_label(label, exact=True)).to_have_count(1)
            expect(page.get_by_role("status")).to_have_count(1)
            expect(page.get_by_role("group", name="What they may see")).to_be_visible()
            _assert_no_serious_axe_violations(page)

            # Grant the teleradiology group access to the one study.
            page.get_by_label("Who may see them").select_option(label="Northside Teleradiology (teleradiology group)")
            page.get_by_label("Which records").select_option(value="0x" + study.hex())
            page.get_by_role("button", name="Sign and give access").click()
            expect(page.get_by_role("status")).to_contain_text("Done: recorded in block", timeout=30_000)
            expect(page.locator("#grants")).to_contain_text(
                "Northside Teleradiology may see the images of imaging study"
            )
            assert access()
            page.screenshot(path=str(ARTIFACTS_DIR / "portal-390px.png"), full_page=True)

            # The receipt downloads and checks against the chain.
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Download receipt (JSON and FHIR)").click()
            receipt_path = ARTIFACTS_DIR / "portal-grant-receipt.json"
            download_info.value.save_as(receipt_path)
            receipt = json.loads(receipt_path.read_text())
            assert verify_receipt(w3, receipt).event == "ConsentGranted"
            assert receipt["fhir"]["resourceType"] == "Consent"

            # The patient rejects the revocation in the wallet: nothing happens.
            block = w3.eth.block_number
            page.evaluate("window.__testWallet.reject = true")
            withdraw = page.get_by_role(
                "button", name="Withdraw access of Northside Teleradiology to imaging study", exact=False
            )
            withdraw.click()
            expect(page.get_by_role("alert")).to_have_text(
                "You cancelled the signature. Nothing was sent and nothing changed."
            )
            assert access() and w3.eth.block_number == block

            # Then signs it: the grant is gone from the page and from the chain.
            page.evaluate("window.__testWallet.reject = false")
            withdraw.click()
            expect(page.get_by_role("status")).to_contain_text("Done: recorded in block", timeout=30_000)
            expect(page.locator("#grants")).to_contain_text("Nobody has been given access.")
            assert not access()
            page.screenshot(path=str(ARTIFACTS_DIR / "portal-390px-revoked.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
            browser.close()
    finally:
        wallet.close()


def _assert_no_serious_axe_violations(page: Any) -> None:
    page.evaluate((NODE_MODULES / "axe-core" / "axe.min.js").read_text())
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    serious = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
