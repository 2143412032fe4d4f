"""Raw logs, and their decoding by topic against the ABI of every shipped artifact: the package's one decoder.

A log is decoded with the ABI of the contract its address belongs to; a log of an address
the caller does not name (or whose topic that contract does not declare) is tried against
every artifact, so nothing is lost. Decoding is done with eth-abi directly: web3's
``process_log`` is about ten times slower and the index decodes every log it stores.

:class:`RawLog` is a log from any source (a node's JSON-RPC answer, web3's formatted logs and
receipts, the in-process chain, the audit index); :class:`EventDecoder` turns it into a
:class:`Decoded` (for the index's SQL) or an :class:`Event` (a decoded log with its place on the
chain, what the contract clients return), and builds topic filters from indexed arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from radledger.chain.artifacts import Artifact, artifact_names, load_artifact
from radledger.chain.errors import ArtifactNotFound
from radledger.chain.events.topics import Topic, indexed_topic


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

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> RawLog:
        """A log as a node answers ``eth_getLogs`` (0x-hex text) or as web3 formats it (in receipts and
        ``get_logs``: ints and bytes); the block's time from ``blockTimestamp`` when the node adds it."""
        stamp = entry.get("blockTimestamp")
        return cls(
            block_number=_hex_int(entry["blockNumber"]),
            block_hash=_hex_text(entry["blockHash"]),
            tx_hash=_hex_text(entry["transactionHash"]),
            tx_index=_hex_int(entry["transactionIndex"]),
            log_index=_hex_int(entry["logIndex"]),
            address=checksum(_hex_bytes(entry["address"])),
            topics=tuple(_hex_bytes(t) for t in entry["topics"]),
            data=_hex_bytes(entry["data"]),
            timestamp=_hex_int(stamp) if stamp is not None else None,
        )

    def with_timestamp(self, timestamp: int) -> RawLog:
        return replace(self, timestamp=timestamp)


WordDecoder = Callable[[bytes], Any]
"""Reads one 32-byte ABI word as a Python value."""


@dataclass(frozen=True)
class EventSpec:
    """One event of one contract's ABI."""

    contract: str
    name: str
    topic: bytes
    indexed: tuple[dict[str, Any], ...]
    plain: tuple[dict[str, Any], ...]
    inputs: tuple[dict[str, Any], ...]

    @cached_property
    def plain_types(self) -> list[str]:
        return [collapse_if_tuple(p) for p in self.plain]

    @cached_property
    def indexed_words(self) -> tuple[tuple[str, WordDecoder | None], ...]:
        """(name, word decoder) of each indexed argument; None for a dynamic one (its topic is its hash)."""
        return tuple((p["name"], _word_decoder(collapse_if_tuple(p))) for p in self.indexed)

    @cached_property
    def plain_words(self) -> tuple[tuple[str, WordDecoder], ...] | None:
        """(name, word decoder) of each data argument when every one is a single static word, else None."""
        words = [_word_decoder(t) for t in self.plain_types]
        if not all(words):
            return None
        return tuple((p["name"], w) for p, w in zip(self.plain, words, strict=True) if w is not None)


@dataclass(frozen=True)
class Decoded:
    """A decoded log: its event, arguments as Python values, and the indexed ones as text (for SQL)."""

    contract: str
    event: str
    args: dict[str, Any]
    indexed_text: tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class Event:
    """A decoded log with its place on the chain."""

    contract: str
    name: str
    args: dict[str, Any]
    log: RawLog

    @property
    def block_number(self) -> int:
        return self.log.block_number

    @property
    def log_index(self) -> int:
        return self.log.log_index

    @property
    def tx_hash(self) -> str:
        return self.log.tx_hash

    @property
    def timestamp(self) -> int | None:
        """The time of the log's block, when its source knows it (every source of :mod:`.sources` does)."""
        return self.log.timestamp

    @property
    def position(self) -> tuple[int, int]:
        return (self.log.block_number, self.log.log_index)


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
        self.by_name: dict[tuple[str, str], EventSpec] = {}
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
                self.by_name.setdefault((contract, spec.name), spec)

    @classmethod
    def from_artifacts(cls, directory: Path | None = None) -> EventDecoder:
        """A decoder for every artifact shipped (or in `directory`)."""
        return _decoder_for(str(directory) if directory else None)

    @classmethod
    def for_artifact(cls, artifact: Artifact) -> EventDecoder:
        """The shared decoder of :meth:`from_artifacts` when `artifact` is the one loaded by its name,
        else a decoder of its ABI alone (a contract client built on another artifact)."""
        try:
            shipped = load_artifact(artifact.name)
        except ArtifactNotFound:
            shipped = None
        if shipped is artifact or (shipped is not None and shipped.abi == artifact.abi):
            return cls.from_artifacts()
        return cls({artifact.name: artifact.abi})

    def named(self, contract: str, event: str) -> EventSpec:
        """The event `event` of `contract`'s ABI; ValueError when it declares none."""
        spec = self.by_name.get((contract, event))
        if spec is None:
            raise ValueError(f"{contract} declares no event {event!r}")
        return spec

    def topic_filter(self, contract: str, event: str, filters: Mapping[str, Any] | None = None) -> list[Topic]:
        """The ``eth_getLogs`` topics of `event` with its indexed arguments set to `filters` (name →
        value; the others match anything). ValueError for an argument that is not indexed."""
        spec = self.named(contract, event)
        wanted = dict(filters or {})
        indexed = {str(p["name"]) for p in spec.indexed}
        unknown = sorted(set(wanted) - indexed)
        if unknown:
            raise ValueError(f"{contract}.{event}: cannot filter on {', '.join(unknown)} (not indexed)")
        topics: list[Topic] = [spec.topic]
        topics += [indexed_topic(p, wanted[p["name"]]) if p["name"] in wanted else None for p in spec.indexed]
        while topics[-1] is None:
            topics.pop()
        return topics

    def event(self, log: RawLog, contract: str, strict: bool = True) -> Event | None:
        """The decoded `log` as an :class:`Event`, or None when it does not decode; with `strict`, only
        as an event of `contract` (another artifact's event of the same topic does not count)."""
        decoded = self.decode(log, contract)
        if decoded is None or (strict and decoded.contract != contract):
            return None
        return Event(decoded.contract, decoded.event, decoded.args, log)

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
        for i, ((name, word), topic) in enumerate(zip(spec.indexed_words, log.topics[1:], strict=True)):
            # An indexed dynamic value is stored as its hash: keep the 32 bytes.
            value = bytes(topic) if word is None else word(bytes(topic))
            values[name] = value
            texts[i] = as_text(value)
        words = spec.plain_words
        data = log.data
        if words is not None and len(data) == 32 * len(words):
            # Every argument is one static word: read the words directly (eth-abi is ten times slower).
            for j, (name, word) in enumerate(words):
                values[name] = word(data[32 * j : 32 * j + 32])
        else:
            for param, value in zip(spec.plain, abi_decode(spec.plain_types, data), strict=True):
                values[param["name"]] = native(param, value)
    except (DecodingError, ValueError, OverflowError):
        return None
    args = {p["name"]: values[p["name"]] for p in spec.inputs}
    return Decoded(spec.contract, spec.name, args, (texts[0], texts[1], texts[2]))


def _hex_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def _hex_text(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return "0x" + _hex_bytes(value).hex()


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
