"""The synthetic world of `radledger demo`: people, records, a scanner and prior-authorization cases.

Every person, site and identifier here is synthetic, generated from the demo's random source (so a
seed repeats them). :class:`SiteLocalData` is what stays at the imaging site; its
:meth:`~SiteLocalData.plain_identifiers` are what must never reach the chain, in any form (a test
scans every transaction input and event of the demo for them, plain and hashed).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field, replace

from eth_utils import keccak

from radledger.chain.signers import KeySigner
from radledger.registries.common import RecordKind
from radledger.registries.credentials.client import device_id
from radledger.registries.preauth.commitments import ClinicalOpening, MemberOpening, Opening, evidence_hash
from radledger.registries.records.client import record_id
from radledger.registries.records.content_hash import content_hash

SITE_NAME = "Northside Imaging Centre (synthetic)"
GATEWAY_URL = "https://gateway.northside-imaging.example/dicomweb"
PACS_URL = "http://pacs.northside.internal:8042/dicom-web"
PACS_STORAGE = "/srv/pacs/northside"
PATIENT_NAME = "Patient P-0001 (synthetic)"
PATIENT_MRN = "MRN-SYN-000001"
TELERADIOLOGY_NAME = "Harbour Teleradiology Group (synthetic)"
EMERGENCY_NAME = "Riverside Emergency Department (synthetic)"
STATE_BOARD_NAME = "State Medical Board (synthetic)"
SPECIALTY_BOARD_NAME = "Board of Diagnostic Radiology (synthetic)"
PHYSICIST_NAME = "Accredited medical physicist (synthetic)"
PAYER_NAME = "Keystone Health Plan (synthetic)"
AUDITOR_NAME = "State insurance department auditor (synthetic)"
PAYER_ID = "KHP-SYN"
"""The payer's own identifier, in the member opening (with the member id it names the insured)."""

MRI_SERIES = ("T1 sagittal", "T2 axial", "FLAIR axial")
INSTANCES_PER_SERIES = 4
SCANNER_MANUFACTURER = "Acme Imaging (synthetic)"
SCANNER_MODEL = "Aurora 1.5T"

MRI_BRAIN = "70551"
MRI_BRAIN_TEXT = "MRI brain without contrast"
STUDY_LABEL = "MRI study (brain, without contrast)"
FIRST_DIAGNOSES = ("G43.909", "Z91.041")
"""Migraine, unspecified; allergy status to radiographic contrast (why without contrast)."""
SECOND_DIAGNOSES = ("G44.209", "R51.9")
"""Tension-type headache, unspecified; headache, unspecified."""
INFORMATION_DIAGNOSES = ("G44.209", "R51.9", "H53.8")
"""The answer to the payer's information request adds other visual disturbances (a red flag for imaging)."""
THIRD_DIAGNOSES = ("H47.10", "G93.2")
"""Papilledema, unspecified; benign intracranial hypertension (an expedited request)."""
CLAIM_AMOUNT_CENTS = 125_000
"""What the site claims for the MRI (both claims against the automatic approval)."""


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
class Physician:
    """A physician: a synthetic name (stays off chain) and a key (its address is the on-chain subject)."""

    name: str
    role: str
    signer: KeySigner = field(repr=False)

    @property
    def address(self) -> str:
        return self.signer.address


@dataclass(frozen=True)
class Scanner:
    """The site's MRI scanner: manufacturer and serial stay in the site's inventory; the chain sees `device_id`."""

    manufacturer: str
    model: str
    serial: str
    inspection_report: bytes = field(repr=False)
    salt: bytes | None = field(default=None, repr=False)
    """The device salt the site shares with its inspector (None: the public, unsalted id)."""

    @property
    def device_id(self) -> bytes:
        return device_id(self.manufacturer, self.serial, self.salt)


