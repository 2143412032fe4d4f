"""Issue 11, item 8: an unsalted device id is as public as the serial; a salted one hides it.

The attack: serial numbers follow short, known formats (the demo's is MR + seven digits), so
anyone who reads a device id on chain can hash every serial of the format until one matches.
The demo's scanner id used to fall to that in about a second; the site and its inspector now
share a device salt, and the same search finds nothing.
"""

from __future__ import annotations

import random

import pytest
from eth_utils import keccak

from radledger.chain.errors import ValidationError
from radledger.demo.data import SCANNER_MANUFACTURER, synthetic_site
from radledger.registries.credentials.subjects import device_id

WINDOW = 2_000
"""How many serials the test tries around the real one (the whole seven-digit space is 10^7)."""


def brute_force(target: bytes, manufacturer: str, serials: range, salt: bytes | None = None) -> str | None:
    """The attacker's search: the serial of the format whose device id is `target`, if any."""
    for n in serials:
        serial = f"MR{n:07d}"
        if device_id(manufacturer, serial, salt) == target:
            return serial
    return None


def _scanner():
    _, site = synthetic_site(random.Random(7), "0x" + "11" * 20)
    return site.scanner


def _window(serial: str) -> range:
    n = int(serial[2:])
    return range(max(0, n - WINDOW // 2), n + WINDOW // 2)


def test_an_unsalted_device_id_gives_up_its_serial_to_a_search_of_the_format() -> None:
    scanner = _scanner()
    public = device_id(scanner.manufacturer, scanner.serial)
    assert brute_force(public, SCANNER_MANUFACTURER, _window(scanner.serial)) == scanner.serial


def test_the_demo_scanners_id_on_chain_is_salted_and_the_search_finds_nothing() -> None:
    scanner = _scanner()
    assert scanner.salt is not None
    on_chain = scanner.device_id
    assert on_chain != device_id(scanner.manufacturer, scanner.serial)
    assert brute_force(on_chain, SCANNER_MANUFACTURER, _window(scanner.serial)) is None
    # whoever holds the salt (the site, its inspector) finds the device as before
    assert brute_force(on_chain, SCANNER_MANUFACTURER, _window(scanner.serial), scanner.salt) == scanner.serial


def test_a_salted_device_id_is_the_documented_hash_and_canonicalizes_like_the_unsalted_one() -> None:
    salt = keccak(text="synthetic device salt")
    expected = keccak(
        b"".join(
            [
                (0x80).to_bytes(32, "big"), salt, (0xC0).to_bytes(32, "big"), (0x100).to_bytes(32, "big"),
                len("radledger device v2 salted").to_bytes(32, "big"), b"radledger device v2 salted".ljust(32, b"\0"),
                len("ACME IMAGING").to_bytes(32, "big"), b"ACME IMAGING".ljust(32, b"\0"),
                len("MR-0042").to_bytes(32, "big"), b"MR-0042".ljust(32, b"\0"),
            ]
        )
    )  # fmt: skip
    assert device_id("Acme Imaging", "MR-0042", salt) == expected
    assert device_id("  acme   imaging ", "mr-0042", salt) == expected
    assert device_id("Acme Imaging", "MR-0042", keccak(text="another site")) != expected


def test_a_device_salt_must_be_32_bytes() -> None:
    with pytest.raises(ValidationError):
        device_id("Acme Imaging", "MR-0042", b"short")
