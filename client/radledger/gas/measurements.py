"""Gas measurements: what each operation costs, measured the same way every time.

Every figure is measured on a fresh in-process chain (eth-tester on py-evm) that starts at
:data:`radledger.chain.connection.DEFAULT_START_TIMESTAMP`, with fixed keys and fixed values, so two runs
give the same numbers. A transaction's figure is the whole transaction's ``gasUsed`` from its
receipt, in the case named by its key: the first-time case (a grant that writes a new slot, a
patient's first signature), and for credentials also the renewal case (``...Supersede``), which
costs more because the superseded attestation moves to a history slot. A view's figure is the
gas of the call itself without the 21,000 transaction base, from py-evm's *exact* estimator (its
default one stops within 21,000 of the answer).

Measurements live in a registry: each is one function taking a :class:`Bench` (the chain, the
core deployment, funded synthetic identities) and returning ``{operation: gas}``; it runs in
its own chain snapshot, so it sees the same starting state whatever runs before it. A new
contract adds one ``@measurement("name")`` function here and, if DESIGN.md sets one, a target
in :data:`radledger.gas.snapshot.TARGETS`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from radledger.chain.connection import (
    DEFAULT_START_TIMESTAMP,
    gas_estimator,
    in_process_chain,
)
from radledger.chain.contract import ContractClient
from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor, decoded_reverts
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_core, deploy_credentials, deploy_preauth
from radledger.gas.snapshot import GasCheckError
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.credentials.types import AttestationRequest, RevocationReason
from radledger.registries.preauth.client import PreauthRegistryClient, order_message
from radledger.registries.preauth.commitments import ClinicalOpening, MemberOpening, claim_id
from radledger.registries.preauth.types import ClaimStatus, Policy, PreauthStatus
from radledger.registries.records.client import record_id

EXACT_ESTIMATOR = "eth.estimators.gas.binary_gas_search_exact"
"""py-evm's estimator that binary-searches to the exact gas (its default stops within 21,000)."""

TX_BASE_GAS = 21_000

# Fixed values, so calldata (and with it the gas) is the same in every run.
VALID_FROM = DEFAULT_START_TIMESTAMP
VALID_UNTIL = DEFAULT_START_TIMESTAMP + 365 * 24 * 3600
DEADLINE = DEFAULT_START_TIMESTAMP + 24 * 3600
SITE_SALT = keccak(text="radledger gas: site salt")
GATEWAY_URL = "https://gateway.site-a.example/dicomweb"
FUNDING_WEI = 10**18


# ------------------------------------------------------------------------- the bench


@dataclass
class Bench:
    """A fresh chain with the core contracts deployed by a governance key, and synthetic identities."""

    w3: Web3
    deployment: Deployment
    governance: Transactor
    _funder: str = field(repr=False)

    @classmethod
    def create(cls, w3: Web3) -> Bench:
        funder = w3.eth.accounts[0]
        governance = _fund(w3, funder, identity("governance"))
        return cls(w3, deploy_core(governance), governance, funder)

    def funded(self, label: str) -> Transactor:
        """A transactor for the fixed key named `label`, given 1 ETH."""
        return _fund(self.w3, self._funder, identity(label))

    def site(self, label: str = "site") -> Transactor:
        """A funded imaging site, registered as custodian by governance."""
        site = self.funded(label)
        self.deployment.records(self.w3, self.governance).register_custodian(site.address, GATEWAY_URL)
        return site

    def record(self, site: Transactor, patient: str, uid: str) -> bytes:
        """Register a synthetic imaging study of `patient` at `site`; returns its record id."""
        local = record_id(SITE_SALT, uid)
        self.deployment.records(self.w3, site).register(local, patient, RecordKind.IMAGING_STUDY, keccak(text=uid))
        return record_id(SITE_SALT, uid, site.address)

    def view_gas(self, fn: ContractFunction, sender: str) -> int:
        """The gas of calling `fn` from `sender` without the 21,000 base, from the exact estimator."""
        with decoded_reverts():
            return int(fn.estimate_gas({"from": sender})) - TX_BASE_GAS


def identity(label: str) -> KeySigner:
    """A deterministic synthetic identity (never a real person)."""
    return KeySigner.from_key(keccak(text=f"radledger gas: {label}"))


