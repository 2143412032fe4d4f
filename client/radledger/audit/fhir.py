"""FHIR ``Consent`` and ``AuditEvent`` resources from the index (R5 or R4B, built and validated with fhir.resources).

Pseudonymous only: the chain knows no names, and neither do these resources. Every party is a
logical reference by identifier (a CAIP-10 account id, ``eip155:<chainId>:<address>``), every
record by its salted record id; each resource carries the provenance of its event as an
identifier (``eip155:<chainId>:<tx hash>:<log index>``) so anyone can check it on the chain.

- :func:`consent_resources`: one ``Consent`` per ``ConsentGranted`` (status ``active`` while it is
  the slot's current grant and not expired, else ``inactive``): subject, grantor (the patient or a
  guardian), grantee, period, purposes of use (HL7 v3 ActReason), the data classes as resource
  types (images: ImagingStudy, reports: DiagnosticReport, safety profile: AllergyIntolerance and
  Device), and the record (absent for the wildcard).
- :func:`audit_event_resources`: one ``AuditEvent`` per ``AccessRecorded`` following the IHE Basic Audit
  Log Patterns (BALP 1.1) *Privacy Disclosure at the Source* pattern
  (``IHE.BasicAudit.PrivacyDisclosure.Source``): who disclosed (the record's custodian, agent "Source Role
  ID" DICOM 110153, and custodian CST), what (the record, and its patient), to whom (the grantee, agent
  "Destination Role ID" DICOM 110152, information recipient IRCP, the requestor), for which purpose
  (``purposeOfEvent`` in R4B, ``authorization`` in R5), typed DICOM 110106 "Export" with the ISO 21089
  lifecycle event "disclose". The R4B resource claims the BALP profile in ``meta.profile``; BALP is an
  R4 guide, so the R5 resource carries the same codes in R5's places (``category`` Export, ``code``
  disclose) and claims no profile. One more per ``BreakGlassInvoked`` (DICOM "Security Alert" /
  "Emergency Override Started", ETREAT, the reason code as detail, its window as the period).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from radledger.audit.index import AuditIndex, EventRow
from radledger.audit.queries.base import CONSENT, RECORDS, basis_name, hex0x
from radledger.audit.queries.consent import record_registration
from radledger.chain.errors import ValidationError
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.types import AccessBasis

FHIR_VERSIONS = ("R5", "R4B")
ACCOUNT_SYSTEM = "https://chainagnostic.org/CAIPs/caip-10"
RECORD_SYSTEM = "urn:radledger:record-id"
EVENT_SYSTEM = "urn:radledger:event"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"
MAX_FHIR_TIME = 253402300799  # 9999-12-31T23:59:59Z


def _models(version: str) -> tuple[Any, Any, Any]:
    """The Consent, AuditEvent and Bundle models of `version` (fhir.resources: R5 at the top, R4B below)."""
    packages = {"R5": "fhir.resources", "R4B": "fhir.resources.R4B"}
    if version not in packages:
        raise ValidationError(f"FHIR version {version!r}: one of {', '.join(FHIR_VERSIONS)}")
    base = packages[version]
    return (
        import_module(f"{base}.consent").Consent,
        import_module(f"{base}.auditevent").AuditEvent,
        import_module(f"{base}.bundle").Bundle,
    )


def _time(timestamp: int) -> str:
    return datetime.fromtimestamp(min(timestamp, MAX_FHIR_TIME), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period(start: int | None, end: int | None) -> dict[str, str]:
    period = {}
    if start:
        period["start"] = _time(start)
    if end is not None and end <= MAX_FHIR_TIME:
        period["end"] = _time(end)
    return period


def account(chain_id: int, address: str, kind: str | None = None) -> dict[str, Any]:
    """A logical reference to an account: its CAIP-10 id, never a name."""
    ref: dict[str, Any] = {"identifier": {"system": ACCOUNT_SYSTEM, "value": f"eip155:{chain_id}:{address}"}}
    if kind:
        ref["type"] = kind
    return ref


def record(record_id: bytes) -> dict[str, Any]:
    return {"identifier": {"system": RECORD_SYSTEM, "value": hex0x(record_id)}}


def provenance(chain_id: int, row: EventRow) -> dict[str, str]:
    return {"system": EVENT_SYSTEM, "value": f"eip155:{chain_id}:{row.tx_hash}:{row.log_index}"}


def _purposes(purposes: int) -> list[dict[str, str]]:
    return [{"system": ACT_REASON, "code": p.name or ""} for p in Purpose if p.name != "ALL" and int(p) & purposes]


_RESOURCE_TYPES = {
    Scope.IMAGES: ("ImagingStudy",),
    Scope.REPORTS: ("DiagnosticReport",),
    Scope.SAFETY_PROFILE: ("AllergyIntolerance", "Device"),
}


def _resource_types(scopes: int, system: str) -> list[dict[str, str]]:
    return [{"system": system, "code": t} for s, types in _RESOURCE_TYPES.items() if int(s) & scopes for t in types]


def _resource_id(prefix: str, row: EventRow) -> str:
    return f"{prefix}-{row.block_number}-{row.log_index}"


# ------------------------------------------------------------------------------- Consent


def consent_resources(
    index: AuditIndex, patient: str | None = None, version: str = "R5", now: int | None = None
) -> list[Any]:
    """One validated ``Consent`` per grant (of `patient`, or of everyone) made by `now` (default: the last
    synced block), ``active`` if it is still its slot's grant at `now` and not expired."""
    consent_model, _, _ = _models(version)
    chain_id = index.chain_id or 0
    when = now if now is not None else (index.latest_time() or 0)
    where = {"t1": patient} if patient else None
    rows = index.events(["ConsentGranted", "ConsentRevoked"], contract=CONSENT, where=where, until=when + 1)
    last: dict[tuple[str, str, bytes], EventRow] = {}
    for row in rows:
        last[(row.args["patient"], row.args["grantee"], row.args["recordId"])] = row
    out = []
    for row in rows:
        if row.event != "ConsentGranted":
            continue
        a = row.args
        current = last[(a["patient"], a["grantee"], a["recordId"])] is row and when < a["validUntil"]
        status = "active" if current else "inactive"
        builder = _consent_r5 if version == "R5" else _consent_r4b
        out.append(consent_model.model_validate(builder(chain_id, row, status)))
    return out


