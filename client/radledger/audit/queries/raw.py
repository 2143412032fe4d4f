"""Every indexed event as it is, its arguments as JSON text (``radledger audit export events``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from radledger.audit.index import AuditIndex
from radledger.audit.queries.base import Found
from radledger.chain.events.decoding import to_json


@dataclass(frozen=True)
class RawEvent(Found):
    """Any indexed event, its arguments as JSON text."""

    def fields(self) -> dict[str, Any]:
        return {
            "contract": self.source.contract or "",
            "address": self.source.address,
            "event": self.source.event or "",
            "args": json.dumps(to_json(self.source.args), sort_keys=True),
        }


def all_events(index: AuditIndex, since: int | None = None, until: int | None = None) -> list[RawEvent]:
    return [RawEvent(r) for r in index.events(since=since, until=until)]
