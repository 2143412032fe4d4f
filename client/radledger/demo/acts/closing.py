"""The closing of `radledger demo` (act 8 and the summary): the auditor's view of every event and the
payer's CMS-0057-F metrics, then what the chain holds and what stayed at the site."""

from __future__ import annotations

from radledger.audit.summary import audit_summary
from radledger.demo.data import MRI_BRAIN, PACS_STORAGE
from radledger.demo.narration import dollars, short, status_text, units_text, when
from radledger.demo.result import DemoResult
from radledger.demo.scene import Scene


def auditors_view(scene: Scene) -> str:
    """Sync every event into an in-memory index and print the auditor's view; returns its text."""
    audit = audit_summary(scene.w3, scene.deployment)
    for line in audit.splitlines():
        scene.story.say(f"  {line}".rstrip())
    return audit


def summary(scene: Scene, result: DemoResult) -> None:
    """What the story cost, what the chain holds and what stayed at the site."""
    story, site_actor = scene.story, scene.actors.site
    records, consent = scene.records(site_actor), scene.consent(site_actor)
    creds, preauth = scene.credentials(site_actor), scene.preauth(site_actor)
    w3 = result.w3
    site = result.site
    logs = sum(len(r["logs"]) for r in story.receipts)
    transactions = len(result.tx_hashes)
    study, profile = site.records
    grant = consent.get_grant(result.accounts.patient, result.accounts.teleradiology, study.record_id)
    say = story.say
    story.part("Summary")
    say(f"Total: {transactions} transactions, {result.total_gas:,} gas, {logs} events. The patient's account holds "
        f"{result.patient_balance} ETH and sent {result.patient_transactions} transactions: its two signatures were "
        "relayed by the site; the ordering physicians' signatures went in the site's requests.")  # fmt: skip
    say()
    say("What the chain holds (public, tamper-evident):")
    gateway = records.get_custodian(result.accounts.site).gateway_url
    say(f"  - a custodian and the public URL of its gateway ({gateway})")
    for record in site.records:
        on_chain = records.get_record(record.record_id)
        say(f"  - record {short(record.record_id)}: patient {short(on_chain.patient)}, {on_chain.kind.name}, "
            f"version {on_chain.version}, content hash {short(on_chain.content_hash)}")  # fmt: skip
    say(f"  - the group's grant slot: scopes {int(grant.scopes)} (revoked), version {grant.version}")
    revocation = result.license_revocation
    state = creds.get_attestation(revocation.uid)
    say(f"  - {creds.schema_count()} credential schemas and their issuers; attestations about physicians' "
        "addresses and a device id, documents only by SHA-256")  # fmt: skip
    say(f"  - the reader's license {short(revocation.uid)} revoked at {when(state.revoked_at)} "
        f"(reason {revocation.reason_code}, in the event)")  # fmt: skip
    for request in (result.auto_request, result.pended_request, result.late_request):
        now = preauth.get_request(request.request_id)
        flags = "; appealed" if now.appealed else ""
        flags += "; deadline missed (flagged)" if now.deadline_missed else ""
        say(f"  - prior authorization {short(request.request_id)}: CPT {MRI_BRAIN}, {status_text(now)}, "
            f"{units_text(now.approved_units)} approved, {now.used_units} used{flags}; salted member and clinical "
            "commitments")  # fmt: skip
    say(f"  - claim {short(result.claim.claim_id)}: {units_text(result.claim.units)}, {dollars(result.claim.amount)}, "
        f"{result.claim.status.name}; nothing of the refused claim {short(result.refused_claim_id)}")  # fmt: skip
    say(
        "  - the trail: RecordRegistered, ConsentGranted, AccessRecorded, BreakGlassInvoked, ConsentRevoked, "
        "CredentialAttested, CredentialRevoked,"
    )
    say("    PreauthRequested, InformationRequested, InformationProvided, PreauthDecided, PreauthAppealed, "
        "DeadlineMissed, ClaimSubmitted, ClaimAdjudicated events")  # fmt: skip
    say("  pseudonymous addresses, salted ids and commitments, content hashes: no name, no UID, no file, no member "
        "id, no diagnosis, no serial number")  # fmt: skip
    say()
    say(f"What stayed at {site.site_name}:")
    say("  - the site salt (secret) and the map from UIDs to record ids:")
    for record in site.records:
        say(f"      {record.uid} -> {short(record.record_id)}")
    say(f"  - {len(study.instance_uids)} SOP instance UIDs and {len(study.local_paths) + len(profile.local_paths)} "
        f"files ({study.size_bytes + profile.size_bytes:,} bytes) under {PACS_STORAGE}")  # fmt: skip
    say(f"  - the patient's identity ({site.patient_name}, {site.patient_mrn}) and the allergy itself")
    requests = (result.auto_request, result.pended_request, result.late_request)
    for case, request in zip(site.cases, requests, strict=True):
        documents = "the referral note" if len(case.documents) == 1 else f"{len(case.documents)} documents"
        say(f"  - the opening of {short(request.request_id)} ({len(case.opening.clinical)} clinical "
            f"{'entry' if len(case.opening.clinical) == 1 else 'entries'}): member {case.member_id}, diagnoses "
            f"{', '.join(case.diagnoses)}, the salts and {documents}")  # fmt: skip
    say(f"  - the claim files (837, {len(site.claim_file)} and {len(site.second_claim_file)} bytes) and their salts")
    say("  - the physicians' identities (their addresses are the credential subjects on chain):")
    for physician in site.physicians:
        say(f"      {physician.name}, {physician.role} -> {short(physician.address)}")
    say(f"  - the scanner's serial number ({site.scanner.manufacturer.split(' (')[0]} {site.scanner.model}, "
        f"{site.scanner.serial}) in the equipment inventory")  # fmt: skip
    say(f"  - the PACS ({site.pacs_url}), reachable only through the gateway")
    say()
    say(f"chain id {w3.eth.chain_id}, blocks {result.first_block + 1} to {result.last_block}")
