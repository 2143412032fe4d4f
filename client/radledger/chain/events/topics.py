"""Topic filters of log queries, as ``eth_getLogs`` takes them: one entry a topic position.

An entry is None (any value), one 32-byte topic, or a sequence of topics (any of them);
positions past the filter's end match anything, and a filter longer than a log's topics
matches no log. The JSON-RPC source sends the filter to the node; the in-process source
applies it with :func:`topics_match`. :func:`indexed_topic` makes the topic of an indexed
argument's value (what :meth:`~radledger.chain.events.decoding.EventDecoder.topic_filter` builds
filters of).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak
from eth_utils.abi import collapse_if_tuple

Topic = bytes | Sequence[bytes] | None
"""One position of a topic filter: None (any), a topic, or several (any of them)."""
TopicFilter = Sequence[Topic]


def _choices(entry: Topic) -> tuple[bytes, ...] | None:
    if entry is None:
        return None
    if isinstance(entry, bytes | bytearray):
        return (bytes(entry),)
    return tuple(bytes(t) for t in entry)


def topics_match(wanted: TopicFilter | None, topics: Sequence[bytes]) -> bool:
    """Whether a log's `topics` pass the filter `wanted`, as geth's ``eth_getLogs`` decides: a filter
    longer than the log's topics never matches, even with wildcards at the end."""
    if not wanted:
        return True
    if len(wanted) > len(topics):
        return False
    return all(_matches(entry, topic) for entry, topic in zip(wanted, topics, strict=False))


def _matches(entry: Topic, topic: bytes) -> bool:
    choices = _choices(entry)
    return choices is None or bytes(topic) in choices


def rpc_topics(wanted: TopicFilter) -> list[Any]:
    """The filter as ``eth_getLogs`` params take it (0x-hex text)."""
    out: list[Any] = []
    for entry in wanted:
        choices = _choices(entry)
        if choices is None:
            out.append(None)
        elif isinstance(entry, bytes | bytearray):
            out.append("0x" + choices[0].hex())
        else:
            out.append(["0x" + t.hex() for t in choices])
    return out


def indexed_topic(param: Mapping[str, Any], value: Any) -> bytes:
    """The topic an indexed event argument of ABI `param` holds for `value`: the value's ABI word for
    a static type, the keccak of its bytes for ``string`` and ``bytes`` (arrays and structs: refused)."""
    kind = collapse_if_tuple(dict(param))
    if kind == "string":
        return keccak(text=str(value))
    if kind == "bytes":
        return keccak(bytes(value))
    if kind.endswith("]") or kind.startswith("("):
        raise ValueError(f"cannot filter on the indexed {kind} argument {param.get('name')!r}")
    return abi_encode([kind], [value])
