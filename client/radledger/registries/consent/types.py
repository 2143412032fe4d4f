"""The consent registry's enums and structs (IConsentRegistry)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_typing import ChecksumAddress

from radledger.registries.common import Purpose, Scope


class AccessBasis(IntEnum):
    """Why an access is allowed (IConsentRegistry.AccessBasis)."""

    NONE = 0
    RECORD_GRANT = 1
    WILDCARD_GRANT = 2
    BREAK_GLASS = 3


@dataclass(frozen=True)
class Grant:
    """A grant slot. Active while `scopes` is non-zero and `valid_from <= now < valid_until`."""

    patient: ChecksumAddress
    grantee: ChecksumAddress
    record_id: bytes
    scopes: Scope
    purposes: Purpose
    valid_from: int
    valid_until: int
    version: int
    break_glass_until: int

    def is_active(self, now: int) -> bool:
        return bool(self.scopes) and self.valid_from <= now < self.valid_until


@dataclass(frozen=True)
class Guardian:
    patient: ChecksumAddress
    guardian: ChecksumAddress
    valid_until: int
    version: int

    def is_current(self, now: int) -> bool:
        return now < self.valid_until