@dataclass(frozen=True)
class PriorAuthCase:
    """One prior-authorization request as the site prepares it: the member, the diagnoses, the evidence
    documents and the opening of the salted commitments (a small JSON document that stays at the site).

    A request answered with more information, or appealed, has one clinical opening more for each
    (:meth:`amended`); `diagnoses` are then every code the case used, as written, oldest first.
    """

    member_id: str
    diagnoses: tuple[str, ...]
    documents: tuple[bytes, ...] = field(repr=False)
    """The referral note, then the documents sent later (each clinical opening commits to their SHA-256)."""
    opening: Opening = field(repr=False)

    @property
    def referral_note(self) -> bytes:
        return self.documents[0]

    @property
    def clinical_commitments(self) -> tuple[bytes, ...]:
        """Every clinical commitment of the case, oldest first (request, information, appeal)."""
        return tuple(c.commitment() for c in self.opening.clinical)

    def opening_as_of(self, commitments: int) -> Opening:
        """The opening as the payer gets it once the first `commitments` clinical commitments are on chain."""
        return Opening(self.opening.member, self.opening.clinical[:commitments])

    def amended(self, rng: random.Random, diagnoses: tuple[str, ...], note: str) -> PriorAuthCase:
        """The case with one more clinical opening (fresh salt from `rng`): `diagnoses`, and the evidence so far
        with a new document (more information for the payer, an appeal letter)."""
        document = f"synthetic document for {self.member_id}: {note}\n".encode() + rng.randbytes(16)
        documents = (*self.documents, document)
        clinical = ClinicalOpening(rng.randbytes(32), diagnoses, tuple(evidence_hash(d) for d in documents))
        codes = tuple(dict.fromkeys((*self.diagnoses, *diagnoses)))
        return PriorAuthCase(self.member_id, codes, documents, self.opening.with_clinical(clinical))


@dataclass(frozen=True)
class SiteLocalData:
    """What stayed at the site: the salt, the UID map, the files, the patient's identity, the physicians'
    names, the scanner's serial, the prior-authorization openings and the claim file."""

    site_name: str
    patient_name: str
    patient_mrn: str
    site_salt: bytes = field(repr=False)
    pacs_url: str
    records: tuple[SyntheticRecord, ...]
    reader: Physician
    ordering: Physician
    """Gold-carded by the payer: the order is approved at once."""
    second_ordering: Physician
    """Licensed, no gold card: the order is pended for the payer."""
    scanner: Scanner
    cases: tuple[PriorAuthCase, ...]
    """The patient's own request (by the gold-carded physician), another member's (pended, information
    requested and given, modified, appealed) and a third member's (expedited; the payer misses the deadline)."""
    claim_file: bytes = field(repr=False)
    claim_salt: bytes = field(repr=False)
    second_claim_file: bytes = field(repr=False)
    """A second claim against the same authorization: beyond its units, refused."""
    second_claim_salt: bytes = field(repr=False)

    @property
    def physicians(self) -> tuple[Physician, ...]:
        return (self.reader, self.ordering, self.second_ordering)

    def plain_identifiers(self) -> tuple[str, ...]:
        """Every plain identifier of the story: none of them may reach the chain."""
        out = [self.patient_name, self.patient_mrn, self.pacs_url]
        for record in self.records:
            out += [record.uid, f"{self.pacs_url}/studies/{record.uid}", *record.instance_uids, *record.local_paths]
        out += [p.name for p in self.physicians]
        out.append(self.scanner.serial)
        for case in self.cases:
            out += [case.member_id, *case.diagnoses]
        return tuple(dict.fromkeys(out))


def dicom_uid(rng: random.Random) -> str:
    """A generated DICOM UID under the 2.25 (UUID) root, as pydicom makes them."""
    return f"2.25.{uuid.UUID(int=rng.getrandbits(128), version=4).int}"


def synthetic_key(rng: random.Random) -> KeySigner:
    return KeySigner.from_key(keccak(rng.randbytes(32)))


def synthetic_study(rng: random.Random, salt: bytes, custodian: str | None = None) -> SyntheticRecord:
    study_uid = dicom_uid(rng)
    instances: list[tuple[str, bytes]] = []
    paths: list[str] = []
    for series_number, description in enumerate(MRI_SERIES, start=1):
        series_uid = dicom_uid(rng)
        for instance_number in range(1, INSTANCES_PER_SERIES + 1):
            sop_uid = dicom_uid(rng)
            header = f"synthetic MR instance: series {series_number} {description}, image {instance_number}\n"
            instances.append((sop_uid, header.encode() + rng.randbytes(2048)))
            paths.append(f"{PACS_STORAGE}/{study_uid}/{series_uid}/{sop_uid}.dcm")
    return SyntheticRecord(
        label=STUDY_LABEL,
        kind=RecordKind.IMAGING_STUDY,
        uid=study_uid,
        instance_uids=tuple(uid for uid, _ in instances),
        local_paths=tuple(paths),
        size_bytes=sum(len(data) for _, data in instances),
        record_id=record_id(salt, study_uid, custodian),
        content_hash=content_hash(instances),
    )


def synthetic_safety_profile(rng: random.Random, salt: bytes, custodian: str | None = None) -> SyntheticRecord:
    document_uid = dicom_uid(rng)
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
        record_id=record_id(salt, document_uid, custodian),
        content_hash=content_hash([(document_uid, document)]),
    )