def consent_resource(chain_id: int, row: EventRow, status: str = "active", version: str = "R5") -> Any:
    """The validated ``Consent`` of one ``ConsentGranted`` event row (a patient's consent receipt, say)."""
    consent_model, _, _ = _models(version)
    builder = _consent_r5 if version == "R5" else _consent_r4b
    return consent_model.model_validate(builder(chain_id, row, status))


def _consent_common(chain_id: int, row: EventRow, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": _resource_id("consent", row),
        "identifier": [provenance(chain_id, row)],
        "status": status,
        "category": [{"coding": [{"system": LOINC, "code": "59284-0", "display": "Consent Document"}]}],
    }


def _grantor_kind(row: EventRow) -> str:
    return "Patient" if row.args["actor"] == row.args["patient"] else "RelatedPerson"


def _provision(chain_id: int, row: EventRow, types: tuple[str, str], **first: Any) -> dict[str, Any]:
    """The permit a grant gives (R5 and R4B alike, but for `first` fields and the resource types
    field and system `types`)."""
    a = row.args
    provision: dict[str, Any] = {
        **first,
        "period": _period(a["validFrom"] or row.timestamp, a["validUntil"]),
        "actor": [
            {
                "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
                "reference": account(chain_id, a["grantee"]),
            }
        ],
        "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}]}],
        "purpose": _purposes(a["purposes"]),
        types[0]: _resource_types(a["scopes"], types[1]),
    }
    if a["recordId"] != WILDCARD:
        provision["data"] = [{"meaning": "instance", "reference": record(a["recordId"])}]
    return provision


