"""One default for each gateway setting the documentation names: code, docstring, README, docs."""

from __future__ import annotations

import re
from pathlib import Path

from radledger.gateway import config
from radledger.gateway.config import DEFAULT_VERIFY_CACHE_SECONDS, GatewaySettings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def _documented(text: str, key: str) -> set[float]:
    return {float(v) for v in re.findall(rf"^\s*{key}\s*=\s*([0-9.]+)", text, flags=re.MULTILINE)}


def test_verify_cache_seconds_has_one_default_in_code_docstring_readme_and_docs(tmp_path: Path) -> None:
    minimal = tmp_path / "gateway.toml"
    minimal.write_text('[gateway]\npublic_url = "https://g.example/dicomweb"\n[upstream]\nurl = "http://127.0.0.1:1"\n')
    field = GatewaySettings.__dataclass_fields__["verify_cache_seconds"].default
    assert {field, load_settings(minimal).verify_cache_seconds} == {DEFAULT_VERIFY_CACHE_SECONDS}
    for source in (config.__doc__ or "", (ROOT / "README.md").read_text(), (ROOT / "docs" / "gateway.md").read_text()):
        assert _documented(source, "verify_cache_seconds") <= {DEFAULT_VERIFY_CACHE_SECONDS}
    assert _documented((ROOT / "docs" / "gateway.md").read_text(), "verify_cache_seconds") == {
        DEFAULT_VERIFY_CACHE_SECONDS
    }
