"""Enums and frozen dataclasses that mirror the contracts' constants and structs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from eth_typing import ChecksumAddress

FOREVER = 2**40 - 1
"""The largest uint40 timestamp: a grant that never expires."""


class Scope(IntFlag):
    """Data classes a consent covers (Common.sol SCOPE_*)."""

    IMAGES = 1 << 0
    REPORTS = 1 << 1
    SAFETY_PROFILE = 1 << 2
    ALL = IMAGES | REPORTS | SAFETY_PROFILE


class Purpose(IntFlag):
    """Purposes of use after HL7 PurposeOfUse (Common.sol PURPOSE_*)."""

    TREAT = 1 << 0
    HPAYMT = 1 << 1
    HOPERAT = 1 << 2
    HRESCH = 1 << 3
    ETREAT = 1 << 4
    ALL = TREAT | HPAYMT | HOPERAT | HRESCH | ETREAT


class RecordKind(IntEnum):
    """What a record pointer points at (Common.sol RecordKind)."""

    NONE = 0
    IMAGING_STUDY = 1
    REPORT = 2
    SAFETY_PROFILE = 3
    CREDENTIAL_FILE = 4


class AccessBasis(IntEnum):
    """Why an access is allowed (IConsentRegistry.AccessBasis)."""

    NONE = 0
    RECORD_GRANT = 1
    WILDCARD_GRANT = 2
    BREAK_GLASS = 3


@dataclass(frozen=True)
class Custodian:
    address: ChecksumAddress
    index: int
    active: bool
    gateway_url: str


@dataclass(frozen=True)
class Record:
    record_id: bytes
    patient: ChecksumAddress
    custodian: ChecksumAddress
    kind: RecordKind
    version: int
    registered_at: int
    content_hash: bytes


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
