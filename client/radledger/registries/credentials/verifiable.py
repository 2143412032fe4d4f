"""Attestations as W3C Verifiable Credentials 2.0 style JSON documents, and the offline check of their proof.

The chain stays the source of truth: a document's `credentialStatus` names the registry, the
chain and the uid, and a verifier asks `isValid(uid)` there (revocation and expiry). Where the
issuer signed the attestation with EIP-712 (`attestBySig`), that signature is the document's
proof; its `eip712` member carries the whole typed data, so anyone can recompute the digest,
recover the signer and see that the signed message is this credential (:func:`verify_proof`).

Mapping (docs/credentials.md has the full table):

    @context            https://www.w3.org/ns/credentials/v2
    id                  urn:radledger:credential:eip155:<chainId>:<registry>:<uid>
    type                ["VerifiableCredential", "RadledgerCredential"]
    name                the schema's name
    issuer              did:pkh:eip155:<chainId>:<issuer address>
    validFrom/Until     the attestation's window (ISO 8601, UTC); no validUntil when it never ends
    credentialSubject   id (did:pkh for a physician, urn:radledger:subject:<hex> for a device),
                        subject, schema, schemaName, dataHash, value, refUid (when set)
    credentialStatus    type RadledgerCredentialRegistryStatus: chainId, registry, uid, statusMethod
    evidence            the attesting transaction (hash, block)
    proof               type EthereumEip712Signature2021, proofValue = the issuer's signature,
                        eip712 = {domain, types, primaryType: "Attest", message}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from radledger.chain import validation
from radledger.chain.eip712 import Domain, SignedMessage, typed_data
from radledger.chain.errors import ValidationError
from radledger.registries.common import FOREVER
from radledger.registries.credentials.subjects import co_issuer_credential_uid, credential_uid, subject_address
from radledger.registries.credentials.types import Attestation, CredentialSchema

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPE = "RadledgerCredential"
STATUS_TYPE = "RadledgerCredentialRegistryStatus"
"""credentialStatus type: the attestation's on-chain state, `isValid(uid)` of the registry named."""
STATUS_METHOD = "isValid(bytes32)"
PROOF_TYPE = "EthereumEip712Signature2021"
"""After the W3C CCG EthereumEip712Signature2021 suite, with one difference: the signed message is
the on-chain `Attest` message (in `proof.eip712.message`), not the JSON document itself."""
EVIDENCE_TYPE = "RadledgerAttestationTransaction"


def did_pkh(chain_id: int, address: str) -> str:
    """`did:pkh:eip155:<chainId>:<address>` (CAIP-10 account id as a DID)."""
    return f"did:pkh:eip155:{chain_id}:{validation.address(address)}"


def subject_uri(chain_id: int, subject: bytes) -> str:
    """A physician's subject (an address) as did:pkh; any other subject (a device id) as a URN."""
    address = subject_address(subject)
    return did_pkh(chain_id, address) if address else f"urn:radledger:subject:0x{bytes(subject).hex()}"


def credential_id(chain_id: int, registry: str, uid: bytes) -> str:
    return f"urn:radledger:credential:eip155:{chain_id}:{validation.address(registry)}:0x{bytes(uid).hex()}"


def iso_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_time(text: str) -> int:
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValidationError(f"{text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{text!r} has no time zone")
    return int(parsed.timestamp())


def to_verifiable_credential(
    attestation: Attestation,
    schema: CredentialSchema,
    domain: Domain,
    signed: SignedMessage | None = None,
    issuer_index: int | None = None,
) -> dict[str, Any]:
    """The VC 2.0 style document of `attestation` (of `schema`, in the registry of `domain`).

    `signed` (the issuer's `Attest` message, from a file or from the chain) becomes the proof; it
    must be the message that made this attestation, else ValidationError.
    """
    if schema.schema_id != attestation.schema_id:
        raise ValidationError(f"schema {schema.schema_id} is not the attestation's schema {attestation.schema_id}")
    chain_id, registry = domain.chain_id, domain.verifying_contract
    subject: dict[str, Any] = {
        "id": subject_uri(chain_id, attestation.subject),
        "subject": "0x" + attestation.subject.hex(),
        "schema": attestation.schema_id,
        "schemaName": schema.name,
        "dataHash": "0x" + attestation.data_hash.hex(),
        "value": attestation.value,
    }
    if attestation.ref_uid != bytes(32):
        subject["refUid"] = "0x" + attestation.ref_uid.hex()
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": credential_id(chain_id, registry, attestation.uid),
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "name": schema.name,
        "issuer": did_pkh(chain_id, attestation.issuer),
        "validFrom": iso_time(attestation.valid_from),
    }
    if attestation.valid_until < FOREVER:
        doc["validUntil"] = iso_time(attestation.valid_until)
    doc["credentialSubject"] = subject
    doc["credentialStatus"] = {
        "id": credential_id(chain_id, registry, attestation.uid) + "#status",
        "type": STATUS_TYPE,
        "chainId": chain_id,
        "registry": registry,
        "uid": "0x" + attestation.uid.hex(),
        "statusMethod": STATUS_METHOD,
    }
    if issuer_index is not None:
        # A co-issuer's uid is keyed by its issuer index too (latest wins per issuer).
        doc["credentialStatus"]["issuerIndex"] = issuer_index
    doc["evidence"] = [
        {"type": [EVIDENCE_TYPE], "transactionHash": attestation.tx_hash, "blockNumber": attestation.block_number}
    ]
    if signed is not None:
        if signed.domain != domain or signed.primary_type != "Attest":
            raise ValidationError("the signed message is not an Attest message of this registry")
        _check_binding(doc, signed)
        document = json.loads(signed.to_json())
        full = typed_data(signed.domain, "Attest", signed.message)
        doc["proof"] = {
            "type": PROOF_TYPE,
            "proofPurpose": "assertionMethod",
            "verificationMethod": did_pkh(chain_id, attestation.issuer) + "#blockchainAccountId",
            "proofValue": document["signature"],
            "eip712": {
                "domain": document["domain"],
                "types": full["types"],
                "primaryType": "Attest",
                "message": document["message"],
            },
        }
    return doc


