"""Files: configuration documents read with one kind of error, and files only their owner may
read (site salts, openings holding PHI, keystores)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radledger.chain.errors import ConfigurationError


def read_document(path: Path | str, what: str, parse: Callable[[str], Any]) -> Any:
    """`parse` of the text of `path` (json.loads, tomllib.loads); a missing, unreadable or
    unparsable file is a ConfigurationError naming `what` and the file."""
    target = Path(path)
    try:
        return parse(target.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"no {what} at {target}") from None
    except (OSError, ValueError) as exc:  # json and tomllib decode errors are ValueErrors
        raise ConfigurationError(f"cannot read {what} {target}: {exc}") from exc


def write_private(path: Path | str, text: str, replace: bool = True) -> Path:
    """Write `text` to `path`, created with mode 600 (never readable by others, not even for a moment).

    Without `replace`, an existing file is left alone and FileExistsError raised.
    """
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    target.chmod(0o600)  # a replaced file keeps its old mode through O_TRUNC
    return target
