"""The content hash of a study: what RecordRegistry stores so that tampering shows.

DESIGN.md's rule: keccak256 over the sorted list of (SOPInstanceUID, SHA-256 of the instance
file as stored). Concretely::

    contentHash = keccak256(abi.encode((string sopInstanceUid, bytes32 sha256)[]))

with the pairs sorted by SOPInstanceUID (byte order of the ASCII UID), so the hash does not
depend on the order the files were read in, and anyone holding the files can recompute it.
A series added later is an amendment (a new content hash and a version bump), not tampering.

A record that is not a DICOM study (a safety profile, a report document) hashes the same way
as a single instance named by its own UID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from eth_abi import encode as abi_encode
from eth_utils import keccak

from radledger.chain import validation
from radledger.chain.errors import ValidationError


def instance_digest(data: bytes) -> bytes:
    """SHA-256 of an instance file's bytes, as stored."""
    return hashlib.sha256(data).digest()


def content_hash_of_digests(digests: Iterable[tuple[str, bytes]]) -> bytes:
    """The content hash from (SOPInstanceUID, SHA-256 digest) pairs, in any order."""
    pairs: dict[str, bytes] = {}
    for uid, digest in digests:
        validation.dicom_uid(uid, "SOP instance UID")
        if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
            raise ValidationError(f"digest of instance {uid}: expected 32 bytes of SHA-256")
        if uid in pairs:
            raise ValidationError(f"SOP instance UID {uid} appears twice")
        pairs[uid] = bytes(digest)
    if not pairs:
        raise ValidationError("a content hash needs at least one instance")
    ordered = sorted(pairs.items(), key=lambda item: item[0].encode("ascii"))
    return keccak(abi_encode(["(string,bytes32)[]"], [ordered]))


def content_hash(instances: Iterable[tuple[str, bytes]]) -> bytes:
    """The content hash from (SOPInstanceUID, instance bytes) pairs, in any order."""
    return content_hash_of_digests((uid, instance_digest(data)) for uid, data in instances)


__all__ = ["content_hash", "content_hash_of_digests", "instance_digest"]
