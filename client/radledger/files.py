"""Files only their owner may read: site salts, openings (PHI), keystores."""

from __future__ import annotations

import os
from pathlib import Path


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
