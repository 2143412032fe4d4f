"""Auditor tooling: an SQLite index of every event of a deployment, queries over it, CSV / JSON Lines /
FHIR exports and payer prior-authorization metrics. See docs/auditing.md.

    index = AuditIndex("audit.sqlite")
    sync(w3, index, Deployment.from_manifest("deployments/11155111.json"), progress=True)
    who_could_access(index, record_id, at=timestamp).rights
    print(audit_summary(w3, deployment))          # the demo's closing auditor's view
"""

from __future__ import annotations

from radledger.audit.index import AuditIndex, EventRow, NotInIndex
from radledger.audit.queries.accesses import access_trail, break_glass_events
from radledger.audit.queries.consent import consent_history, who_could_access
from radledger.audit.queries.credentials import credential_history, credential_standing
from radledger.audit.queries.preauth import payer_requests
from radledger.audit.summary import audit_summary
from radledger.audit.syncer import SyncReport, sync

__all__ = [
    "AuditIndex",
    "EventRow",
    "NotInIndex",
    "SyncReport",
    "access_trail",
    "audit_summary",
    "break_glass_events",
    "consent_history",
    "credential_history",
    "credential_standing",
    "payer_requests",
    "sync",
    "who_could_access",
]
