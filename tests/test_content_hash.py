"""The content hash of a study (DESIGN.md): keccak256 over the sorted (SOPInstanceUID, SHA-256) pairs."""

from __future__ import annotations

import hashlib

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from radledger.chain import errors
from radledger.registries.records.content_hash import content_hash, content_hash_of_digests, instance_digest

INSTANCES = [("2.25.30", b"third instance"), ("2.25.100", b"first instance"), ("2.25.4", b"second instance")]


def test_content_hash_is_keccak_of_the_abi_encoded_pairs_sorted_by_uid() -> None:
    ordered = sorted((uid, hashlib.sha256(data).digest()) for uid, data in INSTANCES)
    assert [uid for uid, _ in ordered] == ["2.25.100", "2.25.30", "2.25.4"]  # byte order of the UID text
    assert content_hash(INSTANCES) == keccak(abi_encode(["(string,bytes32)[]"], [ordered]))


def test_content_hash_does_not_depend_on_the_order_files_were_read() -> None:
    assert content_hash(INSTANCES) == content_hash(reversed(INSTANCES)) == content_hash(sorted(INSTANCES))


def test_any_change_of_bytes_or_uid_or_an_added_instance_changes_the_hash() -> None:
    base = content_hash(INSTANCES)
    assert content_hash([*INSTANCES[:2], ("2.25.4", b"second instance!")]) != base
    assert content_hash([*INSTANCES[:2], ("2.25.5", b"second instance")]) != base
    assert content_hash([*INSTANCES, ("2.25.7", b"a series added later")]) != base


def test_digests_computed_elsewhere_give_the_same_hash() -> None:
    digests = [(uid, instance_digest(data)) for uid, data in INSTANCES]
    assert content_hash_of_digests(digests) == content_hash(INSTANCES)


@pytest.mark.parametrize(
    "instances",
    [
        [],
        [("2.25.1", b"a"), ("2.25.1", b"b")],
        [("1.2.x", b"a")],
        [("", b"a")],
        [("1." + "2" * 64, b"a")],
    ],
    ids=["empty", "duplicate uid", "not digits", "empty uid", "too long"],
)
def test_bad_instance_lists_are_refused(instances: list[tuple[str, bytes]]) -> None:
    with pytest.raises(errors.ValidationError):
        content_hash(instances)


def test_a_digest_that_is_not_sha256_sized_is_refused() -> None:
    with pytest.raises(errors.ValidationError):
        content_hash_of_digests([("2.25.1", b"short")])
