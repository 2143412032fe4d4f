"""Consent state rebuilt from ConsentRegistry's events alone, as an auditor does.

Feed :func:`rebuild_consent_state` the raw logs of a ConsentRegistry (from receipts or
``eth_getLogs``, in any order, other contracts' logs included if `address` is given) and it
replays ConsentGranted, ConsentRevoked, GuardianSet, SignaturesInvalidated,
BreakGlassInvoked and BreakGlassWindowsEnded into the same values the contract's views return:
every grant slot (terms, version, break-glass expiry), every guardian slot, every patient's
signature epoch and every guardian's appointment epoch (`signerEpoch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from eth_abi import decode as abi_decode
from eth_typing import ChecksumAddress
from eth_utils import event_abi_to_log_topic, to_checksum_address

from radledger import validation
from radledger.artifacts import load_artifact


@dataclass(frozen=True)
class GrantState:
    """A grant slot as `getGrant` returns it."""

    scopes: int = 0
    purposes: int = 0
    valid_from: int = 0
    valid_until: int = 0
    version: int = 0
    break_glass_until: int = 0


@dataclass(frozen=True)
class GuardianState:
    """A guardian slot as `getGuardian` returns it."""

    valid_until: int = 0
    version: int = 0


GrantKey = tuple[ChecksumAddress, ChecksumAddress, bytes]
"""(patient, grantee, record id); record id 0 is the wildcard slot."""


class ConsentState(TypedDict):
    grants: dict[GrantKey, GrantState]
    guardians: dict[tuple[ChecksumAddress, ChecksumAddress], GuardianState]
    epochs: dict[ChecksumAddress, int]
    """The patient's own epoch (`signatureEpoch`)."""
    guardian_epochs: dict[tuple[ChecksumAddress, ChecksumAddress], int]
    """(patient, guardian) -> the guardian's appointment epoch: `signerEpoch(patient, guardian) >> 32`."""


@dataclass(frozen=True)
class ConsentEvent:
    """One decoded ConsentRegistry log."""

    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int


def _event_abis() -> dict[bytes, dict[str, Any]]:
    abi = load_artifact("ConsentRegistry").abi
    return {bytes(event_abi_to_log_topic(e)): e for e in abi if e.get("type") == "event"}  # type: ignore[arg-type]


def _normalize(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    return bytes(value) if isinstance(value, bytes | bytearray) else value


def decode_consent_logs(logs: Iterable[Mapping[str, Any]], address: str | None = None) -> list[ConsentEvent]:
    """The ConsentRegistry events among `logs`, in chain order (block, then log index).

    Logs of other contracts are skipped when `address` names the ConsentRegistry; logs whose
    first topic is no ConsentRegistry event are always skipped.
    """
    wanted = validation.address(address, "ConsentRegistry address") if address else None
    abis = _event_abis()
    events: list[ConsentEvent] = []
    for log in logs:
        if wanted and to_checksum_address(log["address"]) != wanted:
            continue
        topics = [bytes(t) for t in log["topics"]]
        abi = abis.get(topics[0]) if topics else None
        if abi is None:
            continue
        indexed = [p for p in abi["inputs"] if p["indexed"]]
        plain = [p for p in abi["inputs"] if not p["indexed"]]
        values: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=True):
            (values[param["name"]],) = abi_decode([param["type"]], topic)
        data = bytes(log["data"])
        for param, value in zip(plain, abi_decode([p["type"] for p in plain], data), strict=True):
            values[param["name"]] = value
        args = {p["name"]: _normalize(p["type"], values[p["name"]]) for p in abi["inputs"]}
        events.append(ConsentEvent(abi["name"], args, int(log["blockNumber"]), int(log["logIndex"])))
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return events


def rebuild_consent_state(logs: Iterable[Mapping[str, Any]], address: str | None = None) -> ConsentState:
    """Replay the events of `logs` into the state the contract's views would return.

    A slot absent from the result was never touched (its views return zeros).
    """
    state: ConsentState = {"grants": {}, "guardians": {}, "epochs": {}, "guardian_epochs": {}}
    grants, guardians = state["grants"], state["guardians"]
    for event in decode_consent_logs(logs, address):
        a = event.args
        if event.name == "ConsentGranted":
            key = (a["patient"], a["grantee"], a["recordId"])
            slot = grants.get(key, GrantState())
            grants[key] = replace(
                slot,
                scopes=a["scopes"],
                purposes=a["purposes"],
                valid_from=a["validFrom"],
                valid_until=a["validUntil"],
                version=slot.version + 1,
            )
        elif event.name == "ConsentRevoked":
            key = (a["patient"], a["grantee"], a["recordId"])
            slot = grants.get(key, GrantState())
            grants[key] = GrantState(version=slot.version + 1, break_glass_until=slot.break_glass_until)
        elif event.name == "BreakGlassInvoked":
            key = (a["patient"], a["account"], bytes(32))
            grants[key] = replace(grants.get(key, GrantState()), break_glass_until=a["validUntil"])
        elif event.name == "BreakGlassWindowsEnded":
            # The account lost the role: every window it held ended (getGrant then shows 0).
            for key, slot in grants.items():
                if key[1] == a["account"] and key[2] == bytes(32) and slot.break_glass_until:
                    grants[key] = replace(slot, break_glass_until=0)
        elif event.name == "GuardianSet":
            pair = (a["patient"], a["guardian"])
            previous = guardians.get(pair, GuardianState())
            guardians[pair] = GuardianState(valid_until=a["validUntil"], version=previous.version + 1)
            state["guardian_epochs"][pair] = state["guardian_epochs"].get(pair, 0) + 1
        elif event.name == "SignaturesInvalidated":
            if a["actor"] == a["patient"]:
                state["epochs"][a["patient"]] = a["epoch"]
            else:  # a guardian's own epoch, in the high half of its signer epoch
                state["guardian_epochs"][(a["patient"], a["actor"])] = a["epoch"] >> 32
    return state


__all__ = [
    "ConsentEvent",
    "ConsentState",
    "GrantKey",
    "GrantState",
    "GuardianState",
    "decode_consent_logs",
    "rebuild_consent_state",
]