def _consent_r5(chain_id: int, row: EventRow, status: str) -> dict[str, Any]:
    a = row.args
    start = a["validFrom"] or row.timestamp
    provision = _provision(chain_id, row, ("resourceType", "http://hl7.org/fhir/fhir-types"))
    return {
        **_consent_common(chain_id, row, status),
        "subject": account(chain_id, a["patient"], "Patient"),
        "date": _time(row.timestamp)[:10],
        "grantor": [account(chain_id, a["actor"], _grantor_kind(row))],
        "grantee": [account(chain_id, a["grantee"])],
        "period": _period(start, a["validUntil"]),
        "decision": "permit",
        "provision": [provision],
    }


def _consent_r4b(chain_id: int, row: EventRow, status: str) -> dict[str, Any]:
    a = row.args
    provision = _provision(chain_id, row, ("class", "http://hl7.org/fhir/resource-types"), type="permit")
    return {
        **_consent_common(chain_id, row, status),
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "patient": account(chain_id, a["patient"], "Patient"),
        "dateTime": _time(row.timestamp),
        "performer": [account(chain_id, a["actor"], _grantor_kind(row))],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision,
    }


# ---------------------------------------------------------------------------- AuditEvent


def audit_event_resources(
    index: AuditIndex,
    since: int | None = None,
    until: int | None = None,
    patient: str | None = None,
    record_id: bytes | None = None,
    version: str = "R5",
) -> list[Any]:
    """One validated ``AuditEvent`` per recorded access and per break-glass, oldest first."""
    _, audit_model, _ = _models(version)
    chain_id = index.chain_id or 0
    observer = index.address_of(CONSENT) or ""
    rows = index.events(["AccessRecorded", "BreakGlassInvoked"], contract=CONSENT, since=since, until=until)
    custodians = {
        bytes(r.args["recordId"]): str(r.args["custodian"])
        for r in index.events(["RecordRegistered"], contract=RECORDS)
    }
    if record_id is not None:
        rid = bytes(record_id)
        owner = record_registration(index, rid).args["patient"]
        rows = [
            r
            for r in rows
            if (r.event == "AccessRecorded" and r.args["recordId"] == rid)
            or (r.event == "BreakGlassInvoked" and r.args["patient"] == owner)
        ]
    if patient is not None:
        rows = [r for r in rows if r.args["patient"] == patient]
    out = []
    for row in rows:
        if row.event == "AccessRecorded":
            access = _access_r5 if version == "R5" else _access_r4b
            document = access(chain_id, observer, row, custodians.get(bytes(row.args["recordId"])))
        else:
            glass = _glass_r5 if version == "R5" else _glass_r4b
            document = glass(chain_id, observer, row)
        out.append(audit_model.model_validate(document))
    return out


def _observer(chain_id: int, contract: str) -> dict[str, Any]:
    return {**account(chain_id, contract, "Device"), "display": "radledger ConsentRegistry"}


_SOURCE_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OUTCOME_SUCCESS = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-outcome", "code": "0"}


