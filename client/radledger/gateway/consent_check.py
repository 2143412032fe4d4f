"""Asking ConsentRegistry whether a grantee may see a study's images, with a short cache.

The patient comes from the gateway's own map (the Binding rule), never from the requester.
The question is `accessBasis(patient, grantee, recordId, IMAGES, purpose)`: a record grant, a
wildcard grant or break-glass (ETREAT) allows; anything else is refused with a reason read from
the grant slots (no consent, expired, not yet valid, purpose or scope not granted).

Answers, yes and no, are cached for `cache_seconds` (a few seconds): a revocation (or a new
grant) takes effect at the gateway within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis, Grant

NO_CONSENT = "no-consent"
CONSENT_EXPIRED = "consent-expired"
CONSENT_NOT_YET_VALID = "consent-not-yet-valid"
PURPOSE_NOT_GRANTED = "purpose-not-granted"
SCOPE_NOT_GRANTED = "scope-not-granted"
UNEXPLAINED = "not-allowed"
"""A refusal whose reason was not computed (search filtering)."""
NO_CONSENT_DETAIL = "the patient has not granted this requester access to this study"


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    basis: AccessBasis
    reason: str
    detail: str


CacheKey = tuple[str, str, bytes, int]


class ConsentChecker:
    def __init__(
        self,
        consent: ConsentRegistryClient,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        scope: Scope = Scope.IMAGES,
    ) -> None:
        self.consent = consent
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.scope = scope
        self._cache: dict[CacheKey, tuple[float, ConsentDecision]] = {}
        self._lock = threading.Lock()
        self.chain_queries = 0
        """How many decisions were asked of the chain (not served from the cache)."""
        self.explanations = 0
        """How many refusals were explained (three more node calls each)."""

    def check(
        self, patient: str, grantee: str, record_id: bytes, purpose: Purpose, explain: bool = True
    ) -> ConsentDecision:
        """The decision for one study. Without `explain` (search filtering) a refusal costs one
        node call and carries no reason: a search never shows one."""
        key: CacheKey = (patient, grantee, bytes(record_id), int(purpose))
        now = self.clock()
        cached = None
        if self.cache_seconds > 0:
            with self._lock:
                entry = self._cache.get(key)
            if entry is not None and entry[0] > now:
                cached = entry[1]
        if cached is not None and (cached.allowed or not explain or cached.reason != UNEXPLAINED):
            return cached
        decision = self._ask(patient, grantee, record_id, purpose) if cached is None else cached
        if not decision.allowed and explain:
            reason, detail = self._explain(patient, grantee, record_id, purpose)
            decision = ConsentDecision(False, AccessBasis.NONE, reason, detail)
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                expires = self._cache[key][0] if cached is not None and key in self._cache else now + self.cache_seconds
                self._cache[key] = (expires, decision)
        return decision

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def _ask(self, patient: str, grantee: str, record_id: bytes, purpose: Purpose) -> ConsentDecision:
        self.chain_queries += 1
        basis = self.consent.access_basis(patient, grantee, record_id, int(self.scope), int(purpose))
        if basis != AccessBasis.NONE:
            return ConsentDecision(True, basis, "allowed", basis.name.lower().replace("_", "-"))
        return ConsentDecision(False, AccessBasis.NONE, UNEXPLAINED, "")

    def _explain(self, patient: str, grantee: str, record_id: bytes, purpose: Purpose) -> tuple[str, str]:
        """Why no grant slot allows the access (the closest miss, record grant first)."""
        self.explanations += 1
        now = self.consent.now()
        slots: list[tuple[str, Grant]] = [
            ("record grant", self.consent.get_grant(patient, grantee, record_id)),
            ("wildcard grant", self.consent.get_grant(patient, grantee, WILDCARD)),
        ]
        wanted = purpose.name or str(int(purpose))
        for label, grant in slots:
            if grant.break_glass_until > now and purpose != Purpose.ETREAT:
                return PURPOSE_NOT_GRANTED, f"break-glass covers emergency treatment (ETREAT) only, not {wanted}"
            if not grant.scopes:
                continue
            if now < grant.valid_from:
                return CONSENT_NOT_YET_VALID, f"the {label} is valid from {grant.valid_from}"
            if now >= grant.valid_until:
                return CONSENT_EXPIRED, f"the {label} expired at {grant.valid_until}"
            if not grant.scopes & self.scope:
                return SCOPE_NOT_GRANTED, f"the {label} does not cover images"
            if not grant.purposes & purpose:
                granted = ",".join(p.name or "" for p in Purpose if p.name != "ALL" and p & grant.purposes)
                return PURPOSE_NOT_GRANTED, f"the {label} allows {granted}, not {wanted}"
        return NO_CONSENT, NO_CONSENT_DETAIL
