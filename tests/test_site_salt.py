"""A site's salt file: written readable by its owner only, never replaced by accident, read back
(with a warning when others can read it) by the CLI and the gateway alike."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from radledger.chain.errors import ValidationError
from radledger.registries.records.client import read_site_salt, record_id, write_site_salt
from tests.support import SITE_SALT


def test_a_salt_file_is_private_and_reads_back(tmp_path: Path) -> None:
    path = write_site_salt(tmp_path / "site.salt", SITE_SALT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_site_salt(path) == SITE_SALT
    fresh = read_site_salt(write_site_salt(tmp_path / "fresh.salt"))
    assert len(fresh) == 32 and fresh != SITE_SALT


def test_a_salt_file_is_replaced_only_when_asked(tmp_path: Path) -> None:
    path = write_site_salt(tmp_path / "site.salt", SITE_SALT)
    with pytest.raises(ValidationError):
        write_site_salt(path)
    assert read_site_salt(path) == SITE_SALT
    path.chmod(0o644)
    write_site_salt(path, replace=True)
    assert read_site_salt(path) != SITE_SALT and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_salt_file_others_can_read_still_works_but_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_site_salt(tmp_path / "site.salt", SITE_SALT)
    path.chmod(0o640)
    told: list[str] = []
    assert record_id(read_site_salt(path, warn=told.append), "2.25.1") == record_id(SITE_SALT, "2.25.1")
    assert len(told) == 1 and str(path) in told[0]
    read_site_salt(path)
    assert capsys.readouterr().err.startswith("radledger: warning: salt file")


def test_an_unreadable_or_malformed_salt_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        read_site_salt(tmp_path / "missing.salt")
    bad = tmp_path / "bad.salt"
    bad.write_text("not hex\n")
    bad.chmod(0o600)
    with pytest.raises(ValidationError):
        read_site_salt(bad)
