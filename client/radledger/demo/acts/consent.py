"""The imaging and consent acts of `radledger demo` (act 5).

The site checks the scanner's inspection and registers the MRI study and a safety profile; the patient
(no ETH) signs a consent for a teleradiology group, relayed by the site; before assigning the read the
site verifies the reader's license and board certification; the group checks and records its access;
the emergency department breaks the glass; the patient revokes and the group is refused.
"""

from __future__ import annotations

from radledger.chain import errors
from radledger.demo.data import TELERADIOLOGY_NAME
from radledger.demo.narration import check_lines, short, when
from radledger.demo.scene import Scene
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from radledger.registries.credentials.types import CredentialCheck, ReaderVerification
from radledger.registries.preauth.types import DAY
from radledger.registries.records.client import local_record_id

CONSENT_DAYS = 30
SHARED = Scope.IMAGES | Scope.REPORTS
"""What the patient shares with the teleradiology group."""
BREAK_GLASS_REASON = 1
BREAK_GLASS_REASON_TEXT = "unresponsive patient; contrast allergy status needed before a CT"


def imaging(scene: Scene) -> CredentialCheck:
    """The scanner's inspection checked before imaging, then the study and the safety profile registered."""
    story, scanner, patient = scene.story, scene.site.scanner, scene.patient
    equipment = scene.credentials(scene.actors.site).equipment_check(scanner.device_id, scene.schemas.mri_inspection)
    story.step(
        "imaging site", "checks the scanner's inspection is current before imaging (a view)", None,
        f"{scanner.manufacturer.split(' (')[0]} {scanner.model}, device {short(scanner.device_id)}: "
        f"{equipment.status.value}" + (f", until {when(equipment.state.valid_until)}" if equipment.state else ""),
    )  # fmt: skip
    records = scene.records(scene.actors.site)
    for record in scene.site.records:
        local_id = local_record_id(scene.site.site_salt, record.uid)
        receipt = records.register(local_id, patient.address, record.kind, record.content_hash)
        count = f"{len(record.instance_uids)} instances, " if record.instance_uids else ""
        story.step(
            "imaging site", f"registers the {record.label}", [receipt],
            f"record id {short(record.record_id)} = keccak256(site, keccak256(site salt, UID)); "
            "the UID stays at the site",
            f"content hash {short(record.content_hash)} over {count}{record.size_bytes:,} bytes",
        )  # fmt: skip
    return equipment


def consent_and_read(scene: Scene) -> ReaderVerification:
    """The patient's signed consent, relayed; the reader verified; the group checks and records its access.
    Returns the reader's verification."""
    story, a, patient, reader = scene.story, scene.actors, scene.patient, scene.site.reader
    study, profile = scene.site.records
    consent_site = scene.consent(a.site)
    now = consent_site.now()
    until = now + CONSENT_DAYS * DAY
    signed_grant = consent_site.sign_grant(
        patient, patient.address, a.teleradiology.address, study.record_id, SHARED, Purpose.TREAT, 0, until
    )
    story.step(
        "patient", "signs a consent offline (EIP-712; no ETH, no transaction)", None,
        f"grantee {TELERADIOLOGY_NAME} {short(a.teleradiology.address)}: images + reports of the MRI "
        f"{short(study.record_id)}, purpose TREAT, {CONSENT_DAYS} days",
        f"signature {short(signed_grant.signature)}, valid for relaying for "
        f"{(signed_grant.message['deadline'] - now) // 60} minutes",
    )  # fmt: skip
    receipt = consent_site.relay(signed_grant)
    story.step("imaging site", "relays the patient's signed consent (grantBySig) and pays the gas", [receipt])

    reader_before = scene.credentials(a.site).verify_reader(reader.address, scene.schemas.reader_requirements)
    story.step(
        "imaging site", "verifies the reader before assigning the read (verify_reader, views)", None,
        f"{reader.name} {short(reader.address)}: {'ok' if reader_before.ok else 'FAILED'}",
        *check_lines(scene.schema_names, reader_before),
    )  # fmt: skip

    consent_group = scene.consent(a.teleradiology)
    # binding: the record names the patient
    patient_of_study, _ = scene.records(a.site).patient_and_custodian_of(study.record_id)
    group = a.teleradiology.address
    basis = consent_group.access_basis(patient_of_study, group, study.record_id, SHARED, Purpose.TREAT)
    profile_allowed = consent_group.has_access(
        patient.address, a.teleradiology.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.TREAT
    )
    story.step(
        "teleradiology group", "checks its access (hasAccess, a view: no transaction)", None,
        f"MRI {short(study.record_id)}, images + reports for TREAT: "
        f"{'yes' if basis != AccessBasis.NONE else 'no'} ({basis.name})",
        f"safety profile {short(profile.record_id)}: {'yes' if profile_allowed else 'no'} (not in the consent)",
    )  # fmt: skip
    receipt = consent_group.record_access(a.teleradiology.address, study.record_id, SHARED, Purpose.TREAT)
    (event,) = consent_group.events(receipt, "AccessRecorded")
    story.step(
        "teleradiology group", "records its access on the trail (recordAccess)", [receipt],
        f"AccessRecorded: record {short(study.record_id)}, basis {AccessBasis(event['basis']).name}; "
        f"{reader.name.split(' (')[0]} reads the study",
    )  # fmt: skip
    return reader_before


