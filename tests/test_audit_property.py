"""Property: after any history of consents, guardians, break-glass, accesses and record amendments, the state
rebuilt from the event index equals the contracts' views, slot for slot, and who-could-access agrees with
``accessBasis`` for every grantee, scope and purpose tried.

Each example runs inside its own chain snapshot; the index is synced from genesis every time (the
in-process source reads about a block a millisecond).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from radledger.audit import AuditIndex, sync
from radledger.audit.queries.consent import who_could_access
from radledger.audit.state import consent_state, record_state
from radledger.chain.connection import time_travel
from radledger.chain.errors import RadledgerError
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.events import GrantState, GuardianState
from radledger.registries.records.client import RecordRegistryClient
from tests.audit_backends import NewIndex
from tests.conftest import Actors
from tests.support import content_hash, register_record

EXAMPLES = max(8, settings.default.max_examples // 3)
"""A third of the profile's examples: each one sends a dozen transactions ("long" profile: 133)."""

PATIENTS = (4, 9)  # chain account indexes (unlocked: no local signing, faster)
GRANTEES = (3, 5, 8)  # 5 holds the break-glass role
GUARDIANS = (7, 8)
SITE = 1


@dataclass
class People:
    w3: Web3
    deployment: Deployment
    accounts: list[str]

    def tx(self, index: int) -> Transactor:
        return Transactor(self.w3, UnlockedAccount(self.accounts[index]))

    def consent(self, index: int) -> ConsentRegistryClient:
        return self.deployment.consent(self.w3, self.tx(index))

    def records(self) -> RecordRegistryClient:
        return self.deployment.records(self.w3, self.tx(SITE))


patient_st = st.sampled_from(PATIENTS)
grantee_st = st.sampled_from(GRANTEES)
actor_st = st.sampled_from((None, *GUARDIANS))  # None: the patient acts
record_st = st.sampled_from(("wildcard", "own", "other"))
scopes_st = st.integers(1, int(Scope.ALL))
purposes_st = st.integers(1, int(Purpose.ALL))
window_st = st.sampled_from(("forever", "past start", "short", "later"))

op_st = st.one_of(
    st.tuples(st.just("grant"), patient_st, actor_st, grantee_st, record_st, scopes_st, purposes_st, window_st),
    st.tuples(st.just("revoke"), patient_st, actor_st, grantee_st, record_st),
    st.tuples(st.just("guardian"), patient_st, st.sampled_from(GUARDIANS), st.sampled_from((0, 30, 100_000))),
    st.tuples(st.just("invalidate"), patient_st, actor_st),
    st.tuples(st.just("break-glass"), patient_st, st.integers(1, 9)),
    st.tuples(st.just("access"), patient_st, grantee_st, st.booleans(), scopes_st, st.sampled_from(list(Purpose)[:5])),
    st.tuples(st.just("amend"), patient_st),
    st.tuples(st.just("wait"), st.sampled_from((1, 20, 600, 2 * 86_400))),
)


def run(op: tuple[Any, ...], people: People, records: dict[int, bytes], accounts: list[str]) -> None:
    kind = op[0]
    now = int(people.w3.eth.get_block("latest")["timestamp"])

    def record_of(choice: str, patient: int) -> bytes:
        if choice == "wildcard":
            return WILDCARD
        other = next(p for p in PATIENTS if p != patient)
        return records[patient if choice == "own" else other]

    if kind == "grant":
        _, patient, actor, grantee, which, scopes, purposes, window = op
        valid_from, valid_until = {
            "forever": (0, FOREVER),
            "past start": (now - 50, now + 40),
            "short": (0, now + 25),
            "later": (now + 30, now + 90),
        }[window]
        people.consent(actor or patient).grant(
            accounts[patient], accounts[grantee], record_of(which, patient), scopes, purposes, valid_from, valid_until
        )
    elif kind == "revoke":
        _, patient, actor, grantee, which = op
        people.consent(actor or patient).revoke(accounts[patient], accounts[grantee], record_of(which, patient))
    elif kind == "guardian":
        _, patient, guardian, seconds = op
        people.consent(patient).set_guardian(accounts[guardian], now + seconds + 1 if seconds else 0)
    elif kind == "invalidate":
        _, patient, actor = op
        people.consent(actor or patient).invalidate_signatures(accounts[patient])
    elif kind == "break-glass":
        _, patient, reason = op
        people.consent(5).break_glass(accounts[patient], reason)
    elif kind == "access":
        _, patient, grantee, by_site, scopes, purpose = op
        recorder = SITE if by_site else grantee
        people.consent(recorder).record_access(accounts[grantee], records[patient], scopes, int(purpose))
    elif kind == "amend":
        people.records().amend(records[op[1]], content_hash(f"amended {now}"))
    elif kind == "wait":
        time_travel(people.w3, op[1])


