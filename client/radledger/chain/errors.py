"""Every error radledger raises, under one root: :class:`RadledgerError`.

Each custom error of the contracts is a subclass of :class:`ContractError`, built from the
ABIs of the shipped artifacts, named as in Solidity, with its arguments as attributes::

    try:
        consent.grant(...)
    except errors.ExpiryInPast as exc:
        print(exc.validUntil, exc.timestamp)

They are reachable as attributes of this module (``errors.AccessDenied``) and through
:func:`contract_error_class`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from radledger.chain.artifact_dir import ARTIFACTS_DIR, default_dir


class RadledgerError(Exception):
    """Root of every radledger error."""


class CompilerError(RadledgerError):
    """The contracts could not be compiled, or the artifacts cannot be checked."""


class ArtifactNotFound(RadledgerError):
    """A contract's compiled artifact is missing."""


class ValidationError(RadledgerError, ValueError):
    """Bad input, caught before anything is sent to the chain."""


class ConfigurationError(RadledgerError):
    """Missing or inconsistent configuration (RPC URL, addresses, keys)."""


class SignerError(RadledgerError):
    """A key could not be loaded, or a signer cannot do what was asked."""


class ChainError(RadledgerError):
    """The node could not be reached or answered unexpectedly."""


class NodeUnreachable(ChainError):
    """The node did not answer at all (connection refused or closed, timed out): `reason` says which."""

    def __init__(self, url: str | None, reason: str) -> None:
        where = f"the node at {url}" if url else "the node"
        self.message = f"{where} could not be reached ({reason})"
        super().__init__(self.message)
        self.url = url
        self.reason = reason
        self.args = (url, reason)

    def __str__(self) -> str:
        return self.message


class DeploymentInterrupted(ChainError):
    """The node went away during a deployment, while doing `step`; the manifest at `manifest_path`
    holds every step confirmed before it, and running the deployment again resumes from there."""

    def __init__(self, step: str, manifest_path: Path, url: str | None, reason: str) -> None:
        where = f"the node at {url}" if url else "the node"
        self.message = (
            f"deployment interrupted while {step}: {where} could not be reached ({reason}); "
            f"the manifest {manifest_path} holds every confirmed step: re-run to resume"
        )
        super().__init__(self.message)
        self.step = step
        self.manifest_path = manifest_path
        self.url = url
        self.reason = reason
        self.args = (step, manifest_path, url, reason)

    def __str__(self) -> str:
        return self.message


class NoContractCode(ConfigurationError):
    """Chain `chain_id` has no code at `address`, where the deployment says contract `name` is."""

    def __init__(self, name: str, address: str, chain_id: int) -> None:
        self.message = (
            f"chain {chain_id} has no code at {address}, where {name} should be "
            "(wrong address or network, or was the chain reset?)"
        )
        super().__init__(self.message)
        self.name = name
        self.address = address
        self.chain_id = chain_id
        self.args = (name, address, chain_id)

    def __str__(self) -> str:
        return self.message


def unreachable_reason(exc: BaseException) -> str | None:
    """Why the node did not answer, in a few words, when `exc` (or a cause) is a lost connection or a
    timeout; None for any other error (a refusal, a revert, nonsense)."""
    import requests

    for current in _chain(exc):
        if isinstance(current, NodeUnreachable):
            return current.reason
        if isinstance(current, requests.Timeout | TimeoutError):
            return "timed out"
    for current in _chain(exc):
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return "connection closed"
    for current in _chain(exc):
        if isinstance(current, requests.ConnectionError | ConnectionError):
            text = str(current)
            if "refused" in text:
                return "connection refused"
            if "Connection aborted" in text or "RemoteDisconnected" in text or "closed" in text:
                return "connection closed"
            return "no connection"
    return None


class TransactionReverted(RadledgerError):
    """A transaction or call reverted without a decodable reason."""

    def __init__(self, message: str, data: bytes = b"", tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.data = data
        self.tx_hash = tx_hash


class ContractError(TransactionReverted):
    """A contract reverted with a custom error (or Error(string) / Panic(uint256)).

    `name` is the Solidity name, `values` maps argument names to decoded values, and each
    argument is also an attribute.
    """

    error_name: str = ""
    arg_names: tuple[str, ...] = ()

    def __init__(self, *values: Any, data: bytes = b"", tx_hash: str | None = None) -> None:
        self.values = dict(zip(self.arg_names, values, strict=True))
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        self._text = f"{self.error_name}({shown})"
        super().__init__(self._text, data=data, tx_hash=tx_hash)
        # After the base class, so that an argument named like a base attribute (Error(string)'s
        # `message`) is still that argument.
        for key, value in self.values.items():
            setattr(self, key, value)
        self.args = values

    def __str__(self) -> str:
        return self._text

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.args == other.args  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self), self.args))


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


