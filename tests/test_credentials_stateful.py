"""CredentialRegistry against a Python model: random attestations, revocations, authorization changes
and time travel; after every step the touched credentials' views (and, now and then and at the
end, every credential's) must equal the model's answer, and every refused call must be refused
with the error the model predicts, arguments included.

Speed: transactions go straight to the unlocked accounts of the in-process chain with a fixed gas
limit (no gas estimation), and predicted reverts are checked with one `eth_call` each. Such a call
runs at the latest block's time while a transaction runs one second later, so windows that end
within a few seconds of now are not generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.chain.transactions import call
from radledger.registries.common import FOREVER
from radledger.registries.credentials.client import (
    CredentialRegistryClient,
    co_issuer_credential_uid,
    credential_uid,
    subject_id,
)
from tests.test_credentials_support import DAY, YEAR, CredEnv

pytest_plugins = ["tests.test_credentials_support"]

ZERO32 = bytes(32)
GAS = 1_000_000


@dataclass
class Rec:
    """The model of one attestation."""

    uid: bytes
    issuer: str
    valid_from: int
    valid_until: int
    revocable: bool
    revoked_at: int = 0

    def valid_at(self, t: int) -> bool:
        return self.valid_from <= t < self.valid_until and (self.revoked_at == 0 or t < self.revoked_at)


@dataclass
class Model:
    max_validity: dict[int, int]
    revocable: dict[int, bool]
    authorized: set[tuple[int, str]]
    disciplinary: str
    recs: dict[bytes, Rec] = field(default_factory=dict)
    heads: dict[bytes, int] = field(default_factory=dict)  # (subject, schema, issuer) key -> latest sequence
    keys: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # key -> (subject, schema)
    # Latest wins per issuer (issue 11): the first issuer of a (subject, schema) has its primary key.
    primary: dict[tuple[bytes, int], str] = field(default_factory=dict)

    def latest(self, uid: bytes) -> bool:
        return self.heads.get(uid[:28]) == int.from_bytes(uid[-4:], "big")


def test_credential_registry_matches_its_model(w3: Web3, cred_env: CredEnv) -> None:
    accounts = w3.eth.accounts
    # Unlocked accounts (no local signing, no estimation): issuer A, issuer B, disciplinary, stranger.
    issuer_a, issuer_b, discipline, stranger = (to_checksum_address(a) for a in accounts[6:10])
    governance = cred_env.client(w3, cred_env.governance)
    s = cred_env.schemas
    schemas = [s.license, s.diploma, s.board]
    for schema, issuer in [(s.license, issuer_a), (s.diploma, issuer_a), (s.board, issuer_b), (s.license, issuer_b)]:
        governance.authorize_issuer(schema, issuer)
    governance.grant_role("DISCIPLINARY_ROLE", discipline)
    terms = {sid: governance.get_schema(sid) for sid in schemas}
    subjects = [subject_id(keccak(text=f"model subject {i}")[:20]) for i in range(2)]
    # Reads carry a sender: without one, the in-process provider looks the accounts up on every call.
    registry: CredentialRegistryClient = cred_env.client(w3, cred_env.governance)
    fns = registry.contract.functions

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = w3.testing.snapshot()  # type: ignore[attr-defined]
            self.model = Model(
                max_validity={sid: t.max_validity for sid, t in terms.items()},
                revocable={sid: t.revocable for sid, t in terms.items()},
                authorized={(s.license, issuer_a), (s.diploma, issuer_a), (s.board, issuer_b), (s.license, issuer_b)},
                disciplinary=discipline,
            )

        def teardown(self) -> None:
            try:
                self.check(list(self.model.recs))
            finally:
                w3.testing.revert(self.snapshot)  # type: ignore[attr-defined]

        # ------------------------------------------------------------------ helpers

        def now(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"])

        def send(self, fn: Any, sender: str) -> Any:
            return w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "gas": GAS}))

        def refused(self, fn: Any, sender: str, expected: Exception) -> None:
            event(f"refused: {type(expected).__name__}")
            with pytest.raises(type(expected)) as exc:
                call(fn, sender)  # type: ignore[arg-type]
            assert exc.value == expected

        def check(self, uids: list[bytes]) -> None:
            now = self.now()
            for uid in uids:
                rec = self.model.recs[uid]
                state = registry.get_attestation(uid)
                assert (state.issuer, state.valid_from, state.valid_until, state.revoked_at, state.revocable) == (
                    rec.issuer,
                    rec.valid_from,
                    rec.valid_until,
                    rec.revoked_at,
                    rec.revocable,
                )
                assert state.latest == self.model.latest(uid)
                assert registry.is_valid(uid) == rec.valid_at(now)
            pairs = {self.model.keys[uid[:28]] for uid in uids}
            for pair in pairs:
                heads = [
                    self.model.recs[key + self.model.heads[key].to_bytes(4, "big")]
                    for key, of in self.model.keys.items()
                    if of == pair
                ]
                assert registry.has_valid_credential(*pair) == any(h.valid_at(now) for h in heads)

        # -------------------------------------------------------------------- rules

        @rule(
            subject=st.sampled_from(subjects),
            schema=st.sampled_from(schemas),
            issuer=st.sampled_from([issuer_a, issuer_a, issuer_b, stranger]),
            start=st.integers(-YEAR, 30 * DAY),
            length=st.one_of(st.integers(1, 90 * DAY), st.integers(YEAR, 3 * YEAR)),
            ref=st.sampled_from(["none", "none", "existing", "missing"]),
            forever=st.sampled_from([False, False, False, True]),
        )
        def attest(
            self, subject: bytes, schema: int, issuer: str, start: int, length: int, ref: str, forever: bool
        ) -> None:
            self.try_attest(subject, schema, issuer, start, length, ref, forever)

        @initialize()
        def seed(self) -> None:
            """Every run starts with credentials to revoke and supersede."""
            self.try_attest(subjects[0], s.license, issuer_a, -DAY, YEAR, "none", False)
            self.try_attest(subjects[0], s.board, issuer_b, 0, 5 * YEAR, "existing", False)
            self.try_attest(subjects[1], s.diploma, issuer_a, -5 * YEAR, 0, "none", True)

        def try_attest(
            self, subject: bytes, schema: int, issuer: str, start: int, length: int, ref: str, forever: bool
        ) -> None:
            now = self.now()
            valid_from = max(0, now + start)
            valid_until = FOREVER if forever else valid_from + length
            if now - 2 <= valid_until <= now + 3:
                valid_until = now + 4  # never within a few seconds of now (see the module's docstring)
            ref_uid = {
                "none": ZERO32,
                "existing": next(iter(self.model.recs), ZERO32),
                "missing": self.key(subject, schema, issuer)
                + (self.model.heads.get(self.key(subject, schema, issuer), 0) + 1).to_bytes(4, "big"),
            }[ref]
            fn = fns.attest(
                subject, schema, keccak(text=f"doc {length}"), length % 500, valid_from, valid_until, ref_uid
            )
            if (schema, issuer) not in self.model.authorized:
                return self.refused(fn, issuer, errors.IssuerNotAuthorized(schema, issuer))
            if valid_from >= valid_until:
                return self.refused(fn, issuer, errors.InvalidValidity(valid_from, valid_until))
            if valid_until <= now:
                return self.refused(fn, issuer, errors.ExpiryInPast(valid_until, now))
            if valid_until - valid_from > self.model.max_validity[schema]:
                expected = errors.ValidityExceedsMaximum(
                    schema, valid_from, valid_until, self.model.max_validity[schema]
                )
                return self.refused(fn, issuer, expected)
            if ref == "missing":
                return self.refused(fn, issuer, errors.ReferencedCredentialNotFound(ref_uid))
            receipt = self.send(fn, issuer)
            key = self.key(subject, schema, issuer)
            event("attested" if key not in self.model.heads else "attested: superseding")
            (attested,) = registry.events(receipt, "CredentialAttested")
            self.model.primary.setdefault((subject, schema), issuer)
            sequence = self.model.heads.get(key, 0) + 1
            assert bytes(attested["uid"]) == key + sequence.to_bytes(4, "big")
            previous = key + (sequence - 1).to_bytes(4, "big")
            self.model.heads[key] = sequence
            self.model.keys[key] = (subject, schema)
            uid = bytes(attested["uid"])
            self.model.recs[uid] = Rec(uid, issuer, valid_from, valid_until, self.model.revocable[schema])
            self.check([uid, previous] if sequence > 1 else [uid])

        @rule(
            pick=st.integers(0, 50),
            revoker=st.sampled_from(["issuer", "issuer", "other issuer", "disciplinary", "stranger"]),
            reason=st.sampled_from([1, 1, 2, 6, 0]),
        )
        def revoke(self, pick: int, revoker: str, reason: int) -> None:
            recs = list(self.model.recs.values())
            if pick % 10 == 0 or not recs:
                unknown = keccak(text=f"never attested {pick}")
                return self.refused(fns.revoke(unknown, 1), issuer_a, errors.CredentialNotFound(unknown))
            rec = recs[pick % len(recs)]
            sender = {
                "issuer": rec.issuer,
                "other issuer": issuer_b if rec.issuer == issuer_a else issuer_a,
                "disciplinary": discipline,
                "stranger": stranger,
            }[revoker]
            fn = fns.revoke(rec.uid, reason)
            if reason == 0:
                return self.refused(fn, sender, errors.InvalidReasonCode(0))
            if sender not in (rec.issuer, self.model.disciplinary):
                return self.refused(fn, sender, errors.NotIssuerOrDisciplinary(rec.uid, sender))
            if not rec.revocable:
                return self.refused(fn, sender, errors.IrrevocableCredential(rec.uid))
            if rec.revoked_at:
                return self.refused(fn, sender, errors.AlreadyRevoked(rec.uid, rec.revoked_at))
            receipt = self.send(fn, sender)
            event("revoked")
            rec.revoked_at = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
            (revoked,) = registry.events(receipt, "CredentialRevoked")
            assert revoked == {"uid": rec.uid, "revoker": sender, "reasonCode": reason}
            self.check([rec.uid])

        @rule(
            issuer=st.sampled_from([issuer_a, issuer_b]),
            schema=st.sampled_from(schemas),
            seconds=st.one_of(st.integers(1, 3 * DAY), st.integers(30 * DAY, 2 * YEAR)),
        )
        def toggle_authorization_and_travel(self, issuer: str, schema: int, seconds: int) -> None:
            """Governance changes one authorization; time passes; every credential is checked again."""
            if (schema, issuer) in self.model.authorized:
                self.send(fns.deauthorizeIssuer(schema, issuer), cred_env.governance.address)
                self.model.authorized.discard((schema, issuer))
            else:
                self.send(fns.authorizeIssuer(schema, issuer), cred_env.governance.address)
                self.model.authorized.add((schema, issuer))
            assert registry.is_authorized_issuer(schema, issuer) == ((schema, issuer) in self.model.authorized)
            time_travel(w3, seconds)
            self.check(list(self.model.recs))

        @invariant()
        def uids_are_unique_per_key_and_sequence(self) -> None:
            for key, sequence in self.model.heads.items():
                assert all(key + n.to_bytes(4, "big") in self.model.recs for n in range(1, sequence + 1))

        def key(self, subject: bytes, schema: int, issuer: str) -> bytes:
            """The issuer's slot key: the primary one for the first issuer of (subject, schema)."""
            if self.model.primary.get((subject, schema), issuer) == issuer:
                return credential_uid(subject, schema, 1)[:28]
            return co_issuer_credential_uid(subject, schema, registry.issuer_index(issuer), 1)[:28]

    # Half the profile's step count: with the seed's three attestations, a run of the "ci" profile stays
    # well inside its time budget; HYPOTHESIS_PROFILE=long runs 40 steps.
    profile = settings()
    run_state_machine_as_test(Machine, settings=settings(profile, stateful_step_count=profile.stateful_step_count // 2))
