"""docs/deploying.md starts the anvil binary itself, and says why not the npm wrapper."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DEPLOYING = (ROOT / "docs" / "deploying.md").read_text()
BINARY = re.compile(r"node_modules/@foundry-rs/anvil-(linux|darwin)-(amd64|arm64)/bin/anvil\b")


def step_by_step() -> str:
    match = re.search(r"^## Deploy to a local anvil, step by step\n(.*?)^## ", DEPLOYING, re.DOTALL | re.MULTILINE)
    assert match, "docs/deploying.md has no step-by-step section"
    return match.group(1)


def test_the_step_by_step_starts_the_anvil_binary_not_the_npm_wrapper() -> None:
    commands = re.search(r"```sh\n(.*?)```", step_by_step(), re.DOTALL)
    assert commands
    started = [line for line in commands.group(1).splitlines() if "bin/anvil" in line]
    assert len(started) == 1 and BINARY.match(started[0]), started
    assert (ROOT / "node_modules").exists() is False or any(
        (ROOT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")
    ), "the binary the doc names is not where npm ci puts it"


def test_the_doc_says_the_wrapper_pid_is_not_the_nodes() -> None:
    text = " ".join(step_by_step().split())
    assert "`node_modules/.bin/anvil`: that is an npm wrapper" in text
    assert "`$!` is the wrapper's PID, not the node's" in text
    assert "the real node goes on serving" in text
