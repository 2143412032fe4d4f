"""Adaptive block ranges for ``eth_getLogs``, and the refusals of public providers recognised by message.

Providers refuse a log query whose block range is too wide, or whose answer holds too many
logs, each in its own words. :func:`classify_refusal` reads the JSON-RPC error (or the HTTP
status) and says what to do: use the node's stated limit or suggested range when it gives one,
halve the range when it does not, wait when rate-limited, or re-check the chain's head when the
node says the range lies beyond it (anvil after ``evm_revert``, and geth). :class:`RangePlanner`
keeps the current range size: it shrinks on refusals and on large answers, and grows again
(doubling, up to a learned hard cap) while answers stay small.

Messages recognised (as the providers word them; numbers vary):

==================  ===============================================================================
geth, publicnode    ``exceed maximum block range: 50000`` / ``query returned more than 10000 results``
reth                ``query exceeds max block range 100000`` /
                    ``query exceeds max results 20000, retry with the range 1-100``
Alchemy             ``Log response size exceeded. ... this block range should work: [0x1, 0x1f3]`` /
                    ``... eth_getLogs requests with up to a 10 block range``
Infura              ``query returned more than 10000 results. Try with this block range [0x1, 0x2]``
QuickNode           ``eth_getLogs is limited to a 10,000 range``
Ankr                ``block range is too wide``
Cloudflare          ``Max range: 800``
Avalanche           ``requested too many blocks from 0 to 5000, maximum is set to 2048``
Coinbase (Base)     ``please limit the query to at most 1000 blocks`` / ``block range too large``
Arbitrum            ``logs matched by query exceeds limit of 10000``
Optimism            ``backend response too large`` / ``Block range is too large``
Chainstack          ``Block range limit exceeded.``
anvil               ``BlockOutOfRangeError: block height is 4 but requested was 5`` (the head moved
                    back: a revert or reorg); in fork mode anvil passes its upstream's refusal on
HTTP                413 (answer too large) and 504 / read time-outs: halve; 429: rate-limited, wait
==================  ===============================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from radledger.chain.errors import ChainError


class RefusalKind(StrEnum):
    RANGE = "range"  # too many blocks in one query
    RESULTS = "results"  # too many logs (or too large, or too slow) an answer
    HEAD = "head"  # the range lies beyond the node's head: the chain got shorter (revert, reorg)
    RATE = "rate"  # rate-limited: retry the same range later


@dataclass(frozen=True)
class Refusal:
    """A node's refusal of a log query; `max_blocks` is the block count it says it accepts, if it says."""

    kind: RefusalKind
    message: str
    max_blocks: int | None = None
    hard_limit: bool = False
    """Whether `max_blocks` is a fixed limit of the node (True) or a suggestion for this answer's size."""


class RangeRefused(ChainError):
    """The node refused a log query for a reason that a smaller range (or waiting) may avoid."""

    def __init__(self, refusal: Refusal, start: int, end: int) -> None:
        super().__init__(f"the node refused the logs of blocks {start}-{end}: {refusal.message}")
        self.refusal = refusal
        self.start = start
        self.end = end


def _number(text: str) -> int:
    return int(text.replace(",", "").replace("_", ""))


_N = r"([\d][\d,_]*)"
_HEX = r"(0x[0-9a-fA-F]+)"

_HARD_LIMITS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"exceed(?:s|ed)? maximum block range:?\s*{_N}",
        rf"exceeds? max block range:?\s*\(?{_N}",
        rf"requested too many blocks from \d+ to \d+, maximum is set to {_N}",
        rf"max range:\s*{_N}",
        rf"maximum allowed number of requested blocks is {_N}",
        rf"limited to an? {_N}(?:\s*-?\s*blocks?)? range",
        rf"up to an? {_N}\s*-?\s*block range",
        rf"limit the query to at most {_N} blocks",
        rf"maximum block range:\s*{_N}",
        rf"block range is too wide \(maximum {_N}\)",
        rf"block range greater than {_N} max",
        rf"block range exceeds {_N}",
        rf"exceeds the range allowed for your plan \(\d+ > {_N}\)",
        rf"maximum \[from, to\] blocks distance:\s*{_N}",
    )
]
_SUGGESTED_HEX = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"this block range should work:\s*\[{_HEX},\s*{_HEX}\]",
        rf"try with this block range\s*\[{_HEX},\s*{_HEX}\]",
    )
]
_SUGGESTED_DEC = re.compile(r"retry with the range (\d+)-(\d+)", re.IGNORECASE)
_TOO_MANY_RESULTS = re.compile(
    r"query returned more than \d+ results|exceeds? max results|logs matched by query exceeds limit"
    r"|response size (?:exceeded|should not)|response too large|too many (?:results|logs)"
    r"|result(?:s)? (?:set )?(?:is )?too large|query timeout|timed? ?out",
    re.IGNORECASE,
)
_RANGE_NO_NUMBER = re.compile(
    r"block range (?:is )?too (?:large|wide)|block range limit exceeded|range too large"
    r"|exceed(?:s|ed)? max block range",
    re.IGNORECASE,
)
_HEAD = re.compile(
    r"BlockOutOfRangeError|block height is \d+ but requested was \d+|extends beyond current head"
    r"|invalid block range|fromBlock .*(?:greater|after|beyond).*(?:head|latest)",
    re.IGNORECASE,
)
_RATE = re.compile(
    r"rate limit|too many requests|exceeded .*compute units|request limit|throughput|capacity exceeded",
    re.IGNORECASE,
)


