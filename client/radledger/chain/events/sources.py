"""Where logs come from: ``eth_getLogs`` on any JSON-RPC node, or the in-process chain's own database.

:func:`source_for` picks the source for a connection; :mod:`.reader` reads through it.

:class:`RpcLogSource` sends one ``eth_getLogs`` per block range for all the wanted addresses
at once, as raw JSON-RPC (web3's result formatters cost more than the decoding itself), and
turns a node's refusal into :class:`~radledger.chain.events.ranges.RangeRefused`. Block times come
from the logs' ``blockTimestamp`` when the node adds it (anvil, recent geth and reth), else
from block headers fetched in JSON-RPC batches.

:class:`InProcessLogSource` reads the in-process chain (eth-tester on py-evm) block by block
from py-evm's database. Measured on this machine (ConsentRegistry grants, one per block):

================  ==============================  ===============================================
blocks            ``eth_getLogs`` (eth-tester)    py-evm blocks and receipts (this source)
================  ==============================  ===============================================
103               2.8 s                           0.08 s
203               11.7 s                          0.19 s
403               58.6 s                          0.36 s
1,603             (not run: minutes)              1.5 s
================  ==============================  ===============================================

eth-tester's log filter (and its ``get_transaction_receipt``) finds each transaction by
walking the chain back from the head, so reading a history costs the square of its length;
web3's ``get_block`` + ``get_transaction_receipt`` per block goes through that same walk
(1.6 s, 10.7 s and 24.4 s for the rows above). Reading the canonical blocks and their stored
receipts from py-evm's chain database costs about a millisecond a block, whatever the length.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3

from radledger.chain.connection import is_in_process
from radledger.chain.errors import ChainError
from radledger.chain.events.decoding import RawLog, checksum
from radledger.chain.events.ranges import RangeRefused, Refusal, RefusalKind, classify_refusal
from radledger.chain.events.topics import TopicFilter, rpc_topics, topics_match

BATCH_SIZE = 50
"""Block headers asked for in one JSON-RPC batch."""


@dataclass(frozen=True)
class BlockRef:
    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class LogBatch:
    """The logs of a block range, and the headers of its event blocks and of its last block."""

    start: int
    end: int
    logs: list[RawLog]
    blocks: dict[int, BlockRef]


class LogSource(Protocol):
    adaptive: bool
    """Whether ranges must adapt to a node's limits (False: any range is fine)."""
    calls: int
    """Requests sent so far (for reports and tests)."""

    def head(self) -> int: ...

    def block(self, number: int) -> BlockRef | None:
        """The canonical block `number`, or None when the chain does not reach it."""
        ...

    def fetch(self, start: int, end: int, addresses: Sequence[str], topics: TopicFilter | None = None) -> LogBatch:
        """The logs of `addresses` (matching `topics`, if given) in blocks `start` to `end`; RangeRefused
        when the node refuses the range, or when it lies beyond the head (the chain got shorter)."""
        ...


def source_for(w3: Web3) -> LogSource:
    """The fast source for `w3`: py-evm's database in process, else ``eth_getLogs``."""
    return InProcessLogSource(w3) if is_in_process(w3) else RpcLogSource(w3)


# --------------------------------------------------------------------------- in process