BALP_DISCLOSURE_SOURCE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source"
"""IHE BALP 1.1: a privacy disclosure, recorded at (or for) the source that disclosed."""
_EXPORT = {"system": DCM, "code": "110106", "display": "Export"}
_DISCLOSE = {"system": "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "code": "disclose"}
_SOURCE_ROLE = {"system": DCM, "code": "110153", "display": "Source Role ID"}
_DESTINATION_ROLE = {"system": DCM, "code": "110152", "display": "Destination Role ID"}
_CUSTODIAN = {"system": PARTICIPATION, "code": "CST", "display": "custodian"}
_RECIPIENT = {"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}


def _access_agents(chain_id: int, a: dict[str, Any], version: str, custodian: str | None) -> list[dict[str, Any]]:
    """BALP's disclosure agents: the recipient (the grantee, who asked) and the source (the custodian)."""
    recipient: dict[str, Any] = {
        "type": {"coding": [_DESTINATION_ROLE, _RECIPIENT]},
        "who": account(chain_id, a["grantee"]),
        "requestor": True,
    }
    if version == "R4B":
        recipient["purposeOfUse"] = [{"coding": _purposes(a["purpose"])}]
    agents = [recipient]
    source = custodian or (a["recorder"] if a["recorder"] != a["grantee"] else None)
    if source is not None:
        agents.append(
            {
                "type": {"coding": [_SOURCE_ROLE, _CUSTODIAN]},
                "who": account(chain_id, source, "Organization"),
                "requestor": False,
            }
        )
    return agents


def _access_entities(chain_id: int, row: EventRow, detail_key: str) -> list[dict[str, Any]]:
    a = row.args
    return [
        {
            "what": record(a["recordId"]),
            "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            "detail": [{"type": _detail_type(detail_key, "basis"), "valueString": basis_name(AccessBasis(a["basis"]))}],
        },
        {
            "what": account(chain_id, a["patient"], "Patient"),
            "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"},
        },
    ]


def _detail_type(version_key: str, text: str) -> Any:
    # R5: detail.type is a CodeableConcept; R4B: a string.
    return {"text": text} if version_key == "R5" else text


def _access_r5(chain_id: int, observer: str, row: EventRow, custodian: str | None) -> dict[str, Any]:
    a = row.args
    entities = _access_entities(chain_id, row, "R5")
    for entity in entities:
        entity["role"] = {"coding": [entity["role"]]}
    return {
        "resourceType": "AuditEvent",
        "id": _resource_id("access", row),
        "category": [{"coding": [_EXPORT]}],
        "code": {"coding": [_DISCLOSE]},
        "action": "R",
        "recorded": _time(row.timestamp),
        "outcome": {"code": _OUTCOME_SUCCESS},
        "authorization": [{"coding": _purposes(a["purpose"])}],
        "patient": account(chain_id, a["patient"], "Patient"),
        "agent": _access_agents(chain_id, a, "R5", custodian),
        "source": {"observer": _observer(chain_id, observer), "type": [{"coding": [_SOURCE_TYPE]}]},
        "entity": [*entities, _event_entity(chain_id, row, "R5")],
    }


def _access_r4b(chain_id: int, observer: str, row: EventRow, custodian: str | None) -> dict[str, Any]:
    a = row.args
    entities = _access_entities(chain_id, row, "R4B")
    entities[0]["type"] = {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"}
    entities[1]["type"] = {"system": _ENTITY_TYPE, "code": "1", "display": "Person"}
    return {
        "resourceType": "AuditEvent",
        "id": _resource_id("access", row),
        "meta": {"profile": [BALP_DISCLOSURE_SOURCE]},
        "type": _EXPORT,
        "subtype": [_DISCLOSE],
        "action": "R",
        "recorded": _time(row.timestamp),
        "outcome": "0",
        "purposeOfEvent": [{"coding": _purposes(a["purpose"])}],
        "agent": _access_agents(chain_id, a, "R4B", custodian),
        "source": {"observer": _observer(chain_id, observer), "type": [_SOURCE_TYPE]},
        "entity": [*entities, _event_entity(chain_id, row, "R4B")],
    }


def _event_entity(chain_id: int, row: EventRow, version: str) -> dict[str, Any]:
    """The chain event itself, so the resource can be checked against the chain."""
    role = {"system": _OBJECT_ROLE, "code": "20", "display": "Job"}
    return {
        "what": {"identifier": provenance(chain_id, row)},
        "role": {"coding": [role]} if version == "R5" else role,
        "detail": [
            {"type": _detail_type(version, "block"), "valueString": f"{row.block_number} {row.block_hash}"},
        ],
    }


def _glass_agents(chain_id: int, a: dict[str, Any], version: str) -> list[dict[str, Any]]:
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
        "who": account(chain_id, a["account"]),
        "requestor": True,
    }
    if version == "R4B":
        agent["purposeOfUse"] = [{"coding": _purposes(int(Purpose.ETREAT))}]
    return [agent]


def _glass_entities(chain_id: int, row: EventRow, version: str) -> list[dict[str, Any]]:
    a = row.args
    role = {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"}
    detail: dict[str, Any] = {"type": _detail_type(version, "reason code")}
    if version == "R5":
        detail["valueInteger"] = int(a["reasonCode"])
    else:
        detail["valueString"] = str(a["reasonCode"])
    return [
        {
            "what": account(chain_id, a["patient"], "Patient"),
            "role": {"coding": [role]} if version == "R5" else role,
            "detail": [detail],
        },
        _event_entity(chain_id, row, version),
    ]


_SECURITY_ALERT = {"system": DCM, "code": "110113", "display": "Security Alert"}
_OVERRIDE_STARTED = {"system": DCM, "code": "110127", "display": "Emergency Override Started"}


def _glass_r5(chain_id: int, observer: str, row: EventRow) -> dict[str, Any]:
    a = row.args
    return {
        "resourceType": "AuditEvent",
        "id": _resource_id("break-glass", row),
        "category": [{"coding": [_SECURITY_ALERT]}],
        "code": {"coding": [_OVERRIDE_STARTED]},
        "action": "E",
        "occurredPeriod": _period(row.timestamp, a["validUntil"]),
        "recorded": _time(row.timestamp),
        "outcome": {"code": _OUTCOME_SUCCESS},
        "authorization": [{"coding": _purposes(int(Purpose.ETREAT))}],
        "patient": account(chain_id, a["patient"], "Patient"),
        "agent": _glass_agents(chain_id, a, "R5"),
        "source": {"observer": _observer(chain_id, observer), "type": [{"coding": [_SOURCE_TYPE]}]},
        "entity": _glass_entities(chain_id, row, "R5"),
    }


def _glass_r4b(chain_id: int, observer: str, row: EventRow) -> dict[str, Any]:
    a = row.args
    return {
        "resourceType": "AuditEvent",
        "id": _resource_id("break-glass", row),
        "type": _SECURITY_ALERT,
        "subtype": [_OVERRIDE_STARTED],
        "action": "E",
        "period": _period(row.timestamp, a["validUntil"]),
        "recorded": _time(row.timestamp),
        "outcome": "0",
        "purposeOfEvent": [{"coding": _purposes(int(Purpose.ETREAT))}],
        "agent": _glass_agents(chain_id, a, "R4B"),
        "source": {"observer": _observer(chain_id, observer), "type": [_SOURCE_TYPE]},
        "entity": _glass_entities(chain_id, row, "R4B"),
    }


# --------------------------------------------------------------------------------- Bundle


def bundle(resources: Iterable[Any], version: str = "R5", now: int | None = None) -> Any:
    """A validated ``collection`` Bundle of `resources`."""
    _, _, bundle_model = _models(version)
    entries = [{"resource": json.loads(r.model_dump_json())} for r in resources]
    doc: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if now is not None:
        doc["timestamp"] = _time(now)
    return bundle_model.model_validate(doc)


def write_bundle(resources: Iterable[Any], out: Path, version: str = "R5", now: int | None = None) -> int:
    """Write `resources` as a Bundle (JSON) to `out`; returns how many."""
    made = bundle(resources, version, now)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(made.model_dump_json(indent=2) + "\n")
    return len(made.entry or [])


def parse_resource(document: dict[str, Any], version: str = "R5") -> Any:
    """Validate a JSON resource (Consent, AuditEvent or Bundle) with fhir.resources; raises on invalid."""
    consent_model, audit_model, bundle_model = _models(version)
    models = {"Consent": consent_model, "AuditEvent": audit_model, "Bundle": bundle_model}
    kind = document.get("resourceType")
    if kind not in models:
        raise ValidationError(f"not a Consent, AuditEvent or Bundle: {kind!r}")
    return models[kind].model_validate(document)
