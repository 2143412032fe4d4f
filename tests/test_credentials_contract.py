"""CredentialRegistry on chain: governance, attest, batch, revoke, supersession, windows, signatures
(EOA and ERC-1271, expired, replayed, other chain or contract, invalidated), and event reconstruction.

Every revert path is asserted by error class and arguments. Contract checks are reached with
`send_raw`, past the client's own input checks (which tests/test_credentials_client.py covers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.chain.eip712 import Domain, SignedMessage, sign, typed_data
from radledger.registries.common import FOREVER
from radledger.registries.credentials.client import (
    NO_MAXIMUM,
    CredentialRegistryClient,
    attest_message,
    credential_uid,
    subject_id,
    uid_sequence,
)
from radledger.registries.credentials.types import Attestation, AttestationRequest, RevocationReason
from tests.conftest import Actors, named_key
from tests.support import ZERO_ADDRESS, nothing_sent
from tests.test_credentials_support import DAY, SCANNER, YEAR, CredEnv, now_of, send_raw

pytest_plugins = ["tests.test_credentials_support"]

ZERO32 = bytes(32)
DOC = keccak(text="synthetic license document")


def travel_to(w3: Web3, timestamp: int) -> None:
    """Mine a block at `timestamp` (views then see it; the next transaction runs one second later)."""
    now = now_of(w3)
    assert timestamp >= now, "time only moves forward"
    time_travel(w3, timestamp - now)
    assert now_of(w3) == timestamp


def license_for(board: CredentialRegistryClient, env: CredEnv, subject: Any = None, **kwargs: Any) -> Attestation:
    now = board.now()
    args: dict[str, Any] = {"data_hash": DOC, "valid_from": now, **kwargs}
    valid_until = args.pop("valid_until", now + YEAR)
    return board.attest(subject or env.reader, env.schemas.license, valid_until, **args)


# ------------------------------------------------------------------------------ governance


def test_schemas_count_from_one_and_carry_their_terms(governance: CredentialRegistryClient, cred_env: CredEnv) -> None:
    assert governance.schema_count() == 5
    schema = governance.register_schema("  State X: fluoroscopy permit  ", True, 30 * DAY)
    assert (schema.schema_id, schema.name, schema.revocable, schema.max_validity) == (
        6,
        "State X: fluoroscopy permit",
        True,
        30 * DAY,
    )
    assert governance.get_schema(6) == schema
    assert governance.schema_id_of("State X: fluoroscopy permit") == 6
    assert governance.schema_id_of("nothing of that name") is None
    assert governance.get_schema(cred_env.schemas.diploma).revocable is False
    assert governance.get_schema(cred_env.schemas.diploma).max_validity == NO_MAXIMUM


def test_a_schema_name_is_taken_once(governance: CredentialRegistryClient, cred_env: CredEnv) -> None:
    name = governance.get_schema(cred_env.schemas.license).name
    with pytest.raises(errors.SchemaNameTaken) as exc:
        governance.register_schema(name, False, YEAR)
    assert exc.value.args == (name, cred_env.schemas.license)


@pytest.mark.parametrize("name", ["", "x" * 201], ids=["empty", "201 bytes"])
def test_register_schema_refuses_an_empty_or_overlong_name(governance: CredentialRegistryClient, name: str) -> None:
    with pytest.raises(errors.InvalidSchemaName) as exc:
        send_raw(governance, "registerSchema", name, True, YEAR)
    assert exc.value.args == (name,)


def test_register_schema_refuses_a_zero_maximum_validity(governance: CredentialRegistryClient) -> None:
    with pytest.raises(errors.InvalidMaxValidity) as exc:
        send_raw(governance, "registerSchema", "zero validity", True, 0)
    assert exc.value.args == (0,)


def test_unknown_schemas_are_refused_by_views_and_governance(governance: CredentialRegistryClient) -> None:
    with pytest.raises(errors.UnknownSchema) as exc:
        governance.get_schema(99)
    assert exc.value.args == (99,)
    with pytest.raises(errors.UnknownSchema):
        governance.authorize_issuer(99, named_key("anyone").address)
    with pytest.raises(errors.UnknownSchema):
        governance.latest(named_key("anyone").address, 99)
    assert governance.has_valid_credential(named_key("anyone").address, 99) is False


GOVERNANCE_CALLS: list[tuple[str, str, Callable[[CredEnv], tuple[Any, ...]]]] = [
    ("registerSchema", "SCHEMA_REGISTRAR_ROLE", lambda e: ("rogue schema", True, YEAR)),
    ("authorizeIssuer", "ISSUER_AUTHORIZER_ROLE", lambda e: (e.schemas.license, named_key("rogue").address)),
    ("deauthorizeIssuer", "ISSUER_AUTHORIZER_ROLE", lambda e: (e.schemas.license, e.board.address)),
    ("grantRole", "DEFAULT_ADMIN_ROLE", lambda e: (keccak(text="DISCIPLINARY_ROLE"), named_key("rogue").address)),
]


@pytest.mark.parametrize("caller", ["stranger", "board", "disciplinary"])
@pytest.mark.parametrize(("fn_name", "role", "args"), GOVERNANCE_CALLS, ids=[c[0] for c in GOVERNANCE_CALLS])
def test_governance_functions_refuse_accounts_without_their_role(
    w3: Web3, cred_env: CredEnv, actors: Actors, caller: str, fn_name: str, role: str, args: Any
) -> None:
    transactor = {"stranger": actors.stranger, "board": cred_env.board, "disciplinary": cred_env.disciplinary}[caller]
    client = cred_env.client(w3, transactor)
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        send_raw(client, fn_name, *args(cred_env))
    assert exc.value.args == (transactor.address, client.role(role))


def test_issuer_authorization_is_per_schema(governance: CredentialRegistryClient, cred_env: CredEnv) -> None:
    s = cred_env.schemas
    assert governance.is_authorized_issuer(s.license, cred_env.board.address)
    assert not governance.is_authorized_issuer(s.board, cred_env.board.address)
    with pytest.raises(errors.IssuerAlreadyAuthorized) as exc:
        governance.authorize_issuer(s.license, cred_env.board.address)
    assert exc.value.args == (s.license, cred_env.board.address)
    with pytest.raises(errors.IssuerNotAuthorized) as missing:
        governance.deauthorize_issuer(s.board, cred_env.board.address)
    assert missing.value.args == (s.board, cred_env.board.address)
    with pytest.raises(errors.ZeroAddress):
        send_raw(governance, "authorizeIssuer", s.license, ZERO_ADDRESS)


def test_authorization_events_name_schema_and_issuer(governance: CredentialRegistryClient, cred_env: CredEnv) -> None:
    issuer = named_key("new CME provider").address
    granted = governance.authorize_issuer(cred_env.schemas.cme, issuer)
    assert governance.events(granted, "IssuerAuthorized") == [{"schema": cred_env.schemas.cme, "issuer": issuer}]
    withdrawn = governance.deauthorize_issuer(cred_env.schemas.cme, issuer)
    assert governance.events(withdrawn, "IssuerDeauthorized") == [{"schema": cred_env.schemas.cme, "issuer": issuer}]


def test_a_deauthorized_issuer_attests_no_more_but_its_attestations_stand(
    governance: CredentialRegistryClient, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    issued = license_for(board, cred_env)
    governance.deauthorize_issuer(cred_env.schemas.license, cred_env.board.address)
    with pytest.raises(errors.IssuerNotAuthorized) as exc:
        license_for(board, cred_env)
    assert exc.value.args == (cred_env.schemas.license, cred_env.board.address)
    assert board.is_valid(issued.uid)
    board.revoke(issued.uid)  # it may still revoke what it issued
    governance.authorize_issuer(cred_env.schemas.license, cred_env.board.address)
    renewed = license_for(board, cred_env)
    assert board.get_attestation(renewed.uid).issuer == cred_env.board.address


# -------------------------------------------------------------------------------- attest


def test_attest_returns_a_uid_that_encodes_subject_schema_and_sequence(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = board.now()
    fn = board.contract.functions.attest(
        subject_id(cred_env.reader), cred_env.schemas.license, DOC, 0, now, now + YEAR, ZERO32
    )
    returned = bytes(fn.call({"from": cred_env.board.address}))
    attested = license_for(board, cred_env)
    expected = credential_uid(cred_env.reader, cred_env.schemas.license, 1)
    assert returned == attested.uid == expected
    assert uid_sequence(expected) == 1 and attested.supersedes is None
    assert (
        bytes(board.contract.functions.credentialUid(subject_id(cred_env.reader), cred_env.schemas.license, 1).call())
        == expected
    )


def test_attested_event_carries_every_field(w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    now = board.now()
    diploma = board.attest(cred_env.reader, cred_env.schemas.diploma, FOREVER, valid_from=now - 10 * YEAR)
    receipt = send_raw(
        board, "attest", subject_id(cred_env.reader), cred_env.schemas.license, DOC, 7, now, now + YEAR, diploma.uid
    )
    (event,) = board.events(receipt, "CredentialAttested")
    assert event == {
        "uid": credential_uid(cred_env.reader, cred_env.schemas.license, 1),
        "subject": subject_id(cred_env.reader),
        "schema": cred_env.schemas.license,
        "issuer": cred_env.board.address,
        "dataHash": DOC,
        "value": 7,
        "validFrom": now,
        "validUntil": now + YEAR,
        "refUid": diploma.uid,
    }


def test_storage_keeps_what_the_views_need(board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    issued = license_for(board, cred_env)
    state = board.get_attestation(issued.uid)
    assert (state.uid, state.issuer, state.valid_from, state.valid_until) == (
        issued.uid,
        cred_env.board.address,
        issued.valid_from,
        issued.valid_until,
    )
    assert (state.revoked_at, state.sequence, state.revocable, state.latest) == (0, 1, True, True)
    assert board.latest(cred_env.reader, cred_env.schemas.license) == state
    assert board.latest(cred_env.other_reader, cred_env.schemas.license) is None


ATTEST_REVERTS: list[tuple[str, dict[str, Any], Callable[[CredEnv, int], Exception]]] = [
    ("unknown schema", {"schema": 99}, lambda e, now: errors.UnknownSchema(99)),
    (
        "issuer not authorized for the schema",
        {"schema": "board"},
        lambda e, now: errors.IssuerNotAuthorized(e.schemas.board, e.board.address),
    ),
    ("zero subject", {"subject": ZERO32}, lambda e, now: errors.ZeroSubject()),
    ("empty window", {"valid_from": 5_000, "valid_until": 5_000}, lambda e, now: errors.InvalidValidity(5_000, 5_000)),
    (
        "window reversed",
        {"valid_from": 9_000, "valid_until": 5_000},
        lambda e, now: errors.InvalidValidity(9_000, 5_000),
    ),
    ("until in the past", {"valid_from": 0, "valid_until": 1_000}, lambda e, now: errors.ExpiryInPast(1_000, now + 1)),
    ("until at the tx's second", {"valid_until": 1}, lambda e, now: errors.ExpiryInPast(now + 1, now + 1)),
    (
        "longer than the schema allows",
        {"valid_until": 2 * YEAR + 1},
        lambda e, now: errors.ValidityExceedsMaximum(e.schemas.license, now, now + 2 * YEAR + 1, 2 * YEAR),
    ),
    (
        "refUid that does not exist",
        {"ref_uid": keccak(text="no such attestation")},
        lambda e, now: errors.ReferencedCredentialNotFound(keccak(text="no such attestation")),
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), ATTEST_REVERTS, ids=[c[0] for c in ATTEST_REVERTS])
def test_attest_reverts(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv, case: str, change: dict[str, Any], expected: Any
) -> None:
    now = board.now()
    schema = change.get("schema", "license")
    args = {
        "subject": subject_id(cred_env.reader),
        "schema": getattr(cred_env.schemas, schema) if isinstance(schema, str) else schema,
        "valid_from": now,
        "valid_until": now + YEAR,
        "ref_uid": ZERO32,
        **{k: v for k, v in change.items() if k != "schema"},
    }
    if case == "until at the tx's second":
        args["valid_from"], args["valid_until"] = now - 10, now + 1
    elif case == "longer than the schema allows":
        args["valid_until"] = now + change["valid_until"]
    with pytest.raises(type(expected(cred_env, now))) as exc:
        send_raw(
            board,
            "attest",
            args["subject"],
            args["schema"],
            DOC,
            0,
            args["valid_from"],
            args["valid_until"],
            args["ref_uid"],
        )
    assert exc.value == expected(cred_env, now)


def test_the_schema_maximum_is_inclusive(board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    now = board.now()
    issued = board.attest(cred_env.reader, cred_env.schemas.license, now + 2 * YEAR, valid_from=now)
    assert issued.valid_until - issued.valid_from == 2 * YEAR


def test_a_ref_uid_must_name_an_attestation_that_exists(board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    first = license_for(board, cred_env)
    next_one = credential_uid(cred_env.reader, cred_env.schemas.license, 2)  # right key, not yet attested
    sequence_zero = first.uid[:28] + bytes(4)
    for missing in (next_one, sequence_zero):
        with pytest.raises(errors.ReferencedCredentialNotFound) as exc:
            license_for(board, cred_env, ref_uid=missing)
        assert exc.value.args == (missing,)
    second = license_for(board, cred_env, ref_uid=first.uid)  # a superseded attestation still exists
    assert second.ref_uid == first.uid
    inspection = board.with_sender(cred_env.inspector)
    first_inspection = inspection.attest(SCANNER, cred_env.schemas.inspection, board.now() + 365 * DAY)
    assert (
        inspection.attest(
            SCANNER, cred_env.schemas.inspection, board.now() + 365 * DAY, ref_uid=first_inspection.uid
        ).ref_uid
        == first_inspection.uid
    )


# --------------------------------------------------------------------------------- batch


def test_batch_attests_a_whole_course_in_one_transaction(
    w3: Web3, cme_provider: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = cme_provider.now()
    physicians = [named_key(f"course attendee {i}").address for i in range(10)]
    requests = [
        AttestationRequest(p, now + YEAR, keccak(text=f"certificate {i}"), 150 + i, now)
        for i, p in enumerate(physicians)
    ]
    before = w3.eth.block_number
    made = cme_provider.attest_batch(cred_env.schemas.cme, requests)
    assert w3.eth.block_number == before + 1
    assert [a.uid for a in made] == [credential_uid(p, cred_env.schemas.cme, 1) for p in physicians]
    assert [(a.subject, a.value, a.data_hash) for a in made] == [
        (subject_id(r.subject), r.value, r.data_hash) for r in requests
    ]
    assert all(cme_provider.has_valid_credential(p, cred_env.schemas.cme) for p in physicians)


def test_batch_with_one_subject_twice_supersedes_within_the_batch(
    cme_provider: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = cme_provider.now()
    made = cme_provider.attest_batch(
        cred_env.schemas.cme,
        [
            AttestationRequest(cred_env.reader, now + YEAR, value=100),
            AttestationRequest(cred_env.reader, now + YEAR, value=50),
        ],
    )
    assert [a.sequence for a in made] == [1, 2]
    assert cme_provider.get_attestation(made[0].uid).latest is False
    assert all(cme_provider.is_valid(a.uid) for a in made)


def test_batch_reverts_whole_when_one_attestation_is_invalid(
    w3: Web3, cme_provider: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = cme_provider.now()
    good = (subject_id(cred_env.reader), ZERO32, 100, now, now + YEAR, ZERO32)
    bad = (ZERO32, ZERO32, 100, now, now + YEAR, ZERO32)
    with pytest.raises(errors.ZeroSubject):
        send_raw(cme_provider, "attestBatch", cred_env.schemas.cme, [good, bad])
    assert cme_provider.latest(cred_env.reader, cred_env.schemas.cme) is None
    with pytest.raises(errors.EmptyBatch):
        send_raw(cme_provider, "attestBatch", cred_env.schemas.cme, [])
    with pytest.raises(errors.IssuerNotAuthorized) as exc:
        send_raw(cme_provider.with_sender(cred_env.board), "attestBatch", cred_env.schemas.cme, [good])
    assert exc.value.args == (cred_env.schemas.cme, cred_env.board.address)


# -------------------------------------------------------------------------------- revoke


def test_the_issuer_revokes_with_a_reason(w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    issued = license_for(board, cred_env)
    revocation = board.revoke(issued.uid, RevocationReason.DISCIPLINARY_ACTION)
    at = int(w3.eth.get_block(revocation.block_number)["timestamp"])
    assert (revocation.uid, revocation.revoker, revocation.reason) == (
        issued.uid,
        cred_env.board.address,
        RevocationReason.DISCIPLINARY_ACTION,
    )
    assert board.get_attestation(issued.uid).revoked_at == at
    assert not board.is_valid(issued.uid)
    assert not board.has_valid_credential(cred_env.reader, cred_env.schemas.license)
    assert board.is_valid_at(issued.uid, at - 1) and not board.is_valid_at(issued.uid, at)


def test_governance_revokes_for_disciplinary_action(
    board: CredentialRegistryClient, disciplinary: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    issued = license_for(board, cred_env)
    revocation = disciplinary.revoke(issued.uid, RevocationReason.DISCIPLINARY_ACTION)
    assert revocation.revoker == cred_env.disciplinary.address
    assert not board.is_valid(issued.uid)


@pytest.mark.parametrize("caller", ["stranger", "another issuer of the schema", "governance admin", "the subject"])
def test_revoke_refuses_anyone_but_the_issuer_and_disciplinary_accounts(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv, actors: Actors, caller: str
) -> None:
    issued = license_for(board, cred_env)
    verifier = cred_env.client(w3)
    transactor = {
        "stranger": actors.stranger,
        "another issuer of the schema": cred_env.specialty_board,
        "governance admin": cred_env.governance,
        "the subject": actors.grantee,
    }[caller]
    if caller == "another issuer of the schema":
        cred_env.client(w3, cred_env.governance).authorize_issuer(cred_env.schemas.license, transactor.address)
    client = cred_env.client(w3, transactor)
    with pytest.raises(errors.NotIssuerOrDisciplinary) as exc:
        client.revoke(issued.uid)
    assert exc.value.args == (issued.uid, transactor.address)
    assert verifier.is_valid(issued.uid)


def test_revoke_reverts_on_unknown_irrevocable_revoked_or_zero_reason(
    board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    unknown = credential_uid(cred_env.reader, cred_env.schemas.license, 1)
    with pytest.raises(errors.CredentialNotFound) as exc:
        board.revoke(unknown)
    assert exc.value.args == (unknown,)
    diploma = board.attest(cred_env.reader, cred_env.schemas.diploma, FOREVER, valid_from=0)
    with pytest.raises(errors.IrrevocableCredential) as irrevocable:
        board.revoke(diploma.uid)
    assert irrevocable.value.args == (diploma.uid,)
    issued = license_for(board, cred_env)
    first = board.revoke(issued.uid)
    revoked_at = board.get_attestation(issued.uid).revoked_at
    with pytest.raises(errors.AlreadyRevoked) as twice:
        board.revoke(issued.uid)
    assert twice.value.args == (issued.uid, revoked_at)
    assert first.block_number > 0
    with pytest.raises(errors.InvalidReasonCode) as zero:
        send_raw(board, "revoke", issued.uid, 0)
    assert zero.value.args == (0,)


def test_governance_cannot_revoke_an_irrevocable_credential(
    board: CredentialRegistryClient, disciplinary: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    diploma = board.attest(cred_env.reader, cred_env.schemas.diploma, FOREVER, valid_from=0)
    with pytest.raises(errors.IrrevocableCredential):
        disciplinary.revoke(diploma.uid)


# -------------------------------------------------------------------- latest wins, windows


def test_a_new_attestation_supersedes_the_previous_one(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    """Latest wins for hasValidCredential; the superseded uid keeps its own validity (documented)."""
    first = license_for(board, cred_env)
    second = license_for(board, cred_env, data_hash=keccak(text="renewed license"))
    assert second.uid == credential_uid(cred_env.reader, cred_env.schemas.license, 2)
    assert second.supersedes == first.uid
    old, new = board.get_attestation(first.uid), board.get_attestation(second.uid)
    assert (old.latest, new.latest, old.sequence, new.sequence) == (False, True, 1, 2)
    assert board.is_valid(first.uid) and board.is_valid(second.uid)
    board.revoke(second.uid)
    # The latest is revoked: the subject no longer holds the credential, whatever the older one says.
    assert not board.has_valid_credential(cred_env.reader, cred_env.schemas.license)
    assert board.is_valid(first.uid)
    board.revoke(first.uid)  # a superseded attestation can be revoked by its uid
    assert board.get_attestation(first.uid).revoked_at > 0
    assert board.get_attestation(second.uid).latest


def test_latest_wins_even_when_the_new_one_starts_later(board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    now = board.now()
    license_for(board, cred_env)
    license_for(board, cred_env, valid_from=now + 30 * DAY, valid_until=now + YEAR)
    assert not board.has_valid_credential(cred_env.reader, cred_env.schemas.license)
    assert board.check(cred_env.reader, cred_env.schemas.license).status == "not-yet-valid"


def test_validity_window_bounds_are_from_inclusive_until_exclusive(
    w3: Web3, board: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = board.now()
    issued = license_for(board, cred_env, valid_from=now + 100, valid_until=now + 200)
    travel_to(w3, now + 99)
    assert not board.is_valid(issued.uid)
    travel_to(w3, now + 100)
    assert board.is_valid(issued.uid) and board.has_valid_credential(cred_env.reader, cred_env.schemas.license)
    travel_to(w3, now + 199)
    assert board.is_valid(issued.uid)
    travel_to(w3, now + 200)
    assert not board.is_valid(issued.uid)
    assert not board.has_valid_credential(cred_env.reader, cred_env.schemas.license)
    assert board.is_valid_at(issued.uid, now + 150) and not board.is_valid_at(issued.uid, now + 200)


def test_views_of_uids_that_do_not_exist(board: CredentialRegistryClient, cred_env: CredEnv) -> None:
    issued = license_for(board, cred_env)
    for missing in (
        credential_uid(cred_env.reader, cred_env.schemas.license, 2),
        issued.uid[:28] + bytes(4),
        keccak(text="random"),
        ZERO32,
    ):
        assert not board.is_valid(missing)
        assert not board.is_valid_at(missing, board.now())
        with pytest.raises(errors.CredentialNotFound) as exc:
            board.get_attestation(missing)
        assert exc.value.args == (missing,)


# ---------------------------------------------------------------------------- signatures


def signed_attest(creds: CredentialRegistryClient, env: CredEnv, **overrides: Any) -> Any:
    now = creds.now()
    return creds.sign_attest(
        overrides.pop("signer", env.signing_issuer),
        overrides.pop("subject", env.reader),
        overrides.pop("schema_id", env.schemas.license),
        overrides.pop("valid_until", now + YEAR),
        data_hash=DOC,
        **overrides,
    )


def test_a_relayer_submits_an_issuers_signed_attestation(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv, actors: Actors
) -> None:
    assert w3.eth.get_balance(cred_env.signing_issuer.address) == 0
    signed = signed_attest(creds, cred_env)
    made = creds.relay(signed)
    assert isinstance(made, Attestation)
    assert made.issuer == cred_env.signing_issuer.address
    assert made.uid == credential_uid(cred_env.reader, cred_env.schemas.license, 1)
    tx = w3.eth.get_transaction(made.tx_hash)
    assert tx["from"] == actors.site.address
    assert creds.has_valid_credential(cred_env.reader, cred_env.schemas.license)


def test_an_attest_signature_is_used_once(creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    signed = signed_attest(creds, cred_env)
    creds.relay(signed)
    with pytest.raises(errors.InvalidSignature) as exc:
        creds.relay(signed)
    assert exc.value.args == (cred_env.signing_issuer.address,)


def test_an_attest_signature_is_stale_once_another_attestation_of_the_key_lands(
    board: CredentialRegistryClient, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    # Since issue 11 latest wins per issuer: another issuer's attestation no longer makes the signature
    # stale (tests/test_abuse_credentials.py); the signer's own next attestation does.
    signed = signed_attest(creds, cred_env)
    creds.relay(signed_attest(creds, cred_env, valid_until=creds.now() + 2 * YEAR))  # the same sequence, first
    license_for(board, cred_env)
    with pytest.raises(errors.InvalidSignature):
        creds.relay(signed)


def test_an_expired_signature_is_refused(w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    now = creds.now()
    signed = signed_attest(creds, cred_env, deadline=now + 60)
    travel_to(w3, now + 61)
    call = creds.by_sig_call(signed)
    with pytest.raises(errors.SignatureExpired) as exc:
        creds.transactor.send(call)  # type: ignore[union-attr]
    assert exc.value.args == (now + 60, now + 62)


def test_the_deadline_second_itself_is_accepted(w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    now = creds.now()
    signed = signed_attest(creds, cred_env, deadline=now + 60)
    travel_to(w3, now + 59)  # the relay runs at now + 60
    assert isinstance(creds.relay(signed), Attestation)


@pytest.mark.parametrize("where", ["another chain", "another contract", "another domain name"])
def test_a_signature_for_another_chain_or_contract_is_refused(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv, where: str
) -> None:
    good = signed_attest(creds, cred_env)
    d = good.domain
    domain = {
        "another chain": Domain(d.name, d.version, d.chain_id + 1, d.verifying_contract),
        "another contract": Domain(d.name, d.version, d.chain_id, Web3.to_checksum_address("0x" + "11" * 20)),
        "another domain name": Domain("radledger ConsentRegistry", d.version, d.chain_id, d.verifying_contract),
    }[where]
    if where == "another domain name":
        wrong = SignedMessage(
            "Attest",
            domain,
            good.message,
            cred_env.signing_issuer.sign_typed_data(
                {**typed_data(good.domain, "Attest", good.message), "domain": domain.as_dict()}
            ),
        )
    else:
        wrong = sign(cred_env.signing_issuer, domain, "Attest", good.message)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        creds.relay(wrong)  # the client refuses it before sending
    forged = creds.by_sig_call(type(good)("Attest", good.domain, good.message, wrong.signature))
    with pytest.raises(errors.InvalidSignature) as exc:
        creds.transactor.send(forged)  # type: ignore[union-attr]
    assert exc.value.args == (cred_env.signing_issuer.address,)


def test_a_signature_by_someone_else_than_the_named_issuer_is_refused(
    creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    good = signed_attest(creds, cred_env)
    impostor = sign(named_key("impostor"), good.domain, "Attest", good.message)
    with pytest.raises(errors.InvalidSignature) as exc:
        creds.relay(impostor)
    assert exc.value.args == (cred_env.signing_issuer.address,)


def test_a_signed_attestation_of_an_unauthorized_issuer_is_refused(
    creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    signed = signed_attest(creds, cred_env, schema_id=cred_env.schemas.board)
    with pytest.raises(errors.IssuerNotAuthorized) as exc:
        creds.relay(signed)
    assert exc.value.args == (cred_env.schemas.board, cred_env.signing_issuer.address)


def test_a_changed_field_breaks_the_signature(creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    good = signed_attest(creds, cred_env)
    for field, value in [("value", 999), ("validUntil", good.message["validUntil"] + 1), ("dataHash", ZERO32)]:
        tampered = type(good)("Attest", good.domain, {**good.message, field: value}, good.signature)
        with pytest.raises(errors.InvalidSignature):
            creds.relay(tampered)


def test_an_erc1271_wallet_issuer_attests_by_its_owners_signature(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    now = creds.now()
    request = AttestationRequest(cred_env.reader, now + YEAR, DOC, 0, now)
    message = attest_message(cred_env.wallet, request, cred_env.schemas.license, 1, 0, now + 3600)
    signed = sign(cred_env.wallet_owner, creds.domain(), "Attest", message)
    made = creds.relay(signed)
    assert isinstance(made, Attestation) and made.issuer == cred_env.wallet
    assert creds.get_attestation(made.uid).issuer == cred_env.wallet
    stranger_sig = sign(named_key("not the owner"), creds.domain(), "Attest", {**message, "sequence": 2})
    with pytest.raises(errors.InvalidSignature) as exc:
        creds.relay(stranger_sig)
    assert exc.value.args == (cred_env.wallet,)
    revoke = sign(
        cred_env.wallet_owner,
        creds.domain(),
        "Revoke",
        {"signer": cred_env.wallet, "uid": made.uid, "reasonCode": 1, "epoch": 0, "deadline": now + 3600},
    )
    creds.relay(revoke)
    assert not creds.is_valid(made.uid)


def test_revoke_by_signature_of_the_issuer_or_a_disciplinary_key(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    made = creds.relay(signed_attest(creds, cred_env))
    assert isinstance(made, Attestation)
    outsider = creds.sign_revoke(named_key("outsider"), made.uid, RevocationReason.ISSUED_IN_ERROR)
    with pytest.raises(errors.NotIssuerOrDisciplinary) as exc:
        creds.relay(outsider)
    assert exc.value.args == (made.uid, named_key("outsider").address)
    signed = creds.sign_revoke(cred_env.signing_issuer, made.uid, RevocationReason.ISSUED_IN_ERROR)
    revocation = creds.relay(signed)
    assert revocation.revoker == cred_env.signing_issuer.address  # type: ignore[union-attr]
    assert revocation.reason_code == RevocationReason.ISSUED_IN_ERROR  # type: ignore[union-attr]
    with pytest.raises(errors.AlreadyRevoked):
        creds.relay(signed)  # a replay finds the credential already revoked
    other = creds.relay(signed_attest(creds, cred_env, subject=cred_env.other_reader))
    assert isinstance(other, Attestation)
    disciplinary_key = cred_env.disciplinary.signer
    by_board = creds.relay(creds.sign_revoke(disciplinary_key, other.uid, RevocationReason.DISCIPLINARY_ACTION))
    assert by_board.revoker == cred_env.disciplinary.address  # type: ignore[union-attr]


def test_revoke_signature_expired_or_tampered(w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv) -> None:
    made = creds.relay(signed_attest(creds, cred_env))
    assert isinstance(made, Attestation)
    now = creds.now()
    signed = creds.sign_revoke(cred_env.signing_issuer, made.uid, 1, deadline=now + 10)
    tampered = type(signed)("Revoke", signed.domain, {**signed.message, "reasonCode": 2}, signed.signature)
    with pytest.raises(errors.InvalidSignature):
        creds.relay(tampered)
    travel_to(w3, now + 20)
    with pytest.raises(errors.SignatureExpired):
        creds.transactor.send(creds.by_sig_call(signed))  # type: ignore[union-attr]


def test_invalidating_signatures_voids_every_outstanding_one(
    w3: Web3, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    attest = signed_attest(creds, cred_env)
    inspection = signed_attest(creds, cred_env, subject=SCANNER, schema_id=cred_env.schemas.inspection)
    bump = creds.sign_invalidate_signatures(cred_env.signing_issuer)
    done = creds.relay(bump)
    assert done.epoch == 1 and creds.signature_epoch(cred_env.signing_issuer.address) == 1  # type: ignore[union-attr]
    for stale in (attest, inspection, bump):
        with pytest.raises(errors.InvalidSignature) as exc:
            creds.relay(stale)
        assert exc.value.args == (cred_env.signing_issuer.address,)
    fresh = signed_attest(creds, cred_env)
    assert fresh.message["epoch"] == 1
    assert isinstance(creds.relay(fresh), Attestation)


def test_an_issuer_invalidates_its_own_signatures_directly(
    board: CredentialRegistryClient, creds: CredentialRegistryClient, cred_env: CredEnv
) -> None:
    signed = signed_attest(creds, cred_env, signer=cred_env.board.signer)
    result = board.invalidate_signatures()
    assert (result.issuer, result.epoch) == (cred_env.board.address, 1)
    with pytest.raises(errors.InvalidSignature):
        creds.relay(signed)


# ------------------------------------------------------------------- event reconstruction


def test_state_rebuilt_from_events_alone_equals_the_views(
    w3: Web3,
    board: CredentialRegistryClient,
    disciplinary: CredentialRegistryClient,
    inspector: CredentialRegistryClient,
    cme_provider: CredentialRegistryClient,
    creds: CredentialRegistryClient,
    cred_env: CredEnv,
) -> None:
    start = w3.eth.block_number + 1
    now = board.now()
    s = cred_env.schemas
    a = license_for(board, cred_env, valid_until=now + 300)
    b = license_for(board, cred_env)  # supersedes a
    c = license_for(board, cred_env, subject=cred_env.other_reader)
    disciplinary.revoke(c.uid)
    board.revoke(a.uid, RevocationReason.SUPERSEDED)
    inspector.attest(SCANNER, s.inspection, now + 200, valid_from=now)
    cme_provider.attest_batch(
        s.cme, [AttestationRequest(cred_env.reader, now + YEAR, value=v, valid_from=now + 50) for v in (100, 25)]
    )
    creds.relay(signed_attest(creds, cred_env, subject=SCANNER, schema_id=s.inspection))
    board.attest(cred_env.reader, s.diploma, FOREVER, valid_from=0)
    time_travel(w3, 250)
    assert b.supersedes == a.uid

    # Rebuild from this test's events only (the session's registry is shared).
    attested = [e for e in creds.attestations() if e.block_number >= start]
    revoked = {
        r.uid: int(w3.eth.get_block(r.block_number)["timestamp"])
        for r in creds.revocations()
        if r.block_number >= start
    }
    latest: dict[bytes, Attestation] = {}
    for event in attested:
        latest[event.uid[:28]] = event  # events arrive in order: the last of a key is the latest
    now = board.now()
    for event in attested:
        revoked_at = revoked.get(event.uid, 0)
        state = creds.get_attestation(event.uid)
        assert (state.issuer, state.valid_from, state.valid_until, state.revoked_at) == (
            event.issuer,
            event.valid_from,
            event.valid_until,
            revoked_at,
        )
        assert state.latest == (latest[event.uid[:28]] == event)
        expected_valid = not revoked_at and event.valid_from <= now < event.valid_until
        assert creds.is_valid(event.uid) == expected_valid
    # Latest wins per issuer (issue 11): valid when any issuer's latest is.
    expected_any: dict[tuple[bytes, int], bool] = {}
    for event in latest.values():
        valid = not revoked.get(event.uid) and event.valid_from <= now < event.valid_until
        key = (bytes(event.subject), event.schema_id)
        expected_any[key] = expected_any.get(key, False) or valid
    for (subject, schema_id), expected in expected_any.items():
        assert creds.has_valid_credential(subject, schema_id) == expected
    assert len(attested) == 8 and len(revoked) == 2