class InProcessLogSource:
    """Blocks and receipts straight from the in-process chain's py-evm database (see the module text)."""

    adaptive = False

    def __init__(self, w3: Web3) -> None:
        if not is_in_process(w3):
            raise ChainError("InProcessLogSource needs the in-process chain")
        self.w3 = w3
        self.calls = 0

    def _chain(self) -> Any:
        # Looked up on every use: a snapshot revert gives eth-tester's backend a new chain object.
        return self.w3.provider.ethereum_tester.backend.chain  # type: ignore[attr-defined]

    def head(self) -> int:
        self.calls += 1
        return int(self.w3.eth.block_number)

    def block(self, number: int) -> BlockRef | None:
        self.calls += 1
        if number < 0 or number > self.head():
            return None
        header = self._chain().get_canonical_block_by_number(number).header
        return BlockRef(number, "0x" + bytes(header.hash).hex(), int(header.timestamp))

    def fetch(self, start: int, end: int, addresses: Sequence[str], topics: TopicFilter | None = None) -> LogBatch:
        wanted = {bytes.fromhex(to_checksum_address(a)[2:]) for a in addresses}
        chain = self._chain()
        logs: list[RawLog] = []
        blocks: dict[int, BlockRef] = {}
        head = self.head()
        if end > head:
            raise RangeRefused(Refusal(RefusalKind.HEAD, f"block height is {head} but requested was {end}"), start, end)
        for number in range(start, end + 1):
            self.calls += 1
            block = chain.get_canonical_block_by_number(number)
            header = block.header
            ref = BlockRef(number, "0x" + bytes(header.hash).hex(), int(header.timestamp))
            if number == end:
                blocks[number] = ref
            if not block.transactions:
                continue
            log_index = 0
            for tx_index, (tx, receipt) in enumerate(
                zip(block.transactions, block.get_receipts(chain.chaindb), strict=True)
            ):
                for log in receipt.logs:
                    if log.address in wanted:
                        log_topics = tuple(int(t).to_bytes(32, "big") for t in log.topics)
                        if topics_match(topics, log_topics):
                            logs.append(
                                RawLog(
                                    block_number=number,
                                    block_hash=ref.hash,
                                    tx_hash="0x" + bytes(tx.hash).hex(),
                                    tx_index=tx_index,
                                    log_index=log_index,
                                    address=checksum(bytes(log.address)),
                                    topics=log_topics,
                                    data=bytes(log.data),
                                    timestamp=ref.timestamp,
                                )
                            )
                            blocks[number] = ref
                    log_index += 1
        return LogBatch(start, end, logs, blocks)


# ---------------------------------------------------------------------------- JSON-RPC


class RpcLogSource:
    """``eth_getLogs`` over JSON-RPC, one query per range for every wanted address."""

    adaptive = True

    def __init__(self, w3: Web3, retries: int = 5, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        self.w3 = w3
        self.provider = _without_retries(w3.provider)
        self.calls = 0
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    # -- raw requests

    def _request(self, method: str, params: list[Any], start: int = 0, end: int = 0) -> Any:
        """One JSON-RPC call; refusals become RangeRefused, rate limits are retried after a pause."""
        for attempt in range(self.retries + 1):
            self.calls += 1
            try:
                response: Any = self.provider.make_request(method, params)  # type: ignore[arg-type]
            except Exception as exc:
                refusal = _transport_refusal(exc)
                if refusal is None:
                    raise ChainError(f"{method} failed: {exc}") from exc
            else:
                if "error" not in response:
                    return response.get("result")
                refusal = _response_refusal(response["error"])
                if refusal is None:
                    raise ChainError(f"{method} refused: {_error_text(response['error'])}")
            if refusal.kind is RefusalKind.RATE and attempt < self.retries:
                self._sleep(self.backoff * 2**attempt)
                continue
            raise RangeRefused(refusal, start, end)
        raise AssertionError("unreachable")  # pragma: no cover

    def head(self) -> int:
        return int(self._request("eth_blockNumber", []), 16)

    def block(self, number: int) -> BlockRef | None:
        try:
            raw = self._request("eth_getBlockByNumber", [hex(number), False])
        except RangeRefused:
            return None
        return _block_ref(raw) if raw else None

    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockRef]:
        """Headers of `numbers`, in JSON-RPC batches when the provider supports them."""
        found: dict[int, BlockRef] = {}
        wanted = sorted(set(numbers))
        batch = getattr(self.provider, "make_batch_request", None)
        for i in range(0, len(wanted), BATCH_SIZE):
            chunk = wanted[i : i + BATCH_SIZE]
            answers: list[Any] | None = None
            if batch is not None and len(chunk) > 1:
                try:
                    self.calls += 1
                    answers = list(batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk]))
                except Exception:
                    answers = None
            if answers is None or any(not isinstance(a, dict) or "error" in a for a in answers):
                for n in chunk:
                    ref = self.block(n)
                    if ref is not None:
                        found[n] = ref
                continue
            for answer in answers:
                if answer.get("result"):
                    ref = _block_ref(answer["result"])
                    found[ref.number] = ref
        return found

    def fetch(self, start: int, end: int, addresses: Sequence[str], topics: TopicFilter | None = None) -> LogBatch:
        query: dict[str, Any] = {"fromBlock": hex(start), "toBlock": hex(end)}
        query["address"] = [a.lower() for a in addresses]
        if topics:
            query["topics"] = rpc_topics(topics)
        raw_logs = self._request("eth_getLogs", [query], start, end) or []
        logs = [RawLog.from_mapping(entry) for entry in raw_logs if not entry.get("removed")]
        untimed = {log.block_number for log in logs if log.timestamp is None}
        headers = self.blocks([end, *untimed])
        if end not in headers:
            head = self.head()
            raise RangeRefused(Refusal(RefusalKind.HEAD, f"block height is {head} but requested was {end}"), start, end)
        blocks: dict[int, BlockRef] = {end: headers[end]}
        for i, log in enumerate(logs):
            header = headers.get(log.block_number)
            if log.timestamp is None:
                if header is None:
                    raise RangeRefused(Refusal(RefusalKind.HEAD, f"block {log.block_number} vanished"), start, end)
                logs[i] = log.with_timestamp(header.timestamp)
            if header is not None and header.hash != log.block_hash:
                # The chain changed between the two requests: ask again.
                raise RangeRefused(
                    Refusal(RefusalKind.HEAD, f"block {log.block_number} changed while read"), start, end
                )
            blocks.setdefault(log.block_number, BlockRef(log.block_number, log.block_hash, logs[i].timestamp or 0))
        return LogBatch(start, end, logs, blocks)


