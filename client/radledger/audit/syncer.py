"""Syncing the index with a chain: adaptive log ranges, a resumable checkpoint and reorg safety.

One :func:`sync` call:

1. checks the chain (its id must be the deployment's) and registers the audited contracts;
   (on PostgreSQL, the deployment's schema: :mod:`radledger.audit.store.postgres`), and holds the
   deployment's writer lock until it returns (a second sync of it waits);
2. verifies that the last block it stored still has the same hash on the node; when it does
   not (a reorg, or an ``evm_revert`` on a dev node), it finds by binary search the highest
   stored block the node still agrees with and rewinds the index to it;
3. reads logs from the checkpoint to the head minus `confirmations`, one query per block range
   for all addresses at once (:func:`radledger.chain.events.reader.read_batches`: ranges adapt to
   the node, :mod:`radledger.chain.events.ranges`), storing
   each range with its checkpoint in one transaction (an interrupted sync resumes there);
4. verifies again, and goes back to 3 if the chain changed meanwhile.

A contract added to the deployment later is back-filled from its own first block up to the
others' checkpoint, then synced with them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from radledger.audit.index import AuditIndex
from radledger.chain.connection import is_in_process
from radledger.chain.errors import ChainError, ConfigurationError
from radledger.chain.events.ranges import RangePlanner, RangeRefused
from radledger.chain.events.reader import read_batches
from radledger.chain.events.sources import LogSource, source_for
from radledger.deployment.addresses import Deployment

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""anvil, hardhat and ganache: blocks are final when mined."""
DEFAULT_CONFIRMATIONS = 12
"""Blocks kept back from the head on public chains (about 2.5 minutes on Ethereum)."""
IN_PROCESS_CHUNK = 500
"""Blocks per stored range on the in-process chain (its checkpoint granularity)."""
MAX_REORG_PASSES = 20
HEAD_LAG_PAUSE = 0.5
"""Seconds to wait when a node says a range lies beyond its head although nothing was reorganised."""


@dataclass
class SyncReport:
    """What one sync did."""

    from_block: int
    to_block: int
    events: int = 0
    ranges: int = 0
    refusals: int = 0
    rewinds: list[tuple[int, int]] = field(default_factory=list)
    """(stored top block, block rewound to) for every reorg undone."""
    requests: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        text = (
            f"indexed {self.events} events from blocks {self.from_block}-{self.to_block} in {self.ranges} ranges, "
            f"{self.requests} requests, {self.seconds:.2f} s"
        )
        if self.refusals:
            text += f"; the node refused {self.refusals} ranges (narrowed)"
        for top, back in self.rewinds:
            text += f"; reorg: rewound from block {top} to {back}"
        return text


def default_confirmations(w3: Web3, chain_id: int) -> int:
    return 0 if is_in_process(w3) or chain_id in DEV_CHAIN_IDS else DEFAULT_CONFIRMATIONS


def sync(
    w3: Web3,
    index: AuditIndex,
    deployment: Deployment,
    *,
    source: LogSource | None = None,
    confirmations: int | None = None,
    to_block: int | None = None,
    planner: RangePlanner | None = None,
    progress: bool = False,
) -> SyncReport:
    """Bring `index` up to the chain's head (minus `confirmations`) for every contract of `deployment`,
    each read from its start block; a contract the node has no code for is :class:`NoContractCode`."""
    contracts = deployment.addresses()
    if not contracts:
        raise ConfigurationError("nothing to audit: no contract address given")
    chain_id = int(w3.eth.chain_id)
    if chain_id != deployment.chain_id:
        raise ConfigurationError(f"the node is chain {chain_id}, the deployment is on chain {deployment.chain_id}")
    for name in sorted(contracts):  # an address without code has no events: refuse rather than index nothing
        deployment.require_code(w3, name)
    index.bind_deployment(chain_id, contracts.values())
    with index.exclusive():
        return _sync(w3, index, deployment, source, confirmations, to_block, planner, progress, chain_id)


