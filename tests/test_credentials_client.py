"""The credentials client: subjects and device ids, input checks before sending, EIP-712 types and
files, the verifier API (dossier, verify_reader, equipment_check, cme_hours) and the W3C VC export."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.chain.eip712 import CREDENTIAL_TYPES, TYPES_BY_DOMAIN, Domain, SignedMessage, sign, typed_data
from radledger.registries.common import FOREVER
from radledger.registries.consent.client import grant_message
from radledger.registries.credentials.client import (
    DEVICE_ID_TAG,
    CredentialRegistryClient,
    attest_message,
    cme_value,
    credential_key,
    credential_uid,
    device_id,
    document_hash,
    subject_address,
    subject_id,
)
from radledger.registries.credentials.types import (
    Attestation,
    AttestationRequest,
    CredentialStatus,
    RevocationReason,
)
from radledger.registries.credentials.verifiable import (
    PROOF_TYPE,
    STATUS_TYPE,
    VC_CONTEXT,
    proof_message,
    to_verifiable_credential,
    verify_proof,
)
from tests.support import nothing_sent
from tests.test_credentials_support import DAY, SCANNER, YEAR, CredEnv

pytest_plugins = ["tests.test_credentials_support"]

ZERO32 = bytes(32)


# --------------------------------------------------------------------- subjects and ids


def test_a_physicians_subject_is_the_address_left_padded() -> None:
    address = "0x" + "ab" * 20
    expected = bytes(12) + bytes.fromhex("ab" * 20)
    assert subject_id(address) == subject_id(bytes.fromhex("ab" * 20)) == subject_id("0x" + expected.hex()) == expected
    assert subject_address(expected) == Web3.to_checksum_address(address)
    assert subject_address(SCANNER) is None


@pytest.mark.parametrize("bad", ["", "0x1234", "not hex", ZERO32, "0x" + "00" * 20, 42])
def test_subject_id_refuses_what_is_not_a_subject(bad: Any) -> None:
    with pytest.raises(errors.ValidationError):
        subject_id(bad)


def test_device_id_is_keccak_of_tag_manufacturer_and_serial_canonicalized() -> None:
    expected = keccak(abi_encode(["string", "string", "string"], [DEVICE_ID_TAG, "ACME IMAGING", "MR-0042"]))
    assert device_id("Acme Imaging", "MR-0042") == expected
    assert device_id("  acme   imaging ", "mr-0042") == expected
    assert device_id("\uff21\uff23\uff2d\uff25 Imaging", "MR-0042") == expected  # full-width letters: NFKC
    assert device_id("Acme Imaging", "MR-0043") != expected
    assert device_id("Acme", "Imaging MR-0042") != expected
    for manufacturer, serial in [("", "MR-1"), ("Acme", "   ")]:
        with pytest.raises(errors.ValidationError):
            device_id(manufacturer, serial)


def test_uid_is_the_key_with_the_sequence_in_its_low_32_bits() -> None:
    subject = subject_id("0x" + "12" * 20)
    digest = keccak(abi_encode(["bytes32", "uint32"], [subject, 3]))
    assert credential_key(subject, 3) == digest[:28] + bytes(4)
    assert credential_uid(subject, 3, 1) == digest[:28] + (1).to_bytes(4, "big")
    assert int.from_bytes(credential_uid(subject, 3, 7), "big") - 1 == int.from_bytes(
        credential_uid(subject, 3, 6), "big"
    )
    with pytest.raises(errors.ValidationError):
        credential_uid(subject, 3, 0)


def test_cme_values_count_hundredths_of_an_hour() -> None:
    assert [cme_value(h) for h in ("1.25", 2, Decimal("0.5"), "0")] == [125, 200, 50, 0]
    for bad in ("0.001", "-1", "lots"):
        with pytest.raises(errors.ValidationError):
            cme_value(bad)


def test_document_hash_is_sha256() -> None:
    assert document_hash(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("case", "call"),
    [
        ("until in the past", lambda c, e, now: c.attest(e.reader, e.schemas.license, now - 1)),
        ("empty window", lambda c, e, now: c.attest(e.reader, e.schemas.license, now + 10, valid_from=now + 10)),
        ("zero subject", lambda c, e, now: c.attest(ZERO32, e.schemas.license, now + 10)),
        ("schema 0", lambda c, e, now: c.attest(e.reader, 0, now + 10)),
        ("value too large", lambda c, e, now: c.attest(e.reader, e.schemas.license, now + 10, value=2**64)),
        ("negative value", lambda c, e, now: c.attest(e.reader, e.schemas.license, now + 10, value=-1)),
        ("short data hash", lambda c, e, now: c.attest(e.reader, e.schemas.license, now + 10, data_hash=b"\x01")),
        ("empty batch", lambda c, e, now: c.attest_batch(e.schemas.cme, [])),
        ("reason 0", lambda c, e, now: c.revoke(ZERO32, 0)),
        ("reason too large", lambda c, e, now: c.revoke(ZERO32, 70_000)),
        ("empty schema name", lambda c, e, now: c.register_schema("   ", True, YEAR)),
        ("overlong schema name", lambda c, e, now: c.register_schema("é" * 101, True, YEAR)),
        ("zero max validity", lambda c, e, now: c.register_schema("ok", True, 0)),
        ("zero issuer", lambda c, e, now: c.authorize_issuer(e.schemas.license, "0x" + "00" * 20)),
        ("no required schema", lambda c, e, now: c.verify_reader(e.reader, [])),
        ("reversed CME window", lambda c, e, now: c.cme_hours(e.reader, e.schemas.cme, now, now - 1)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_client_refuses_bad_input_before_sending(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv, case: str, call: Any
) -> None:
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        call(board, cred_env, board.now())


def test_relay_refuses_a_passed_deadline_before_sending(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = creds.now()
    signed = creds.sign_attest(
        cred_env.signing_issuer, cred_env.reader, cred_env.schemas.license, now + YEAR, deadline=now + 5
    )
    time_travel(w3, 10)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        creds.relay(signed)


def test_a_read_only_client_cannot_send(w3: Web3, cred_env: CredEnv) -> None:
    with pytest.raises(errors.SignerError):
        cred_env.client(w3).revoke(ZERO32, 1)


# ------------------------------------------------------------------------- EIP-712 types


def test_every_credential_message_type_hashes_to_the_contracts_typehash(creds: CredentialRegistryClient) -> None:
    constants = {
        "Attest": "ATTEST_TYPEHASH",
        "Revoke": "REVOKE_TYPEHASH",
        "InvalidateSignatures": "INVALIDATE_SIGNATURES_TYPEHASH",
    }
    for primary, fields in CREDENTIAL_TYPES.items():
        encoded = f"{primary}({','.join(f'{t} {n}' for n, t in fields)})"
        assert keccak(text=encoded) == creds.role(constants[primary]), primary


def test_message_types_are_looked_up_per_contract(cred_env: CredEnv) -> None:
    credentials = Domain.credentials(1, cred_env.address)
    consent = Domain.consent(1, cred_env.address)
    assert {credentials.name, consent.name} <= set(TYPES_BY_DOMAIN)
    revoke_fields = [f["name"] for f in typed_data(credentials, "Revoke", _revoke_message())["types"]["Revoke"]]
    assert revoke_fields == ["signer", "uid", "reasonCode", "epoch", "deadline"]
    grant = grant_message(cred_env.reader, cred_env.other_reader, ZERO32, 1, 1, 0, FOREVER, cred_env.reader, 0, 0, 10)
    assert typed_data(consent, "Grant", grant)["primaryType"] == "Grant"  # consent's API is unchanged
    with pytest.raises(errors.ValidationError):
        typed_data(consent, "Attest", {})
    with pytest.raises(errors.ValidationError):
        typed_data(Domain("another contract", "1", 1, cred_env.address), "Revoke", _revoke_message())


def _revoke_message() -> dict[str, Any]:
    return {"signer": "0x" + "11" * 20, "uid": ZERO32, "reasonCode": 1, "epoch": 0, "deadline": 10}


def test_a_signed_attestation_travels_as_a_json_file(
    tmp_path: Path, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = creds.now()
    signed = creds.sign_attest(
        cred_env.signing_issuer, cred_env.reader, cred_env.schemas.license, now + YEAR, data_hash=keccak(text="doc")
    )
    path = signed.save(tmp_path / "attest.json")
    loaded = SignedMessage.load(path)
    assert loaded == signed
    made = creds.relay(loaded)
    assert isinstance(made, Attestation) and made.data_hash == keccak(text="doc")


# ----------------------------------------------------------------------------- verifiers


def _reader_with_license_and_board(
    board: CredentialRegistryClient, specialty_board: CredentialRegistryClient, env: CredEnv, reader: str | None = None
) -> tuple[Attestation, Attestation]:
    now = board.now()
    license_ = board.attest(reader or env.reader, env.schemas.license, now + YEAR, data_hash=keccak(text="license"))
    cert = specialty_board.attest(reader or env.reader, env.schemas.board, now + 5 * YEAR, valid_from=now - YEAR)
    return license_, cert


def test_verify_reader_passes_when_every_required_credential_is_valid(
    creds: CredentialRegistryClient,
    board: CredentialRegistryClient,
    specialty_board: CredentialRegistryClient,
    cred_env: CredEnv,
) -> None:
    license_, _ = _reader_with_license_and_board(board, specialty_board, cred_env)
    result = creds.verify_reader(
        cred_env.reader, [cred_env.schemas.license, cred_env.schemas.board, cred_env.schemas.license]
    )
    assert result.ok
    assert [c.schema_id for c in result.checks] == [cred_env.schemas.license, cred_env.schemas.board]
    assert result.check(cred_env.schemas.license).uid == license_.uid
    assert result.check(cred_env.schemas.board).state.issuer == cred_env.specialty_board.address  # type: ignore[union-attr]
    assert result.checked_at == creds.now()
    assert (result.missing, result.expired, result.revoked, result.not_yet_valid) == ((), (), (), ())


def test_verify_reader_lists_missing_expired_revoked_and_not_yet_valid(
    w3: Web3,
    creds: CredentialRegistryClient,
    board: CredentialRegistryClient,
    specialty_board: CredentialRegistryClient,
    cme_provider: CredentialRegistryClient,
    cred_env: CredEnv,
) -> None:
    s = cred_env.schemas
    now = board.now()
    license_ = board.attest(cred_env.reader, s.license, now + YEAR)
    specialty_board.attest(cred_env.reader, s.board, now + 100, valid_from=now)
    cme_provider.attest(cred_env.reader, s.cme, now + YEAR, valid_from=now + 30 * DAY, value=100)
    board.revoke(license_.uid, RevocationReason.DISCIPLINARY_ACTION)
    time_travel(w3, 200)
    result = creds.verify_reader(cred_env.reader, [s.license, s.board, s.cme, s.inspection])
    assert not result.ok
    assert (result.revoked, result.expired, result.not_yet_valid, result.missing) == (
        (s.license,),
        (s.board,),
        (s.cme,),
        (s.inspection,),
    )
    assert result.check(s.inspection).state is None
    with pytest.raises(errors.UnknownSchema) as exc:
        creds.verify_reader(cred_env.reader, [s.license, 99])
    assert exc.value.args == (99,)


def test_a_license_revoked_by_the_board_fails_the_next_verification(
    creds: CredentialRegistryClient,
    board: CredentialRegistryClient,
    specialty_board: CredentialRegistryClient,
    cred_env: CredEnv,
) -> None:
    """The demo's story: verify before the teleradiology read, the board revokes, the next check fails."""
    required = [cred_env.schemas.license, cred_env.schemas.board]
    license_, _ = _reader_with_license_and_board(board, specialty_board, cred_env)
    assert creds.verify_reader(cred_env.reader, required).ok
    board.revoke(license_.uid, RevocationReason.DISCIPLINARY_ACTION)
    after = creds.verify_reader(cred_env.reader, required)
    assert not after.ok and after.revoked == (cred_env.schemas.license,)


