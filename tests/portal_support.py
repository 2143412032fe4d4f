"""Helpers of the portal tests: a portal on a chain, and wallets that sign as MetaMask and ethers do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from radledger.chain.signers import KeySigner

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
SIGNER_SCRIPT = Path(__file__).parent / "wallet" / "sign.mjs"
WALLET_PACKAGES = ("@metamask/eth-sig-util", "ethers")


def require_wallet_libraries() -> str:
    """The node binary, once the npm wallet libraries are installed (else the test skips, with the reason)."""
    node = shutil.which("node")
    missing = [p for p in WALLET_PACKAGES if not (NODE_MODULES / p / "package.json").is_file()]
    if node is None or missing:
        pytest.skip(f"needs node and npm packages {missing or WALLET_PACKAGES} (run `npm ci` at the project root)")
    return node


class NodeWallet:
    """One long-running node process signing typed data with @metamask/eth-sig-util or ethers."""

    def __init__(self) -> None:
        node = require_wallet_libraries()
        self.process = subprocess.Popen(
            [node, str(SIGNER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        )
        self._lock = threading.Lock()

    def sign(self, key: KeySigner | str, typed_data: dict[str, Any], library: str = "metamask") -> str:
        secret = key if isinstance(key, str) else "0x" + key.account.key.hex()
        request = json.dumps({"key": secret, "typedData": typed_data, "library": library})
        with self._lock:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(request + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"{library} could not sign: {answer['error']}")
        return str(answer["signature"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
