"""RecordRegistry: custodians (imaging sites) and pointers to their records."""

from __future__ import annotations

import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3.types import TxReceipt

from radledger.chain import validation
from radledger.chain.contract import ContractClient
from radledger.chain.errors import ValidationError
from radledger.chain.files import write_private
from radledger.registries.common import RecordKind
from radledger.registries.records.types import Custodian, Record


def new_site_salt() -> bytes:
    """A fresh secret 32-byte salt for a site (back it up with the site's local UID map)."""
    return secrets.token_bytes(32)


def write_site_salt(path: Path | str, salt: bytes | None = None, replace: bool = False) -> Path:
    """Write a site salt file (hex; a new salt unless `salt` is given), readable by its owner only.

    An existing salt file is replaced only with `replace`: the record ids made with it could no
    longer be recomputed.
    """
    target = Path(path)
    value = new_site_salt() if salt is None else validation.bytes32(salt, "site salt")
    try:
        return write_private(target, "0x" + value.hex() + "\n", replace=replace)
    except FileExistsError:
        raise ValidationError(
            f"{target} exists: a site salt is never replaced by accident (--force replaces it, and the record "
            "ids made with the old salt can then no longer be recomputed)"
        ) from None
    except OSError as exc:
        raise ValidationError(f"cannot write {target}: {exc.strerror}") from None


def _warn_on_stderr(message: str) -> None:
    print(f"radledger: warning: {message}", file=sys.stderr)


def read_site_salt(path: Path | str, warn: Callable[[str], None] = _warn_on_stderr) -> bytes:
    """A site salt file (hex, as :func:`write_site_salt` writes it). A file others can read still
    works, and `warn` (default: a line on stderr) is told to have it made private."""
    source = Path(path)
    try:
        text = source.read_text().strip()
        mode = source.stat().st_mode
    except OSError as exc:
        raise ValidationError(f"cannot read salt file {source}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"salt file {source} is readable by others (chmod 600 it)")
    return validation.bytes32(text, f"salt file {source}")


def record_id(site_salt: bytes, study_instance_uid: str, custodian: str | None = None) -> bytes:
    """The id of a study, computed off chain; the UID itself never reaches the chain.

    With `custodian`: the on-chain record id, ``keccak256(abi.encode(custodian, localId))``, which
    RecordRegistry binds to the custodian that registers it (no other site can take it). Without:
    the site's local id ``keccak256(abi.encode(siteSalt, studyInstanceUid))``, what
    :meth:`RecordRegistryClient.register` sends (see :func:`local_record_id`). Without the salt
    neither can be linked to the UID.
    """
    salt = validation.bytes32(site_salt, "site salt")
    # DICOM pads a UI value to even length with a NUL; files and forms add whitespace.
    raw = study_instance_uid.strip("\x00 \t\r\n") if isinstance(study_instance_uid, str) else study_instance_uid
    uid = validation.dicom_uid(raw, "study instance UID")
    local = keccak(abi_encode(["bytes32", "string"], [salt, uid]))
    return local if custodian is None else custodian_record_id(custodian, local)


def local_record_id(site_salt: bytes, study_instance_uid: str) -> bytes:
    """The site's local id of a study, ``keccak256(abi.encode(siteSalt, studyInstanceUid))``: what
    ``register`` takes (the chain then binds it to the custodian)."""
    return record_id(site_salt, study_instance_uid)


def custodian_record_id(custodian: str, local_id: bytes) -> bytes:
    """The record id RecordRegistry gives `local_id` registered by `custodian`:
    ``keccak256(abi.encode(custodian, localId))`` (the contract's ``recordIdOf``)."""
    who = validation.nonzero_address(custodian, "custodian")
    return keccak(abi_encode(["address", "bytes32"], [who, validation.bytes32(local_id, "local id")]))


class RecordRegistryClient(ContractClient):
    CONTRACT_NAME = "RecordRegistry"

    def register_custodian(self, custodian: str, gateway_url: str) -> TxReceipt:
        """Governance: register an imaging site with the public URL of its gateway (never its PACS)."""
        if not gateway_url.startswith(("https://", "http://")):
            raise ValidationError(f"gateway URL {gateway_url!r} must be an http(s) URL")
        return self._send("registerCustodian", validation.nonzero_address(custodian, "custodian"), gateway_url)

    def set_gateway_url(self, custodian: str, gateway_url: str) -> TxReceipt:
        if not gateway_url.startswith(("https://", "http://")):
            raise ValidationError(f"gateway URL {gateway_url!r} must be an http(s) URL")
        return self._send("setGatewayUrl", validation.address(custodian, "custodian"), gateway_url)

    def set_custodian_active(self, custodian: str, active: bool) -> TxReceipt:
        return self._send("setCustodianActive", validation.address(custodian, "custodian"), active)

    def register(self, record_id: bytes, patient: str, kind: RecordKind, content_hash: bytes) -> TxReceipt:
        """Custodian: register a record of `patient` under the site's local id `record_id`
        (:func:`local_record_id`); the chain stores it under :meth:`record_id_of` of it, bound to the
        sender (its ``RecordRegistered`` event carries that id)."""
        rid = validation.bytes32(record_id, "local id")
        if rid == bytes(32):
            raise ValidationError("local id 0 is refused (record id 0 means all records in consents)")
        if not isinstance(kind, int) or kind not in {k.value for k in RecordKind} or kind == RecordKind.NONE:
            raise ValidationError(f"record kind {kind!r} is not one of {[k.name for k in RecordKind][1:]}")
        digest = validation.bytes32(content_hash, "content hash")
        if digest == bytes(32):
            raise ValidationError("content hash must not be zero")
        return self._send("register", rid, validation.nonzero_address(patient, "patient"), int(kind), digest)

    def record_id_of(self, local_id: bytes, custodian: str | None = None) -> bytes:
        """The record id `local_id` gets when `custodian` (default: the sender) registers it; computed locally."""
        if custodian is None:
            if self.transactor is None:
                raise ValidationError("a record id is bound to its custodian: give the custodian's address")
            custodian = self.transactor.address
        return custodian_record_id(custodian, local_id)

    def is_active_custodian(self, account: str) -> bool:
        return bool(self._call("isActiveCustodian", validation.address(account, "account")))

    def amend(self, record_id: bytes, content_hash: bytes) -> TxReceipt:
        """Custodian: a new version of a record (a series added, an addendum)."""
        digest = validation.bytes32(content_hash, "content hash")
        if digest == bytes(32):
            raise ValidationError("content hash must not be zero")
        return self._send("amend", validation.bytes32(record_id, "record id"), digest)

    def get_record(self, record_id: bytes) -> Record:
        rid = validation.bytes32(record_id, "record id")
        patient, custodian, kind, version, registered_at, content_hash = self._call("getRecord", rid)
        return Record(rid, patient, custodian, RecordKind(kind), version, registered_at, bytes(content_hash))

    def patient_and_custodian_of(self, record_id: bytes) -> tuple[str, str]:
        patient, custodian = self._call("patientAndCustodianOf", validation.bytes32(record_id, "record id"))
        return patient, custodian

    def get_custodian(self, custodian: str) -> Custodian:
        address = validation.address(custodian, "custodian")
        index, active, url = self._call("getCustodian", address)
        return Custodian(address, index, active, url)

    def custodian_count(self) -> int:
        return int(self._call("custodianCount"))

    def custodian_at(self, index: int) -> str:
        return str(self._call("custodianAt", index))
