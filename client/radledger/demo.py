"""`radledger demo`: the consent story end to end on the embedded in-process chain.

Nothing but the Python package is needed (no node, no compiler). Every person, site and
identifier in it is synthetic. The story:

1. governance deploys the contracts, registers an imaging site as custodian (with the public
   URL of its gateway) and gives an emergency department the break-glass role;
2. the site registers an MRI study and a safety profile (contrast allergy) of a patient, with
   record ids salted at the site and content hashes of the (synthetic) instance files;
3. the patient, whose account holds no ETH, signs a consent for a teleradiology group offline;
   the site relays it and pays the gas;
4. the group checks its access and puts its access on the trail;
5. the emergency department breaks the glass and records an emergency access to the safety profile;
6. the patient signs a revocation, relayed by the site; the group's next access is refused.

:func:`run_demo` prints the account and returns a :class:`DemoResult` for tests to inspect.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3
from web3.types import TxReceipt

from radledger import errors
from radledger.chain import DEFAULT_START_TIMESTAMP, in_process_chain
from radledger.consent import ConsentRegistryClient
from radledger.content_hash import content_hash
from radledger.deploy import Deployment, deploy_core
from radledger.models import AccessBasis, Purpose, RecordKind, Scope
from radledger.records import RecordRegistryClient, record_id
from radledger.signers import KeySigner, UnlockedAccount
from radledger.transactions import Transactor

SITE_NAME = "Northside Imaging Centre (synthetic)"
GATEWAY_URL = "https://gateway.northside-imaging.example/dicomweb"
PACS_URL = "http://pacs.northside.internal:8042/dicom-web"
PACS_STORAGE = "/srv/pacs/northside"
PATIENT_NAME = "Patient P-0001 (synthetic)"
PATIENT_MRN = "MRN-SYN-000001"
TELERADIOLOGY_NAME = "Harbour Teleradiology Group (synthetic)"
EMERGENCY_NAME = "Riverside Emergency Department (synthetic)"
CONSENT_DAYS = 30
BREAK_GLASS_REASON = 1
BREAK_GLASS_REASON_TEXT = "unresponsive patient; contrast allergy status needed before a CT"
MRI_SERIES = ("T1 sagittal", "T2 axial", "FLAIR axial")
INSTANCES_PER_SERIES = 4


@dataclass(frozen=True)
class SyntheticRecord:
    """A record as the site holds it: identifiers that stay local, and the pointer that goes on chain."""

    label: str
    kind: RecordKind
    uid: str
    """StudyInstanceUID (for the safety profile: the document's own UID). Stays at the site."""
    instance_uids: tuple[str, ...]
    local_paths: tuple[str, ...]
    size_bytes: int
    record_id: bytes
    content_hash: bytes


@dataclass(frozen=True)
class SiteLocalData:
    """What stayed at the site: the salt, the UID map, the files and the patient's identity."""

    site_name: str
    patient_name: str
    patient_mrn: str
    site_salt: bytes = field(repr=False)
    pacs_url: str
    records: tuple[SyntheticRecord, ...]

    def plain_identifiers(self) -> tuple[str, ...]:
        """Every plain identifier of the story: none of them may reach the chain."""
        out = [self.patient_name, self.patient_mrn, self.pacs_url]
        for record in self.records:
            out += [record.uid, f"{self.pacs_url}/studies/{record.uid}", *record.instance_uids, *record.local_paths]
        return tuple(out)


@dataclass(frozen=True)
class DemoAccounts:
    governance: ChecksumAddress
    site: ChecksumAddress
    teleradiology: ChecksumAddress
    emergency: ChecksumAddress
    patient: ChecksumAddress


@dataclass(frozen=True)
class DemoStep:
    number: int
    actor: str
    action: str
    gas_used: int | None
    """Gas of the step's transactions; None when it sent none (a view, an offline signature, a refusal)."""
    tx_hashes: tuple[str, ...]
    details: tuple[str, ...]


@dataclass
class DemoResult:
    w3: Web3 = field(repr=False)
    deployment: Deployment
    accounts: DemoAccounts
    site: SiteLocalData
    steps: list[DemoStep]
    denied: errors.ContractError
    """The decoded AccessDenied of the group's attempt after the revocation."""
    patient_balance: int
    patient_transactions: int
    first_block: int
    last_block: int

    @property
    def tx_hashes(self) -> list[str]:
        return [h for step in self.steps for h in step.tx_hashes]

    @property
    def total_gas(self) -> int:
        return sum(step.gas_used or 0 for step in self.steps)

    def step(self, action_prefix: str) -> DemoStep:
        """The first step whose action starts with `action_prefix`."""
        for step in self.steps:
            if step.action.startswith(action_prefix):
                return step
        raise KeyError(action_prefix)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready account (without the site's salt)."""
        return {
            "chainId": self.deployment.chain_id,
            "contracts": {
                "RecordRegistry": self.deployment.record_registry,
                "ConsentRegistry": self.deployment.consent_registry,
            },
            "accounts": vars(self.accounts),
            "records": [
                {
                    "label": r.label,
                    "kind": r.kind.name,
                    "recordId": "0x" + r.record_id.hex(),
                    "contentHash": "0x" + r.content_hash.hex(),
                }
                for r in self.site.records
            ],
            "steps": [
                {
                    "number": s.number,
                    "actor": s.actor,
                    "action": s.action,
                    "gasUsed": s.gas_used,
                    "txHashes": list(s.tx_hashes),
                    "details": list(s.details),
                }
                for s in self.steps
            ],
            "denied": {"error": self.denied.error_name, **_jsonable(self.denied.values)},
            "patientBalance": self.patient_balance,
            "totalGas": self.total_gas,
        }


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in values.items()}


def short(value: bytes | str) -> str:
    """`0x1a2b3c4d…9e8f`: enough of an id or address to follow it through the story."""
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return f"{text[:10]}…{text[-4:]}"


class _Story:
    """Keeps the numbered steps and prints them as they happen."""

    def __init__(self, w3: Web3, out: Callable[[str], None] | None) -> None:
        self.w3 = w3
        self.out = out or (lambda _line: None)
        self.steps: list[DemoStep] = []

    def say(self, line: str = "") -> None:
        self.out(line)

    def step(self, actor: str, action: str, receipts: list[TxReceipt] | None = None, *details: str) -> DemoStep:
        receipts = receipts or []
        gas = sum(int(r["gasUsed"]) for r in receipts) if receipts else None
        hashes = tuple(r["transactionHash"].to_0x_hex() for r in receipts)
        step = DemoStep(len(self.steps) + 1, actor, action, gas, hashes, tuple(details))
        self.steps.append(step)
        cost = f"gas {gas:,}" if gas is not None else "no transaction"
        self.out(f"{step.number:>2}. {actor}: {action}  [{cost}]")
        for line in details:
            self.out(f"      {line}")
        for tx_hash in hashes:
            self.out(f"      tx {short(tx_hash)}")
        return step

    def receipts_since(self, block: int) -> list[TxReceipt]:
        """Receipts of every transaction mined after `block` (deployments return no receipt)."""
        out = []
        for number in range(block + 1, self.w3.eth.block_number + 1):
            for tx_hash in self.w3.eth.get_block(number)["transactions"]:
                out.append(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        return out


def _uid(rng: random.Random) -> str:
    """A generated DICOM UID under the 2.25 (UUID) root, as pydicom makes them."""
    return f"2.25.{uuid.UUID(int=rng.getrandbits(128), version=4).int}"


def _synthetic_study(rng: random.Random, salt: bytes) -> SyntheticRecord:
    study_uid = _uid(rng)
    instances: list[tuple[str, bytes]] = []
    paths: list[str] = []
    for series_number, description in enumerate(MRI_SERIES, start=1):
        series_uid = _uid(rng)
        for instance_number in range(1, INSTANCES_PER_SERIES + 1):
            sop_uid = _uid(rng)
            header = f"synthetic MR instance: series {series_number} {description}, image {instance_number}\n"
            instances.append((sop_uid, header.encode() + rng.randbytes(2048)))
            paths.append(f"{PACS_STORAGE}/{study_uid}/{series_uid}/{sop_uid}.dcm")
    return SyntheticRecord(
        label="MRI brain with and without contrast",
        kind=RecordKind.IMAGING_STUDY,
        uid=study_uid,
        instance_uids=tuple(uid for uid, _ in instances),
        local_paths=tuple(paths),
        size_bytes=sum(len(data) for _, data in instances),
        record_id=record_id(salt, study_uid),
        content_hash=content_hash(instances),
    )


def _synthetic_safety_profile(rng: random.Random, salt: bytes) -> SyntheticRecord:
    document_uid = _uid(rng)
    document = json.dumps(
        {
            "patient": PATIENT_NAME,
            "mrn": PATIENT_MRN,
            "allergies": [{"substance": "iodinated contrast media", "reaction": "urticaria", "severity": "moderate"}],
            "implants": [],
            "note": "synthetic record for the radledger demo",
        },
        sort_keys=True,
    ).encode()
    return SyntheticRecord(
        label="safety profile: contrast allergy",
        kind=RecordKind.SAFETY_PROFILE,
        uid=document_uid,
        instance_uids=(),
        local_paths=(f"{PACS_STORAGE}/safety/{document_uid}.json",),
        size_bytes=len(document),
        record_id=record_id(salt, document_uid),
        content_hash=content_hash([(document_uid, document)]),
    )


def run_demo(seed: int | None = None, out: Callable[[str], None] | None = print) -> DemoResult:
    """Run the story on a fresh in-process chain; print it through `out` (None: silent).

    With `seed`, the synthetic identifiers, salt and patient key repeat from run to run.
    """
    rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
    w3 = in_process_chain(DEFAULT_START_TIMESTAMP)
    story = _Story(w3, out)
    first_block = w3.eth.block_number
    accounts = list(w3.eth.accounts)
    governance = Transactor(w3, UnlockedAccount(accounts[0]))
    site = Transactor(w3, UnlockedAccount(accounts[1]))
    teleradiology = Transactor(w3, UnlockedAccount(accounts[2]))
    emergency = Transactor(w3, UnlockedAccount(accounts[3]))
    patient = KeySigner.from_key(keccak(rng.randbytes(32)))
    salt = rng.randbytes(32)
    local = SiteLocalData(
        SITE_NAME, PATIENT_NAME, PATIENT_MRN, salt, PACS_URL,
        (_synthetic_study(rng, salt), _synthetic_safety_profile(rng, salt)),
    )  # fmt: skip
    study, profile = local.records

    story.say("radledger demo: patient-controlled consent for imaging, on an in-process chain")
    story.say("(every person, site and identifier below is synthetic)")
    story.say()
    story.say(f"  governance             {governance.address}")
    story.say(f"  imaging site           {site.address}  {SITE_NAME}")
    story.say(f"  teleradiology group    {teleradiology.address}  {TELERADIOLOGY_NAME}")
    story.say(f"  emergency department   {emergency.address}  {EMERGENCY_NAME}")
    story.say(
        f"  patient                {patient.address}  {PATIENT_NAME}, balance {w3.eth.get_balance(patient.address)} ETH"
    )
    story.say()

    # 1. deployment and governance ------------------------------------------------------------
    before = w3.eth.block_number
    deployment = deploy_core(governance)
    records_gov = deployment.records(w3, governance)
    consent_gov = deployment.consent(w3, governance)
    story.step(
        "governance", "deploys RecordRegistry and ConsentRegistry", story.receipts_since(before),
        f"RecordRegistry {short(deployment.record_registry)}, ConsentRegistry {short(deployment.consent_registry)}, "
        f"break-glass window {consent_gov.break_glass_duration() // 3600} h",
    )  # fmt: skip
    receipt = records_gov.register_custodian(site.address, GATEWAY_URL)
    story.step(
        "governance", f"registers {SITE_NAME} as custodian", [receipt],
        f"gateway (public, on chain): {GATEWAY_URL}",
        "its PACS stays private: the gateway answers requesters after checking the chain",
    )  # fmt: skip
    receipt = consent_gov.grant_role("BREAK_GLASS_ROLE", emergency.address)
    story.step("governance", f"gives {EMERGENCY_NAME} the break-glass role", [receipt])

    # 2. the site registers the patient's records ---------------------------------------------
    records = deployment.records(w3, site)
    for record in (study, profile):
        receipt = records.register(record.record_id, patient.address, record.kind, record.content_hash)
        count = f"{len(record.instance_uids)} instances, " if record.instance_uids else ""
        story.step(
            "imaging site", f"registers the {record.label}", [receipt],
            f"record id {short(record.record_id)} = keccak256(site salt, UID); the UID stays at the site",
            f"content hash {short(record.content_hash)} over {count}{record.size_bytes:,} bytes",
        )  # fmt: skip

    # 3. the patient signs a consent offline, the site relays it ------------------------------
    consent_site = deployment.consent(w3, site)
    now = consent_site.now()
    until = now + CONSENT_DAYS * 86400
    shared = Scope.IMAGES | Scope.REPORTS
    signed_grant = consent_site.sign_grant(
        patient, patient.address, teleradiology.address, study.record_id, shared, Purpose.TREAT, 0, until
    )
    story.step(
        "patient", "signs a consent offline (EIP-712; no ETH, no transaction)", None,
        f"grantee {TELERADIOLOGY_NAME} {short(teleradiology.address)}: images + reports of the MRI "
        f"{short(study.record_id)}, purpose TREAT, {CONSENT_DAYS} days",
        f"signature {short(signed_grant.signature)}, valid for relaying for "
        f"{(signed_grant.message['deadline'] - now) // 60} minutes",
    )  # fmt: skip
    receipt = consent_site.relay(signed_grant)
    story.step("imaging site", "relays the patient's signed consent (grantBySig) and pays the gas", [receipt])

    # 4. the group checks and records its access ----------------------------------------------
    consent_group = deployment.consent(w3, teleradiology)
    patient_of_study, _ = records.patient_and_custodian_of(study.record_id)  # binding: the record names the patient
    basis = consent_group.access_basis(patient_of_study, teleradiology.address, study.record_id, shared, Purpose.TREAT)
    profile_allowed = consent_group.has_access(
        patient.address, teleradiology.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.TREAT
    )
    story.step(
        "teleradiology group", "checks its access (hasAccess, a view: no transaction)", None,
        f"MRI {short(study.record_id)}, images + reports for TREAT: "
        f"{'yes' if basis != AccessBasis.NONE else 'no'} ({basis.name})",
        f"safety profile {short(profile.record_id)}: {'yes' if profile_allowed else 'no'} (not in the consent)",
    )  # fmt: skip
    receipt = consent_group.record_access(teleradiology.address, study.record_id, shared, Purpose.TREAT)
    (event,) = consent_group.events(receipt, "AccessRecorded")
    story.step(
        "teleradiology group", "records its access on the trail (recordAccess)", [receipt],
        f"AccessRecorded: record {short(study.record_id)}, basis {AccessBasis(event['basis']).name}",
    )  # fmt: skip

    # 5. break-glass --------------------------------------------------------------------------
    consent_ed = deployment.consent(w3, emergency)
    receipt = consent_ed.break_glass(patient.address, BREAK_GLASS_REASON)
    (glass,) = consent_ed.events(receipt, "BreakGlassInvoked")
    story.step(
        "emergency department", "breaks the glass", [receipt],
        f"reason code {BREAK_GLASS_REASON} ({BREAK_GLASS_REASON_TEXT})",
        f"all records of the patient, ETREAT, for {(glass['validUntil'] - consent_ed.now()) // 3600} h, evented",
    )  # fmt: skip
    receipt = consent_ed.record_access(emergency.address, profile.record_id, Scope.SAFETY_PROFILE, Purpose.ETREAT)
    (event,) = consent_ed.events(receipt, "AccessRecorded")
    story.step(
        "emergency department", "records its emergency access to the safety profile", [receipt],
        f"AccessRecorded: record {short(profile.record_id)}, purpose ETREAT, basis {AccessBasis(event['basis']).name}",
    )  # fmt: skip

    # 6. the patient revokes; the group is refused ----------------------------------------------
    signed_revoke = consent_site.sign_revoke(patient, patient.address, teleradiology.address, study.record_id)
    story.step(
        "patient", "signs a revocation offline", None,
        f"the grant of {short(teleradiology.address)} on {short(study.record_id)}",
    )  # fmt: skip
    receipt = consent_site.relay(signed_revoke)
    story.step("imaging site", "relays the revocation (revokeBySig)", [receipt])
    denied = _refused(consent_group, teleradiology.address, study.record_id, shared)
    story.step(
        "teleradiology group", "tries to record another access: refused before any transaction", None,
        f"{denied.error_name}(patient={short(denied.values['patient'])}, grantee={short(denied.values['grantee'])}, "
        f"recordId={short(denied.values['recordId'])}, scopes={denied.values['scopes']}, "
        f"purpose={denied.values['purpose']})",
    )  # fmt: skip

    result = DemoResult(
        w3=w3,
        deployment=deployment,
        accounts=DemoAccounts(
            governance.address, site.address, teleradiology.address, emergency.address, patient.address
        ),
        site=local,
        steps=story.steps,
        denied=denied,
        patient_balance=int(w3.eth.get_balance(patient.address)),
        patient_transactions=int(w3.eth.get_transaction_count(patient.address)),
        first_block=first_block,
        last_block=w3.eth.block_number,
    )
    _summary(story, result, records, consent_site)
    return result


def _refused(consent: ConsentRegistryClient, grantee: str, rid: bytes, scopes: Scope) -> errors.ContractError:
    try:
        consent.record_access(grantee, rid, scopes, Purpose.TREAT)
    except errors.AccessDenied as exc:
        return exc
    raise errors.RadledgerError("the demo expected AccessDenied after the revocation, but the access was recorded")


def _summary(story: _Story, result: DemoResult, records: RecordRegistryClient, consent: ConsentRegistryClient) -> None:
    w3 = result.w3
    logs = sum(len(r["logs"]) for r in story.receipts_since(result.first_block))
    transactions = len(result.tx_hashes)
    study, profile = result.site.records
    grant = consent.get_grant(result.accounts.patient, result.accounts.teleradiology, study.record_id)
    say = story.say
    say()
    say(f"Total: {transactions} transactions, {result.total_gas:,} gas, {logs} events. The patient's account holds "
        f"{result.patient_balance} ETH and sent {result.patient_transactions} transactions: its two signatures were "
        "relayed by the site.")  # fmt: skip
    say()
    say("What the chain holds (public, tamper-evident):")
    say(
        f"  - a custodian and the public URL of its gateway ({records.get_custodian(result.accounts.site).gateway_url})"
    )
    for record in result.site.records:
        on_chain = records.get_record(record.record_id)
        say(f"  - record {short(record.record_id)}: patient {short(on_chain.patient)}, {on_chain.kind.name}, "
            f"version {on_chain.version}, content hash {short(on_chain.content_hash)}")  # fmt: skip
    say(f"  - the group's grant slot: scopes {int(grant.scopes)} (revoked), version {grant.version}")
    say("  - the trail: RecordRegistered, ConsentGranted, AccessRecorded, BreakGlassInvoked, ConsentRevoked events")
    say("  pseudonymous addresses, salted record ids and content hashes: no name, no UID, no file, no diagnosis")
    say()
    say(f"What stayed at {result.site.site_name}:")
    say("  - the site salt (secret) and the map from UIDs to record ids:")
    for record in result.site.records:
        say(f"      {record.uid} -> {short(record.record_id)}")
    say(f"  - {len(study.instance_uids)} SOP instance UIDs and {len(study.local_paths) + len(profile.local_paths)} "
        f"files ({study.size_bytes + profile.size_bytes:,} bytes) under {PACS_STORAGE}")  # fmt: skip
    say(f"  - the patient's identity ({result.site.patient_name}, {result.site.patient_mrn}) and the allergy itself")
    say(f"  - the PACS ({result.site.pacs_url}), reachable only through the gateway")
    say()
    say(f"chain id {w3.eth.chain_id}, blocks {result.first_block + 1} to {result.last_block}")