_CLASSES: dict[str, type[ContractError]] = {}
_BY_SELECTOR: dict[bytes, tuple[type[ContractError], list[str]]] = {}


def _register(name: str, inputs: list[dict[str, Any]]) -> None:
    types = [collapse_if_tuple(p) for p in inputs]
    selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
    if selector in _BY_SELECTOR:
        return
    cls = _CLASSES.get(name)
    if cls is None:
        arg_names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(inputs))
        cls = type(name, (ContractError,), {"error_name": name, "arg_names": arg_names, "__module__": __name__})
        _CLASSES[name] = cls
    _BY_SELECTOR[selector] = (cls, types)


_LOADED: list[bool] = []


def _ensure_loaded() -> None:
    """Register the errors of the shipped (or overriding) artifacts, once, on first use."""
    if _LOADED:
        return
    _LOADED.append(True)
    _register("Error", [{"name": "message", "type": "string"}])
    _register("Panic", [{"name": "code", "type": "uint256"}])
    directories = {ARTIFACTS_DIR, default_dir()}
    for path in sorted(p for d in directories for p in d.glob("*.json")):
        if path.name == "standard-input.json":
            continue
        for entry in json.loads(path.read_text())["abi"]:
            if entry.get("type") == "error":
                _register(entry["name"], entry["inputs"])


def register_abi(abi: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
    """Make the custom errors of another ABI decodable (freshly compiled artifacts, say)."""
    _ensure_loaded()
    for entry in abi:
        if entry.get("type") == "error":
            _register(entry["name"], entry["inputs"])


def contract_error_class(name: str) -> type[ContractError]:
    """The exception class of the contract error `name`."""
    _ensure_loaded()
    try:
        return _CLASSES[name]
    except KeyError:
        raise AttributeError(f"no contract error named {name!r}") from None


def decode_revert(data: bytes, tx_hash: str | None = None) -> TransactionReverted:
    """The exception for revert `data`: a :class:`ContractError` subclass when the selector is known."""
    _ensure_loaded()
    if len(data) < 4:
        return TransactionReverted("execution reverted without data", data=data, tx_hash=tx_hash)
    known = _BY_SELECTOR.get(data[:4])
    if known is None:
        return TransactionReverted(f"execution reverted with unknown error 0x{data[:4].hex()}", data, tx_hash)
    cls, types = known
    try:
        values = abi_decode(types, data[4:])
    except Exception:
        return TransactionReverted(f"execution reverted with malformed {cls.error_name} data", data, tx_hash)
    normalized = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return cls(*normalized, data=data, tx_hash=tx_hash)


def _bytes_from(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        text = value.removeprefix("execution reverted: ").strip()
        if text.startswith(("b'", 'b"')):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return None
            return parsed if isinstance(parsed, bytes) else None
        if text.startswith("0x"):
            try:
                return bytes.fromhex(text[2:])
            except ValueError:
                return None
    if isinstance(value, dict) and "data" in value:
        return _bytes_from(value["data"])
    inner = getattr(value, "args", None)
    if isinstance(value, Exception) and inner:
        return _bytes_from(inner[0])
    return None


def revert_data_of(exc: BaseException) -> bytes | None:
    """Revert data carried by `exc` or its causes: web3's `.data` on a node's error, or
    eth-tester's `TransactionFailed` (bytes, or their repr, on the exception chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        data = getattr(current, "data", None)
        found = _bytes_from(data) if data is not None else None
        if found is None and type(current).__name__ in ("TransactionFailed", "Revert") and current.args:
            found = _bytes_from(current.args[0])
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def is_revert(exc: BaseException) -> bool:
    """Whether `exc` is a revert (from eth-tester or a node), as opposed to a transport error."""
    from web3.exceptions import ContractLogicError

    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"TransactionFailed", "Revert"}) or any(isinstance(e, ContractLogicError) for e in _chain(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def __getattr__(name: str) -> type[ContractError]:
    if name.startswith("__"):
        raise AttributeError(name)
    return contract_error_class(name)
