"""Constants and enums shared by every registry, mirroring contracts/Common.sol."""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Any

from radledger.chain.errors import ValidationError

FOREVER = 2**40 - 1
"""The largest uint40 timestamp: a grant that never expires."""


class Scope(IntFlag):
    """Data classes a consent covers (Common.sol SCOPE_*)."""

    IMAGES = 1 << 0
    REPORTS = 1 << 1
    SAFETY_PROFILE = 1 << 2
    ALL = IMAGES | REPORTS | SAFETY_PROFILE

    @classmethod
    def checked(cls, value: int) -> Scope:
        """A non-empty combination of scopes, or ValidationError."""
        if not isinstance(value, int) or value <= 0 or value & ~int(cls.ALL):
            raise ValidationError(
                f"scopes: {value!r} is not a non-empty combination of {[s.name for s in _single_bits(cls)]}"
            )
        return cls(value)


class Purpose(IntFlag):
    """Purposes of use after HL7 PurposeOfUse (Common.sol PURPOSE_*)."""

    TREAT = 1 << 0
    HPAYMT = 1 << 1
    HOPERAT = 1 << 2
    HRESCH = 1 << 3
    ETREAT = 1 << 4
    ALL = TREAT | HPAYMT | HOPERAT | HRESCH | ETREAT

    @classmethod
    def checked(cls, value: int, single: bool = False) -> Purpose:
        """A non-empty combination of purposes (exactly one when `single`), or ValidationError."""
        if not isinstance(value, int) or value <= 0 or value & ~int(cls.ALL):
            raise ValidationError(
                f"purposes: {value!r} is not a non-empty combination of {[p.name for p in _single_bits(cls)]}"
            )
        if single and value & (value - 1):
            raise ValidationError(f"purpose: {cls(value)!r} names more than one purpose; an access has one")
        return cls(value)


class RecordKind(IntEnum):
    """What a record pointer points at (Common.sol RecordKind)."""

    NONE = 0
    IMAGING_STUDY = 1
    REPORT = 2
    SAFETY_PROFILE = 3
    CREDENTIAL_FILE = 4


def _single_bits(flag: type[Scope] | type[Purpose]) -> list[Any]:
    return [m for m in flag if m.name != "ALL" and bin(int(m)).count("1") == 1]
