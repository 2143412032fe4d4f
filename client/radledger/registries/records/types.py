"""The records registry's structs as frozen dataclasses (IRecordRegistry)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import ChecksumAddress

from radledger.registries.common import RecordKind


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
