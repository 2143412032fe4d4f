"""Small helpers shared by the contract tests: synthetic records and "nothing was sent" checks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eth_utils import keccak
from web3 import Web3

from radledger.registries.common import RecordKind
from radledger.registries.records.client import RecordRegistryClient, record_id

SITE_SALT = keccak(text="radledger tests: synthetic salt of site A")
OTHER_SITE_SALT = keccak(text="radledger tests: synthetic salt of site B")
ZERO_ADDRESS = "0x" + "00" * 20


def synthetic_uid(label: str) -> str:
    """A pydicom-style "2.25.<uuid int>" StudyInstanceUID derived from `label` (no real study)."""
    return f"2.25.{uuid.UUID(bytes=keccak(text=label)[:16]).int}"


def content_hash(label: str) -> bytes:
    return keccak(text=f"synthetic content: {label}")


def register_record(
    records: RecordRegistryClient,
    patient: str,
    label: str,
    kind: RecordKind = RecordKind.IMAGING_STUDY,
    salt: bytes = SITE_SALT,
) -> bytes:
    """Register a synthetic study of `patient` as the client's sender; returns its record id (bound to the sender)."""
    local = record_id(salt, synthetic_uid(label))
    records.register(local, patient, kind, content_hash(label))
    return records.record_id_of(local)


def bad_checksum(address: str) -> str:
    """`address` with the case of its first letter flipped: well formed, wrong EIP-55 checksum."""
    for i, char in enumerate(address[2:], start=2):
        if char.isalpha():
            return address[:i] + char.swapcase() + address[i + 1 :]
    raise ValueError(f"{address} has no letter to flip")


@contextmanager
def nothing_sent(w3: Web3) -> Iterator[None]:
    """Assert that the block inside sends no transaction (the chain mines one block per transaction)."""
    before = w3.eth.block_number
    yield
    assert w3.eth.block_number == before, "a transaction was sent"


def in_fresh_thread(fn: Callable[[], Any]) -> Any:
    """Run `fn` in a new thread and return its result, or raise its exception here.

    Why: on CPython 3.11 the interpreter keeps frames in 16 KiB chunks and frees a chunk as soon
    as it empties. Deep under pytest and Hypothesis, py-evm's opcode loop can sit right at a chunk
    edge and then maps and unmaps a chunk on nearly every opcode (measured: 2 to 3 times the CPU
    time of a Hypothesis test, most of it in the kernel). A new thread starts with a shallow stack.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="radledger-test")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
