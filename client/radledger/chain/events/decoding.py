"""Raw logs, and their decoding by topic against the ABI of every shipped artifact.

A log is decoded with the ABI of the contract its address belongs to; a log of an address
the target does not name (or whose topic that contract does not declare) is tried against
every artifact, so nothing is lost. Decoding is done with eth-abi directly: web3's
``process_log`` is about ten times slower and the index decodes every log it stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from radledger.chain.artifacts import artifact_names, load_artifact


@dataclass(frozen=True)
class RawLog:
    """One log as a node (or the in-process chain) returns it, with the time of its block when known."""

    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    timestamp: int | None = None

    def as_web3_log(self) -> dict[str, Any]:
        """The log in the shape web3 and :func:`radledger.consent_events.rebuild_consent_state` read."""
        return {
            "address": self.address,
            "topics": list(self.topics),
            "data": self.data,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "transactionHash": self.tx_hash,
            "transactionIndex": self.tx_index,
            "logIndex": self.log_index,
        }


@dataclass(frozen=True)
class EventSpec:
    """One event of one contract's ABI."""

    contract: str
    name: str
    topic: bytes
    indexed: tuple[dict[str, Any], ...]
    plain: tuple[dict[str, Any], ...]
    inputs: tuple[dict[str, Any], ...]

    @property
    def plain_types(self) -> list[str]:
        return [collapse_if_tuple(p) for p in self.plain]


@dataclass(frozen=True)
class Decoded:
    """A decoded log: its event, arguments as Python values, and the indexed ones as text (for SQL)."""

    contract: str
    event: str
    args: dict[str, Any]
    indexed_text: tuple[str | None, str | None, str | None]


def native(param: Mapping[str, Any], value: Any) -> Any:
    """A decoded ABI value as radledger handles it: checksummed addresses, bytes, dicts for structs."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        return [native(inner, v) for v in value]
    if kind == "tuple":
        return {c["name"]: native(c, v) for c, v in zip(param["components"], value, strict=True)}
    if kind == "address":
        return to_checksum_address(value) if isinstance(value, str) else checksum(bytes(value))
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value


def to_json(value: Any) -> Any:
    """A native value made JSON-safe: bytes become 0x-hex, the rest recursively as is."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def as_text(value: Any) -> str:
    """An indexed value as the text stored in the index's t1..t3 columns (and used to query them)."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class EventDecoder:
    """Decodes logs by (contract, topic0), falling back to every artifact's events."""

    def __init__(self, abis: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        self.by_contract: dict[str, dict[bytes, EventSpec]] = {}
        self.by_topic: dict[bytes, list[EventSpec]] = {}
        for contract, abi in abis.items():
            specs = self.by_contract.setdefault(contract, {})
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = tuple(dict(p) for p in item["inputs"])
                spec = EventSpec(
                    contract=contract,
                    name=str(item["name"]),
                    topic=bytes(event_abi_to_log_topic(dict(item))),  # type: ignore[arg-type]
                    indexed=tuple(p for p in inputs if p.get("indexed")),
                    plain=tuple(p for p in inputs if not p.get("indexed")),
                    inputs=inputs,
                )
                specs[spec.topic] = spec
                self.by_topic.setdefault(spec.topic, []).append(spec)

    @classmethod
    def from_artifacts(cls, directory: Path | None = None) -> EventDecoder:
        """A decoder for every artifact shipped (or in `directory`)."""
        return _decoder_for(str(directory) if directory else None)

    def spec(self, contract: str | None, topic: bytes) -> EventSpec | None:
        if contract and topic in self.by_contract.get(contract, {}):
            return self.by_contract[contract][topic]
        candidates = self.by_topic.get(topic)
        return candidates[0] if candidates else None

    def decode(self, log: RawLog, contract: str | None) -> Decoded | None:
        """The decoded log, or None when no artifact declares its topic (or its data does not fit)."""
        if not log.topics:
            return None
        topic = log.topics[0]
        candidates: list[EventSpec] = []
        if contract and topic in self.by_contract.get(contract, {}):
            candidates.append(self.by_contract[contract][topic])
        candidates += [s for s in self.by_topic.get(topic, []) if s not in candidates]
        for spec in candidates:
            decoded = _try_decode(spec, log)
            if decoded is not None:
                return decoded
        return None


def _try_decode(spec: EventSpec, log: RawLog) -> Decoded | None:
    if len(log.topics) != len(spec.indexed) + 1:
        return None
    values: dict[str, Any] = {}
    texts: list[str | None] = [None, None, None]
    try:
        for i, (param, topic) in enumerate(zip(spec.indexed, log.topics[1:], strict=True)):
            kind = collapse_if_tuple(param)
            word = _WORD_DECODERS.get(kind) or _word_decoder(kind)
            # An indexed dynamic value is stored as its hash: keep the 32 bytes.
            value = bytes(topic) if word is None else word(bytes(topic))
            values[param["name"]] = value
            texts[i] = as_text(value)
        words = [_word_decoder(t) for t in spec.plain_types]
        data = log.data
        if all(words) and len(data) == 32 * len(words):
            # Every argument is one static word: read the words directly (eth-abi is ten times slower).
            for j, (param, word) in enumerate(zip(spec.plain, words, strict=True)):
                values[param["name"]] = word(data[32 * j : 32 * j + 32])  # type: ignore[misc]
        else:
            for param, value in zip(spec.plain, abi_decode(spec.plain_types, data), strict=True):
                values[param["name"]] = native(param, value)
    except (DecodingError, ValueError, OverflowError):
        return None
    args = {p["name"]: values[p["name"]] for p in spec.inputs}
    return Decoded(spec.contract, spec.name, args, (texts[0], texts[1], texts[2]))


@lru_cache(maxsize=1 << 16)
def checksum(raw: bytes) -> str:
    """The EIP-55 address of 20 bytes (cached: the same few accounts recur in every log)."""
    return to_checksum_address(raw)


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _int(word: bytes) -> int:
    return int.from_bytes(word, "big", signed=True)


def _address(word: bytes) -> str:
    if word[:12] != bytes(12):
        raise ValueError("address word with dirty high bytes")
    return checksum(word[12:])


def _bool(word: bytes) -> bool:
    if word[:31] != bytes(31) or word[31] > 1:
        raise ValueError("not a boolean word")
    return word[31] == 1


_WORD_DECODERS: dict[str, Callable[[bytes], Any] | None] = {}


def _word_decoder(kind: str) -> Callable[[bytes], Any] | None:
    """A decoder of one 32-byte word for an elementary static type, or None (dynamic, arrays, tuples)."""
    if kind in _WORD_DECODERS:
        return _WORD_DECODERS[kind]
    decoder: Callable[[bytes], Any] | None = None
    if kind == "address":
        decoder = _address
    elif kind == "bool":
        decoder = _bool
    elif kind.startswith("uint") and kind[4:].isdigit():
        decoder = _uint
    elif kind.startswith("int") and kind[3:].isdigit():
        decoder = _int
    elif kind.startswith("bytes") and kind[5:].isdigit():
        size = int(kind[5:])
        decoder = lambda word: word[:size]  # noqa: E731
    _WORD_DECODERS[kind] = decoder
    return decoder


@cache
def _decoder_for(directory: str | None) -> EventDecoder:
    folder = Path(directory) if directory else None
    return EventDecoder({name: load_artifact(name, folder).abi for name in artifact_names(folder)})