@pytest.fixture
def people(chain: Web3, deployment: Deployment, actors: Actors) -> Iterator[People]:
    yield People(chain, deployment, list(chain.eth.accounts))


check_st = st.tuples(
    grantee_st,
    st.sampled_from((Scope.IMAGES, Scope.REPORTS | Scope.SAFETY_PROFILE, Scope.ALL)),
    st.sampled_from((Purpose.TREAT, Purpose.HPAYMT | Purpose.HRESCH, Purpose.ETREAT)),
)
"""(grantee, scopes, purposes) to ask ``accessBasis`` about (a view call costs about 40 ms on eth-tester)."""


@settings(max_examples=EXAMPLES)
@given(ops=st.lists(op_st, min_size=1, max_size=10), checks=st.lists(check_st, min_size=3, max_size=3))
def test_state_rebuilt_from_the_index_equals_the_views(
    people: People, ops: list[tuple[Any, ...]], checks: list[tuple[int, Scope, Purpose]], new_index: NewIndex
) -> None:
    w3, deployment, accounts = people.w3, people.deployment, people.accounts
    snapshot = w3.testing.snapshot()
    try:
        records = {p: register_record(people.records(), accounts[p], f"property: patient {p}") for p in PATIENTS}
        for op in ops:
            with contextlib.suppress(RadledgerError):  # refused by the contract or the client: nothing happened
                run(op, people, records, accounts)
        index = new_index()
        sync(w3, index, deployment)
        assert_index_matches_views(index, people, records, checks)
    finally:
        w3.testing.revert(snapshot)


def assert_index_matches_views(
    index: AuditIndex, people: People, records: dict[int, bytes], checks: list[tuple[int, Scope, Purpose]]
) -> None:
    """Every slot the index knows equals its view, and slots it does not know are empty on chain too."""
    accounts = people.accounts
    consent = people.deployment.consent(people.w3)
    record_views = people.deployment.records(people.w3)
    state = consent_state(index)
    rids = [WILDCARD, *records.values()]
    every_key = [(accounts[p], accounts[g], rid) for p in PATIENTS for g in GRANTEES for rid in rids]
    untouched = [k for k in every_key if k not in state["grants"]][:2]
    for key in [*state["grants"], *untouched]:
        view = consent.get_grant(*key)
        on_chain = GrantState(
            int(view.scopes),
            int(view.purposes),
            view.valid_from,
            view.valid_until,
            view.version,
            view.break_glass_until,
        )
        assert state["grants"].get(key, GrantState()) == on_chain, key
    pairs = [(accounts[p], accounts[g]) for p in PATIENTS for g in GUARDIANS]
    for pair in [*state["guardians"], *[p for p in pairs if p not in state["guardians"]][:1]]:
        view_guardian = consent.get_guardian(*pair)
        assert state["guardians"].get(pair, GuardianState()) == GuardianState(
            view_guardian.valid_until, view_guardian.version
        )
    for patient in PATIENTS:
        assert state["epochs"].get(accounts[patient], 0) == consent.signature_epoch(accounts[patient])

    rebuilt_records = record_state(index)
    for rid in records.values():
        assert rebuilt_records[rid] == record_views.get_record(rid)
        assert rebuilt_records[rid].kind is RecordKind.IMAGING_STUDY

    for patient, rid in records.items():
        report = who_could_access(index, rid)
        assert report.at == consent.now()
        for grantee, scopes, purposes in checks:
            view = consent.access_basis(accounts[patient], accounts[grantee], rid, scopes, purposes)
            assert report.basis(accounts[grantee], scopes, purposes) is view, (patient, grantee, scopes, purposes)
