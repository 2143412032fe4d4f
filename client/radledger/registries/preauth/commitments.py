"""Salted commitments of a prior-authorization request, built and opened off chain.

A request puts two 32-byte commitments on chain and nothing else about the patient:

- the **member commitment**: ``keccak256(abi.encode("radledger member v1", salt, payerId, memberId))``
  names the insured member for the payer without naming them to anyone else;
- the **clinical commitment**: ``keccak256(abi.encode("radledger clinical v1", salt, codes, evidence))``
  over the sorted, canonical ICD-10-CM codes of the diagnoses and the sorted SHA-256 hashes of the
  evidence documents (notes, prior imaging reports) that support the order.

Why salted. There are about 70,000 ICD-10-CM codes and a payer's member ids follow a short,
known pattern. An unsalted ``keccak256("G43.909")`` is brute-forced by hashing every code: a
laptop does that in milliseconds, so an unsalted hash *is* the diagnosis to anyone who reads the
chain (DESIGN.md: no diagnosis on chain, not even hashed). Even a list of codes is small enough
to enumerate in common combinations. Each commitment therefore takes its own 32-byte salt from
:func:`secrets.token_bytes` (256 bits: no table can be precomputed and no guess can be checked
without it), and a fresh salt every time, so two requests for the same member or diagnosis are
unlinkable on chain.

The **opening** is a small JSON document the site keeps and hands the payer (over the channel
it already uses for PHI, never the chain): the salts and the plain values. The payer recomputes
each commitment and compares it with the one on chain (:func:`verify_opening`); a payer auditing
a gold-carded physician opens the commitments of the auto-approved requests the same way.
Openings hold PHI: they are written readable by their owner only.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from radledger.chain import validation
from radledger.chain.errors import ValidationError
from radledger.chain.files import write_private
from radledger.registries.credentials.client import document_hash

MEMBER_TAG = "radledger member v1"
CLINICAL_TAG = "radledger clinical v1"
CLAIM_TAG = "radledger claim v1"
OPENING_TYPE = "radledger.preauth.opening"
OPENING_VERSION = 1
MAX_IDENTIFIER_LENGTH = 80

_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")


def new_salt() -> bytes:
    """A fresh secret 32-byte salt (one per commitment)."""
    return secrets.token_bytes(32)


def icd10_code(text: str) -> str:
    """An ICD-10-CM code in canonical form: upper case, without the dot (as X12 carries it).

    "g43.909" and "G43909" are the same code; the format is a letter, a digit, a letter or digit,
    then up to four letters or digits.
    """
    if not isinstance(text, str):
        raise ValidationError(f"ICD-10 code: expected text, got {type(text).__name__}")
    code = text.strip().upper().replace(".", "")
    if not _ICD10.match(code):
        raise ValidationError(f"ICD-10 code {text!r} is not an ICD-10-CM code (e.g. G43.909)")
    return code


def _identifier(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise ValidationError(f"{what}: expected text, got {type(text).__name__}")
    value = text.strip()
    if not value or len(value) > MAX_IDENTIFIER_LENGTH or not value.isprintable():
        raise ValidationError(f"{what}: must be 1 to {MAX_IDENTIFIER_LENGTH} printable characters")
    return value


def _salt(value: Any, what: str) -> bytes:
    salt = validation.bytes32(value, what)
    if salt == bytes(32):
        raise ValidationError(f"{what}: a zero salt is no salt")
    return salt


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class MemberOpening:
    """What the member commitment hides: the member id at its payer (the payer's own identifier)."""

    salt: bytes
    payer_id: str
    member_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "salt", _salt(self.salt, "member salt"))
        object.__setattr__(self, "payer_id", _identifier(self.payer_id, "payer id"))
        object.__setattr__(self, "member_id", _identifier(self.member_id, "member id"))

    @classmethod
    def new(cls, payer_id: str, member_id: str) -> MemberOpening:
        return cls(new_salt(), payer_id, member_id)

    def commitment(self) -> bytes:
        values = [MEMBER_TAG, self.salt, self.payer_id, self.member_id]
        return keccak(abi_encode(["string", "bytes32", "string", "string"], values))

    def as_dict(self) -> dict[str, Any]:
        return {"salt": _hex(self.salt), "payerId": self.payer_id, "memberId": self.member_id}


