"""Scanning a chain for PHI (DESIGN.md principle 1): every form in which a plain identifier could
leak, and where on chain it does.

A plain identifier (a UID, a name, a member id, an ICD-10 code, a serial number) could show on
chain as written, in another case or canonical form (``G43.909`` as X12 carries it: ``G43909``),
as hex text, or hashed without a salt (keccak-256 and SHA-256 of each form, keccak-256 of its ABI
encoding): an unsalted hash of a value from a small set is the value, found by hashing the set.
A 2.25 DICOM UID could also show as its UUID's 16 bytes. The search is case-insensitive and
finds hex that is shifted by a nibble.

- :func:`chain_haystacks` / :func:`chain_bytes`: every transaction input and log (topics, data).
- :func:`encodings` / :func:`phi_forms`: the forms of one identifier; :func:`combined_forms`: the
  unsalted hashes of a member id with its payer and of a list of codes.
- :func:`leaks`: (label, form, where) of every occurrence; :func:`assert_no_phi` fails on any.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3

Forms = Mapping[str, bytes] | Sequence[bytes]
"""The forms of one needle: by name, or a plain list (named by position)."""


@dataclass(frozen=True)
class Haystack:
    where: str
    data: bytes
    tx_hash: str = ""


def chain_haystacks(w3: Web3, from_block: int = 0) -> list[Haystack]:
    """Every transaction input and every log topic and data of the chain from `from_block`."""
    out: list[Haystack] = []
    for number in range(from_block, w3.eth.block_number + 1):
        for hash_bytes in w3.eth.get_block(number)["transactions"]:
            tx = w3.eth.get_transaction(hash_bytes)  # type: ignore[arg-type]
            tx_hash = tx["hash"].to_0x_hex()
            out.append(Haystack(f"input of {tx_hash}", bytes(tx["input"]), tx_hash))
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                where = f"log {log['logIndex']} of {tx_hash}"
                out += [Haystack(f"{where} topic", bytes(topic), tx_hash) for topic in log["topics"]]
                out.append(Haystack(f"{where} data", bytes(log["data"]), tx_hash))
    return out


def chain_bytes(w3: Web3, from_block: int = 0) -> bytes:
    """Everything the chain shows from `from_block`, in one byte string."""
    return b"".join(h.data for h in chain_haystacks(w3, from_block))


def encodings(identifier: str) -> dict[str, bytes]:
    """The named forms in which `identifier` could leak."""
    variants = {
        "": identifier,
        "canonical ": identifier.strip().upper().replace(".", ""),
        "lower-case ": identifier.lower(),
    }
    forms: dict[str, bytes] = {}
    seen: set[str] = set()
    for prefix, variant in variants.items():
        if variant in seen:
            continue
        seen.add(variant)
        raw = variant.encode("utf-8")
        forms[f"{prefix}utf-8"] = raw
        forms[f"{prefix}hex text"] = raw.hex().encode()
        forms[f"{prefix}keccak256"] = keccak(raw)
        forms[f"{prefix}sha256"] = hashlib.sha256(raw).digest()
        forms[f"{prefix}keccak256 of abi string"] = keccak(abi_encode(["string"], [variant]))
    if identifier.startswith("2.25.") and identifier[5:].isdigit():
        forms["uuid bytes"] = int(identifier[5:]).to_bytes(16, "big")
    return forms


def phi_forms(text: str) -> list[bytes]:
    """Every way `text` (a member id, an ICD-10 code) could show on chain (:func:`encodings`)."""
    return list(encodings(text).values())


def combined_forms(payer_id: str, member_id: str, codes: Iterable[str]) -> list[bytes]:
    """Hashes of the values together, unsalted: the member under its payer, and the list of codes."""
    canonical = sorted({c.strip().upper().replace(".", "") for c in codes})
    return [
        keccak(text=payer_id + member_id),
        keccak(abi_encode(["string", "string"], [payer_id, member_id])),
        keccak(abi_encode(["string[]"], [canonical])),
        keccak(text="".join(canonical)),
    ]


def _named(forms: Forms) -> Mapping[str, bytes]:
    return forms if isinstance(forms, Mapping) else {f"form {i}": form for i, form in enumerate(forms)}


def leaks(needles: Mapping[str, Forms] | Iterable[str], haystacks: Sequence[Haystack]) -> list[tuple[str, str, str]]:
    """(label, form, where) for every occurrence, byte-aligned or shifted by a nibble, in any case.

    `needles`: plain identifiers (their :func:`encodings` are searched), or label → forms.
    """
    if not isinstance(needles, Mapping):
        needles = {identifier: encodings(identifier) for identifier in needles}
    named = [(label, name, form) for label, forms in needles.items() for name, form in _named(forms).items()]
    found = []
    for haystack in haystacks:
        data, as_hex = haystack.data.lower(), haystack.data.hex()
        for label, name, form in named:
            if form.lower() in data or form.hex() in as_hex:
                found.append((label, name, haystack.where))
    return found


def assert_no_phi(haystack: bytes | Sequence[Haystack], needles: Mapping[str, Forms]) -> None:
    """Fail, naming each label found, if any form of any needle is in `haystack`."""
    stacks = [Haystack("chain", haystack)] if isinstance(haystack, bytes) else haystack
    found = leaks(needles, stacks)
    assert not found, f"on chain: {sorted({label for label, _, _ in found})}: {found[:10]}"