def test_equipment_check_follows_the_latest_inspection(
    w3: Web3, creds: CredentialRegistryClient, inspector: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    schema = cred_env.schemas.inspection
    scanner = device_id("acme imaging", "mr-0042")  # the same device as SCANNER, written differently
    assert creds.equipment_check(scanner, schema).status is CredentialStatus.MISSING
    now = inspector.now()
    first = inspector.attest(SCANNER, schema, now + 365 * DAY, data_hash=document_hash(b"synthetic inspection report"))
    check = creds.equipment_check(scanner, schema)
    assert check.ok and check.uid == first.uid and check.state.issuer == cred_env.inspector.address  # type: ignore[union-attr]
    time_travel(w3, 366 * DAY)
    assert creds.equipment_check(scanner, schema).status is CredentialStatus.EXPIRED
    renewed = inspector.attest(SCANNER, schema, inspector.now() + 365 * DAY, ref_uid=first.uid)
    assert creds.equipment_check(scanner, schema).uid == renewed.uid
    assert creds.equipment_check(scanner, schema).ok


def test_a_device_serial_number_never_reaches_the_chain(
    w3: Web3, inspector: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    made = inspector.attest(
        device_id("Acme Imaging", "SN-PLAIN-77"), cred_env.schemas.inspection, inspector.now() + DAY
    )
    tx = w3.eth.get_transaction(made.tx_hash)
    receipt = w3.eth.get_transaction_receipt(made.tx_hash)
    seen = bytes(tx["input"]) + b"".join(bytes(log["data"]) + b"".join(log["topics"]) for log in receipt["logs"])
    assert b"SN-PLAIN-77" not in seen and b"ACME" not in seen


def test_dossier_lists_valid_credentials_with_schema_names_and_issuers(
    w3: Web3,
    creds: CredentialRegistryClient,
    board: CredentialRegistryClient,
    specialty_board: CredentialRegistryClient,
    cme_provider: CredentialRegistryClient,
    cred_env: CredEnv,
) -> None:
    s = cred_env.schemas
    license_, cert = _reader_with_license_and_board(board, specialty_board, cred_env)
    renewed = board.attest(cred_env.reader, s.license, board.now() + 2 * YEAR)
    diploma = board.attest(cred_env.reader, s.diploma, FOREVER, valid_from=0)
    credit = cme_provider.attest(cred_env.reader, s.cme, board.now() + YEAR, value=cme_value("1.5"))
    board.revoke(license_.uid, RevocationReason.SUPERSEDED)
    _reader_with_license_and_board(board, specialty_board, cred_env, cred_env.other_reader)  # someone else's

    dossier = creds.dossier(cred_env.reader)
    assert [(c.schema_id, c.uid) for c in [x.attestation for x in dossier]] == [
        (s.license, renewed.uid),
        (s.board, cert.uid),
        (s.cme, credit.uid),
        (s.diploma, diploma.uid),
    ]
    names = {c.schema.schema_id: c.schema_name for c in dossier}
    assert names[s.license] == creds.get_schema(s.license).name == "US-CA Medical Board: physician and surgeon license"
    assert {c.uid: c.issuer for c in dossier}[cert.uid] == cred_env.specialty_board.address
    assert all(c.status is CredentialStatus.VALID for c in dossier)
    everything = creds.dossier(cred_env.reader, include_invalid=True)
    assert {c.uid: c.status for c in everything}[license_.uid] is CredentialStatus.REVOKED
    assert len(everything) == 5
    assert creds.dossier(cred_env.reader, latest_only=True) == dossier  # the revoked license is the superseded one
    assert creds.dossier("0x" + "77" * 20) == []


def test_cme_hours_add_up_valid_credits_earned_in_the_window(
    w3: Web3, creds: CredentialRegistryClient, cme_provider: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    s = cred_env.schemas
    now = cme_provider.now()
    window_start, window_end = now - 100 * DAY, now + DAY
    cme_provider.attest_batch(
        s.cme,
        [
            AttestationRequest(cred_env.reader, now + YEAR, value=cme_value("1.5"), valid_from=now - 90 * DAY),
            AttestationRequest(cred_env.reader, now + YEAR, value=cme_value("0.25"), valid_from=now - 10 * DAY),
            AttestationRequest(cred_env.other_reader, now + YEAR, value=cme_value(9), valid_from=now - 10 * DAY),
        ],
    )
    before_window = cme_provider.attest(cred_env.reader, s.cme, now + YEAR, valid_from=now - 200 * DAY, value=400)
    revoked = cme_provider.attest(cred_env.reader, s.cme, now + YEAR, valid_from=now - 5 * DAY, value=1_000)
    cme_provider.revoke(revoked.uid, RevocationReason.ISSUED_IN_ERROR)
    short = cme_provider.attest(cred_env.reader, s.cme, now + 50, valid_from=now - DAY, value=300)
    assert before_window.sequence == 3 and short.sequence == 5  # superseded credits still count
    assert creds.cme_hours(cred_env.reader, s.cme, window_start, window_end) == Decimal("4.75")
    time_travel(w3, 100)  # the short one expires
    assert creds.cme_hours(cred_env.reader, s.cme, window_start, window_end) == Decimal("1.75")
    assert creds.cme_hours(cred_env.reader, s.cme, window_start, window_end, units_per_hour=25) == Decimal(7)
    assert creds.cme_hours(cred_env.reader, s.cme, now + 2 * DAY, now + 3 * DAY) == 0
    assert creds.cme_hours(cred_env.other_reader, s.cme, window_start, window_end) == 9


# ---------------------------------------------------------------------------- W3C VC export


def test_a_direct_attestation_exports_as_a_vc_without_proof(
    w3: Web3, creds: CredentialRegistryClient, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = board.now()
    made = board.attest(
        cred_env.reader, cred_env.schemas.license, now + YEAR, data_hash=keccak(text="license"), value=3
    )
    doc = creds.export_vc(made.uid)
    chain_id = w3.eth.chain_id
    registry = cred_env.address
    assert json.loads(json.dumps(doc)) == doc
    assert doc["@context"] == [VC_CONTEXT]
    assert doc["type"] == ["VerifiableCredential", "RadledgerCredential"]
    assert doc["id"] == f"urn:radledger:credential:eip155:{chain_id}:{registry}:0x{made.uid.hex()}"
    assert doc["issuer"] == f"did:pkh:eip155:{chain_id}:{cred_env.board.address}"
    assert doc["name"] == "US-CA Medical Board: physician and surgeon license"
    assert doc["validFrom"] == datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["validUntil"] == datetime.fromtimestamp(now + YEAR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["credentialSubject"] == {
        "id": f"did:pkh:eip155:{chain_id}:{cred_env.reader}",
        "subject": "0x" + subject_id(cred_env.reader).hex(),
        "schema": cred_env.schemas.license,
        "schemaName": doc["name"],
        "dataHash": "0x" + keccak(text="license").hex(),
        "value": 3,
    }
    assert doc["credentialStatus"] == {
        "id": doc["id"] + "#status",
        "type": STATUS_TYPE,
        "chainId": chain_id,
        "registry": registry,
        "uid": "0x" + made.uid.hex(),
        "statusMethod": "isValid(bytes32)",
    }
    assert doc["evidence"][0]["transactionHash"] == made.tx_hash
    assert "proof" not in doc
    with pytest.raises(errors.ValidationError):
        verify_proof(doc)


def test_a_device_credential_that_never_ends_has_no_valid_until(
    creds: CredentialRegistryClient, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    diploma = board.attest(SCANNER, cred_env.schemas.diploma, FOREVER, valid_from=0, ref_uid=ZERO32)
    doc = creds.export_vc(diploma.uid)
    assert "validUntil" not in doc
    assert doc["credentialSubject"]["id"] == "urn:radledger:subject:0x" + SCANNER.hex()


def test_a_relayed_attestation_exports_with_the_issuers_eip712_signature_as_proof(
    w3: Web3, creds: CredentialRegistryClient, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    issuer = cred_env.signing_issuer
    creds.relay(creds.sign_invalidate_signatures(issuer))  # epoch 1: the proof must carry it
    first = board.attest(cred_env.reader, cred_env.schemas.license, board.now() + YEAR)
    signed = creds.sign_attest(
        issuer,
        cred_env.reader,
        cred_env.schemas.license,
        board.now() + YEAR,
        data_hash=keccak(text="lic"),
        ref_uid=first.uid,
    )
    made = creds.relay(signed)
    assert isinstance(made, Attestation)
    doc = creds.export_vc(made.uid)  # the signature is read back from the transaction
    proof = doc["proof"]
    assert proof["type"] == PROOF_TYPE and proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"] == doc["issuer"] + "#blockchainAccountId"
    assert proof["proofValue"] == "0x" + signed.signature.hex()
    assert proof["eip712"]["primaryType"] == "Attest"
    # Latest wins per issuer (issue 11): the signing issuer's own first attestation of the pair, sequence 1.
    assert proof["eip712"]["message"]["epoch"] == 1 and proof["eip712"]["message"]["sequence"] == 1
    assert doc["credentialStatus"]["issuerIndex"] == creds.issuer_index(issuer.address)
    assert proof_message(doc) == signed
    assert verify_proof(doc) == issuer.address
    assert creds.export_vc(made.uid, signed) == doc
    assert doc["credentialSubject"]["refUid"] == "0x" + first.uid.hex()


def test_a_vc_whose_content_was_changed_fails_its_proof(creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    made = creds.relay(
        creds.sign_attest(cred_env.signing_issuer, cred_env.reader, cred_env.schemas.license, creds.now() + YEAR)
    )
    assert isinstance(made, Attestation)
    doc = creds.export_vc(made.uid)
    for path, value in [
        (("credentialSubject", "value"), 40),
        (("credentialSubject", "subject"), "0x" + subject_id(cred_env.other_reader).hex()),
        (("validUntil",), "2099-01-01T00:00:00Z"),
        (("issuer",), f"did:pkh:eip155:1:{cred_env.board.address}"),
        (("credentialStatus", "uid"), "0x" + credential_uid(cred_env.reader, cred_env.schemas.license, 9).hex()),
    ]:
        tampered = json.loads(json.dumps(doc))
        target = tampered
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(errors.ValidationError):
            verify_proof(tampered)
    forged = json.loads(json.dumps(doc))
    forged["proof"]["proofValue"] = (
        "0x"
        + sign(cred_env.wallet_owner, proof_message(doc).domain, "Attest", proof_message(doc).message).signature.hex()
    )
    assert verify_proof(forged) != cred_env.signing_issuer.address


def test_an_erc1271_issuers_proof_recovers_the_wallets_signing_key(
    creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = creds.now()
    message = attest_message(
        cred_env.wallet,
        AttestationRequest(cred_env.reader, now + YEAR, valid_from=now),
        cred_env.schemas.license,
        1,
        0,
        now + 60,
    )
    made = creds.relay(sign(cred_env.wallet_owner, creds.domain(), "Attest", message))
    assert isinstance(made, Attestation)
    doc = creds.export_vc(made.uid)
    assert doc["issuer"].endswith(cred_env.wallet)
    assert verify_proof(doc) == cred_env.wallet_owner.address  # ask the wallet (ERC-1271) on chain


def test_export_refuses_a_signed_message_of_another_attestation(
    creds: CredentialRegistryClient, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    made = board.attest(cred_env.reader, cred_env.schemas.license, board.now() + YEAR)
    other = creds.sign_attest(
        cred_env.signing_issuer, cred_env.other_reader, cred_env.schemas.license, board.now() + YEAR
    )
    with pytest.raises(errors.ValidationError):
        creds.export_vc(made.uid, other)
    schema = creds.get_schema(cred_env.schemas.board)
    with pytest.raises(errors.ValidationError):
        to_verifiable_credential(creds.attestation(made.uid), schema, creds.domain())
    with pytest.raises(errors.CredentialNotFound):
        creds.export_vc(credential_uid(cred_env.reader, cred_env.schemas.license, 5))