def _sync(
    w3: Web3,
    index: AuditIndex,
    deployment: Deployment,
    source: LogSource | None,
    confirmations: int | None,
    to_block: int | None,
    planner: RangePlanner | None,
    progress: bool,
    chain_id: int,
) -> SyncReport:
    contracts = deployment.addresses()
    source = source or source_for(w3)
    planner = planner or RangePlanner()
    depth = default_confirmations(w3, chain_id) if confirmations is None else confirmations
    if depth < 0:
        raise ConfigurationError("confirmations cannot be negative")
    for name, address in sorted(contracts.items()):
        index.watch(name, address, deployment.start_block(name))
    addresses = {str(a) for a in contracts.values()}
    started = time.perf_counter()
    report = SyncReport(from_block=index.checkpoint + 1, to_block=index.checkpoint)
    calls_before = source.calls
    for _ in range(MAX_REORG_PASSES):
        rewound = verify(index, source)
        if rewound is not None:
            report.rewinds.append(rewound)
        last = source.head() - depth
        if to_block is not None:
            last = min(last, to_block)
        finished = _scan(index, source, planner, addresses, last, report, progress)
        rewound = verify(index, source)
        if rewound is not None:
            report.rewinds.append(rewound)
        elif finished:
            report.to_block = max(report.to_block, last)
            break
        else:  # the node answered from behind its own head (a lagging replica): give it a moment
            time.sleep(HEAD_LAG_PAUSE)
    else:  # pragma: no cover - a node reorganising without end
        raise ChainError(f"the chain kept changing under the index ({MAX_REORG_PASSES} passes)")
    report.refusals = planner.refusals
    report.requests = source.calls - calls_before
    report.seconds = time.perf_counter() - started
    for _, back in report.rewinds:
        report.from_block = min(report.from_block, back + 1)
    return report


def verify(index: AuditIndex, source: LogSource) -> tuple[int, int] | None:
    """Rewind the index if the node no longer has its last stored block; returns (top, rewound to) or None.

    Stored hashes form a chain: when block k still matches, every stored block below k does too,
    so the highest block the node agrees with is found by binary search.
    """
    top = index.top_block()
    if top is None:
        return None
    current = source.block(top.number)
    if current is not None and current.hash == top.hash:
        return None
    stored = index.stored_blocks()
    low, high, good = 0, len(stored) - 1, -1
    while low <= high:
        middle = (low + high) // 2
        ref = source.block(stored[middle].number)
        if ref is not None and ref.hash == stored[middle].hash:
            good, low = middle, middle + 1
        else:
            high = middle - 1
    back = stored[good].number if good >= 0 else -1
    index.rewind(back)
    return (top.number, back)


def _scan(
    index: AuditIndex,
    source: LogSource,
    planner: RangePlanner,
    addresses: set[str],
    last: int,
    report: SyncReport,
    progress: bool,
) -> bool:
    """Read ranges until every address reaches `last`; False if the node's head moved back meanwhile."""
    bar = _progress_bar(index, addresses, last, progress)
    try:
        while True:
            watched = [c for c in index.contracts() if c.address in addresses]
            lagging = [c for c in watched if c.synced_to < last]
            if not lagging:
                return True
            low = min(c.synced_to for c in lagging)
            group = sorted(c.address for c in lagging if c.synced_to == low)
            stop = min([c.synced_to for c in lagging if c.synced_to > low], default=last)
            start = max(low + 1, 0)
            try:
                for batch in read_batches(source, group, start, stop, IN_PROCESS_CHUNK, planner):
                    report.events += index.store_range(group, batch.end, batch.logs, batch.blocks, start=batch.start)
                    report.ranges += 1
                    if bar is not None:
                        bar.update(batch.end - batch.start + 1)
            except RangeRefused:  # read_batches lets only a range beyond the head through
                return False
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(index: AuditIndex, addresses: set[str], last: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the audit extra
        return None
    behind = [c.synced_to for c in index.contracts() if c.address in addresses and c.synced_to < last]
    if not behind:
        return None
    total = last - min(behind)  # each block is read once: a back-filled contract joins the others
    return tqdm(total=total, unit="block", desc="audit sync", file=sys.stderr, dynamic_ncols=True, leave=False)


__all__: Sequence[str] = [
    "DEFAULT_CONFIRMATIONS",
    "SyncReport",
    "default_confirmations",
    "sync",
    "verify",
]