def proof_message(doc: dict[str, Any]) -> SignedMessage:
    """The signed `Attest` message a document's proof carries (its types checked against radledger's)."""
    proof = doc.get("proof")
    if not isinstance(proof, dict) or proof.get("type") != PROOF_TYPE:
        raise ValidationError(f"the document has no {PROOF_TYPE} proof")
    try:
        eip712 = proof["eip712"]
        signed = SignedMessage.from_json(
            json.dumps(
                {
                    "primaryType": eip712["primaryType"],
                    "domain": eip712["domain"],
                    "message": eip712["message"],
                    "signature": proof["proofValue"],
                }
            )
        )
    except (KeyError, TypeError) as exc:
        raise ValidationError(f"malformed proof: {exc!r}") from exc
    if (
        signed.primary_type != "Attest"
        or eip712["types"] != typed_data(signed.domain, "Attest", signed.message)["types"]
    ):
        raise ValidationError("the proof's EIP-712 types are not radledger's Attest message")
    return signed


def verify_proof(doc: dict[str, Any]) -> ChecksumAddress:
    """Check offline that the proof's signed message is this credential; return the recovered signer.

    For an EOA issuer the signer equals the issuer's address (compare with `doc["issuer"]`). For a
    smart-contract (ERC-1271) issuer it is the key that signed for the wallet: ask the wallet's
    `isValidSignature` on chain. Revocation and expiry are the chain's answer (`credentialStatus`).
    """
    signed = proof_message(doc)
    _check_binding(doc, signed)
    recovered = Account.recover_message(
        encode_typed_data(full_message=typed_data(signed.domain, "Attest", signed.message)), signature=signed.signature
    )
    return to_checksum_address(recovered)


def _check_binding(doc: dict[str, Any], signed: SignedMessage) -> None:
    """The signed message names exactly this credential: issuer, subject, schema, data, window, uid, registry."""
    try:
        m = signed.message
        status = doc["credentialStatus"]
        subject = doc["credentialSubject"]
        issuer_did = did_pkh(int(status["chainId"]), m["issuer"])
        until = parse_iso_time(doc["validUntil"]) if "validUntil" in doc else FOREVER
        if "issuerIndex" in status:
            expected_uid = co_issuer_credential_uid(
                bytes(m["subject"]), int(m["schema"]), int(status["issuerIndex"]), int(m["sequence"])
            )
        else:
            expected_uid = credential_uid(bytes(m["subject"]), int(m["schema"]), int(m["sequence"]))
        mismatches = [
            name
            for name, same in [
                ("issuer", doc["issuer"] == issuer_did),
                ("subject", validation.bytes32(subject["subject"], "subject") == bytes(m["subject"])),
                ("schema", int(subject["schema"]) == int(m["schema"])),
                ("dataHash", validation.bytes32(subject["dataHash"], "data hash") == bytes(m["dataHash"])),
                ("value", int(subject["value"]) == int(m["value"])),
                ("validFrom", parse_iso_time(doc["validFrom"]) == int(m["validFrom"])),
                ("validUntil", until == int(m["validUntil"])),
                (
                    "refUid",
                    validation.bytes32(subject.get("refUid", "0x" + "00" * 32), "ref uid") == bytes(m["refUid"]),
                ),
                ("uid", validation.bytes32(status["uid"], "uid") == expected_uid),
                ("chainId", int(status["chainId"]) == signed.domain.chain_id),
                ("registry", validation.address(status["registry"]) == signed.domain.verifying_contract),
            ]
            if not same
        ]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"malformed credential: {exc!r}") from exc
    if mismatches:
        raise ValidationError(f"the signed message does not match the credential's {', '.join(mismatches)}")


__all__ = [
    "CREDENTIAL_TYPE",
    "PROOF_TYPE",
    "STATUS_TYPE",
    "VC_CONTEXT",
    "credential_id",
    "did_pkh",
    "proof_message",
    "subject_uri",
    "to_verifiable_credential",
    "verify_proof",
]
