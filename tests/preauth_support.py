"""The prior-authorization test world: a CredentialRegistry and a PreauthRegistry of their own (deployed
once per session, so nothing here touches the shared deployment), two payers, physicians with and
without credentials, and helpers that build, sign and send orders.

Import the fixtures into a test module: ``from tests.preauth_support import world_base_fixture, world_fixture``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3

from radledger.chain.connection import time_travel
from radledger.chain.eip712 import sign
from radledger.chain.signers import KeySigner, UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.deploy import deploy_credentials, deploy_preauth
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.preauth.client import PreauthRegistryClient, order_message
from radledger.registries.preauth.commitments import ClinicalOpening, MemberOpening, Opening
from radledger.registries.preauth.types import Policy
from tests.conftest import ARTIFACTS, Actors, named_key

MRI_BRAIN = "70551"  # MRI brain without contrast: auto-approval by gold card
MRI_LUMBAR = "72148"  # MRI lumbar spine without contrast: never auto-approved
CT_HEAD = "70450"  # no policy
YEAR = 365 * 24 * 3600

AUTO_POLICY = Policy(auto_approval=True, max_units=2, gold_card_schema=2, required_schemas=(1,))
"""Schema 1: the state license; schema 2: the payer's gold card (the world registers them in that order)."""
MANUAL_POLICY = Policy(max_units=3, approval_validity_days=30, required_schemas=(1,))


@dataclass(frozen=True)
class World:
    w3: Web3
    creds: CredentialRegistryClient  # sends as the admin
    address: str
    admin: Transactor
    payer: Transactor
    other_payer: Transactor
    site: Transactor
    other_site: Transactor
    stranger: Transactor
    board: Transactor  # issues licenses
    gold: KeySigner  # licensed, holds the payer's gold card
    licensed: KeySigner  # licensed, no gold card
    unlicensed: KeySigner
    license_schema: int
    gold_schema: int
    gold_uid: bytes
    counter: list[int] = field(default_factory=lambda: [0])

    def preauth(self, sender: Transactor | None = None) -> PreauthRegistryClient:
        return PreauthRegistryClient(self.w3, self.address, sender)

    @property
    def as_site(self) -> PreauthRegistryClient:
        return self.preauth(self.site)

    @property
    def as_payer(self) -> PreauthRegistryClient:
        return self.preauth(self.payer)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def opening(self, member_id: str = "SYNTH-MEMBER-0001", diagnoses: tuple[str, ...] = ("R51.9",)) -> Opening:
        """An opening with deterministic salts, new for every call (so every order differs)."""
        self.counter[0] += 1
        n = self.counter[0]
        member = MemberOpening(keccak(text=f"member salt {n}"), "PAYER-TEST", member_id)
        clinical = ClinicalOpening(keccak(text=f"clinical salt {n}"), diagnoses, (keccak(text=f"evidence {n}"),))
        return Opening(member, (clinical,))

    def order(
        self,
        physician: KeySigner | None = None,
        *,
        units: int = 1,
        expedited: bool = False,
        procedure: str = MRI_BRAIN,
        payer: str | None = None,
        requester: str | None = None,
        deadline: int | None = None,
        opening: Opening | None = None,
    ) -> dict[str, Any]:
        opening = opening or self.opening()
        return order_message(
            requester or self.site.address,
            payer or self.payer.address,
            opening.member_commitment,
            procedure,
            units,
            (physician or self.gold).address,
            expedited,
            opening.clinical_commitment,
            self.now() + 3600 if deadline is None else deadline,
        )

    def signature(self, message: dict[str, Any], signer: KeySigner | None = None) -> bytes:
        """The signature of `message` by `signer` (default: the physician it names)."""
        physicians = {k.address: k for k in (self.gold, self.licensed, self.unlicensed)}
        key = signer or physicians[message["physician"]]
        return sign(key, self.preauth().domain(), "OrderAttestation", message).signature

    def request(self, physician: KeySigner | None = None, sender: Transactor | None = None, **kwargs: Any) -> bytes:
        """A signed order sent by the site (or `sender`); returns the request id."""
        sender = sender or self.site
        message = self.order(physician, requester=sender.address, **kwargs)
        return self.preauth(sender).request(message, self.signature(message))

    def pended(self, **kwargs: Any) -> bytes:
        """A request of the physician without a gold card: pended."""
        return self.request(self.licensed, **kwargs)


def travel_to(w3: Web3, timestamp: int) -> None:
    """Mine a block at `timestamp`: views see it, the next transaction runs one second later."""
    now = int(w3.eth.get_block("latest")["timestamp"])
    assert timestamp >= now, "time only moves forward"
    time_travel(w3, timestamp - now)
    assert int(w3.eth.get_block("latest")["timestamp"]) == timestamp


def build_world(chain: Web3, actors: Actors, records_address: str) -> World:
    """The sites are the session deployment's custodians (RecordRegistry at `records_address`)."""
    accounts = chain.eth.accounts
    admin = actors.admin
    creds = deploy_credentials(admin, artifacts_dir=ARTIFACTS)
    address = deploy_preauth(admin, creds.address, records_address, artifacts_dir=ARTIFACTS)
    payer, other_payer, board = (Transactor(chain, UnlockedAccount(accounts[i])) for i in (6, 7, 8))
    license_schema = creds.register_schema("radledger tests preauth: state medical license", True, 10 * YEAR).schema_id
    gold_schema = creds.register_schema("radledger tests preauth: payer gold card", True, 10 * YEAR).schema_id
    assert (license_schema, gold_schema) == (1, 2)
    creds.authorize_issuer(license_schema, board.address)
    creds.authorize_issuer(gold_schema, payer.address)
    gold, licensed, unlicensed = (named_key(f"ordering physician: {n}") for n in ("gold", "licensed", "unlicensed"))
    until = creds.now() + 2 * YEAR
    for physician in (gold, licensed):
        creds.with_sender(board).attest(physician.address, license_schema, until)
    gold_uid = creds.with_sender(payer).attest(gold.address, gold_schema, until).uid
    preauth = PreauthRegistryClient(chain, address, admin)
    preauth.register_payer(payer.address)
    preauth.register_payer(other_payer.address)
    preauth.with_sender(payer).set_policy(MRI_BRAIN, AUTO_POLICY)
    preauth.with_sender(payer).set_policy(MRI_LUMBAR, MANUAL_POLICY)
    preauth.with_sender(other_payer).set_policy(MRI_BRAIN, MANUAL_POLICY)
    # The sites' accounts are the chain's own (unlocked): faster than signing locally, same addresses.
    site, other_site = (Transactor(chain, UnlockedAccount(a.address)) for a in (actors.site, actors.other_site))
    return World(
        chain, creds, address, admin, payer, other_payer, site, other_site, actors.stranger, board,
        gold, licensed, unlicensed, license_schema, gold_schema, gold_uid,
    )  # fmt: skip


_WORLDS: dict[int, World] = {}


@pytest.fixture(scope="module", name="world_base")
def world_base_fixture(chain: Web3, actors: Actors, deployment: Any) -> World:
    """Deployed once per session, outside any test's snapshot (so it outlives the per-test reverts), and
    shared by the modules that import this fixture."""
    cached = _WORLDS.get(id(chain))
    if cached is None or not chain.eth.get_code(Web3.to_checksum_address(cached.address)):
        cached = _WORLDS[id(chain)] = build_world(chain, actors, deployment.record_registry)
    return cached


@pytest.fixture(name="world")
def world_fixture(world_base: World, w3: Web3) -> World:
    """The world inside the test's snapshot (reverted after the test)."""
    return world_base
