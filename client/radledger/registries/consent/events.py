"""Consent state rebuilt from ConsentRegistry's events alone, as an auditor does.

Feed :func:`rebuild_consent_state` the logs of a ConsentRegistry (raw logs of the package's log
reader or of the audit index, or web3's from receipts or ``get_logs``; in any order, other
contracts' logs included if `address` is given) and it replays ConsentGranted, ConsentRevoked,
GuardianSet, SignaturesInvalidated, BreakGlassInvoked and BreakGlassWindowsEnded into the same
values the contract's views return: every grant slot (terms, version, break-glass expiry), every
guardian slot, every patient's signature epoch and every guardian's appointment epoch
(`signerEpoch`). Logs are decoded by the package's one decoder
(:class:`~radledger.chain.events.decoding.EventDecoder`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.events.decoding import EventDecoder, RawLog

CONTRACT_NAME = "ConsentRegistry"


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


def decode_consent_logs(logs: Iterable[RawLog | Mapping[str, Any]], address: str | None = None) -> list[ConsentEvent]:
    """The ConsentRegistry events among `logs`, in chain order (block, then log index).

    Logs of other contracts are skipped when `address` names the ConsentRegistry; logs whose
    first topic is no ConsentRegistry event are always skipped.
    """
    wanted = validation.address(address, "ConsentRegistry address") if address else None
    decoder = EventDecoder.from_artifacts()
    events: list[ConsentEvent] = []
    for log in logs:
        raw = log if isinstance(log, RawLog) else RawLog.from_mapping(log)
        if wanted and raw.address != wanted:
            continue
        event = decoder.event(raw, CONTRACT_NAME)
        if event is not None:
            events.append(ConsentEvent(event.name, event.args, raw.block_number, raw.log_index))
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return events


def rebuild_consent_state(logs: Iterable[RawLog | Mapping[str, Any]], address: str | None = None) -> ConsentState:
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
