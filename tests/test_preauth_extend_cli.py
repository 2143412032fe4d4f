"""`radledger preauth extend` and the claim commands' `--request-id` (issue 11 / 14)."""

from __future__ import annotations

import pytest

from tests.preauth_support import World, world_base_fixture, world_fixture  # noqa: F401
from tests.test_preauth_cli import KEYS, ok, one_line_error
from tests.test_preauth_cli import cli as cli  # the fixture

DAY = 24 * 3600


def test_the_payer_extends_from_the_command_line(cli: World, capsys: pytest.CaptureFixture[str]) -> None:
    world = cli
    rid = world.pended()
    due = world.as_site.get_request(rid).due_at
    payer = ("--key-env", KEYS["payer"])
    out = ok(capsys, "preauth", "extend", "0x" + rid.hex(), "--until", "14d", "--reason", "2", *payer)
    assert "is now due" in out
    request = world.as_site.get_request(rid)
    assert (request.due_at, request.extended) == (due + 14 * DAY, True)
    one_line_error(
        capsys, "ExtensionNotAllowed", "preauth", "extend", "0x" + rid.hex(), "--until", "1d", "--reason", "1", *payer
    )  # fmt: skip
