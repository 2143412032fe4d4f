"""Reading logs from nodes that cap `eth_getLogs`: a refused range is read again in halves.

The contract wrappers' event readers (credentials, prior authorization) use it; the auditor's
index reads through :mod:`radledger.audit.sources`, which learns each provider's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from web3.exceptions import Web3Exception

from radledger.chain.errors import ChainError

T = TypeVar("T")


def logs_in_halves(fetch: Callable[[int, int], Iterable[T]], start: int, end: int) -> list[T]:
    """`fetch(start, end)` (blocks inclusive), oldest first; a range the node refuses (too many
    blocks or results) is fetched as its two halves, down to single blocks. Nothing when `start`
    is past `end` (a start block beyond the chain's head)."""
    if start > end:
        return []
    try:
        return list(fetch(start, end))
    except (Web3Exception, ValueError) as exc:
        if start >= end:
            raise ChainError(f"the node refused the logs of block {start}: {exc}") from exc
    middle = (start + end) // 2
    return logs_in_halves(fetch, start, middle) + logs_in_halves(fetch, middle + 1, end)