def synthetic_case(rng: random.Random, member_id: str, diagnoses: tuple[str, ...], note: str) -> PriorAuthCase:
    """A request's opening with salts from `rng` (the client's :func:`~radledger.commitments.new_opening`
    takes fresh secret salts; the demo draws them from its seed so the story repeats)."""
    referral = f"synthetic referral note for {member_id}: {note}\n".encode() + rng.randbytes(16)
    member = MemberOpening(rng.randbytes(32), PAYER_ID, member_id)
    clinical = ClinicalOpening(rng.randbytes(32), diagnoses, (evidence_hash(referral),))
    return PriorAuthCase(member_id, diagnoses, (referral,), Opening(member, (clinical,)))


def synthetic_member_id(rng: random.Random) -> str:
    return f"KHP{rng.randrange(10**9):09d}"


def synthetic_scanner(rng: random.Random) -> Scanner:
    serial = f"MR{rng.randrange(10**7):07d}"
    report = (
        f"synthetic MRI annual performance evaluation: {SCANNER_MANUFACTURER} {SCANNER_MODEL}, serial {serial}: "
        "magnetic field homogeneity, slice thickness, SNR, artifacts, RF safety: pass\n"
    ).encode() + rng.randbytes(16)
    return Scanner(SCANNER_MANUFACTURER, SCANNER_MODEL, serial, report)


def synthetic_claim(case: PriorAuthCase, cpt: str, amount_cents: int, control_number: int = 1) -> bytes:
    """An X12 837-like claim file (PHI: it stays at the site; the chain sees a salted commitment to it)."""
    codes = "*".join(code.replace(".", "") for code in case.diagnoses)
    control = f"{control_number:04d}"
    return (
        f"ST*837*{control}~NM1*IL*1*SYNTHETIC*PATIENT****MI*{case.member_id}~HI*ABK:{codes}~"
        f"SV1*HC:{cpt}*{amount_cents / 100:.2f}*UN*1~SE*5*{control}~\n"
    ).encode()


def synthetic_site(rng: random.Random, custodian: str) -> tuple[KeySigner, SiteLocalData]:
    """The patient's key and everything the site keeps: the story's whole synthetic world, drawn from `rng`.
    Record ids are bound to `custodian`, the site that registers them (keccak256(site, local id))."""
    patient = synthetic_key(rng)
    salt = rng.randbytes(32)
    study, profile = synthetic_study(rng, salt, custodian), synthetic_safety_profile(rng, salt, custodian)
    reader = Physician("Dr. Amara Lindqvist (synthetic)", "teleradiologist, " + TELERADIOLOGY_NAME, synthetic_key(rng))
    ordering = Physician("Dr. Tomas Reyes (synthetic)", "ordering neurologist, gold-carded", synthetic_key(rng))
    second = Physician("Dr. Priya Natarajan (synthetic)", "ordering family physician", synthetic_key(rng))
    scanner = synthetic_scanner(rng)
    cases = (
        synthetic_case(rng, synthetic_member_id(rng), FIRST_DIAGNOSES, "migraine with new aura; contrast allergy"),
        synthetic_case(rng, synthetic_member_id(rng), SECOND_DIAGNOSES, "daily headache for eight weeks")
        .amended(rng, INFORMATION_DIAGNOSES, "neurological examination: blurred vision on exertion")
        .amended(rng, INFORMATION_DIAGNOSES, "letter of medical necessity: a follow-up MRI at 3 months"),
        synthetic_case(rng, synthetic_member_id(rng), THIRD_DIAGNOSES, "papilledema on fundoscopy; urgent"),
    )  # fmt: skip
    claim_salts = rng.randbytes(32), rng.randbytes(32)
    # The device salt the site shares with the physicist who inspects the scanner (drawn last, so the
    # rest of the world is what earlier seeds gave): the chain's device id then hides the serial.
    scanner = replace(scanner, salt=rng.randbytes(32))
    local = SiteLocalData(
        SITE_NAME, PATIENT_NAME, PATIENT_MRN, salt, PACS_URL, (study, profile), reader, ordering, second, scanner,
        cases, synthetic_claim(cases[0], MRI_BRAIN, CLAIM_AMOUNT_CENTS), claim_salts[0],
        synthetic_claim(cases[0], MRI_BRAIN, CLAIM_AMOUNT_CENTS, control_number=2), claim_salts[1],
    )  # fmt: skip
    return patient, local
