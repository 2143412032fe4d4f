"""Reading logs from a node that caps `eth_getLogs`: a refused range is read again in halves."""

from __future__ import annotations

import pytest

from radledger.chain.errors import ChainError
from radledger.chain.events.paging import logs_in_halves


class CappedNode:
    """Answers a range of at most `cap` blocks with one entry per block; refuses wider ones."""

    def __init__(self, cap: int, broken: int | None = None) -> None:
        self.cap = cap
        self.broken = broken
        self.asked: list[tuple[int, int]] = []
        self.answered: list[tuple[int, int]] = []

    def fetch(self, start: int, end: int) -> list[int]:
        self.asked.append((start, end))
        if end - start + 1 > self.cap or (self.broken is not None and start <= self.broken <= end):
            raise ValueError(f"query exceeds max block range {self.cap}")
        self.answered.append((start, end))
        return list(range(start, end + 1))


def test_a_range_the_node_accepts_is_read_in_one_query() -> None:
    node = CappedNode(cap=100)
    assert logs_in_halves(node.fetch, 10, 19) == list(range(10, 20))
    assert node.asked == [(10, 19)]


def test_a_refused_range_is_read_in_halves_in_order() -> None:
    node = CappedNode(cap=4)
    assert logs_in_halves(node.fetch, 0, 20) == list(range(21))
    assert all(end - start + 1 <= 4 for start, end in node.answered)
    assert [start for start, _ in node.answered] == sorted(start for start, _ in node.answered)


def test_a_single_block_the_node_refuses_is_a_chain_error() -> None:
    with pytest.raises(ChainError):
        logs_in_halves(CappedNode(cap=100, broken=7).fetch, 0, 15)


def test_a_start_past_the_end_reads_nothing() -> None:
    node = CappedNode(cap=100)
    assert logs_in_halves(node.fetch, 9, 8) == []
    assert node.asked == []
