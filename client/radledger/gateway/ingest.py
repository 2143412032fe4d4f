"""Site ingestion: register a study of the PACS in RecordRegistry and in the gateway's map.

`register_study` reads every instance of the study from the upstream as stored, computes the
record id (site salt + StudyInstanceUID) and the content hash of DESIGN.md, then:

- a study new to the chain is registered for the patient (the custodian pays the gas);
- a registered study whose instances are a superset of the registered ones (a series added
  later) is amended: a new content hash, the version bumped;
- a registered study with the same content is left alone;
- a registered study with a changed or missing instance is refused (:class:`StudyChanged`):
  that is tampering, not an amendment.

The same comparison guards serving (:func:`verify_study`). With Orthanc, ingestion can follow
the PACS's stable-study events (:func:`poll_stable_studies`, :func:`watch`): the DICOM
PatientID of each stable study is looked up in the site's patient map (PatientID → address).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from eth_typing import ChecksumAddress

from radledger.chain import errors, validation
from radledger.chain.errors import ChainError, RadledgerError, ValidationError
from radledger.gateway.errors import DuplicateStudy, RecordMismatch, StudyChanged, UnmappedPatient, UpstreamError
from radledger.gateway.store import GatewayStore, InstanceDigest, StudyEntry
from radledger.gateway.upstream import Upstream, patient_id_of
from radledger.registries.common import RecordKind
from radledger.registries.records.client import RecordRegistryClient, record_id
from radledger.registries.records.content_hash import content_hash_of_digests
from radledger.registries.records.types import Record

T = TypeVar("T")

REGISTERED, AMENDED, UNCHANGED, ADOPTED = "registered", "amended", "unchanged", "adopted"
CHANGES_CURSOR = "orthanc_changes_since"


@dataclass(frozen=True)
class IngestResult:
    study_uid: str
    record_id: bytes
    patient: ChecksumAddress
    action: str
    """registered, amended, unchanged, or adopted (on chain already, missing from the local map)."""
    version: int
    content_hash: bytes
    instances: int
    tx_hash: str | None = None


def study_hash(contents: Mapping[str, InstanceDigest]) -> bytes:
    """DESIGN.md's content hash of a study from its instances' digests."""
    return content_hash_of_digests((d.sop_uid, d.sha256) for d in contents.values())


def compare(
    registered: Mapping[str, InstanceDigest], current: Mapping[str, InstanceDigest]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(changed, missing, added) SOPInstanceUIDs of `current` against `registered`."""
    changed = tuple(sorted(u for u, d in registered.items() if u in current and current[u].sha256 != d.sha256))
    missing = tuple(sorted(u for u in registered if u not in current))
    added = tuple(sorted(u for u in current if u not in registered))
    return changed, missing, added


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (a node request, a transaction) off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args))


def get_record(records: RecordRegistryClient, rid: bytes) -> Record | None:
    try:
        return records.get_record(rid)
    except errors.RecordNotFound:  # type: ignore[attr-defined]
        return None


@dataclass
class Ingestor:
    """What registration needs: the upstream, the local map, RecordRegistry sending as the
    custodian, and the site salt."""

    upstream: Upstream
    store: GatewayStore
    records: RecordRegistryClient
    salt: bytes

    @property
    def custodian(self) -> ChecksumAddress:
        if self.records.transactor is None:
            raise ValidationError("registering studies needs the custodian's key")
        return self.records.transactor.address

    async def register_study(self, study_uid: str, patient: str | None = None) -> IngestResult:
        uid = study_uid.strip()
        custodian = self.custodian
        rid = record_id(self.salt, uid, custodian)  # bound to this custodian on chain
        who = validation.nonzero_address(patient, "patient") if patient else None
        matches = await self.upstream.study_matches(uid)
        if len(matches) > 1:
            raise DuplicateStudy(uid, len(matches))
        contents = await self.upstream.study_contents(uid)
        if not matches:
            raise DuplicateStudy(uid, 0)
        patient_id = patient_id_of(matches[0])
        pacs_id = await self.upstream.orthanc_study_id(uid, patient_id)
        digest = study_hash(contents)
        entry = self.store.study(uid)
        if entry is not None and entry.patient_id is not None and entry.patient_id != patient_id:
            raise DuplicateStudy(uid, 2)
        record = await in_thread(get_record, self.records, rid)

        if record is None:
            if entry is not None:
                raise RecordMismatch(uid, "record", "none", "0x" + rid.hex())
            if who is None:
                raise ValidationError(f"study {uid} is not registered yet: give the patient's address")
            local = record_id(self.salt, uid)  # the site's local id: the chain derives `rid` from it
            receipt = await in_thread(self.records.register, local, who, RecordKind.IMAGING_STUDY, digest)
            self.store.save_study(uid, rid, who, digest, 1, contents.values(), patient_id, pacs_id)
            return IngestResult(uid, rid, who, REGISTERED, 1, digest, len(contents), _tx(receipt))

        if record.custodian != custodian:
            raise RecordMismatch(uid, "custodian", record.custodian, custodian)
        if who is not None and record.patient != who:
            raise RecordMismatch(uid, "patient", record.patient, who)
        if record.content_hash == digest:
            action = UNCHANGED if entry is not None else ADOPTED
            if entry is None or entry.version != record.version:
                self.store.save_study(
                    uid, rid, record.patient, digest, record.version, contents.values(), patient_id, pacs_id
                )
            return IngestResult(uid, rid, record.patient, action, record.version, digest, len(contents))
        if entry is None:
            raise RecordMismatch(uid, "content hash", "0x" + record.content_hash.hex(), "0x" + digest.hex())

        changed, missing, added = compare(self.store.instances(uid), contents)
        if changed or missing or not added:
            raise StudyChanged(uid, changed, missing, added)
        receipt = await in_thread(self.records.amend, rid, digest)
        version = (await in_thread(self.records.get_record, rid)).version
        self.store.save_study(uid, rid, record.patient, digest, version, contents.values(), patient_id, pacs_id)
        return IngestResult(uid, rid, record.patient, AMENDED, version, digest, len(contents), _tx(receipt))


