"""README.md and .ci/run agree, and what README shows is true: the quick start, the gas table,
the Python example and the command list."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import radledger.gas as gas
from radledger.cli import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
CI_RUN = ROOT / ".ci" / "run"


def section(name: str) -> str:
    """The text between `<!-- name -->` and `<!-- /name -->`."""
    match = re.search(rf"^<!-- {name} -->\n(.*?)^<!-- /{name} -->$", README, re.DOTALL | re.MULTILINE)
    assert match, f"README.md has no {name} section"
    return match.group(1)


def code_block(name: str) -> str:
    match = re.fullmatch(r"```\w*\n(.*?)```\n", section(name), re.DOTALL)
    assert match, f"README.md's {name} section is not exactly one code block"
    return match.group(1)


def quick_start_lines() -> list[str]:
    return code_block("quick-start").splitlines()


def test_quick_start_is_exactly_two_command_lines() -> None:
    demo, tests = quick_start_lines()
    assert demo.endswith("radledger demo") and "pip install" in demo
    assert tests.startswith("npm ci") and tests.endswith("-m pytest -q") and '".[test]"' in tests


def test_ci_runs_readme_test_command_verbatim() -> None:
    printed = subprocess.run(
        ["bash", str(CI_RUN), "--print-test-command"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == quick_start_lines()[1] + "\n"


def test_ci_script_is_strict_executable_and_runs_both_checks_from_the_venv() -> None:
    assert os.access(CI_RUN, os.X_OK)
    script = CI_RUN.read_text()
    assert script.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in script
    assert "\n.venv/bin/radledger compile --check\n" in script
    assert "\n.venv/bin/radledger gas check\n" in script


def test_gas_table_matches_the_committed_snapshot() -> None:
    assert section("gas-table") == gas.markdown_table(gas.read_snapshot(ROOT / gas.DEFAULT_SNAPSHOT))


def test_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code_block("example"), "README.md example", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out == "refused: True\n"


def test_command_list_names_every_command_and_only_real_ones() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    assert commands is not None
    listed = set(re.findall(r"^\| `radledger ([a-z-]+)", section("cli"), re.MULTILINE))
    assert not set(commands) - listed, "add a row for each of these commands to README.md's command table"
    assert not listed - set(commands), "README.md's command table lists commands that do not exist"
    quick_start_commands = set(re.findall(r"\.venv/bin/radledger ([a-z-]+)", "\n".join(quick_start_lines())))
    assert quick_start_commands <= set(commands)
