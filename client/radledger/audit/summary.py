"""An auditor's view of a deployment in one call: what the demo prints at its end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from web3 import Web3

from radledger.audit.exports import render_table
from radledger.audit.index import AuditIndex
from radledger.audit.metrics import metrics_table, payer_metrics
from radledger.audit.queries.accesses import access_trail, break_glass_events
from radledger.audit.queries.base import basis_name
from radledger.audit.queries.consent import who_could_access
from radledger.audit.queries.credentials import credential_history
from radledger.audit.queries.preauth import payer_requests
from radledger.audit.syncer import sync
from radledger.deployment.addresses import Deployment


def audit_summary(
    w3: Web3,
    deployment: Deployment,
    extra: Mapping[str, str] | None = None,
    index: AuditIndex | None = None,
) -> str:
    """Index every event of `deployment` (`extra` adds contracts, name → address) and tell what an
    auditor sees: the events, consents, the access trail, break-glass, credentials and payer
    metrics. Uses `index` when given, else an in-memory one."""
    target = deployment.with_contracts(extra) if extra else deployment
    own = index is None
    index = index or AuditIndex()
    try:
        report = sync(w3, index, target)
        return _render(index, report.summary())
    finally:
        if own:
            index.close()


def _render(index: AuditIndex, sync_line: str) -> str:
    lines = [f"Auditor's view (chain {index.chain_id}): {sync_line}", ""]
    counts = index.counts()
    lines.append("Events by contract:")
    by_contract: dict[str, list[str]] = {}
    for (contract, event), n in counts.items():
        by_contract.setdefault(contract or "?", []).append(f"{event or 'undecoded'} {n}")
    for contract, items in sorted(by_contract.items()):
        lines.append(f"  {contract}: " + ", ".join(items))

    granted = index.events(["ConsentGranted"], contract="ConsentRegistry")
    revoked = index.count("ConsentRevoked")
    patients = {r.args["patient"] for r in granted}
    by_guardian = sum(1 for r in granted if r.args["actor"] != r.args["patient"])
    lines += [
        "",
        f"Consents: {_count(len(granted), 'grant')} ({by_guardian} by guardians) for "
        f"{_count(len(patients), 'patient')}, {revoked} revoked",
    ]

    trail = access_trail(index)
    bases = Counter(basis_name(e.basis) for e in trail)
    lines.append(
        f"Access trail: {_count(len(trail), 'recorded access', 'recorded accesses')}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(bases.items())) + ")" if trail else "")
    )
    if trail:
        busiest = Counter(bytes(e.record_id) for e in trail).most_common(1)[0][0]
        report = who_could_access(index, busiest)
        lines.append(f"Who could access record 0x{busiest.hex()[:16]}... at the last synced block:")
        lines.append(
            _indent(
                render_table(report.rights, ["grantee", "basis", "scopes", "purposes", "valid_until", "by_guardian"])
            )
        )

    glass = break_glass_events(index)
    lines.append(f"Break-glass: {_count(len(glass), 'invocation')}")
    if glass:
        lines.append(
            _indent(render_table(glass, ["time", "patient", "account", "reason_code", "accesses_under_break_glass"]))
        )

    credentials = credential_history(index)
    if credentials:
        now = index.latest_time() or 0
        statuses = Counter(e.status_at(now).value for e in credentials)
        subjects = {bytes(e.subject) for e in credentials}
        lines.append(
            f"Credentials: {_count(len(credentials), 'attestation')} about {_count(len(subjects), 'subject')}; now: "
            + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        )
    cases = payer_requests(index)
    if cases:
        lines += ["", f"Prior authorization (CMS-0057-F metrics, {len(cases)} requests):"]
        lines.append(_indent(metrics_table(payer_metrics(cases, "all"))))
    return "\n".join(lines)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
