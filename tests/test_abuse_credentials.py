"""Issue 11, item 4: a co-issuer could cancel another issuer's credential.

Before the fix, latest won per (subject, schema): a second issuer authorized for the same schema attested the
physician and revoked its own attestation, and `hasValidCredential` turned false (the physician became
`PhysicianNotCredentialed` for prior authorization); it also made the first issuer's outstanding `attestBySig`
stale. Now latest wins per issuer and `hasValidCredential` is true when any issuer's latest is valid.

Run once against the contracts before the fix (commit 6142838): the co-issuer's revoke made the license vanish.
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.registries.credentials.client import (
    CredentialRegistryClient,
    co_issuer_credential_uid,
    credential_uid,
    subject_id,
)
from radledger.registries.credentials.types import RevocationReason
from radledger.registries.preauth.types import PreauthStatus
from tests.preauth_support import World, world_base_fixture, world_fixture  # noqa: F401
from tests.support import nothing_sent
from tests.test_credentials_support import YEAR, CredEnv

pytest_plugins = ["tests.test_credentials_support"]


@pytest.fixture
def co_issuer(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    """The medical physicist, authorized here for licenses too: a second issuer of the schema."""
    cred_env.client(w3, cred_env.governance).authorize_issuer(cred_env.schemas.license, cred_env.inspector.address)
    return cred_env.client(w3, cred_env.inspector)


def test_a_co_issuer_attesting_and_revoking_its_own_leaves_the_first_issuers_credential_valid(
    w3: Web3, cred_env: CredEnv, co_issuer: CredentialRegistryClient
) -> None:
    board = cred_env.client(w3, cred_env.board)
    schema, reader = cred_env.schemas.license, cred_env.reader
    first = board.attest(reader, schema, board.now() + YEAR)
    assert first.uid == credential_uid(reader, schema, 1)
    # The abuse: attest, then revoke its own.
    second = co_issuer.attest(reader, schema, board.now() + YEAR)
    index = co_issuer.issuer_index(cred_env.inspector.address)
    assert second.uid == co_issuer_credential_uid(reader, schema, index, 1)  # its own slot, its own sequence
    co_issuer.revoke(second.uid, RevocationReason.ISSUED_IN_ERROR)
    assert board.has_valid_credential(reader, schema)
    assert board.is_valid(first.uid) and board.get_attestation(first.uid).latest
    assert board.has_valid_credential_from(reader, schema, cred_env.board.address)
    assert not board.has_valid_credential_from(reader, schema, cred_env.inspector.address)
    assert board.latest(reader, schema).uid == first.uid  # type: ignore[union-attr]


def test_a_co_issuer_cannot_revoke_another_issuers_attestation(
    w3: Web3, cred_env: CredEnv, co_issuer: CredentialRegistryClient
) -> None:
    board = cred_env.client(w3, cred_env.board)
    first = board.attest(cred_env.reader, cred_env.schemas.license, board.now() + YEAR)
    before = board.get_attestation(first.uid)
    fn = co_issuer.contract.functions.revoke(first.uid, 1)
    with nothing_sent(w3), pytest.raises(errors.NotIssuerOrDisciplinary) as exc:
        cred_env.inspector.send(fn)
    assert exc.value.args == (first.uid, cred_env.inspector.address)
    assert board.get_attestation(first.uid) == before and board.is_valid(first.uid)


def test_a_co_issuers_attestation_does_not_make_the_first_issuers_signature_stale(
    w3: Web3, cred_env: CredEnv, co_issuer: CredentialRegistryClient, creds: CredentialRegistryClient
) -> None:
    """The signing issuer signs an attestation (sequence 1); a co-issuer lands first; the signature still works."""
    schema, subject = cred_env.schemas.license, cred_env.other_reader
    signed = creds.sign_attest(cred_env.signing_issuer, subject, schema, creds.now() + YEAR)
    co_issuer.attest(subject, schema, creds.now() + YEAR)  # becomes the primary issuer of the pair
    made = creds.relay(signed)
    index = creds.issuer_index(cred_env.signing_issuer.address)
    assert made.uid == co_issuer_credential_uid(subject, schema, index, 1)  # type: ignore[union-attr]
    assert creds.has_valid_credential_from(subject, schema, cred_env.signing_issuer.address)


def test_an_issuer_still_supersedes_its_own_attestation(w3: Web3, cred_env: CredEnv, co_issuer: Any) -> None:
    board = cred_env.client(w3, cred_env.board)
    schema, reader = cred_env.schemas.license, cred_env.reader
    co_issuer.attest(reader, schema, board.now() + YEAR)
    first = board.attest(reader, schema, board.now() + YEAR)
    renewed = board.attest(reader, schema, board.now() + YEAR)
    assert int.from_bytes(renewed.uid, "big") == int.from_bytes(first.uid, "big") + 1
    assert not board.get_attestation(first.uid).latest and board.get_attestation(renewed.uid).latest


def test_a_fourth_live_issuer_is_refused_and_takes_a_dead_issuers_entry(
    w3: Web3, cred_env: CredEnv, co_issuer: CredentialRegistryClient
) -> None:
    governance = cred_env.client(w3, cred_env.governance)
    schema, reader = cred_env.schemas.license, cred_env.reader
    for issuer in (cred_env.cme_provider, cred_env.specialty_board):
        governance.authorize_issuer(schema, issuer.address)
    board = cred_env.client(w3, cred_env.board)
    until = board.now() + YEAR
    uids = [c.attest(reader, schema, until).uid for c in (board, co_issuer, cred_env.client(w3, cred_env.cme_provider))]
    fourth = cred_env.client(w3, cred_env.specialty_board)
    subject = subject_id(reader)
    fn = fourth.contract.functions.attest(subject, schema, bytes(32), 0, board.now(), until, bytes(32))
    with nothing_sent(w3), pytest.raises(errors.TooManyIssuers) as exc:
        cred_env.specialty_board.send(fn)
    assert exc.value.args == (subject, schema)
    co_issuer.revoke(uids[1], RevocationReason.ISSUED_IN_ERROR)  # its entry can never be valid again
    made = fourth.attest(reader, schema, until)
    assert fourth.has_valid_credential_from(reader, schema, cred_env.specialty_board.address)
    assert all(board.is_valid(u) for u in (uids[0], uids[2], made.uid))


def test_prior_authorization_survives_a_co_issuer_revoking_its_own_license(world: World) -> None:
    """The end-to-end abuse: a second license issuer attests and revokes; the physician stays credentialed."""
    governance = world.creds
    governance.authorize_issuer(world.license_schema, world.other_payer.address)  # any second issuer key
    co = governance.with_sender(world.other_payer)
    until = governance.now() + YEAR
    made = co.attest(world.licensed.address, world.license_schema, until)
    co.revoke(made.uid, RevocationReason.ISSUED_IN_ERROR)
    assert governance.has_valid_credential(world.licensed.address, world.license_schema)
    assert world.as_site.status(world.pended()) is PreauthStatus.PENDED  # not PhysicianNotCredentialed
