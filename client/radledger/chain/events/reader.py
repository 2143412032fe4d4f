"""The package's one log reader: block ranges that adapt to what a node refuses, through the fastest source.

- :func:`read_batches`: the logs of some addresses over a block range, batch by batch, each
  batch with the headers the audit index stores; a range the node refuses is read again in
  smaller ranges (its stated limit, its suggested range, or halves: :mod:`.ranges`).
- :func:`read_logs`: the same, as one list of :class:`~.decoding.RawLog` up to a block or the head.
- :class:`ContractEvents`: one contract's events, by name and indexed arguments, read with
  :func:`read_logs` or taken from a receipt, decoded by :class:`~.decoding.EventDecoder`:
  what the contract clients' history methods read.

Every reader goes through :func:`~.sources.source_for`: py-evm's database on the in-process chain
(eth-tester's own log filter costs the square of the chain's length), ``eth_getLogs`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from radledger.chain.artifacts import Artifact
from radledger.chain.events.decoding import Event, EventDecoder, RawLog
from radledger.chain.events.ranges import RangePlanner, RangeRefused, RefusalKind
from radledger.chain.events.sources import LogBatch, LogSource, source_for
from radledger.chain.events.topics import TopicFilter

HEAD_RETRIES = 3
"""How often :func:`read_logs` reads again after the node's head moved back under it (a reorg, a revert)."""


def read_batches(
    source: LogSource,
    addresses: Sequence[str],
    start: int,
    last: int,
    chunk: int | None = None,
    planner: RangePlanner | None = None,
    topics: TopicFilter | None = None,
) -> Iterator[LogBatch]:
    """The logs of `addresses` (matching `topics`) from block `start` to `last`, batch by batch in order:
    in ranges that adapt to a node's limits (learned from its refusals, in `planner` when given), or in
    process in `chunk` blocks (default: all at once). Nothing when `start` is past `last`. A range
    beyond the node's head (the chain got shorter) raises RangeRefused; a single block the node
    refuses raises ChainError."""
    planner = planner or RangePlanner()
    while start <= last:
        if source.adaptive:
            end = planner.end_for(start, last)
        else:
            end = last if chunk is None else min(last, start + chunk - 1)
        try:
            batch = source.fetch(start, end, addresses, topics)
        except RangeRefused as refused:
            if refused.refusal.kind is RefusalKind.HEAD:
                raise
            planner.refused(refused.refusal, end - start + 1)
            continue
        if source.adaptive:
            planner.succeeded(end - start + 1, len(batch.logs))
        yield batch
        start = end + 1


def read_logs(
    chain: Web3 | LogSource,
    addresses: Sequence[str],
    from_block: int = 0,
    to_block: int | None = None,
    topics: TopicFilter | None = None,
) -> list[RawLog]:
    """Every log of `addresses` (matching `topics`) from `from_block` to `to_block` (default and at most:
    the head), oldest first, read through :func:`source_for` (or the source given) in ranges the node
    accepts. When the head moves back while reading (a reorg), the rest is read up to the new head."""
    source = source_for(chain) if isinstance(chain, Web3) else chain
    if not addresses:
        return []
    logs: list[RawLog] = []
    start = max(0, int(from_block))
    planner = RangePlanner()
    for attempt in range(HEAD_RETRIES + 1):
        head = source.head()
        last = head if to_block is None else min(int(to_block), head)
        try:
            for batch in read_batches(source, addresses, start, last, planner=planner, topics=topics):
                logs.extend(batch.logs)
                start = batch.end + 1
            return logs
        except RangeRefused as refused:
            if attempt == HEAD_RETRIES:
                raise
            start = refused.start
    raise AssertionError("unreachable")  # pragma: no cover


class ContractEvents:
    """The events of one deployed contract, from the chain or from receipts, decoded with its ABI."""

    def __init__(self, w3: Web3, address: str, artifact: Artifact) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract = artifact.name
        self.decoder = EventDecoder.for_artifact(artifact)

    def read(
        self,
        event: str | None = None,
        filters: Mapping[str, Any] | None = None,
        from_block: int = 0,
        to_block: int | None = None,
        topics: TopicFilter | None = None,
    ) -> list[Event]:
        """The contract's `event` logs whose indexed arguments equal `filters` (every event of the
        contract when `event` is None, or those matching the raw `topics`), oldest first."""
        if event is not None:
            if topics is not None:
                raise ValueError("ContractEvents.read: give an event and its filters, or raw topics, not both")
            topics = self.decoder.topic_filter(self.contract, event, filters)
        elif filters:
            raise ValueError("ContractEvents.read: filters need an event name")
        return self.decode(read_logs(self.w3, [self.address], from_block, to_block, topics), event)

    def decode(self, logs: Iterable[RawLog | Mapping[str, Any]], event: str | None = None) -> list[Event]:
        """The events of this contract among `logs` (raw, or as web3 formats them), `event` only if given
        (ValueError when the contract declares no such event)."""
        if event is not None:
            self.decoder.named(self.contract, event)
        out = []
        for log in logs:
            raw = log if isinstance(log, RawLog) else RawLog.from_mapping(log)
            if raw.address != self.address:
                continue
            decoded = self.decoder.event(raw, self.contract)
            if decoded is not None and (event is None or decoded.name == event):
                out.append(decoded)
        return out

    def in_receipt(self, receipt: Mapping[str, Any], event: str | None = None) -> list[Event]:
        """The events this contract emitted in a transaction, in order (`event` only, if given)."""
        return self.decode(receipt["logs"], event)


__all__ = ["HEAD_RETRIES", "ContractEvents", "read_batches", "read_logs"]
