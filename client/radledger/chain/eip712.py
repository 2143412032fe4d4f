"""EIP-712 typed data for the contracts' `...BySig` functions, built and signed offline.

A signature commits to the chain id and the contract (the domain), a deadline, a counter of
the slot it changes (a grant's version, a credential's sequence) and the signer's signature
epoch: it can be used once, on one chain, with one contract, and the signer can invalidate
all outstanding ones. Each contract has its own table of message types, found through the
domain's name (:data:`TYPES_BY_DOMAIN`), so two contracts may both have a `Revoke` message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.errors import ValidationError
from radledger.chain.signers import Signer

CONSENT_DOMAIN_NAME = "radledger ConsentRegistry"
CONSENT_DOMAIN_VERSION = "1"
CREDENTIAL_DOMAIN_NAME = "radledger CredentialRegistry"
CREDENTIAL_DOMAIN_VERSION = "1"
PREAUTH_DOMAIN_NAME = "radledger PreauthRegistry"
PREAUTH_DOMAIN_VERSION = "1"
GATEWAY_DOMAIN_NAME = "radledger Gateway"
GATEWAY_DOMAIN_VERSION = "1"

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

CONSENT_TYPES: dict[str, list[tuple[str, str]]] = {
    "Grant": [
        ("patient", "address"),
        ("grantee", "address"),
        ("recordId", "bytes32"),
        ("scopes", "uint8"),
        ("purposes", "uint8"),
        ("validFrom", "uint40"),
        ("validUntil", "uint40"),
        ("signer", "address"),
        ("version", "uint32"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
    "Revoke": [
        ("patient", "address"),
        ("grantee", "address"),
        ("recordId", "bytes32"),
        ("signer", "address"),
        ("version", "uint32"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
    "SetGuardian": [
        ("patient", "address"),
        ("guardian", "address"),
        ("validUntil", "uint40"),
        ("version", "uint32"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
    "InvalidateSignatures": [
        ("patient", "address"),
        ("signer", "address"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
}

CREDENTIAL_TYPES: dict[str, list[tuple[str, str]]] = {
    "Attest": [
        ("issuer", "address"),
        ("subject", "bytes32"),
        ("schema", "uint32"),
        ("dataHash", "bytes32"),
        ("value", "uint64"),
        ("validFrom", "uint40"),
        ("validUntil", "uint40"),
        ("refUid", "bytes32"),
        ("sequence", "uint32"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
    "Revoke": [
        ("signer", "address"),
        ("uid", "bytes32"),
        ("reasonCode", "uint16"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
    "InvalidateSignatures": [
        ("issuer", "address"),
        ("epoch", "uint64"),
        ("deadline", "uint256"),
    ],
}

PREAUTH_TYPES: dict[str, list[tuple[str, str]]] = {
    # The ordering physician attests that the order meets the payer's criteria; its digest is the request id.
    "OrderAttestation": [
        ("requester", "address"),
        ("payer", "address"),
        ("memberCommitment", "bytes32"),
        ("procedure", "bytes5"),
        ("units", "uint16"),
        ("physician", "address"),
        ("expedited", "bool"),
        ("clinicalCommitment", "bytes32"),
        ("deadline", "uint256"),
    ],
}

GATEWAY_TYPES: dict[str, list[tuple[str, str]]] = {
    # A requester's proof of its grantee key for one request to one gateway (gateway/tokens.py);
    # verified off chain by the gateway, its domain names the ConsentRegistry the gateway asks.
    "GatewayToken": [
        ("grantee", "address"),
        ("audience", "string"),
        ("purpose", "uint8"),
        ("expiry", "uint64"),
        ("nonce", "bytes32"),
    ],
    # A requester's sign-in for a short viewer session at one gateway (gateway/sessions.py): the
    # EIP-712 twin of a Sign-In with Ethereum (EIP-4361) message.
    "GatewayLogin": [
        ("grantee", "address"),
        ("audience", "string"),
        ("purpose", "uint8"),
        ("issuedAt", "uint64"),
        ("expiry", "uint64"),
        ("nonce", "bytes32"),
    ],
}

TYPES_BY_DOMAIN: dict[str, dict[str, list[tuple[str, str]]]] = {
    CONSENT_DOMAIN_NAME: CONSENT_TYPES,
    CREDENTIAL_DOMAIN_NAME: CREDENTIAL_TYPES,
    PREAUTH_DOMAIN_NAME: PREAUTH_TYPES,
    GATEWAY_DOMAIN_NAME: GATEWAY_TYPES,
}
"""The message types of each contract, by its EIP-712 domain name."""


def message_fields(domain_name: str, primary_type: str) -> list[tuple[str, str]]:
    """The (name, type) fields of message `primary_type` of the contract whose domain is `domain_name`."""
    table = TYPES_BY_DOMAIN.get(domain_name)
    if table is None:
        raise ValidationError(f"unknown EIP-712 domain {domain_name!r}; known: {sorted(TYPES_BY_DOMAIN)}")
    fields = table.get(primary_type)
    if fields is None:
        raise ValidationError(f"unknown EIP-712 type {primary_type!r} for {domain_name}")
    return fields


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain: which contract on which chain a signature is for."""

    name: str
    version: str
    chain_id: int
    verifying_contract: ChecksumAddress

    @classmethod
    def consent(cls, chain_id: int, contract: str) -> Domain:
        return cls(CONSENT_DOMAIN_NAME, CONSENT_DOMAIN_VERSION, chain_id, validation.address(contract, "contract"))

    @classmethod
    def credentials(cls, chain_id: int, contract: str) -> Domain:
        return cls(
            CREDENTIAL_DOMAIN_NAME, CREDENTIAL_DOMAIN_VERSION, chain_id, validation.address(contract, "contract")
        )

    @classmethod
    def preauth(cls, chain_id: int, contract: str) -> Domain:
        return cls(PREAUTH_DOMAIN_NAME, PREAUTH_DOMAIN_VERSION, chain_id, validation.address(contract, "contract"))

    @classmethod
    def gateway(cls, chain_id: int, consent_contract: str) -> Domain:
        """Gateway tokens: bound to the chain and the ConsentRegistry whose consents the gateway checks."""
        return cls(
            GATEWAY_DOMAIN_NAME, GATEWAY_DOMAIN_VERSION, chain_id, validation.address(consent_contract, "contract")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


def typed_data(domain: Domain, primary_type: str, message: dict[str, Any]) -> dict[str, Any]:
    """The full EIP-712 document (as eth_signTypedData_v4 takes it)."""
    fields = message_fields(domain.name, primary_type)
    missing = [name for name, _ in fields if name not in message]
    if missing:
        raise ValidationError(f"{primary_type} message is missing {missing}")
    return {
        "types": {
            "EIP712Domain": _DOMAIN_TYPE,
            primary_type: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary_type,
        "domain": domain.as_dict(),
        "message": {name: message[name] for name, _ in fields},
    }


@dataclass(frozen=True)
class SignedMessage:
    """A signed EIP-712 message that anyone can relay (a JSON file a patient hands a site)."""

    primary_type: str
    domain: Domain
    message: dict[str, Any]
    signature: bytes

    def to_json(self) -> str:
        message = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in self.message.items()}
        return json.dumps(
            {
                "primaryType": self.primary_type,
                "domain": self.domain.as_dict(),
                "message": message,
                "signature": "0x" + self.signature.hex(),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SignedMessage:
        try:
            doc = json.loads(text)
            primary_type = doc["primaryType"]
            d = doc["domain"]
            fields = dict(message_fields(d["name"], primary_type))
            domain = Domain(d["name"], d["version"], int(d["chainId"]), validation.address(d["verifyingContract"]))
            message: dict[str, Any] = {}
            for name, kind in fields.items():
                value = doc["message"][name]
                message[name] = _fixed_bytes(value, kind, name) if kind.startswith("bytes") else value
            signature = validation.signature(doc["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(f"not a radledger signed message: {exc}") from exc
        return cls(primary_type, domain, message, signature)

    def save(self, path: Path | str) -> Path:
        target = Path(path)
        target.write_text(self.to_json() + "\n")
        return target

    @classmethod
    def load(cls, path: Path | str) -> SignedMessage:
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise ValidationError(f"cannot read {path}: {exc}") from exc


def sign(signer: Signer, domain: Domain, primary_type: str, message: dict[str, Any]) -> SignedMessage:
    """Sign `message` offline (no node needed)."""
    signature = signer.sign_typed_data(typed_data(domain, primary_type, message))
    return SignedMessage(primary_type, domain, dict(message), signature)


def _fixed_bytes(value: Any, kind: str, name: str) -> bytes:
    """A `bytesN` field read back from JSON (hex) as N bytes."""
    if kind == "bytes32":
        return validation.bytes32(value, name)
    text = value[2:] if isinstance(value, str) and value.startswith("0x") else value
    try:
        raw = bytes.fromhex(text) if isinstance(text, str) else bytes(text)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: {value!r} is not hex") from None
    if kind != "bytes" and len(raw) != int(kind[5:]):
        raise ValidationError(f"{name}: expected {kind[5:]} bytes, got {len(raw)}")
    return raw
