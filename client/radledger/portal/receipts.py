"""Consent receipts: what the patient downloads after an action, and how anyone checks one.

A receipt is a JSON document holding the transaction (hash, block number and hash, log index,
block time), the terms as the chain recorded them, the signed EIP-712 message the relay sent,
and, for grants and revocations, the FHIR R5 ``Consent`` resource of those terms (built by
:func:`radledger.audit.fhir.consent_resource`, the auditor's own mapping; active for a grant,
inactive for a revocation). Guardian changes and signature invalidations carry no FHIR resource:
they are no consent to data.

:func:`verify_receipt` checks a receipt against a node, as an auditor would: the transaction
succeeded in that block, the block is still the chain's, the event at that log index says exactly
the receipt's terms, the transaction carried the receipt's signed message and signature, and the
FHIR resource is valid and is the one those terms give.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound

from radledger.audit.fhir import consent_resource, parse_resource
from radledger.audit.index import EventRow
from radledger.chain import validation
from radledger.chain.eip712 import SignedMessage
from radledger.chain.errors import ValidationError
from radledger.portal.errors import ReceiptMismatch
from radledger.portal.views import and_list, day, purpose_list, scope_list, short
from radledger.registries.common import FOREVER
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.events import ConsentEvent, decode_consent_logs

RECEIPT_TYPE = "radledger-consent-receipt"
RECEIPT_VERSION = 1
EVENT_OF = {
    "Grant": "ConsentGranted",
    "Revoke": "ConsentRevoked",
    "SetGuardian": "GuardianSet",
    "InvalidateSignatures": "SignaturesInvalidated",
}
ACTION_OF = {
    "Grant": "grant",
    "Revoke": "revoke",
    "SetGuardian": "set-guardian",
    "InvalidateSignatures": "invalidate-signatures",
}


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def matching_event(events: list[ConsentEvent], signed: SignedMessage) -> ConsentEvent | None:
    """The event of `events` that `signed` caused (same event kind and slot)."""
    m = signed.message
    for event in events:
        if event.name != EVENT_OF[signed.primary_type]:
            continue
        a = event.args
        if a["patient"] != validation.address(m["patient"]):
            continue
        if signed.primary_type in ("Grant", "Revoke") and (
            a["grantee"] != validation.address(m["grantee"]) or bytes(a["recordId"]) != bytes(m["recordId"])
        ):
            continue
        if signed.primary_type == "SetGuardian" and a["guardian"] != validation.address(m["guardian"]):
            continue
        return event
    return None


def terms_of(event: ConsentEvent, prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """The terms an event recorded, as the receipt states them (JSON values)."""
    a = event.args
    if event.name == "ConsentGranted":
        return {
            "patient": a["patient"], "grantee": a["grantee"], "recordId": _hex(a["recordId"]),
            "scopes": a["scopes"], "purposes": a["purposes"], "validFrom": a["validFrom"],
            "validUntil": a["validUntil"], "actor": a["actor"],
        }  # fmt: skip
    if event.name == "ConsentRevoked":
        terms = {"patient": a["patient"], "grantee": a["grantee"], "recordId": _hex(a["recordId"]), "actor": a["actor"]}
        if prior is not None:
            terms["revoked"] = {k: prior[k] for k in ("scopes", "purposes", "validFrom", "validUntil")}
        return terms
    if event.name == "GuardianSet":
        return {"patient": a["patient"], "guardian": a["guardian"], "validUntil": a["validUntil"]}
    return {"patient": a["patient"], "epoch": a["epoch"], "actor": a["actor"]}


def summary_of(terms: Mapping[str, Any], event_name: str, names: Mapping[str, str] | None = None) -> str:
    """The receipt's plain-language sentence."""
    name = (names or {}).get

    def who(address: str) -> str:
        return name(address) or short(address)

    record = (
        "all your records" if terms.get("recordId") == _hex(WILDCARD) else f"record {short(str(terms.get('recordId')))}"
    )
    if event_name == "ConsentGranted":
        until = "with no end date" if terms["validUntil"] >= FOREVER else f"until {day(terms['validUntil'])}"
        return (
            f"You allowed {who(terms['grantee'])} to see the {and_list(scope_list(terms['scopes']))} of {record} "
            f"for {and_list(purpose_list(terms['purposes']))}, {until}."
        )
    if event_name == "ConsentRevoked":
        return f"You withdrew the access of {who(terms['grantee'])} to {record}."
    if event_name == "GuardianSet":
        if not terms["validUntil"]:
            return f"You removed {who(terms['guardian'])} as your guardian."
        return f"You appointed {who(terms['guardian'])} as your guardian until {day(terms['validUntil'])}."
    return "You invalidated every signature you had given and not yet used."


