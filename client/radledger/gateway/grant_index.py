"""The gateway's local index of ConsentRegistry's grants, by grantee: where a search starts.

A search across studies must not ask the chain about every study the PACS holds (any fresh key
makes a valid token: 50,000 studies would be 50,000 questions per request). The gateway keeps,
from ConsentRegistry's events, which (patient, record) pairs name each grantee
(`ConsentGranted`, `ConsentRevoked`) and which patients opened break-glass for an account
(`BreakGlassInvoked`). A search then checks only the requester's candidates: a record grant's
study, every study of a patient who granted a wildcard or opened break-glass. A requester with
no grant costs no node call at all beyond the index's own refresh, shared by every request
(the node's head and the new logs, at most once per `refresh_seconds`).

The index only narrows the candidates; every one is still decided by `accessBasis` through the
consent cache, so a stale index can hide a study for at most `refresh_seconds` (a grant made
since) and never shows one. The events' reader is the shared one (`chain.events.sources`); a
chain that got shorter (a reorganisation, a test's snapshot revert) rebuilds the index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import validation
from radledger.chain.events.decoding import RawLog
from radledger.chain.events.ranges import RangeRefused
from radledger.chain.events.reader import read_batches
from radledger.chain.events.sources import LogSource, source_for
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.events import decode_consent_logs


@dataclass(frozen=True)
class Candidates:
    """What may concern one grantee: exact records, and patients all of whose records may."""

    records: frozenset[bytes] = field(default_factory=frozenset)
    patients: frozenset[ChecksumAddress] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.records or self.patients)


class GrantIndex:
    def __init__(
        self,
        w3: Web3,
        consent_address: str,
        from_block: int = 0,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        source: LogSource | None = None,
    ) -> None:
        self.w3 = w3
        self.address = validation.address(consent_address, "ConsentRegistry")
        self.from_block = from_block
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._source = source
        self._lock = threading.Lock()
        self._next_block = from_block
        self._refreshed_at: float | None = None
        self._grants: dict[ChecksumAddress, set[tuple[ChecksumAddress, bytes]]] = {}
        self._break_glass: dict[ChecksumAddress, set[ChecksumAddress]] = {}
        self.refreshes = 0

    @property
    def source(self) -> LogSource:
        if self._source is None:
            self._source = source_for(self.w3)
        return self._source

    def candidates(self, grantee: str) -> Candidates:
        """The grantee's candidates, with the index refreshed when it is older than `refresh_seconds`."""
        who = validation.address(grantee, "grantee")
        self.refresh()
        with self._lock:
            pairs = set(self._grants.get(who, ()))
            glass = set(self._break_glass.get(who, ()))
        records = frozenset(r for _, r in pairs if r != WILDCARD)
        patients = frozenset({p for p, r in pairs if r == WILDCARD} | glass)
        return Candidates(records, patients)

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            now = self.clock()
            if not force and self._refreshed_at is not None and now - self._refreshed_at < self.refresh_seconds:
                return
            head = self.source.head()
            if head + 1 < self._next_block:  # the chain got shorter: start again
                self._reset()
            if self._next_block <= head:
                try:
                    for batch in read_batches(self.source, [self.address], self._next_block, head):
                        self._apply(batch.logs)
                except RangeRefused:
                    self._reset()
                    for batch in read_batches(self.source, [self.address], self._next_block, head):
                        self._apply(batch.logs)
                self._next_block = head + 1
            self._refreshed_at = now
            self.refreshes += 1

    def _reset(self) -> None:
        self._grants.clear()
        self._break_glass.clear()
        self._next_block = self.from_block

    def _apply(self, logs: Sequence[RawLog]) -> None:
        for event in decode_consent_logs(logs, self.address):
            args = event.args
            if event.name == "ConsentGranted":
                self._grants.setdefault(args["grantee"], set()).add((args["patient"], bytes(args["recordId"])))
            elif event.name == "ConsentRevoked":
                self._grants.get(args["grantee"], set()).discard((args["patient"], bytes(args["recordId"])))
            elif event.name == "BreakGlassInvoked":
                self._break_glass.setdefault(args["account"], set()).add(args["patient"])