_NO_RETRIES: weakref.WeakKeyDictionary[Any, HTTPProvider] = weakref.WeakKeyDictionary()


def _without_retries(provider: Any) -> Any:
    """An HTTP provider of the same endpoint that does not retry on its own: web3 retries HTTP errors five
    times with back-off, which only delays a 413 (answer too large) that a smaller range cures. One per
    provider, so that every read through a connection shares its HTTP session."""
    if not isinstance(provider, HTTPProvider):
        return provider
    quiet = _NO_RETRIES.get(provider)
    if quiet is None:
        quiet = HTTPProvider(
            provider.endpoint_uri,
            request_kwargs=dict(provider.get_request_kwargs()),
            exception_retry_configuration=None,
        )
        _NO_RETRIES[provider] = quiet
    return quiet


def _block_ref(raw: dict[str, Any]) -> BlockRef:
    """A block header of a JSON-RPC answer (0x-hex text)."""
    return BlockRef(int(raw["number"], 16), str(raw["hash"]).lower(), int(raw["timestamp"], 16))


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        message = str(error.get("message", ""))
        data = error.get("data")
        return f"{message} ({data})" if isinstance(data, str) and data and data not in message else message
    return str(error)


def _response_refusal(error: Any) -> Refusal | None:
    code = error.get("code") if isinstance(error, dict) else None
    return classify_refusal(_error_text(error), code if isinstance(code, int) else None)


def _transport_refusal(exc: BaseException) -> Refusal | None:
    """HTTP statuses and time-outs that a smaller range or a pause may cure."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    if isinstance(status, int):
        body = ""
        with contextlib.suppress(Exception):  # the body is only for the message
            body = str(response.text)[:300]  # type: ignore[union-attr]
        return classify_refusal(body or f"HTTP {status}", http_status=status) or (
            Refusal(RefusalKind.RESULTS, f"HTTP {status}") if status >= 500 else None
        )
    name = type(exc).__name__.lower()
    if "timeout" in name:
        return Refusal(RefusalKind.RESULTS, f"timed out: {exc}")
    return None
