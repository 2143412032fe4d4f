"""Checks on user input, run before anything is sent: each raises ValidationError with one clear line."""

from __future__ import annotations

from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, is_checksum_address, to_checksum_address

from radledger.chain.errors import ValidationError

UINT40_MAX = 2**40 - 1


def address(value: Any, what: str = "address") -> ChecksumAddress:
    """A checksummed address; rejects malformed text and wrong mixed-case checksums."""
    if isinstance(value, bytes) and len(value) == 20:
        return to_checksum_address(value)
    if not isinstance(value, str) or not is_address(value):
        raise ValidationError(f"{what}: {value!r} is not an Ethereum address")
    if value != value.lower() and value != value.upper().replace("0X", "0x") and not is_checksum_address(value):
        raise ValidationError(f"{what}: {value!r} has a wrong checksum")
    return to_checksum_address(value)


def nonzero_address(value: Any, what: str = "address") -> ChecksumAddress:
    checked = address(value, what)
    if int(checked, 16) == 0:
        raise ValidationError(f"{what}: the zero address is not allowed")
    return checked


def bytes32(value: Any, what: str = "value") -> bytes:
    """32 bytes, from bytes or 0x-prefixed hex."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValidationError(f"{what}: {value!r} is not hex") from None
    else:
        raise ValidationError(f"{what}: expected 32 bytes, got {type(value).__name__}")
    if len(raw) != 32:
        raise ValidationError(f"{what}: expected 32 bytes, got {len(raw)}")
    return raw


def signature(value: Any) -> bytes:
    """A 65-byte (r, s, v) signature, or a longer ERC-1271 wallet signature, as bytes."""
    raw = value if isinstance(value, bytes) else None
    if isinstance(value, str):
        text = value[2:] if value.startswith("0x") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValidationError(f"signature: {value[:12]!r}... is not hex") from None
    if raw is None or len(raw) < 64:
        raise ValidationError(f"signature: expected at least 64 bytes, got {len(raw) if raw is not None else 0}")
    return raw


MAX_UID_LENGTH = 64
"""DICOM's limit for a UI value."""


def dicom_uid(uid: Any, what: str = "UID") -> str:
    """A DICOM UID: dot-separated digit groups, at most 64 characters."""
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_LENGTH:
        raise ValidationError(f"{what} {uid!r} is not a DICOM UID (1 to {MAX_UID_LENGTH} characters)")
    if not all(part.isdigit() and part.isascii() for part in uid.split(".")):
        raise ValidationError(f"{what} {uid!r} is not a DICOM UID (digits and dots)")
    return uid


def timestamp(value: int, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= UINT40_MAX:
        raise ValidationError(f"{what}: {value!r} is not a timestamp between 0 and {UINT40_MAX}")
    return value


def validity(valid_from: int, valid_until: int, now: int) -> tuple[int, int]:
    """A non-empty validity window that has not already ended."""
    timestamp(valid_from, "valid_from")
    timestamp(valid_until, "valid_until")
    if valid_from >= valid_until:
        raise ValidationError(f"validity: valid_from {valid_from} is not before valid_until {valid_until}")
    if valid_until <= now:
        raise ValidationError(f"validity: valid_until {valid_until} is not after the chain's time {now}")
    return valid_from, valid_until


def deadline(value: int, now: int) -> int:
    if not isinstance(value, int) or value < 0:
        raise ValidationError(f"deadline: {value!r} is not a timestamp")
    if value < now:
        raise ValidationError(f"deadline: {value} has already passed (chain time {now})")
    return value