def classify_refusal(message: str, code: int | None = None, http_status: int | None = None) -> Refusal | None:
    """What a log query's error means (None: nothing a smaller range or a wait would fix)."""
    text = message or ""
    if http_status == 429:
        return Refusal(RefusalKind.RATE, text or "HTTP 429")
    if http_status in (413, 504, 524):
        return Refusal(RefusalKind.RESULTS, text or f"HTTP {http_status}")
    for pattern in _SUGGESTED_HEX:
        match = pattern.search(text)
        if match:
            size = int(match.group(2), 16) - int(match.group(1), 16) + 1
            return Refusal(RefusalKind.RESULTS, text, max(1, size))
    match = _SUGGESTED_DEC.search(text)
    if match:
        return Refusal(RefusalKind.RESULTS, text, max(1, int(match.group(2)) - int(match.group(1)) + 1))
    for pattern in _HARD_LIMITS:
        match = pattern.search(text)
        if match:
            return Refusal(RefusalKind.RANGE, text, max(1, _number(match.group(1))), hard_limit=True)
    if _HEAD.search(text):
        return Refusal(RefusalKind.HEAD, text)
    if _TOO_MANY_RESULTS.search(text):
        return Refusal(RefusalKind.RESULTS, text)
    if _RANGE_NO_NUMBER.search(text):
        return Refusal(RefusalKind.RANGE, text)
    if _RATE.search(text) or code == 429:
        return Refusal(RefusalKind.RATE, text)
    return None


class RangePlanner:
    """The size (in blocks) of the next log query.

    Starts at `initial`; a refusal shrinks it (to the node's stated limit, or its suggested range,
    or half of what was refused); an answer above `target_logs` shrinks it in proportion; an answer
    below a quarter of `target_logs` doubles it, never above `maximum` or a limit the node stated.
    """

    def __init__(self, initial: int = 2_000, maximum: int = 100_000, target_logs: int = 5_000) -> None:
        if initial < 1 or maximum < initial or target_logs < 1:
            raise ValueError("RangePlanner: need 1 <= initial <= maximum and target_logs >= 1")
        self.size = initial
        self.cap = maximum
        self.target_logs = target_logs
        self.refusals = 0

    def end_for(self, start: int, last: int) -> int:
        return min(last, start + self.size - 1)

    def refused(self, refusal: Refusal, attempted: int) -> None:
        """Shrink after a refusal of a query of `attempted` blocks; a single block refused is final."""
        self.refusals += 1
        if refusal.kind in (RefusalKind.RATE, RefusalKind.HEAD):
            return
        if attempted <= 1:
            raise ChainError(f"the node refuses the logs of a single block: {refusal.message}")
        if refusal.max_blocks is not None:
            size = min(refusal.max_blocks, attempted - 1)
            if refusal.hard_limit:
                self.cap = max(1, min(self.cap, size))
        else:
            size = attempted // 2
        self.size = max(1, min(size, self.cap))

    def succeeded(self, attempted: int, logs: int) -> None:
        """Adapt after an answer of `logs` logs for `attempted` blocks."""
        if logs > self.target_logs:
            self.size = max(1, min(self.size, attempted * self.target_logs // logs))
        elif logs < self.target_logs // 4 and attempted >= self.size:
            self.size = min(self.cap, self.size * 2)
