"""Who a credential is about, and the ids the registry keys credentials by.

A subject is a bytes32: a physician's address (left-padded), or a device id, the hash of a
scanner's manufacturer and serial number over canonicalized text. Credential uids encode the
(subject, schema) slot, the issuer's place among co-issuers and a sequence number, so views
need no lookup slot. Pure functions: nothing here talks to a node.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import is_address, keccak, to_checksum_address

from radledger.chain import validation
from radledger.chain.errors import ValidationError

DEVICE_ID_TAG = "radledger device v1"
SALTED_DEVICE_ID_TAG = "radledger device v2 salted"
ZERO32 = bytes(32)
UINT32_MAX = 2**32 - 1


def subject_id(value: Any) -> bytes:
    """A subject as the contract takes it: an address (a physician) left-padded to 32 bytes, or 32 bytes as given."""
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        raw = bytes(12) + bytes(value)
    elif isinstance(value, str) and is_address(value):
        raw = bytes(12) + bytes.fromhex(validation.address(value, "subject")[2:])
    else:
        raw = validation.bytes32(value, "subject")
    if raw == ZERO32:
        raise ValidationError("subject: zero is not a subject")
    return raw


def subject_address(subject: bytes) -> ChecksumAddress | None:
    """The address inside a subject made from one (its first 12 bytes zero), else None (a device id)."""
    raw = validation.bytes32(subject, "subject")
    return to_checksum_address(raw[12:]) if raw[:12] == bytes(12) else None


def _canonical(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise ValidationError(f"{what}: expected text, got {type(text).__name__}")
    canonical = " ".join(unicodedata.normalize("NFKC", text).split()).upper()
    if not canonical:
        raise ValidationError(f"{what}: must not be empty")
    return canonical


def device_id(manufacturer: str, serial_number: str, salt: bytes | None = None) -> bytes:
    """The subject of a piece of imaging equipment.

    Unsalted: keccak256(abi.encode("radledger device v1", manufacturer, serial)). That id is as
    public as the serial itself: serial numbers follow short, known formats, so anyone can hash
    every serial of a format and find the one behind an id (a seven-digit format in minutes).
    Salted: keccak256(abi.encode("radledger device v2 salted", salt, manufacturer, serial)), with a
    32-byte secret that the inspector and the site share: without it the serial cannot be found
    from the id. Both texts are canonicalized first (Unicode NFKC, surrounding and repeated
    whitespace collapsed, upper case), so "Acme  imaging" / "mr-0042" and "ACME IMAGING" /
    "MR-0042" name the same device.
    """
    texts = [_canonical(manufacturer, "manufacturer"), _canonical(serial_number, "serial number")]
    if salt is None:
        return keccak(abi_encode(["string", "string", "string"], [DEVICE_ID_TAG, *texts]))
    secret = validation.bytes32(salt, "device salt")
    return keccak(abi_encode(["string", "bytes32", "string", "string"], [SALTED_DEVICE_ID_TAG, secret, *texts]))


def credential_key(subject: Any, schema_id: int) -> bytes:
    """The (subject, schema) key: keccak256(abi.encode(subject, schema)) with its low 32 bits cleared."""
    digest = keccak(abi_encode(["bytes32", "uint32"], [subject_id(subject), checked_schema_id(schema_id)]))
    return digest[:28] + bytes(4)


def credential_uid(subject: Any, schema_id: int, sequence: int) -> bytes:
    """The uid of the primary issuer's `sequence`-th attestation (from 1) of `schema_id` about `subject`
    (the primary issuer is the first to attest it: with a single issuer, every attestation's uid). Another
    issuer's uids: :func:`co_issuer_credential_uid`."""
    if not isinstance(sequence, int) or not 0 < sequence <= UINT32_MAX:
        raise ValidationError(f"sequence: {sequence!r} is not between 1 and {UINT32_MAX}")
    return credential_key(subject, schema_id)[:28] + sequence.to_bytes(4, "big")


def co_issuer_credential_uid(subject: Any, schema_id: int, issuer_index: int, sequence: int) -> bytes:
    """The uid of the `sequence`-th attestation of `schema_id` about `subject` by the issuer with index
    `issuer_index` when it is not the subject's primary issuer for the schema (the first to attest it):
    keccak256(abi.encode(subject, schema, issuerIndex)), low 32 bits replaced by the sequence."""
    if not isinstance(sequence, int) or not 0 < sequence <= UINT32_MAX:
        raise ValidationError(f"sequence: {sequence!r} is not between 1 and {UINT32_MAX}")
    digest = keccak(
        abi_encode(["bytes32", "uint32", "uint32"], [subject_id(subject), checked_schema_id(schema_id), issuer_index])
    )
    return digest[:28] + sequence.to_bytes(4, "big")


def uid_sequence(uid: bytes) -> int:
    """The sequence number a uid carries (its low 32 bits)."""
    return int.from_bytes(validation.bytes32(uid, "uid")[-4:], "big")


def document_hash(content: bytes) -> bytes:
    """The SHA-256 of an off-chain document (a license, a certificate, an inspection report): a `dataHash`.

    Salt guessable documents (a nonce inside the document) before hashing: a hash of a short,
    predictable text can be found by trying candidates.
    """
    return hashlib.sha256(content).digest()


def checked_schema_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= UINT32_MAX:
        raise ValidationError(f"schema: {value!r} is not a schema id (1 to {UINT32_MAX})")
    return value