def gas_used(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"])


def _fund(w3: Web3, funder: str, signer: KeySigner) -> Transactor:
    tx_hash = w3.eth.send_transaction({"from": funder, "to": signer.address, "value": FUNDING_WEI})  # type: ignore[typeddict-item]
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return Transactor(w3, signer)


# --------------------------------------------------------------- the measurements

Measurement = Callable[[Bench], dict[str, int]]
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(name: str) -> Callable[[Measurement], Measurement]:
    """Register a measurement function under `name` (one per contract)."""

    def add(fn: Measurement) -> Measurement:
        if name in MEASUREMENTS:
            raise ValueError(f"measurement {name!r} is registered twice")
        MEASUREMENTS[name] = fn
        return fn

    return add


@measurement("records")
def measure_records(bench: Bench) -> dict[str, int]:
    records = bench.deployment.records(bench.w3, bench.governance)
    site = bench.funded("site")
    patient = identity("patient")
    registered = records.register_custodian(site.address, GATEWAY_URL)  # the first custodian: a new counter too
    as_site = records.with_sender(site)
    local = record_id(SITE_SALT, "2.25.100000000000000000000000000000000001")
    registered_record = as_site.register(local, patient.address, RecordKind.IMAGING_STUDY, keccak(text="series 1"))
    rid = as_site.record_id_of(local)
    amended = as_site.amend(rid, keccak(text="series 1 and 2"))
    return {
        "records.registerCustodian": gas_used(registered),
        "records.register": gas_used(registered_record),
        "records.amend": gas_used(amended),
    }


@measurement("consent")
def measure_consent(bench: Bench) -> dict[str, int]:
    w3, dep = bench.w3, bench.deployment
    site = bench.site()
    grantee = bench.funded("teleradiology group")
    scopes, purposes = int(Scope.IMAGES | Scope.REPORTS), int(Purpose.TREAT)
    figures: dict[str, int] = {}

    # Direct grant and revoke by a funded patient, on one record: the grant writes a new slot.
    patient = bench.funded("patient (direct)")
    rid = bench.record(site, patient.address, "2.25.200000000000000000000000000000000001")
    as_patient = dep.consent(w3, patient)
    figures["consent.grant"] = gas_used(
        as_patient.grant(patient.address, grantee.address, rid, scopes, purposes, VALID_FROM, VALID_UNTIL)
    )
    figures["consent.revoke"] = gas_used(as_patient.revoke(patient.address, grantee.address, rid))
    figures["consent.setGuardian"] = gas_used(as_patient.set_guardian(identity("guardian").address, VALID_UNTIL))

    # A patient without ETH: the first signature ever (epoch 0, new slot), relayed by the site.
    signer = identity("patient (signing)")
    relayer = dep.consent(w3, site)
    signed_rid = bench.record(site, signer.address, "2.25.200000000000000000000000000000000002")
    grant = relayer.sign_grant(
        signer, signer.address, grantee.address, signed_rid, scopes, purposes, VALID_FROM, VALID_UNTIL, DEADLINE
    )
    figures["consent.grantBySig"] = gas_used(relayer.relay(grant))
    revoke = relayer.sign_revoke(signer, signer.address, grantee.address, signed_rid, DEADLINE)
    figures["consent.revokeBySig"] = gas_used(relayer.relay(revoke))

    # hasAccess reads at most two slots: a record id with no grant of its own makes it read the record's
    # slot, then the wildcard slot. The figure is the costliest of the ways that ends:
    # - the wildcard grant answers (WildcardGrant),
    # - nothing answers (a miss), with purpose TREAT, or with ETREAT so the break-glass expiry is compared too,
    # - break-glass answers (BreakGlass).
    # hasAccess reads the wildcard slot first (it also holds the break-glass window), then the record's.
    # The costliest case is the miss with ETREAT (every condition evaluated, all false): 7,874 gas when
    # written, against 5,410 for the wildcard grant, 7,748 for the plain miss and 7,699 for break-glass
    # (the wildcard slot and the account's role generation). Each includes its calldata (about 1,600 gas:
    # two addresses, a record id and two small numbers).
    wild = bench.funded("patient (wildcard)")
    wild_rid = bench.record(site, wild.address, "2.25.200000000000000000000000000000000003")
    dep.consent(w3, wild).grant(wild.address, grantee.address, WILDCARD, scopes, purposes, VALID_FROM, VALID_UNTIL)
    emergency = bench.funded("emergency department")
    dep.consent(w3, bench.governance).grant_role("BREAK_GLASS_ROLE", emergency.address)
    figures["consent.breakGlass"] = gas_used(dep.consent(w3, emergency).break_glass(wild.address, 1))
    has_access = dep.consent(w3).contract.functions.hasAccess
    cases = {
        "wildcard grant": has_access(wild.address, grantee.address, wild_rid, scopes, purposes),
        "miss": has_access(wild.address, emergency.address, wild_rid, scopes, int(Purpose.TREAT)),
        "miss, ETREAT": has_access(wild.address, grantee.address, wild_rid, scopes, int(Purpose.ETREAT)),
        "break-glass": has_access(wild.address, emergency.address, wild_rid, scopes, int(Purpose.ETREAT)),
    }
    expected = {"wildcard grant": True, "miss": False, "miss, ETREAT": False, "break-glass": True}
    for case, fn in cases.items():
        if bool(fn.call()) is not expected[case]:
            raise GasCheckError(f"hasAccess case {case!r} did not answer {expected[case]}: the bench is wrong")
    figures["consent.hasAccess"] = max(bench.view_gas(fn, grantee.address) for fn in cases.values())
    # The one case that reads a third slot: the window is open but the account lost the role since, so
    # break-glass no longer answers and the record's own grant is read too. Transient (until the window's
    # scheduled end) and rare; measured apart so that it shows. Measured last: it revokes the role.
    dep.consent(w3, bench.governance).revoke_role("BREAK_GLASS_ROLE", emergency.address)
    ended = cases["break-glass"]
    if ended.call():
        raise GasCheckError("hasAccess still answered through a break-glass window whose role was revoked")
    figures["consent.hasAccessBreakGlassEnded"] = bench.view_gas(ended, grantee.address)
    figures.update(measure_consent_batch(bench))

    # The trail: the grantee records an access its wildcard grant allows (record, then wildcard slot).
    figures["consent.recordAccess"] = gas_used(
        dep.consent(w3, grantee).record_access(grantee.address, wild_rid, scopes, purposes)
    )
    return figures


def measure_consent_batch(bench: Bench) -> dict[str, int]:
    """Ten patients without ETH each sign a grant on their own record (each one's first signature: the
    epoch read cold, a new slot written); the site relays the ten in one grantBySigBatch."""
    w3, dep = bench.w3, bench.deployment
    site = bench.site("site (batch)")
    grantee = bench.funded("teleradiology group")
    relayer = dep.consent(w3, site)
    scopes, purposes = int(Scope.IMAGES | Scope.REPORTS), int(Purpose.TREAT)
    signed = []
    for i in range(10):
        patient = identity(f"patient (batch) {i}")
        rid = bench.record(site, patient.address, f"2.25.3000000000000000000000000000000000{i:02d}")
        signed.append(
            relayer.sign_grant(
                patient, patient.address, grantee.address, rid, scopes, purposes, VALID_FROM, VALID_UNTIL, DEADLINE
            )
        )
    total = gas_used(relayer.relay_grants(signed))
    return {"consent.grantBySigBatch10": total, "consent.grantBySigBatch10PerGrant": total // len(signed)}


def _credential_registry(bench: Bench) -> CredentialRegistryClient:
    """The deployment's CredentialRegistry sending as governance; deployed here when it has none."""
    address = getattr(bench.deployment, "credential_registry", None)
    if address:
        return CredentialRegistryClient(bench.w3, address, bench.governance)
    return deploy_credentials(bench.governance)


def _hold_roles(account: Transactor, needed: list[tuple[ContractClient, str]]) -> None:
    """Grant `account` each (contract, role) it does not hold yet."""
    for client, role in needed:
        if not client.has_role(role, account.address):
            client.grant_role(role, account.address)


@measurement("credentials")
def measure_credentials(bench: Bench) -> dict[str, int]:
    w3, governance = bench.w3, bench.governance
    # A fresh registry, so registerSchema pays for the first schema (its counter's slot too).
    creds = _credential_registry(bench)
    _hold_roles(governance, [(creds, "SCHEMA_REGISTRAR_ROLE"), (creds, "ISSUER_AUTHORIZER_ROLE")])
    before = creds.schema_count()
    schema = creds.register_schema("radledger gas: state medical license", True, VALID_UNTIL - VALID_FROM).schema_id
    figures = {"credentials.registerSchema": gas_used(_latest_receipt(w3))} if before == 0 else {}
    board, cme_provider, site = bench.funded("state medical board"), bench.funded("CME provider"), bench.funded("site")
    signing = identity("state medical board (signing key, no ETH)")
    for issuer in (board.address, cme_provider.address, signing.address):
        creds.authorize_issuer(schema, issuer)

    def receipt_gas(tx_hash: str) -> int:
        return gas_used(w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]

    # First attestation of a new subject and schema: one new slot; refUid 0.
    doc = keccak(text="radledger gas: license document")
    attested = creds.with_sender(board).attest(
        identity("radiologist").address, schema, VALID_UNTIL, data_hash=doc, valid_from=VALID_FROM
    )
    figures["credentials.attest"] = receipt_gas(attested.tx_hash)
    # The issuer's first signature ever (epoch 0 read, not written), relayed by a site, new subject.
    signed = creds.with_sender(site).sign_attest(
        signing, identity("second radiologist").address, schema, VALID_UNTIL,
        data_hash=doc, valid_from=VALID_FROM, deadline=DEADLINE,
    )  # fmt: skip
    relayed = creds.with_sender(site).relay(signed)
    figures["credentials.attestBySig"] = receipt_gas(relayed.tx_hash)
    # A CME course: ten new subjects in one transaction, 1.5 credit hours each.
    course = [
        AttestationRequest(
            identity(f"course attendee {i}").address, VALID_UNTIL, keccak(text=f"certificate {i}"), 150, VALID_FROM
        )
        for i in range(10)
    ]
    batch = creds.with_sender(cme_provider).attest_batch(schema, course)
    figures["credentials.attestBatch10"] = receipt_gas(batch[0].tx_hash)
    # The view: the latest attestation of its key (one slot), without the 21,000 base.
    is_valid = creds.contract.functions.isValid(attested.uid)
    if not is_valid.call():
        raise GasCheckError("the credentials bench expected a valid attestation")
    figures["credentials.isValid"] = bench.view_gas(is_valid, site.address)
    revoked = creds.with_sender(board).revoke(attested.uid, RevocationReason.DISCIPLINARY_ACTION)
    figures["credentials.revoke"] = receipt_gas(revoked.tx_hash)
    # Renewals by the same issuers: the superseded attestation moves to history (a second slot).
    renewed = creds.with_sender(board).attest(
        identity("radiologist").address, schema, VALID_UNTIL, data_hash=keccak(text="renewal"), valid_from=VALID_FROM
    )
    figures["credentials.attestSupersede"] = receipt_gas(renewed.tx_hash)
    signed_renewal = creds.with_sender(site).sign_attest(
        signing, identity("second radiologist").address, schema, VALID_UNTIL,
        data_hash=keccak(text="renewal"), valid_from=VALID_FROM, deadline=DEADLINE,
    )  # fmt: skip
    figures["credentials.attestBySigSupersede"] = receipt_gas(creds.with_sender(site).relay(signed_renewal).tx_hash)
    renewals = [
        AttestationRequest(
            identity(f"course attendee {i}").address, VALID_UNTIL, keccak(text=f"renewal {i}"), 150, VALID_FROM
        )
        for i in range(10)
    ]
    figures["credentials.attestBatch10Supersede"] = receipt_gas(
        creds.with_sender(cme_provider).attest_batch(schema, renewals)[0].tx_hash
    )
    # The view on the superseded attestation: the latest slot, then its history slot.
    is_valid_old = creds.contract.functions.isValid(attested.uid)
    figures["credentials.isValidSuperseded"] = bench.view_gas(is_valid_old, site.address)
    return figures


@measurement("preauth")
def measure_preauth(bench: Bench) -> dict[str, int]:
    w3, governance = bench.w3, bench.governance
    # The bench deploys the core contracts; PreauthRegistry links to its RecordRegistry (the sites that
    # may request) and to a CredentialRegistry deployed here.
    creds = _credential_registry(bench)
    preauth_address = deploy_preauth(governance, creds.address, bench.deployment.require("RecordRegistry"))
    preauth = PreauthRegistryClient(w3, preauth_address, governance)
    _hold_roles(
        governance,
        [(creds, "SCHEMA_REGISTRAR_ROLE"), (creds, "ISSUER_AUTHORIZER_ROLE"), (preauth, "PAYER_REGISTRAR_ROLE")],
    )

    payer, site, board = bench.funded("payer"), bench.site("site"), bench.funded("state medical board")
    gold_carded, other = identity("ordering physician (gold card)"), identity("ordering physician")
    license_schema = creds.register_schema("radledger gas: state license", True, VALID_UNTIL - VALID_FROM).schema_id
    gold_schema = creds.register_schema("radledger gas: payer gold card", True, VALID_UNTIL - VALID_FROM).schema_id
    creds.authorize_issuer(license_schema, board.address)
    creds.authorize_issuer(gold_schema, payer.address)
    for physician in (gold_carded, other):
        creds.with_sender(board).attest(physician.address, license_schema, VALID_UNTIL, valid_from=VALID_FROM)
    creds.with_sender(payer).attest(gold_carded.address, gold_schema, VALID_UNTIL, valid_from=VALID_FROM)
    preauth.register_payer(payer.address)

    # Each client call below sends one transaction, mined alone in its block: the latest receipt is its own.
    as_payer, as_site = preauth.with_sender(payer), preauth.with_sender(site)
    policy = Policy(auto_approval=True, max_units=2, gold_card_schema=gold_schema, required_schemas=(license_schema,))
    as_payer.set_policy("70551", policy)
    figures = {"preauth.setPolicy": gas_used(_latest_receipt(w3))}
    member = MemberOpening(keccak(text="radledger gas: member salt"), "PAYER-GAS", "SYNTHETIC-MEMBER-1")
    clinical = ClinicalOpening(keccak(text="radledger gas: clinical salt"), ("R51.9",))
    request_ids = []
    for key, physician in (("preauth.requestAutoApproved", gold_carded), ("preauth.requestPended", other)):
        message = order_message(
            site.address, payer.address, member.commitment(), "70551", 1, physician.address, False,
            clinical.commitment(), DEADLINE,
        )  # fmt: skip
        request_ids.append(as_site.request(preauth.sign_order(physician, message)))
        figures[key] = gas_used(_latest_receipt(w3))
    auto_id, pended_id = request_ids
    if as_site.status(auto_id) is not PreauthStatus.APPROVED or as_site.status(pended_id) is not PreauthStatus.PENDED:
        raise GasCheckError("the preauth bench expected one auto-approved and one pended request")
    figures["preauth.decide"] = gas_used(as_payer.approve(pended_id))
    claim = claim_id(b"synthetic claim file", keccak(text="radledger gas: claim salt"))
    figures["claims.submit"] = gas_used(as_site.submit_claim(auto_id, claim, 1, 125_000))
    figures["claims.adjudicate"] = gas_used(as_payer.adjudicate_claim(claim, ClaimStatus.PAID, request_id=auto_id))
    # The payer extends a pended standard request (once, by 14 days at most: here 7 days).
    message = order_message(
        site.address, payer.address, member.commitment(), "70551", 2, other.address, False,
        clinical.commitment(), DEADLINE,
    )  # fmt: skip
    extended_id = as_site.request(preauth.sign_order(other, message))
    due_at = as_site.get_request(extended_id).due_at
    figures["preauth.extend"] = gas_used(as_payer.extend(extended_id, due_at + 7 * 24 * 3600, 2))
    return figures


def _latest_receipt(w3: Web3) -> TxReceipt:
    (tx_hash,) = w3.eth.get_block("latest")["transactions"]
    return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]


# ----------------------------------------------------------------- running them


def exact_estimator() -> AbstractContextManager[None]:
    """Select py-evm's exact gas estimator for chains created inside the block (for the whole
    measurement: see :func:`radledger.chain.gas_estimator`)."""
    return gas_estimator(EXACT_ESTIMATOR)


def estimator_of(w3: Web3) -> Any:
    """The gas estimator of an in-process chain's py-evm chain object."""
    backend = getattr(getattr(w3.provider, "ethereum_tester", None), "backend", None)
    chain = getattr(backend, "chain", None)
    if chain is None:
        raise ConfigurationError("not an in-process chain")
    return chain.gas_estimator


def measure(names: list[str] | None = None) -> dict[str, int]:
    """Run the registered measurements (all, or those named) on a fresh chain; figures sorted by key."""
    # py-evm: imported only when measuring (the CLI starts without it)
    from eth.estimators.gas import binary_gas_search_exact

    selected = list(MEASUREMENTS) if names is None else names
    unknown = sorted(set(selected) - set(MEASUREMENTS))
    if unknown:
        raise GasCheckError(f"no measurement named {unknown}; known: {sorted(MEASUREMENTS)}")
    figures: dict[str, int] = {}
    with exact_estimator():
        w3 = in_process_chain(DEFAULT_START_TIMESTAMP)
        if estimator_of(w3) is not binary_gas_search_exact:
            raise GasCheckError("the in-process chain did not select py-evm's exact gas estimator")
        bench = Bench.create(w3)
        for name in selected:
            snapshot = w3.testing.snapshot()  # type: ignore[attr-defined]
            try:
                result = MEASUREMENTS[name](bench)
            finally:
                w3.testing.revert(snapshot)  # type: ignore[attr-defined]
            clash = sorted(set(result) & set(figures))
            if clash:
                raise GasCheckError(f"measurement {name!r} reports {clash} a second time")
            figures.update(result)
    return dict(sorted(figures.items()))