def break_glass(scene: Scene) -> None:
    """The emergency department breaks the glass and records its access to the safety profile."""
    story, a, patient = scene.story, scene.actors, scene.patient
    profile = scene.site.records[1]
    consent_ed = scene.consent(a.emergency)
    receipt = consent_ed.break_glass(patient.address, BREAK_GLASS_REASON)
    (glass,) = consent_ed.events(receipt, "BreakGlassInvoked")
    story.step(
        "emergency department", "breaks the glass", [receipt],
        f"reason code {BREAK_GLASS_REASON} ({BREAK_GLASS_REASON_TEXT})",
        f"all records of the patient, ETREAT, for {(glass['validUntil'] - consent_ed.now()) // 3600} h, evented",
    )  # fmt: skip
    receipt = consent_ed.record_access(a.emergency.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.ETREAT)
    (event,) = consent_ed.events(receipt, "AccessRecorded")
    story.step(
        "emergency department", "records its emergency access to the safety profile", [receipt],
        f"AccessRecorded: record {short(profile.record_id)}, purpose ETREAT, basis {AccessBasis(event['basis']).name}",
    )  # fmt: skip


def revocation(scene: Scene) -> errors.ContractError:
    """The patient revokes (signed, relayed); the group's next access is refused. Returns the decoded refusal."""
    story, a, patient = scene.story, scene.actors, scene.patient
    study = scene.site.records[0]
    consent_site = scene.consent(a.site)
    signed_revoke = consent_site.sign_revoke(patient, patient.address, a.teleradiology.address, study.record_id)
    story.step(
        "patient", "signs a revocation offline", None,
        f"the grant of {short(a.teleradiology.address)} on {short(study.record_id)}",
    )  # fmt: skip
    receipt = consent_site.relay(signed_revoke)
    story.step("imaging site", "relays the revocation (revokeBySig)", [receipt])
    denied = _refused(scene.consent(a.teleradiology), a.teleradiology.address, study.record_id, SHARED)
    story.step(
        "teleradiology group", "tries to record another access: refused before any transaction", None,
        f"{denied.error_name}(patient={short(denied.values['patient'])}, grantee={short(denied.values['grantee'])}, "
        f"recordId={short(denied.values['recordId'])}, scopes={denied.values['scopes']}, "
        f"purpose={denied.values['purpose']})",
    )  # fmt: skip
    return denied


def _refused(consent: ConsentRegistryClient, grantee: str, rid: bytes, scopes: Scope) -> errors.ContractError:
    try:
        consent.record_access(grantee, rid, scopes, Purpose.TREAT)
    except errors.AccessDenied as exc:
        return exc
    raise errors.RadledgerError("the demo expected AccessDenied after the revocation, but the access was recorded")
