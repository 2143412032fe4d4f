"""Every state-changing function of both contracts, called by someone not allowed to: the exact
error and its arguments. Calls go straight to the contract (through a Transactor), past the
client's own checks, so that the contract's refusal is what is tested."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract.contract import ContractFunction

from radledger.chain import errors
from radledger.chain.eip712 import SignedMessage, sign
from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient, grant_message
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import Actors, named_key
from tests.support import content_hash, register_record

DEFAULT_ADMIN_ROLE = bytes(32)


@dataclass(frozen=True)
class Ctx:
    """A record of the patient at the first site, granted to the grantee; a current guardian."""

    actors: Actors
    records: RecordRegistryClient
    consent: ConsentRegistryClient
    rid: bytes
    intruder: KeySigner
    registrar_role: bytes
    break_glass_role: bytes

    @property
    def patient(self) -> str:
        return self.actors.patient_signer.address

    @property
    def grantee(self) -> str:
        return self.actors.grantee.address

    def deadline(self) -> int:
        return self.consent.now() + 3600

    def forged(self, primary_type: str, message: dict[str, Any]) -> ContractFunction:
        """A `...BySig` call whose message names the patient but is signed by the intruder."""
        return self.consent.by_sig_call(sign(self.intruder, self.consent.domain(), primary_type, message))

    def signed_by(self, signed: SignedMessage) -> ContractFunction:
        return self.consent.by_sig_call(signed)


@pytest.fixture
def ctx(w3: Web3, deployment: Deployment, actors: Actors, records: RecordRegistryClient) -> Ctx:
    patient = actors.patient_signer.address
    rid = register_record(records, patient, "ct abdomen")
    as_patient = deployment.consent(w3, actors.patient)
    as_patient.grant(patient, actors.grantee.address, rid, Scope.IMAGES, Purpose.TREAT)
    as_patient.set_guardian(actors.guardian.address, as_patient.now() + 3600)
    return Ctx(
        actors=actors,
        records=records,
        consent=deployment.consent(w3, actors.site),
        rid=rid,
        intruder=named_key("intruder"),
        registrar_role=records.role("CUSTODIAN_REGISTRAR_ROLE"),
        break_glass_role=as_patient.role("BREAK_GLASS_ROLE"),
    )


Action = Callable[[Ctx], tuple[Transactor, ContractFunction]]
Expected = Callable[[Ctx], errors.ContractError]


@dataclass(frozen=True)
class Case:
    contract: str
    function: str
    who: str
    action: Action
    expected: Expected

    @property
    def id(self) -> str:
        return f"{self.contract}.{self.function} by {self.who}"


def _rr(c: Ctx) -> Any:
    return c.records.contract.functions


def _cr(c: Ctx) -> Any:
    return c.consent.contract.functions


def _grant_msg(c: Ctx, signer: str) -> dict[str, Any]:
    version = c.consent.get_grant(c.patient, c.grantee, c.rid).version
    epoch = c.consent.signature_epoch(c.patient)
    return grant_message(c.patient, c.grantee, c.rid, 1, 1, 0, FOREVER, signer, version, epoch, c.deadline())


def _revoke_msg(c: Ctx) -> dict[str, Any]:
    return {
        "patient": c.patient,
        "grantee": c.grantee,
        "recordId": c.rid,
        "signer": c.patient,
        "version": c.consent.get_grant(c.patient, c.grantee, c.rid).version,
        "epoch": c.consent.signature_epoch(c.patient),
        "deadline": c.deadline(),
    }


def _set_guardian_msg(c: Ctx, guardian: str) -> dict[str, Any]:
    return {
        "patient": c.patient,
        "guardian": guardian,
        "validUntil": c.consent.now() + 3600,
        "version": c.consent.get_guardian(c.patient, guardian).version,
        "epoch": c.consent.signature_epoch(c.patient),
        "deadline": c.deadline(),
    }


def _invalidate_msg(c: Ctx) -> dict[str, Any]:
    return {"patient": c.patient, "signer": c.patient, "epoch": c.consent.signature_epoch(c.patient),
            "deadline": c.deadline()}  # fmt: skip


def _encoded(signature: str, types: list[str], values: list[Any]) -> bytes:
    """An error as revert data (a batch item's `reason`)."""
    return function_signature_to_4byte_selector(signature) + abi_encode(types, values)


def _unauthorized(who: str, role: str) -> Expected:
    return lambda c: errors.AccessControlUnauthorizedAccount(getattr(c.actors, who).address, getattr(c, role))


def _not_patient_or_guardian(account: Callable[[Ctx], str]) -> Expected:
    return lambda c: errors.NotPatientOrGuardian(c.patient, account(c))


NEW_URL = "https://gateway.rogue.example/dicomweb"

CASES = [
    # ---------------------------------------------------------------- RecordRegistry
    Case("RecordRegistry", "registerCustodian", "stranger",
         lambda c: (c.actors.stranger, _rr(c).registerCustodian(c.actors.stranger.address, NEW_URL)),
         _unauthorized("stranger", "registrar_role")),
    Case("RecordRegistry", "registerCustodian", "a custodian",
         lambda c: (c.actors.site, _rr(c).registerCustodian(c.actors.stranger.address, NEW_URL)),
         _unauthorized("site", "registrar_role")),
    Case("RecordRegistry", "setGatewayUrl", "stranger",
         lambda c: (c.actors.stranger, _rr(c).setGatewayUrl(c.actors.site.address, NEW_URL)),
         _unauthorized("stranger", "registrar_role")),
    Case("RecordRegistry", "setGatewayUrl", "another custodian",
         lambda c: (c.actors.other_site, _rr(c).setGatewayUrl(c.actors.site.address, NEW_URL)),
         _unauthorized("other_site", "registrar_role")),
    Case("RecordRegistry", "setCustodianActive", "stranger",
         lambda c: (c.actors.stranger, _rr(c).setCustodianActive(c.actors.site.address, False)),
         _unauthorized("stranger", "registrar_role")),
    Case("RecordRegistry", "setCustodianActive", "the custodian itself",
         lambda c: (c.actors.site, _rr(c).setCustodianActive(c.actors.site.address, False)),
         _unauthorized("site", "registrar_role")),
    Case("RecordRegistry", "register", "stranger",
         lambda c: (c.actors.stranger, _rr(c).register(content_hash("r"), c.patient, 1, content_hash("c"))),
         lambda c: errors.CustodianNotRegistered(c.actors.stranger.address)),
    Case("RecordRegistry", "register", "governance",
         lambda c: (c.actors.admin, _rr(c).register(content_hash("r"), c.patient, 1, content_hash("c"))),
         lambda c: errors.CustodianNotRegistered(c.actors.admin.address)),
    Case("RecordRegistry", "amend", "stranger",
         lambda c: (c.actors.stranger, _rr(c).amend(c.rid, content_hash("tampered"))),
         lambda c: errors.CustodianNotRegistered(c.actors.stranger.address)),
    Case("RecordRegistry", "amend", "another custodian",
         lambda c: (c.actors.other_site, _rr(c).amend(c.rid, content_hash("tampered"))),
         lambda c: errors.NotRecordCustodian(c.rid, c.actors.other_site.address)),
    Case("RecordRegistry", "grantRole", "stranger",
         lambda c: (c.actors.stranger, _rr(c).grantRole(c.registrar_role, c.actors.stranger.address)),
         lambda c: errors.AccessControlUnauthorizedAccount(c.actors.stranger.address, DEFAULT_ADMIN_ROLE)),
    Case("RecordRegistry", "revokeRole", "a custodian",
         lambda c: (c.actors.site, _rr(c).revokeRole(c.registrar_role, c.actors.admin.address)),
         lambda c: errors.AccessControlUnauthorizedAccount(c.actors.site.address, DEFAULT_ADMIN_ROLE)),
    Case("RecordRegistry", "renounceRole", "stranger, for the admin",
         lambda c: (c.actors.stranger, _rr(c).renounceRole(DEFAULT_ADMIN_ROLE, c.actors.admin.address)),
         lambda c: errors.AccessControlBadConfirmation()),
    # --------------------------------------------------------------- ConsentRegistry
    Case("ConsentRegistry", "grant", "stranger",
         lambda c: (c.actors.stranger, _cr(c).grant(c.patient, c.actors.stranger.address, c.rid, 1, 1, 0, FOREVER)),
         _not_patient_or_guardian(lambda c: c.actors.stranger.address)),
    Case("ConsentRegistry", "grant", "the grantee, widening its own grant",
         lambda c: (c.actors.grantee, _cr(c).grant(c.patient, c.grantee, c.rid, 7, 31, 0, FOREVER)),
         _not_patient_or_guardian(lambda c: c.grantee)),
    Case("ConsentRegistry", "grant", "the record's custodian",
         lambda c: (c.actors.site, _cr(c).grant(c.patient, c.actors.site.address, c.rid, 1, 1, 0, FOREVER)),
         _not_patient_or_guardian(lambda c: c.actors.site.address)),
    Case("ConsentRegistry", "grantBySig", "an intruder signing as itself",
         lambda c: (c.actors.stranger,
                    c.signed_by(c.consent.sign_grant(c.intruder, c.patient, c.grantee, c.rid, 7, 31))),
         _not_patient_or_guardian(lambda c: c.intruder.address)),
    Case("ConsentRegistry", "grantBySig", "an intruder signing for the patient",
         lambda c: (c.actors.stranger, c.forged("Grant", _grant_msg(c, c.patient))),
         lambda c: errors.InvalidSignature(c.patient)),
    Case("ConsentRegistry", "grantBySigBatch", "an intruder signing for the patient",
         lambda c: (c.actors.stranger,
                    _cr(c).grantBySigBatch([tuple(c.forged("Grant", _grant_msg(c, c.patient)).args)])),
         lambda c: errors.BatchItemFailed(0, _encoded("InvalidSignature(address)", ["address"], [c.patient]))),
    Case("ConsentRegistry", "revoke", "stranger",
         lambda c: (c.actors.stranger, _cr(c).revoke(c.patient, c.grantee, c.rid)),
         _not_patient_or_guardian(lambda c: c.actors.stranger.address)),
    Case("ConsentRegistry", "revoke", "the record's custodian",
         lambda c: (c.actors.site, _cr(c).revoke(c.patient, c.grantee, c.rid)),
         _not_patient_or_guardian(lambda c: c.actors.site.address)),
    Case("ConsentRegistry", "revokeBySig", "an intruder signing as itself",
         lambda c: (c.actors.stranger, c.signed_by(c.consent.sign_revoke(c.intruder, c.patient, c.grantee, c.rid))),
         _not_patient_or_guardian(lambda c: c.intruder.address)),
    Case("ConsentRegistry", "revokeBySig", "an intruder signing for the patient",
         lambda c: (c.actors.stranger, c.forged("Revoke", _revoke_msg(c))),
         lambda c: errors.InvalidSignature(c.patient)),
    Case("ConsentRegistry", "setGuardianBySig", "an intruder signing for the patient",
         lambda c: (c.actors.stranger, c.forged("SetGuardian", _set_guardian_msg(c, c.intruder.address))),
         lambda c: errors.InvalidSignature(c.patient)),
    Case("ConsentRegistry", "setGuardianBySig", "a current guardian appointing another",
         lambda c: (c.actors.site, c.consent.by_sig_call(sign(
             c.actors.guardian_signer, c.consent.domain(), "SetGuardian", _set_guardian_msg(c, c.intruder.address)))),
         lambda c: errors.InvalidSignature(c.patient)),
    Case("ConsentRegistry", "invalidateSignatures", "stranger",
         lambda c: (c.actors.stranger, _cr(c).invalidateSignatures(c.patient)),
         _not_patient_or_guardian(lambda c: c.actors.stranger.address)),
    Case("ConsentRegistry", "invalidateSignaturesBySig", "an intruder signing as itself",
         lambda c: (c.actors.stranger, c.signed_by(c.consent.sign_invalidate_signatures(c.intruder, c.patient))),
         _not_patient_or_guardian(lambda c: c.intruder.address)),
    Case("ConsentRegistry", "invalidateSignaturesBySig", "an intruder signing for the patient",
         lambda c: (c.actors.stranger, c.forged("InvalidateSignatures", _invalidate_msg(c))),
         lambda c: errors.InvalidSignature(c.patient)),
    Case("ConsentRegistry", "breakGlass", "stranger",
         lambda c: (c.actors.stranger, _cr(c).breakGlass(c.patient, 7)),
         _unauthorized("stranger", "break_glass_role")),
    Case("ConsentRegistry", "breakGlass", "a custodian",
         lambda c: (c.actors.site, _cr(c).breakGlass(c.patient, 7)),
         _unauthorized("site", "break_glass_role")),
    Case("ConsentRegistry", "recordAccess", "stranger, for the grantee",
         lambda c: (c.actors.stranger, _cr(c).recordAccess(c.grantee, c.rid, 1, 1)),
         lambda c: errors.NotGranteeOrCustodian(c.rid, c.actors.stranger.address)),
    Case("ConsentRegistry", "recordAccess", "another custodian, for the grantee",
         lambda c: (c.actors.other_site, _cr(c).recordAccess(c.grantee, c.rid, 1, 1)),
         lambda c: errors.NotGranteeOrCustodian(c.rid, c.actors.other_site.address)),
    Case("ConsentRegistry", "recordAccess", "the patient",
         lambda c: (c.actors.patient, _cr(c).recordAccess(c.grantee, c.rid, 1, 1)),
         lambda c: errors.NotGranteeOrCustodian(c.rid, c.patient)),
    Case("ConsentRegistry", "grantRole", "stranger",
         lambda c: (c.actors.stranger, _cr(c).grantRole(c.break_glass_role, c.actors.stranger.address)),
         lambda c: errors.AccessControlUnauthorizedAccount(c.actors.stranger.address, DEFAULT_ADMIN_ROLE)),
    Case("ConsentRegistry", "revokeRole", "the emergency account",
         lambda c: (c.actors.emergency, _cr(c).revokeRole(c.break_glass_role, c.actors.emergency.address)),
         lambda c: errors.AccessControlUnauthorizedAccount(c.actors.emergency.address, DEFAULT_ADMIN_ROLE)),
    Case("ConsentRegistry", "renounceRole", "stranger, for the emergency account",
         lambda c: (c.actors.stranger, _cr(c).renounceRole(c.break_glass_role, c.actors.emergency.address)),
         lambda c: errors.AccessControlBadConfirmation()),
]  # fmt: skip

# setGuardian has no unauthorized caller: it always acts for msg.sender (see the test below).
ACTS_FOR_CALLER_ONLY = {("ConsentRegistry", "setGuardian")}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_an_unauthorized_caller_is_refused_with_the_exact_error(w3: Web3, ctx: Ctx, case: Case) -> None:
    sender, fn = case.action(ctx)
    assert fn.fn_name == case.function
    expected = case.expected(ctx)
    before = w3.eth.block_number
    with pytest.raises(errors.ContractError) as exc:
        sender.send(fn)
    assert type(exc.value) is type(expected)
    assert exc.value.args == expected.args
    assert w3.eth.block_number == before


def test_the_table_covers_every_state_changing_function(deployment: Deployment, w3: Web3) -> None:
    covered = {(case.contract, case.function) for case in CASES} | ACTS_FOR_CALLER_ONLY
    clients = {"RecordRegistry": deployment.records(w3), "ConsentRegistry": deployment.consent(w3)}
    state_changing = {
        (name, entry["name"])
        for name, client in clients.items()
        for entry in client.artifact.abi
        if entry["type"] == "function" and entry["stateMutability"] not in ("view", "pure")
    }
    assert covered == state_changing


def test_set_guardian_acts_only_for_its_caller(w3: Web3, ctx: Ctx, deployment: Deployment) -> None:
    """Whoever calls setGuardian appoints a guardian of their own; nobody appoints one for a patient."""
    guardian_client = deployment.consent(w3, ctx.actors.guardian)
    stranger_client = deployment.consent(w3, ctx.actors.stranger)
    until = ctx.consent.now() + 3600
    guardian_client.set_guardian(ctx.intruder.address, until)
    stranger_client.set_guardian(ctx.intruder.address, until)
    assert not ctx.consent.is_guardian(ctx.patient, ctx.intruder.address)
    assert ctx.consent.is_guardian(ctx.actors.guardian.address, ctx.intruder.address)
    assert ctx.consent.is_guardian(ctx.actors.stranger.address, ctx.intruder.address)
