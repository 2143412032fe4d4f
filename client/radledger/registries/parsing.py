"""Reading what people write: scopes, purposes and record kinds by name; times and durations.

The command line, configuration files and scripts share these, so that `images,reports`,
`TREAT`, `study`, `30d` or `2030-04-01` mean the same everywhere.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from typing import Any

from radledger.chain import validation
from radledger.chain.errors import ValidationError
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope

_DURATION = re.compile(r"^(\d+)\s*([smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_NEVER = {"never", "forever"}


def parse_duration(text: str) -> int:
    """Seconds from `30d`, `12h`, `90m`, `45s`, `2w` or `1y` (365 days)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValidationError(f"duration {text!r} is not a number with a unit s, m, h, d, w or y (e.g. 30d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str, now: int, what: str) -> int:
    """A unix timestamp from an ISO date or time (UTC unless it says otherwise), unix seconds,
    a duration from `now` (`30d`), or `never`."""
    value = text.strip()
    if value.lower() in _NEVER:
        return FOREVER
    if _DURATION.match(value.lower()):
        return now + parse_duration(value)
    if value.isdigit():
        return validation.timestamp(int(value), what)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{what}: {text!r} is not a time (an ISO date like 2030-04-01, unix seconds, or a duration like 30d)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return validation.timestamp(int(parsed.timestamp()), what)


def wall_clock() -> int:
    """This machine's time in unix seconds: what relative times count from without a chain."""
    return int(time.time())


_SCOPE_NAMES = {
    "images": Scope.IMAGES,
    "reports": Scope.REPORTS,
    "safety-profile": Scope.SAFETY_PROFILE,
    "safety": Scope.SAFETY_PROFILE,
    "all": Scope.ALL,
}
_PURPOSE_NAMES = {**{p.name.lower(): p for p in Purpose if p.name}, "all": Purpose.ALL}
_KIND_NAMES = {
    "study": RecordKind.IMAGING_STUDY,
    "imaging-study": RecordKind.IMAGING_STUDY,
    "report": RecordKind.REPORT,
    "safety-profile": RecordKind.SAFETY_PROFILE,
    "credential-file": RecordKind.CREDENTIAL_FILE,
}


def _parse_names(text: str, names: dict[str, Any], what: str) -> int:
    value = 0
    for part in text.split(","):
        key = part.strip().lower().replace("_", "-")
        if key not in names:
            known = ", ".join(n for n in names if n != "safety")
            raise ValidationError(f"{what}: {part.strip()!r} is not one of {known}")
        value |= int(names[key])
    if not value:
        raise ValidationError(f"{what}: none given")
    return value


def parse_scopes(text: str) -> Scope:
    """`images,reports` → Scope; names: images, reports, safety-profile, all."""
    return Scope.checked(_parse_names(text, _SCOPE_NAMES, "scopes"))


def parse_purposes(text: str, single: bool = False) -> Purpose:
    """`TREAT,HRESCH` → Purpose; HL7 PurposeOfUse names, or all."""
    return Purpose.checked(_parse_names(text, _PURPOSE_NAMES, "purposes"), single=single)


def parse_kind(text: str) -> RecordKind:
    """`study` → RecordKind; names: study, report, safety-profile, credential-file."""
    key = text.strip().lower().replace("_", "-")
    if key not in _KIND_NAMES:
        raise ValidationError(f"record kind {text!r} is not one of study, report, safety-profile, credential-file")
    return _KIND_NAMES[key]


def names_of(flags: Scope | Purpose) -> list[str]:
    """The single-bit members of a flag value, by name (`IMAGES`, `REPORTS`)."""
    return [m.name or "" for m in type(flags) if int(m) & int(flags)]
