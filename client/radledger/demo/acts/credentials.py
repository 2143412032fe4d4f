"""The credential acts of `radledger demo`: the issuers attest (act 2: licenses in one batch, the
reader's board certification, the scanner's inspection, the payer's gold card), and the state board
revokes the reader's license, so the next verification fails and says why (act 7)."""

from __future__ import annotations

from radledger.demo.acts.governance import YEAR
from radledger.demo.narration import check_lines, short, when
from radledger.demo.scene import Scene
from radledger.registries.credentials.client import document_hash
from radledger.registries.credentials.types import (
    Attestation,
    AttestationRequest,
    ReaderVerification,
    Revocation,
    RevocationReason,
)
from radledger.registries.preauth.types import DAY


def attestations(scene: Scene) -> Attestation:
    """The issuers attest; returns the reader's license (the one the board revokes later)."""
    story, a, schemas, rng = scene.story, scene.actors, scene.schemas, scene.cast.rng
    reader, ordering, second = scene.site.physicians
    scanner = scene.site.scanner
    creds = scene.credentials()
    now = creds.now()
    licensed = (reader, ordering, second)
    licenses = [document_hash(f"license of {p.name}".encode() + rng.randbytes(16)) for p in licensed]
    granted = creds.with_sender(a.state_board).attest_batch(
        schemas.license, [AttestationRequest(p.address, now + YEAR, h) for p, h in zip(licensed, licenses, strict=True)]
    )
    story.step(
        "state medical board", "attests three medical licenses in one batch (attestBatch)",
        story.receipts_of(granted[0].tx_hash),
        *(f"{short(g.uid)}: {p.name.split(' (')[0]} {short(p.address)}, valid until {when(g.valid_until)}"
          for p, g in zip(licensed, granted, strict=True)),
        "the license documents stay with the board: the chain holds their SHA-256 (with a nonce)",
    )  # fmt: skip
    cert = creds.with_sender(a.specialty_board).attest(reader.address, schemas.board_certification, now + 5 * YEAR)
    story.step(
        "specialty board", "attests the reader's board certification in radiology", story.receipts_of(cert.tx_hash),
        f"{short(cert.uid)}: {short(reader.address)}, valid until {when(cert.valid_until)}",
    )  # fmt: skip
    inspection = creds.with_sender(a.physicist).attest(
        scanner.device_id, schemas.mri_inspection, now + 365 * DAY, data_hash=document_hash(scanner.inspection_report)
    )
    story.step(
        "medical physicist", "attests the MRI scanner's annual inspection", story.receipts_of(inspection.tx_hash),
        f"subject: device id {short(scanner.device_id)} = keccak256(manufacturer, serial number); the serial number "
        "stays at the site",
        f"report SHA-256 {short(inspection.data_hash)}, valid until {when(inspection.valid_until)}",
    )  # fmt: skip
    gold = creds.with_sender(a.payer).attest(ordering.address, schemas.gold_card, now + YEAR)
    story.step(
        "payer", f"issues its gold card to {ordering.name}", story.receipts_of(gold.tx_hash),
        f"{short(gold.uid)}: {short(ordering.address)}, valid until {when(gold.valid_until)}",
    )  # fmt: skip
    return granted[0]


def disciplinary_action(scene: Scene, reader_license: Attestation) -> tuple[Revocation, ReaderVerification]:
    """The board revokes the reader's license; the site's next verification of the reader fails."""
    story, reader = scene.story, scene.site.reader
    creds = scene.credentials(scene.actors.state_board)
    revocation = creds.revoke(reader_license.uid, RevocationReason.DISCIPLINARY_ACTION)
    story.step(
        "state medical board", f"revokes the reader's license: {reader.name}", story.receipts_of(revocation.tx_hash),
        f"uid {short(revocation.uid)}, reason {revocation.reason_code} "
        f"({revocation.reason.name.lower().replace('_', ' ') if revocation.reason else 'other'})",
    )  # fmt: skip
    reader_after = scene.credentials(scene.actors.site).verify_reader(reader.address, scene.schemas.reader_requirements)
    story.step(
        "imaging site", "verifies the reader before assigning the next read: refused", None,
        f"{reader.name} {short(reader.address)}: {'ok' if reader_after.ok else 'FAILED'}; "
        f"revoked schema(s) {list(reader_after.revoked)}",
        *check_lines(scene.schema_names, reader_after),
        "the next teleradiology read goes to another radiologist",
    )  # fmt: skip
    return revocation, reader_after