def _tx(receipt: Any) -> str:
    return str(receipt["transactionHash"].to_0x_hex())


async def verify_study(
    upstream: Upstream, store: GatewayStore, records: RecordRegistryClient, entry: StudyEntry
) -> None:
    """Raise :class:`StudyChanged` unless the upstream study still has the content hash on chain."""
    contents = await upstream.study_contents(entry.study_uid)
    digest = study_hash(contents)
    record = await in_thread(records.get_record, entry.record_id)
    if digest == record.content_hash:
        return
    changed, missing, added = compare(store.instances(entry.study_uid), contents)
    raise StudyChanged(entry.study_uid, changed, missing, added)


# ------------------------------------------------------------------- stable-study events


def load_patient_map(path: Path | str) -> dict[str, ChecksumAddress]:
    """A site's patient map: CSV lines `PatientID,address` (a header line and # comments allowed)."""
    mapping: dict[str, ChecksumAddress] = {}
    try:
        with Path(path).open(newline="") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                    continue
                if len(row) != 2:
                    raise ValidationError(f"{path}:{number}: expected `PatientID,address`")
                pid, address = row[0].strip(), row[1].strip()
                if number == 1 and not address.startswith("0x"):
                    continue  # header
                mapping[pid] = validation.nonzero_address(address, f"{path}:{number} address")
    except OSError as exc:
        raise ValidationError(f"cannot read patient map {path}: {exc.strerror}") from None
    return mapping


async def patient_from_map(upstream: Upstream, patients: Mapping[str, str], study_uid: str) -> str | None:
    """The patient address the site's patient map gives the study's DICOM PatientID (None without an entry)."""
    for result in await upstream.search("studies", {"StudyInstanceUID": study_uid, "includefield": "00100020"}):
        values = result.get("00100020", {}).get("Value") or []
        if values and str(values[0]) in patients:
            return patients[str(values[0])]
    return None


@dataclass(frozen=True)
class WatchOutcome:
    study_uid: str
    result: IngestResult | None
    error: RadledgerError | None


TRANSIENT = (ChainError, UpstreamError)


async def poll_stable_studies(ingestor: Ingestor, patients: Mapping[str, str]) -> list[WatchOutcome]:
    """Register (or amend) every study Orthanc reported stable since the last poll.

    The cursor lives in the gateway store; it moves past a study once it is handled, or refused
    for good (tampered, unmapped patient); a transient failure (node, PACS) stops the poll
    before that study, so the next poll retries it.
    """
    upstream, store = ingestor.upstream, ingestor.store
    since = int(store.meta(CHANGES_CURSOR) or 0)
    outcomes: list[WatchOutcome] = []
    while True:
        batch = await upstream.changes(since)
        for change in batch.get("Changes", []):
            seq = int(change["Seq"])
            if change.get("ChangeType") == "StableStudy":
                try:
                    outcome = await _ingest_change(ingestor, patients, str(change["ID"]))
                except TRANSIENT as exc:  # retried from this change on the next poll
                    outcomes.append(WatchOutcome("", None, exc))
                    return outcomes
                if outcome is not None:
                    outcomes.append(outcome)
            since = seq
            store.set_meta(CHANGES_CURSOR, str(since))
        last = int(batch.get("Last", since))
        if last > since:
            since = last
            store.set_meta(CHANGES_CURSOR, str(since))
        if batch.get("Done", True):
            return outcomes


async def _ingest_change(ingestor: Ingestor, patients: Mapping[str, str], orthanc_id: str) -> WatchOutcome | None:
    try:
        study = await ingestor.upstream.orthanc_study(orthanc_id)
    except UpstreamError as exc:
        if exc.status == 404:  # deleted since it became stable
            return None
        raise
    uid = str(study.get("MainDicomTags", {}).get("StudyInstanceUID", ""))
    patient_id = str(study.get("PatientMainDicomTags", {}).get("PatientID", ""))
    patient = patients.get(patient_id)
    if patient is None and ingestor.store.study(uid) is None:
        return WatchOutcome(uid, None, UnmappedPatient(uid))
    try:
        return WatchOutcome(uid, await ingestor.register_study(uid, patient), None)
    except TRANSIENT:
        raise
    except RadledgerError as exc:
        return WatchOutcome(uid, None, exc)


async def skip_history(ingestor: Ingestor) -> int:
    """Start following from now: studies already stable are not registered by the watcher."""
    last = await ingestor.upstream.last_change()
    ingestor.store.set_meta(CHANGES_CURSOR, str(last))
    return last


async def watch(
    ingestor: Ingestor,
    patients: Mapping[str, str],
    interval: float,
    on_outcome: Callable[[WatchOutcome], None],
    stop: anyio.Event | None = None,
) -> None:
    """Poll the change feed every `interval` seconds until `stop` is set."""
    while stop is None or not stop.is_set():
        try:
            for outcome in await poll_stable_studies(ingestor, patients):
                on_outcome(outcome)
        except TRANSIENT as exc:
            on_outcome(WatchOutcome("", None, exc))
        with anyio.move_on_after(interval):
            if stop is None:
                await anyio.sleep(interval)
            else:
                await stop.wait()
