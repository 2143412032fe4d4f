"""What every audit query shares: the answer row (:class:`Found`), the contract names it reads, and
the text forms of times, bytes, scopes, purposes and access bases that every row prints."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from radledger.audit.index import AuditIndex, EventRow, NotInIndex
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.types import AccessBasis

MAX_DATETIME = 253402300799
"""9999-12-31T23:59:59Z: later uint40 times (a grant "forever") show as `never`."""

CONSENT = "ConsentRegistry"
RECORDS = "RecordRegistry"
CREDENTIALS = "CredentialRegistry"
PREAUTH = "PreauthRegistry"


# ------------------------------------------------------------------------------ formatting


def show_time(timestamp: int | None) -> str:
    """ISO 8601 UTC, `never` for the largest uint40, empty for None."""
    if timestamp is None:
        return ""
    if timestamp >= FOREVER or timestamp > MAX_DATETIME:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hex0x(value: bytes | None) -> str:
    return "" if value is None else "0x" + bytes(value).hex()


def scope_names(scopes: int) -> str:
    """`images|reports`; names as the CLI takes them."""
    names = {Scope.IMAGES: "images", Scope.REPORTS: "reports", Scope.SAFETY_PROFILE: "safety-profile"}
    return "|".join(n for flag, n in names.items() if int(flag) & int(scopes))


def purpose_names(purposes: int) -> str:
    """`TREAT|HPAYMT`: HL7 PurposeOfUse codes."""
    return "|".join(p.name or "" for p in Purpose if p.name != "ALL" and int(p) & int(purposes))


def basis_name(basis: AccessBasis) -> str:
    return {
        AccessBasis.NONE: "none",
        AccessBasis.RECORD_GRANT: "record-grant",
        AccessBasis.WILDCARD_GRANT: "wildcard-grant",
        AccessBasis.BREAK_GLASS: "break-glass",
    }[basis]


def show_record(record_id: bytes) -> str:
    return "all records" if record_id == WILDCARD else hex0x(record_id)


# ---------------------------------------------------------------------------- answer rows


@dataclass(frozen=True)
class Found(ABC):
    """A query answer row: the event it rests on, and what it says (``fields``)."""

    source: EventRow

    def provenance(self) -> dict[str, Any]:
        return self.source.provenance()

    @property
    def time(self) -> int:
        return self.source.timestamp

    @abstractmethod
    def fields(self) -> dict[str, Any]:
        """What the answer says, as text or numbers (every subclass says what it holds)."""

    def row(self) -> dict[str, Any]:
        """Provenance columns first, then the event's time, then the answer's fields (all text or numbers)."""
        return {**self.provenance(), "time": show_time(self.time), **self.fields()}


def synced_time(index: AuditIndex) -> int:
    """The last synced block's time: what "now" means to a query."""
    now = index.latest_time()
    if now is None:
        raise NotInIndex("the index is empty: run `radledger audit sync` first")
    return now