@dataclass(frozen=True)
class ClinicalOpening:
    """What the clinical commitment hides: the diagnoses (ICD-10-CM) and the evidence documents' SHA-256.

    Both lists are canonical: codes normalized (:func:`icd10_code`), duplicates dropped, sorted;
    so the order in which a site lists them does not change the commitment.
    """

    salt: bytes
    diagnoses: tuple[str, ...]
    evidence: tuple[bytes, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "salt", _salt(self.salt, "clinical salt"))
        if isinstance(self.diagnoses, str):
            raise ValidationError("diagnoses: expected a list of ICD-10 codes, got one string")
        codes = tuple(sorted({icd10_code(c) for c in self.diagnoses}))
        if not codes:
            raise ValidationError("diagnoses: at least one ICD-10 code is needed")
        hashes = tuple(sorted({validation.bytes32(h, "evidence SHA-256") for h in self.evidence}))
        object.__setattr__(self, "diagnoses", codes)
        object.__setattr__(self, "evidence", hashes)

    @classmethod
    def new(cls, diagnoses: Iterable[str], evidence: Iterable[bytes] = ()) -> ClinicalOpening:
        return cls(new_salt(), tuple(diagnoses), tuple(evidence))

    def commitment(self) -> bytes:
        return keccak(
            abi_encode(
                ["string", "bytes32", "string[]", "bytes32[]"],
                [CLINICAL_TAG, self.salt, list(self.diagnoses), list(self.evidence)],
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "salt": _hex(self.salt),
            "diagnoses": list(self.diagnoses),
            "evidenceSha256": [_hex(h) for h in self.evidence],
        }


def evidence_hash(content: bytes) -> bytes:
    """The SHA-256 of an evidence document as the site stores it."""
    return document_hash(content)


def evidence_file_hash(path: Path | str) -> bytes:
    try:
        return evidence_hash(Path(path).read_bytes())
    except OSError as exc:
        raise ValidationError(f"cannot read evidence file {path}: {exc.strerror}") from exc


def verify_opening(commitment: bytes, opening: MemberOpening | ClinicalOpening) -> bool:
    """Whether `opening` opens `commitment` (the payer's check against the chain)."""
    return validation.bytes32(commitment, "commitment") == opening.commitment()


@dataclass(frozen=True)
class Opening:
    """The JSON document a site hands the payer: the member opening and the clinical opening(s).

    `clinical` holds one opening per clinical commitment of the request, oldest first: the one
    of the request, then those of information provided or of an appeal.
    """

    member: MemberOpening
    clinical: tuple[ClinicalOpening, ...]

    @property
    def member_commitment(self) -> bytes:
        return self.member.commitment()

    @property
    def clinical_commitment(self) -> bytes:
        """The latest clinical commitment."""
        return self.clinical[-1].commitment()

    def with_clinical(self, clinical: ClinicalOpening) -> Opening:
        """This opening with one more clinical opening (more information, an appeal)."""
        return Opening(self.member, (*self.clinical, clinical))

    def verify(self, member_commitment: bytes, clinical_commitments: Iterable[bytes]) -> bool:
        """Whether this opening opens the member commitment and exactly these clinical commitments, in order."""
        wanted = [validation.bytes32(c, "clinical commitment") for c in clinical_commitments]
        return verify_opening(member_commitment, self.member) and wanted == [c.commitment() for c in self.clinical]

    def to_json(self) -> str:
        member = {**self.member.as_dict(), "commitment": _hex(self.member_commitment)}
        clinical = [{**c.as_dict(), "commitment": _hex(c.commitment())} for c in self.clinical]
        doc = {"type": OPENING_TYPE, "version": OPENING_VERSION, "member": member, "clinical": clinical}
        return json.dumps(doc, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Opening:
        """Parse an opening; every commitment it states must match its contents."""
        try:
            doc = json.loads(text)
            if doc.get("type") != OPENING_TYPE or doc.get("version") != OPENING_VERSION:
                raise ValidationError(f"not a {OPENING_TYPE} document of version {OPENING_VERSION}")
            m = doc["member"]
            member = MemberOpening(m["salt"], m["payerId"], m["memberId"])
            stated = [(m["commitment"], member.commitment(), "member")]
            clinical = []
            for i, c in enumerate(doc["clinical"]):
                opening = ClinicalOpening(c["salt"], tuple(c["diagnoses"]), tuple(c.get("evidenceSha256", ())))
                clinical.append(opening)
                stated.append((c["commitment"], opening.commitment(), f"clinical[{i}]"))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(f"not a radledger opening: {exc!r}") from exc
        if not clinical:
            raise ValidationError("an opening needs at least one clinical opening")
        for written, computed, what in stated:
            if validation.bytes32(written, f"{what} commitment") != computed:
                raise ValidationError(f"opening: the {what} commitment it states does not match its contents")
        return cls(member, tuple(clinical))

    def save(self, path: Path | str) -> Path:
        """Write the opening readable by its owner only (it holds PHI)."""
        return write_private(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path | str) -> Opening:
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise ValidationError(f"cannot read opening {path}: {exc.strerror}") from exc


def new_opening(payer_id: str, member_id: str, diagnoses: Iterable[str], evidence: Iterable[bytes] = ()) -> Opening:
    """Fresh salts, one per commitment: the opening of a new request."""
    return Opening(MemberOpening.new(payer_id, member_id), (ClinicalOpening.new(diagnoses, evidence),))


def claim_id(claim_document: bytes, salt: bytes) -> bytes:
    """A claim's on-chain id: a salted commitment to the SHA-256 of the claim file (an X12 837, say)."""
    values = [CLAIM_TAG, _salt(salt, "claim salt"), document_hash(claim_document)]
    return keccak(abi_encode(["string", "bytes32", "bytes32"], values))


__all__ = [
    "CLINICAL_TAG",
    "MEMBER_TAG",
    "ClinicalOpening",
    "MemberOpening",
    "Opening",
    "claim_id",
    "evidence_file_hash",
    "evidence_hash",
    "icd10_code",
    "new_opening",
    "new_salt",
    "verify_opening",
]
