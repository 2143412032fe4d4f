"""Where the compiled artifacts live: the package's own folder, or $RADLEDGER_ARTIFACTS_DIR.

A module of its own, beneath both :mod:`radledger.chain.artifacts` (which loads them) and
:mod:`radledger.chain.errors` (which registers their custom errors), so neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS_DIR = Path(__file__).parent.parent / "artifacts"
ARTIFACTS_ENV = "RADLEDGER_ARTIFACTS_DIR"
"""Environment variable naming another artifacts folder (contributors' fresh compiles; tests)."""


def default_dir() -> Path:
    """The folder artifacts load from: $RADLEDGER_ARTIFACTS_DIR, else the package's own."""
    override = os.environ.get(ARTIFACTS_ENV)
    return Path(override) if override else ARTIFACTS_DIR
