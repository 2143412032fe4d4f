"""Reading logs from a node that caps `eth_getLogs`: a refused range is read again in halves (or at the limit
the node states), in order, down to single blocks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from radledger.chain.errors import ChainError
from radledger.chain.events.decoding import RawLog
from radledger.chain.events.ranges import RangeRefused, classify_refusal
from radledger.chain.events.reader import read_logs
from radledger.chain.events.sources import BlockRef, LogBatch
from radledger.chain.events.topics import TopicFilter

ADDRESS = "0x" + "11" * 20


class CappedNode:
    """A log source whose node answers a range of at most `cap` blocks with one log per block and refuses
    wider ones in `words` (and, if `broken`, every range holding that block)."""

    adaptive = True

    def __init__(
        self, cap: int, broken: int | None = None, head: int = 1_000, words: str = "block range is too wide"
    ) -> None:
        self.cap = cap
        self.broken = broken
        self.height = head
        self.words = words
        self.calls = 0
        self.asked: list[tuple[int, int]] = []
        self.answered: list[tuple[int, int]] = []

    def head(self) -> int:
        return self.height

    def block(self, number: int) -> BlockRef | None:
        return BlockRef(number, f"0x{number:064x}", number) if number <= self.height else None

    def fetch(self, start: int, end: int, addresses: Sequence[str], topics: TopicFilter | None = None) -> LogBatch:
        self.calls += 1
        self.asked.append((start, end))
        if end - start + 1 > self.cap or (self.broken is not None and start <= self.broken <= end):
            refusal = classify_refusal(self.words)
            assert refusal is not None
            raise RangeRefused(refusal, start, end)
        self.answered.append((start, end))
        logs = [RawLog(n, f"0x{n:064x}", f"0x{n:064x}", 0, 0, ADDRESS, (), b"", n) for n in range(start, end + 1)]
        return LogBatch(start, end, logs, {end: BlockRef(end, f"0x{end:064x}", end)})


def blocks(logs: list[RawLog]) -> list[int]:
    return [log.block_number for log in logs]


def test_a_range_the_node_accepts_is_read_in_one_query() -> None:
    node = CappedNode(cap=100)
    assert blocks(read_logs(node, [ADDRESS], 10, 19)) == list(range(10, 20))
    assert node.asked == [(10, 19)]


def test_a_refused_range_is_read_in_halves_in_order() -> None:
    node = CappedNode(cap=4)
    assert blocks(read_logs(node, [ADDRESS], 0, 20)) == list(range(21))
    assert node.asked[:2] == [(0, 20), (0, 9)], "the refused range is read again in halves (21 // 2 blocks)"
    assert all(end - start + 1 <= 4 for start, end in node.answered)
    assert [start for start, _ in node.answered] == sorted(start for start, _ in node.answered)


def test_a_limit_the_node_states_is_used_at_once() -> None:
    node = CappedNode(cap=4, words="query exceeds max block range 4")
    assert blocks(read_logs(node, [ADDRESS], 0, 20)) == list(range(21))
    assert node.asked[:2] == [(0, 20), (0, 3)]
    assert all(end - start + 1 <= 4 for start, end in node.answered)


def test_a_single_block_the_node_refuses_is_a_chain_error() -> None:
    with pytest.raises(ChainError):
        read_logs(CappedNode(cap=100, broken=7), [ADDRESS], 0, 15)


def test_a_start_past_the_end_reads_nothing() -> None:
    node = CappedNode(cap=100)
    assert read_logs(node, [ADDRESS], 9, 8) == []
    assert node.asked == []


def test_the_end_is_at_most_the_head() -> None:
    node = CappedNode(cap=100, head=12)
    assert blocks(read_logs(node, [ADDRESS], 10, 50)) == [10, 11, 12]
    assert blocks(read_logs(node, [ADDRESS], 10)) == [10, 11, 12]
