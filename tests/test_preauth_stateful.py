"""A Hypothesis state machine drives requests, decisions, information, cancellations, appeals, deadline flags,
claims, adjudications and time against a Python model of the rules: every action succeeds or fails exactly
as the model says, the chain's view of the request equals the model's, statuses only move along allowed
transitions, and claims never use more units than approved."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from eth_utils import keccak
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from radledger.chain import errors
from radledger.registries.preauth.types import (
    CMS_EXPEDITED_DECISION_SECONDS,
    CMS_STANDARD_DECISION_SECONDS,
    DAY,
    ClaimStatus,
    PreauthRequest,
    PreauthStatus,
)
from tests.preauth_support import (
    AUTO_POLICY,
    World,
    travel_to,
    world_base_fixture,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

S = PreauthStatus
ALLOWED = {
    (S.NONE, S.PENDED), (S.NONE, S.APPROVED),
    (S.PENDED, S.APPROVED), (S.PENDED, S.MODIFIED), (S.PENDED, S.DENIED), (S.PENDED, S.CANCELLED),
    (S.DENIED, S.APPEALED), (S.MODIFIED, S.APPEALED),
    (S.APPEALED, S.APPROVED), (S.APPEALED, S.MODIFIED), (S.APPEALED, S.DENIED), (S.APPEALED, S.CANCELLED),
}  # fmt: skip
"""Every status change the rules allow; anything else is a bug."""

POLICY = AUTO_POLICY
AMOUNT = 1_000


@dataclass
class ClaimModel:
    request_id: bytes
    units: int
    status: ClaimStatus = ClaimStatus.SUBMITTED


class PreauthLifecycle(RuleBasedStateMachine):
    world: World  # set by the test

    requests = Bundle("requests")
    claims = Bundle("claims")

    def __init__(self) -> None:
        super().__init__()
        self.snapshot = self.world.w3.testing.snapshot()
        self.model: dict[bytes, PreauthRequest] = {}
        self.claim_model: dict[bytes, ClaimModel] = {}
        self.claim_count = 0
        w = self.world
        self.license_until = {k.address: self._valid_until(k.address, w.license_schema) for k in (w.gold, w.licensed)}
        self.gold_until = self._valid_until(w.gold.address, w.gold_schema)

    def _valid_until(self, physician: str, schema: int) -> int:
        latest = self.world.creds.latest(physician, schema)
        assert latest is not None
        return latest.valid_until

    def teardown(self) -> None:
        self.world.w3.testing.revert(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def now(self) -> int:
        return self.world.now()

    def attempt(self, action: Any, expected: errors.ContractError | None) -> int:
        """Run `action`; it must fail with exactly `expected`, or succeed when None. Returns the block time."""
        if expected is None:
            action()
            return self.now()
        try:
            action()
        except errors.ContractError as exc:
            assert exc == expected, (exc, expected)
            return 0
        raise AssertionError(f"expected {expected!r}, the action succeeded")

    def record(self, rid: bytes, new: PreauthRequest) -> None:
        old = self.model.get(rid)
        before = old.status if old else S.NONE
        if new.status is not before:
            assert (before, new.status) in ALLOWED, (before, new.status)
        self.model[rid] = new
        assert self.world.as_site.get_request(rid) == new

    # -------------------------------------------------------------------- rules

    @rule(
        target=requests,
        gold=st.booleans(),
        units=st.integers(1, POLICY.max_units + 1),
        expedited=st.booleans(),
    )
    def request(self, gold: bool, units: int, expedited: bool) -> Any:
        w = self.world
        physician = w.gold if gold else w.licensed
        message = w.order(physician, units=units, expedited=expedited)
        at = self.now() + 1
        if at >= self.license_until[physician.address]:
            self.attempt(
                lambda: w.as_site.request(message, w.signature(message)),
                errors.PhysicianNotCredentialed(physician.address, w.license_schema),
            )
            return b""
        rid = w.as_site.request(message, w.signature(message))
        t = self.now()
        auto = gold and units <= POLICY.max_units and t < self.gold_until
        due = t + (CMS_EXPEDITED_DECISION_SECONDS if expedited else CMS_STANDARD_DECISION_SECONDS)
        self.record(
            rid,
            PreauthRequest(
                rid, w.site.address, w.payer.address, S.APPROVED if auto else S.PENDED, expedited, False, False,
                False, units, units if auto else 0, 0, t, due, t if auto else 0,
                t + POLICY.approval_validity_days * DAY if auto else 0, 0,
            ),
        )  # fmt: skip
        return rid

    def _pending_error(self, rid: bytes) -> errors.ContractError | None:
        status = self.model[rid].status
        return None if status.is_pending else errors.InvalidStatus(rid, int(status))

    @rule(rid=requests, action=st.sampled_from(["approve", "modify", "deny"]), units=st.integers(1, 3))
    def decide(self, rid: bytes, action: str, units: int) -> None:
        if not rid:
            return
        m = self.model[rid]
        payer = self.world.as_payer
        expected = self._pending_error(rid)
        if expected is None and action == "modify" and units >= m.units:
            expected = errors.InvalidApprovedUnits(rid, units, m.units)
        do = {
            "approve": lambda: payer.approve(rid),
            "modify": lambda: payer.modify(rid, units),
            "deny": lambda: payer.deny(rid, 1),
        }[action]
        t = self.attempt(do, expected)
        if not t:
            return
        on_appeal = m.status is S.APPEALED
        status = {"approve": S.APPROVED, "modify": S.MODIFIED, "deny": S.DENIED}[action]
        self.record(
            rid,
            replace(
                m,
                status=status,
                approved_units={"approve": m.units, "modify": units, "deny": 0}[action],
                information_requested=False,
                decided_at=t,
                expires_at=0 if status is S.DENIED else t + POLICY.approval_validity_days * DAY,
                appeal_by=0 if status is S.APPROVED or on_appeal else t + POLICY.appeal_window_seconds,
            ),
        )

    @rule(rid=requests)
    def request_information(self, rid: bytes) -> None:
        if rid and self.attempt(lambda: self.world.as_payer.request_information(rid, 2), self._pending_error(rid)):
            self.record(rid, replace(self.model[rid], information_requested=True))

    @rule(rid=requests)
    def provide_information(self, rid: bytes) -> None:
        if not rid:
            return
        expected = self._pending_error(rid)
        if expected is None and not self.model[rid].information_requested:
            expected = errors.NoInformationRequested(rid)
        if self.attempt(lambda: self.world.as_site.provide_information(rid, keccak(text="more")), expected):
            self.record(rid, replace(self.model[rid], information_requested=False))

    @rule(rid=requests)
    def cancel(self, rid: bytes) -> None:
        if rid and self.attempt(lambda: self.world.as_site.cancel(rid), self._pending_error(rid)):
            self.record(rid, replace(self.model[rid], status=S.CANCELLED))

    @rule(rid=requests)
    def appeal(self, rid: bytes) -> None:
        if not rid:
            return
        m = self.model[rid]
        expected: errors.ContractError | None = None
        if m.status not in (S.DENIED, S.MODIFIED):
            expected = errors.InvalidStatus(rid, int(m.status))
        elif m.appealed or self.now() + 1 > m.appeal_by or m.used_units:
            expected = errors.AppealNotAllowed(rid, m.appeal_by)
        t = self.attempt(lambda: self.world.as_site.appeal(rid, keccak(text="appeal")), expected)
        if t:
            due = t + POLICY.appeal_decision_seconds
            self.record(
                rid,
                replace(
                    m, status=S.APPEALED, appealed=True, deadline_missed=False, information_requested=False, due_at=due
                ),
            )

    @rule(rid=requests)
    def flag_missed_deadline(self, rid: bytes) -> None:
        if not rid:
            return
        m = self.model[rid]
        expected = self._pending_error(rid)
        if expected is None and (self.now() + 1 <= m.due_at or m.deadline_missed):
            expected = errors.DeadlineNotMissed(rid, m.due_at)
        if self.attempt(lambda: self.world.preauth(self.world.stranger).flag_missed_deadline(rid), expected):
            self.record(rid, replace(m, deadline_missed=True))

    @rule(target=claims, rid=requests, units=st.integers(1, 3))
    def submit_claim(self, rid: bytes, units: int) -> Any:
        if not rid:
            return b""
        m = self.model[rid]
        self.claim_count += 1
        cid = keccak(text=f"stateful claim {self.claim_count}")
        expected: errors.ContractError | None = None
        if m.status not in (S.APPROVED, S.MODIFIED):
            expected = errors.InvalidStatus(rid, int(m.status))
        elif self.now() + 1 >= m.expires_at:
            expected = errors.AuthorizationExpired(rid, m.expires_at)
        elif units > m.approved_units - m.used_units:
            expected = errors.InsufficientUnits(rid, units, m.approved_units - m.used_units)
        if not self.attempt(lambda: self.world.as_site.submit_claim(rid, cid, units, AMOUNT), expected):
            return b""
        self.claim_model[cid] = ClaimModel(rid, units)
        self.record(rid, replace(m, used_units=m.used_units + units))
        return cid

    @rule(
        cid=consumes(claims),
        outcome=st.sampled_from([ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED]),
    )
    def adjudicate(self, cid: bytes, outcome: ClaimStatus) -> None:
        if not cid:
            return
        claim = self.claim_model[cid]
        paid = {ClaimStatus.PAID: AMOUNT, ClaimStatus.PARTIALLY_PAID: AMOUNT // 3, ClaimStatus.DENIED: 0}[outcome]
        self.world.as_payer.adjudicate_claim(cid, outcome, paid, 1 if outcome is ClaimStatus.DENIED else 0)
        assert self.world.as_site.get_claim(cid).status is outcome
        claim.status = outcome
        if outcome is ClaimStatus.DENIED:
            m = self.model[claim.request_id]
            self.record(claim.request_id, replace(m, used_units=m.used_units - claim.units))

    @rule(seconds=st.sampled_from([3600, 3 * DAY + 1, 8 * DAY, 31 * DAY, 61 * DAY]))
    def time_passes(self, seconds: int) -> None:
        travel_to(self.world.w3, self.now() + seconds)

    # --------------------------------------------------------------- invariants

    @invariant()
    def claims_never_use_more_units_than_approved(self) -> None:
        for m in self.model.values():
            assert m.used_units >= 0
            if m.status in (S.APPROVED, S.MODIFIED):
                assert m.used_units <= m.approved_units
            claimed = sum(
                c.units
                for c in self.claim_model.values()
                if c.request_id == m.request_id and c.status is not ClaimStatus.DENIED
            )
            assert claimed == m.used_units


def test_the_request_and_claim_lifecycle_follows_the_model(world: World) -> None:
    long_run = os.environ.get("HYPOTHESIS_PROFILE") == "long"
    machine = type("Lifecycle", (PreauthLifecycle,), {"world": world})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=40 if long_run else 5, stateful_step_count=40 if long_run else 15),
    )
