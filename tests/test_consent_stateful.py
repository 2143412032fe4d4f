"""ConsentRegistry against a plain Python model of its rules, driven by Hypothesis: random grants,
revokes, guardian appointments and removals, guardian actions, break-glass and time travel.

After every step, `accessBasis` on a grid of questions and `isGuardian` must agree with the model
(asked in one eth_call through StaticMulticallMock: py-evm is slow, so each step stays cheap); a
rule also asks `hasAccess` and `accessBasis` a random question at random moments.

Each example starts from a chain snapshot and reverts to it. The "ci" profile (conftest) bounds
the examples; HYPOTHESIS_PROFILE=long runs more and longer ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pytest
from eth_typing import ChecksumAddress
from eth_utils import keccak
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3 import Web3
from web3.contract import Contract

from radledger.chain import errors
from radledger.chain.artifacts import load_artifact
from radledger.chain.connection import time_travel
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_contract
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from tests.conftest import ARTIFACTS, Actors
from tests.support import in_fresh_thread, nothing_sent

BREAK_GLASS_SECONDS = 60  # the shortest window the contract allows, so small time steps reach its end
RECORDS = [keccak(text=f"stateful test record {i}") for i in (1, 2)]
SCOPE_CHOICES = [Scope.IMAGES, Scope.REPORTS, Scope.IMAGES | Scope.REPORTS, Scope.ALL]
PURPOSE_CHOICES = [Purpose.TREAT, Purpose.ETREAT, Purpose.TREAT | Purpose.HRESCH, Purpose.HRESCH, Purpose.ALL]
# Validity windows as (valid_from, valid_until) offsets from now (None: 0 and FOREVER); the last is empty.
WINDOWS = [(None, None), (None, 20), (None, 300), (5, 60), (20, 300), (60, 20)]
GRID_QUESTIONS = [(Scope.IMAGES, Purpose.TREAT), (Scope.ALL, Purpose.ETREAT)]


# ------------------------------------------------------------------------------ model


@dataclass
class Slot:
    scopes: int = 0
    purposes: int = 0
    valid_from: int = 0
    valid_until: int = 0
    version: int = 0
    break_glass_until: int = 0

    def covers(self, scopes: int, purposes: int, now: int) -> bool:
        return (
            self.scopes & scopes == scopes
            and self.purposes & purposes == purposes
            and self.valid_from <= now < self.valid_until
        )


@dataclass
class Model:
    """The decided rules, in plain Python: permit-only grants, record 0 as the wildcard, each question
    answered by one grant, guardians until their expiry, break-glass for ETREAT within its window."""

    grants: dict[tuple[str, str, bytes], Slot] = field(default_factory=dict)
    guardian_until: dict[tuple[str, str], int] = field(default_factory=dict)
    # (patient, account) -> start of the current run of break-glass windows (renewals back to back).
    break_glass_since: dict[tuple[str, str], int] = field(default_factory=dict)

    def break_glass(self, patient: str, account: str, at: int) -> int | None:
        """The window's new end for an invocation at `at`, or None when the run is exhausted: a run goes
        on while the window is open or ended less than a window ago, and lasts at most three windows."""
        slot = self.slot(patient, account, WILDCARD)
        if slot.break_glass_until and at < slot.break_glass_until + BREAK_GLASS_SECONDS:
            run_end = self.break_glass_since[(patient, account)] + 3 * BREAK_GLASS_SECONDS
            if at >= run_end:
                return None
            until = min(at + BREAK_GLASS_SECONDS, run_end)
        else:
            self.break_glass_since[(patient, account)] = at
            until = at + BREAK_GLASS_SECONDS
        slot.break_glass_until = until
        return until

    def slot(self, patient: str, grantee: str, record: bytes) -> Slot:
        return self.grants.setdefault((patient, grantee, record), Slot())

    def may_act(self, patient: str, actor: str, at: int) -> bool:
        return actor == patient or at < self.guardian_until.get((patient, actor), 0)

    def basis(self, patient: str, grantee: str, record: bytes, scopes: int, purposes: int, now: int) -> AccessBasis:
        if record != WILDCARD and self.slot(patient, grantee, record).covers(scopes, purposes, now):
            return AccessBasis.RECORD_GRANT
        wildcard = self.slot(patient, grantee, WILDCARD)
        if wildcard.covers(scopes, purposes, now):
            return AccessBasis.WILDCARD_GRANT
        if purposes == Purpose.ETREAT and now < wildcard.break_glass_until:
            return AccessBasis.BREAK_GLASS
        return AccessBasis.NONE


# --------------------------------------------------------------------------- machine


Question = tuple[ChecksumAddress, ChecksumAddress, bytes, int, int]


@dataclass(frozen=True)
class World:
    """The chain side: a ConsentRegistry of its own, the accounts, and the batched views."""

    w3: Web3
    consent_address: ChecksumAddress
    patients: list[Transactor]
    guardian: Transactor
    grantees: list[Transactor]  # [a grantee without role, the emergency account holding the break-glass role]
    role: bytes
    multicall: Contract

    def client(self, sender: Transactor) -> ConsentRegistryClient:
        return ConsentRegistryClient(self.w3, self.consent_address, sender)

    @cached_property
    def grid(self) -> list[Question]:
        return [
            (patient.address, grantee.address, record, int(scopes), int(purposes))
            for patient in self.patients
            for grantee in self.grantees
            for record in RECORDS
            for scopes, purposes in GRID_QUESTIONS
        ]

    @cached_property
    def calls(self) -> list[str]:
        """accessBasis of each grid question, then isGuardian of the guardian for each patient."""
        views = self.client(self.guardian).contract
        calls = [views.encode_abi("accessBasis", args=list(question)) for question in self.grid]
        calls += [views.encode_abi("isGuardian", args=[p.address, self.guardian.address]) for p in self.patients]
        return calls

    def ask(self) -> list[int]:
        """The answers to :attr:`calls`, as integers, from one eth_call."""
        results = self.multicall.functions.aggregate(self.consent_address, self.calls).call()
        return [int.from_bytes(result, "big") for result in results]


class ConsentMachine(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.snapshot = self.world.w3.testing.snapshot()
        self.model = Model()
        self.reader = self.world.client(self.world.guardian)

    def teardown(self) -> None:
        self.world.w3.testing.revert(self.snapshot)

    def now(self) -> int:
        return int(self.world.w3.eth.get_block("latest")["timestamp"])

    def actor(self, patient_index: int, by_guardian: bool) -> Transactor:
        return self.world.guardian if by_guardian else self.world.patients[patient_index]

    # ----------------------------------------------------------------------- rules

    @rule(
        patient_index=st.integers(0, 1),
        by_guardian=st.booleans(),
        grantee_index=st.integers(0, 1),
        record=st.sampled_from([WILDCARD, *RECORDS]),
        scopes=st.sampled_from(SCOPE_CHOICES),
        purposes=st.sampled_from(PURPOSE_CHOICES),
        window=st.sampled_from(WINDOWS),
    )
    def grant(
        self,
        patient_index: int,
        by_guardian: bool,
        grantee_index: int,
        record: bytes,
        scopes: Scope,
        purposes: Purpose,
        window: tuple[int | None, int | None],
    ) -> None:
        now = self.now()
        patient = self.world.patients[patient_index].address
        grantee = self.world.grantees[grantee_index].address
        actor = self.actor(patient_index, by_guardian)
        from_offset, until_offset = window
        terms = (
            scopes,
            purposes,
            0 if from_offset is None else now + from_offset,
            FOREVER if until_offset is None else now + until_offset,
        )
        client = self.world.client(actor)
        if terms[2] >= terms[3]:
            event("grant: empty window refused by the client")
            with nothing_sent(self.world.w3), pytest.raises(errors.ValidationError):
                client.grant(patient, grantee, record, *terms)
            return
        if not self.model.may_act(patient, actor.address, now + 1):  # the transaction runs one second later
            event("grant: refused, not the patient or a current guardian")
            with pytest.raises(errors.NotPatientOrGuardian) as exc:
                client.grant(patient, grantee, record, *terms)
            assert exc.value.args == (patient, actor.address)
            return
        event(f"grant: by the {'guardian' if by_guardian else 'patient'}")
        client.grant(patient, grantee, record, *terms)
        slot = self.model.slot(patient, grantee, record)
        slot.scopes, slot.purposes, slot.valid_from, slot.valid_until = terms
        slot.version += 1
        self.check_slot(patient, grantee, record)

    @rule(
        pick=st.integers(0, 15),
        patient_index=st.integers(0, 1),
        by_guardian=st.booleans(),
        grantee_index=st.integers(0, 1),
        record=st.sampled_from([WILDCARD, *RECORDS]),
    )
    def revoke(self, pick: int, patient_index: int, by_guardian: bool, grantee_index: int, record: bytes) -> None:
        """Mostly an existing grant (`pick` among them), otherwise the slot named by the other arguments."""
        existing = sorted(key for key, slot in self.model.grants.items() if slot.scopes)
        if existing and pick < 12:
            patient, grantee, record = existing[pick % len(existing)]
            patient_index = [p.address for p in self.world.patients].index(patient)
        else:
            patient = self.world.patients[patient_index].address
            grantee = self.world.grantees[grantee_index].address
        actor = self.actor(patient_index, by_guardian)
        client = self.world.client(actor)
        slot = self.model.slot(patient, grantee, record)
        if not self.model.may_act(patient, actor.address, self.now() + 1):
            with pytest.raises(errors.NotPatientOrGuardian) as refused:
                client.revoke(patient, grantee, record)
            assert refused.value.args == (patient, actor.address)
            return
        if slot.scopes == 0:
            event("revoke: no grant")
            with pytest.raises(errors.GrantNotFound) as missing:
                client.revoke(patient, grantee, record)
            assert missing.value.args == (patient, grantee, record)
            return
        event(f"revoke: by the {'guardian' if by_guardian else 'patient'}")
        client.revoke(patient, grantee, record)
        slot.scopes = slot.purposes = slot.valid_from = slot.valid_until = 0
        slot.version += 1
        self.check_slot(patient, grantee, record)

    @rule(patient_index=st.integers(0, 1), until_offset=st.sampled_from([0, 15, 60, 600]))
    def set_guardian(self, patient_index: int, until_offset: int) -> None:
        """The patient appoints (or, with 0, removes) the guardian."""
        patient = self.world.patients[patient_index]
        until = 0 if until_offset == 0 else self.now() + until_offset
        self.world.client(patient).set_guardian(self.world.guardian.address, until)
        self.model.guardian_until[(patient.address, self.world.guardian.address)] = until

    @rule(patient_index=st.integers(0, 1), account_index=st.integers(0, 1), reason=st.integers(1, 2**16 - 1))
    def break_glass(self, patient_index: int, account_index: int, reason: int) -> None:
        patient = self.world.patients[patient_index].address
        account = self.world.grantees[account_index]
        client = self.world.client(account)
        if account_index == 0:  # the plain grantee holds no break-glass role
            with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
                client.break_glass(patient, reason)
            assert exc.value.args == (account.address, self.world.role)
            return
        slot = self.model.slot(patient, account.address, WILDCARD)
        previous_until = slot.break_glass_until
        until = self.model.break_glass(patient, account.address, self.now() + 1)  # the transaction's block time
        if until is None:
            with pytest.raises(errors.BreakGlassLimitReached) as exc:
                client.break_glass(patient, reason)
            assert exc.value.args == (patient, account.address, previous_until + BREAK_GLASS_SECONDS)
            event("break-glass: run exhausted")
        else:
            receipt = client.break_glass(patient, reason)
            assert int(self.world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]) == self.now()
            assert client.events(receipt, "BreakGlassInvoked")[0]["validUntil"] == until
        self.check_slot(patient, account.address, WILDCARD)

    @rule(seconds=st.sampled_from([1, 3, 10, 30, 61]))
    def wait(self, seconds: int) -> None:
        before = self.now()
        assert time_travel(self.world.w3, seconds) == before + seconds == self.now()

    @rule(
        patient_index=st.integers(0, 1),
        grantee_index=st.integers(0, 1),
        record=st.sampled_from([WILDCARD, *RECORDS, keccak(text="a record nobody granted")]),
        scopes=st.integers(1, int(Scope.ALL)),
        purposes=st.integers(1, int(Purpose.ALL)),
    )
    def ask_has_access(self, patient_index: int, grantee_index: int, record: bytes, scopes: int, purposes: int) -> None:
        """hasAccess and accessBasis of any question, against the model."""
        question = (self.world.patients[patient_index].address, self.world.grantees[grantee_index].address, record)
        expected = self.model.basis(*question, scopes, purposes, self.now())
        assert self.reader.access_basis(*question, scopes, purposes) == expected
        assert self.reader.has_access(*question, scopes, purposes) is (expected != AccessBasis.NONE)

    # ---------------------------------------------------------------------- checks

    def check_slot(self, patient: str, grantee: str, record: bytes) -> None:
        grant = self.reader.get_grant(patient, grantee, record)
        actual = Slot(
            int(grant.scopes), int(grant.purposes), grant.valid_from, grant.valid_until, grant.version,
            grant.break_glass_until,
        )  # fmt: skip
        assert actual == self.model.slot(patient, grantee, record)

    @invariant()
    def views_match_the_model(self) -> None:
        now = self.now()
        answers = self.world.ask()
        for question, answer in zip(self.world.grid, answers, strict=False):
            assert AccessBasis(answer) == self.model.basis(*question, now), question
            event(f"grid answer: {AccessBasis(answer).name}")
        guardian = self.world.guardian.address
        for patient, answer in zip(self.world.patients, answers[len(self.world.grid) :], strict=True):
            assert bool(answer) is (now < self.model.guardian_until.get((patient.address, guardian), 0))


def test_consent_registry_follows_the_model(w3: Web3, deployment: Deployment, actors: Actors) -> None:
    accounts = w3.eth.accounts
    # A registry of its own with the shortest break-glass window, so that windows end within an example.
    address = deploy_contract(
        actors.admin, "ConsentRegistry", actors.admin.address, deployment.record_registry, BREAK_GLASS_SECONDS,
        artifacts_dir=ARTIFACTS,
    )  # fmt: skip
    governance = ConsentRegistryClient(w3, address, actors.admin)
    governance.grant_role("BREAK_GLASS_ROLE", actors.emergency.address)
    multicall = deploy_contract(actors.admin, "StaticMulticallMock", artifacts_dir=ARTIFACTS)
    ConsentMachine.world = World(
        w3=w3,
        consent_address=governance.address,
        patients=[Transactor(w3, UnlockedAccount(accounts[6])), Transactor(w3, UnlockedAccount(accounts[7]))],
        guardian=Transactor(w3, UnlockedAccount(accounts[8])),
        grantees=[actors.grantee, actors.emergency],
        role=governance.role("BREAK_GLASS_ROLE"),
        multicall=w3.eth.contract(address=multicall, abi=list(load_artifact("StaticMulticallMock", ARTIFACTS).abi)),
    )
    in_fresh_thread(lambda: run_state_machine_as_test(ConsentMachine))
