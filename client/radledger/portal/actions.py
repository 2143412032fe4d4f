"""The EIP-712 messages the page asks a wallet to sign, prepared with the chain's current counters.

Each action of the page becomes one message of the ConsentRegistry domain (or several, for
"revoke everything for this grantee"), as the full ``eth_signTypedData_v4`` document: the
primary type and the domain type only, field names as the contract's type hash spells them, so a
wallet shows every field readably. The slot version and the signature epoch are read from the
chain when the message is prepared; the deadline is the chain's time plus the site's signature
lifetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.eip712 import Domain, typed_data
from radledger.chain.errors import ValidationError
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import (
    WILDCARD,
    ConsentRegistryClient,
    grant_message,
    guardian_message,
    revoke_message,
)

SCOPE_NAMES = {"images": Scope.IMAGES, "reports": Scope.REPORTS, "safety-profile": Scope.SAFETY_PROFILE}
PURPOSE_NAMES = {p.name: p for p in Purpose if p.name and p.name != "ALL"}


def flags(value: Any, names: Mapping[str, int], what: str) -> int:
    """A bitmask from a list of names (``["images", "reports"]``) or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{what}: choose at least one of {sorted(names)}")
    total = 0
    for name in value:
        if not isinstance(name, str) or name not in names:
            raise ValidationError(f"{what}: {name!r} is not one of {sorted(names)}")
        total |= int(names[name])
    return total


def _address(body: Mapping[str, Any], key: str) -> ChecksumAddress:
    if key not in body:
        raise ValidationError(f"{key} is required")
    return validation.nonzero_address(body[key], key)


def _record(body: Mapping[str, Any]) -> bytes:
    value = body.get("recordId") or "0x" + "00" * 32
    return validation.bytes32(value, "recordId")


def _time(body: Mapping[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{key}: expected a unix time in seconds")
    return validation.timestamp(value, key)


def prepare(
    consent: ConsentRegistryClient, domain: Domain, action: str, body: Mapping[str, Any], lifetime: int
) -> list[dict[str, Any]]:
    """The typed-data documents to sign for `action` (one, or one per grant for ``revoke-all``)."""
    patient = _address(body, "patient")
    signer = validation.nonzero_address(body.get("signer") or patient, "signer")
    now = consent.now()
    deadline = now + lifetime
    # a signature commits to its signer's epoch (a guardian's dies with its appointment); SetGuardian is the patient's
    epoch = consent.signer_epoch(patient, patient if action == "set-guardian" else signer)
    if action == "grant":
        grantee, rid = _address(body, "grantee"), _record(body)
        valid_from = _time(body, "validFrom", 0)
        valid_until = _time(body, "validUntil", FOREVER)
        if valid_until <= now:
            raise ValidationError("validUntil: the end of the grant must be in the future")
        scopes = int(Scope.checked(flags(body.get("scopes"), SCOPE_NAMES, "scopes")))
        purposes = int(Purpose.checked(flags(body.get("purposes"), PURPOSE_NAMES, "purposes")))
        version = consent.get_grant(patient, grantee, rid).version
        message = grant_message(
            patient, grantee, rid, scopes, purposes, valid_from, valid_until, signer, version, epoch, deadline
        )
        return [typed_data(domain, "Grant", message)]
    if action == "revoke":
        grantee, rid = _address(body, "grantee"), _record(body)
        version = consent.get_grant(patient, grantee, rid).version
        return [typed_data(domain, "Revoke", revoke_message(patient, grantee, rid, signer, version, epoch, deadline))]
    if action == "revoke-all":
        grantee = _address(body, "grantee")
        ids = [validation.bytes32(r, "recordIds") for r in body.get("recordIds", [])]
        slots = [consent.get_grant(patient, grantee, rid) for rid in dict.fromkeys([WILDCARD, *ids])]
        active = [s for s in slots if s.scopes]
        if not active:
            raise ValidationError(f"{grantee} holds no grant of {patient} to revoke")
        return [
            typed_data(
                domain, "Revoke", revoke_message(patient, grantee, s.record_id, signer, s.version, epoch, deadline)
            )
            for s in active
        ]
    if action == "set-guardian":
        guardian = _address(body, "guardian")
        valid_until = _time(body, "validUntil", 0)
        if valid_until and valid_until <= now:
            raise ValidationError("validUntil: a guardian's appointment must end in the future")
        version = consent.get_guardian(patient, guardian).version
        return [
            typed_data(
                domain, "SetGuardian", guardian_message(patient, guardian, valid_until, version, epoch, deadline)
            )
        ]
    if action == "invalidate-signatures":
        message = {"patient": patient, "signer": signer, "epoch": epoch, "deadline": deadline}
        return [typed_data(domain, "InvalidateSignatures", message)]
    raise ValidationError(f"unknown action {action!r}")


def json_ready(document: dict[str, Any]) -> dict[str, Any]:
    """A typed-data document as JSON for a wallet: bytes as 0x-hex."""
    message = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in document["message"].items()}
    return {**document, "message": message}