def _fhir(
    chain_id: int, contract: str, event: ConsentEvent, tx: Mapping[str, Any], terms: Mapping[str, Any]
) -> dict[str, Any] | None:
    if event.name == "ConsentGranted":
        args, status = dict(event.args), "active"
    elif event.name == "ConsentRevoked" and "revoked" in terms:
        args, status = {**event.args, **terms["revoked"]}, "inactive"
    else:
        return None
    row = EventRow(
        event.block_number, event.log_index, tx["blockHash"], tx["hash"], int(tx["transactionIndex"]),
        int(tx["timestamp"]), contract, "ConsentRegistry", "ConsentGranted", args,
    )  # fmt: skip
    resource: dict[str, Any] = json.loads(consent_resource(chain_id, row, status).model_dump_json())
    return resource


def build_receipt(
    consent: ConsentRegistryClient,
    signed: SignedMessage,
    tx_receipt: Mapping[str, Any],
    prior: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The receipt of `signed`, relayed in the mined transaction `tx_receipt`."""
    events = decode_consent_logs(tx_receipt["logs"], consent.address)
    event = matching_event(events, signed)
    if event is None:
        raise ValidationError(f"transaction {_hex(tx_receipt['transactionHash'])} holds no event of this message")
    block = consent.w3.eth.get_block(int(tx_receipt["blockNumber"]))
    tx = {
        "hash": _hex(tx_receipt["transactionHash"]),
        "blockNumber": int(tx_receipt["blockNumber"]),
        "blockHash": _hex(tx_receipt["blockHash"]),
        "transactionIndex": int(tx_receipt["transactionIndex"]),
        "logIndex": event.log_index,
        "timestamp": int(block["timestamp"]),
        "status": "success",
    }
    terms = terms_of(event, prior)
    chain_id = signed.domain.chain_id
    return {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "action": ACTION_OF[signed.primary_type],
        "event": event.name,
        "summary": summary_of(terms, event.name, names),
        "chainId": chain_id,
        "contract": consent.address,
        "transaction": tx,
        "terms": terms,
        "termsText": _terms_text(terms),
        "signed": json.loads(signed.to_json()),
        "fhir": _fhir(chain_id, consent.address, event, tx, terms),
    }


def _terms_text(terms: Mapping[str, Any]) -> dict[str, Any]:
    text: dict[str, Any] = {}
    if "scopes" in terms:
        text["scopes"] = scope_list(terms["scopes"])
        text["purposes"] = purpose_list(terms["purposes"])
        text["until"] = day(terms["validUntil"])
    return text


@dataclass(frozen=True)
class VerifiedReceipt:
    """A receipt the chain confirmed."""

    tx_hash: str
    block_number: int
    event: str
    terms: dict[str, Any]


def verify_receipt(w3: Web3, receipt: Mapping[str, Any]) -> VerifiedReceipt:
    """Check `receipt` against the chain `w3` is connected to; raises ReceiptMismatch(field, expected, found)."""
    if receipt.get("type") != RECEIPT_TYPE:
        raise ReceiptMismatch("type", receipt.get("type"), RECEIPT_TYPE)
    chain_id = int(w3.eth.chain_id)
    if receipt.get("chainId") != chain_id:
        raise ReceiptMismatch("chainId", receipt.get("chainId"), chain_id)
    tx = receipt["transaction"]
    try:
        mined = w3.eth.get_transaction_receipt(tx["hash"])
    except TransactionNotFound:
        raise ReceiptMismatch("transaction.hash", tx["hash"], None) from None
    if int(mined["status"]) != 1:
        raise ReceiptMismatch("transaction.status", "success", "reverted")
    for field, found in (("blockNumber", int(mined["blockNumber"])), ("blockHash", _hex(mined["blockHash"]))):
        if tx.get(field) != found:
            raise ReceiptMismatch(f"transaction.{field}", tx.get(field), found)
    block = w3.eth.get_block(int(mined["blockNumber"]))
    if _hex(block["hash"]) != tx["blockHash"]:
        raise ReceiptMismatch("transaction.blockHash", tx["blockHash"], _hex(block["hash"]))
    if tx.get("timestamp") != int(block["timestamp"]):
        raise ReceiptMismatch("transaction.timestamp", tx.get("timestamp"), int(block["timestamp"]))
    consent = ConsentRegistryClient(w3, receipt["contract"])
    events = [e for e in decode_consent_logs(mined["logs"], consent.address) if e.log_index == tx.get("logIndex")]
    if not events:
        raise ReceiptMismatch("transaction.logIndex", tx.get("logIndex"), None)
    event = events[0]
    if event.name != receipt.get("event"):
        raise ReceiptMismatch("event", receipt.get("event"), event.name)
    stated = dict(receipt["terms"])
    prior = stated.get("revoked")
    if prior is not None:
        before = consent.contract.functions.getGrant(
            stated["patient"], stated["grantee"], bytes.fromhex(stated["recordId"][2:])
        )
        scopes, purposes, valid_from, valid_until, _, _ = before.call(block_identifier=int(mined["blockNumber"]) - 1)
        chain_prior = {"scopes": scopes, "purposes": purposes, "validFrom": valid_from, "validUntil": valid_until}
        if chain_prior != prior:
            raise ReceiptMismatch("terms.revoked", prior, chain_prior)
    chain_terms = terms_of(event, prior)
    for key in sorted(set(stated) | set(chain_terms)):
        if stated.get(key) != chain_terms.get(key):
            raise ReceiptMismatch(f"terms.{key}", stated.get(key), chain_terms.get(key))
    _check_signed(consent, receipt, w3.eth.get_transaction(tx["hash"]), event)
    expected_fhir = _fhir(chain_id, consent.address, event, tx, chain_terms)
    if receipt.get("fhir") is not None:
        parse_resource(receipt["fhir"], "R5")
    if receipt.get("fhir") != expected_fhir:
        raise ReceiptMismatch("fhir", receipt.get("fhir"), expected_fhir)
    return VerifiedReceipt(tx["hash"], int(mined["blockNumber"]), event.name, chain_terms)


def _check_signed(
    consent: ConsentRegistryClient, receipt: Mapping[str, Any], tx: Mapping[str, Any], event: ConsentEvent
) -> None:
    """The transaction carried the receipt's signed message: same call, same arguments, same signature."""
    try:
        signed = SignedMessage.from_json(json.dumps(receipt["signed"]))
    except (KeyError, ValidationError) as exc:
        raise ReceiptMismatch("signed", receipt.get("signed"), f"unreadable: {exc}") from None
    if matching_event([event], signed) is None:
        raise ReceiptMismatch("signed.message", receipt["signed"].get("message"), event.args)
    expected = consent.by_sig_call(signed)
    fn, args = consent.contract.decode_function_input(tx["input"])
    if fn.fn_name != expected.fn_name:
        raise ReceiptMismatch("signed.call", expected.fn_name, fn.fn_name)
    carried = [_plain(v) for v in args.values()]
    wanted = [_plain(v) for v in expected.args]
    if carried != wanted:
        raise ReceiptMismatch("signed.arguments", wanted, carried)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value


__all__ = ["RECEIPT_TYPE", "VerifiedReceipt", "build_receipt", "verify_receipt"]
