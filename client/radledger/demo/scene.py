"""What the acts of `radledger demo` share: the senders, the chain and its narrator, the patient and
the site's synthetic data, and (from governance on) the deployment and its credential schemas."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from web3 import Web3

from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor
from radledger.demo.data import SiteLocalData
from radledger.demo.narration import Narrator
from radledger.demo.result import DemoSchemas
from radledger.deployment.addresses import Deployment
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.records.client import RecordRegistryClient


@dataclass(frozen=True)
class Actors:
    """The parties that send transactions (unlocked accounts of the in-process chain)."""

    governance: Transactor
    site: Transactor
    teleradiology: Transactor
    emergency: Transactor
    state_board: Transactor
    specialty_board: Transactor
    physicist: Transactor
    payer: Transactor
    auditor: Transactor


@dataclass(frozen=True)
class Cast:
    """Everyone in the story and what the site keeps, before anything is on chain."""

    w3: Web3
    story: Narrator
    actors: Actors
    patient: KeySigner
    """The patient signs (EIP-712) and never sends: the site relays."""
    site: SiteLocalData
    rng: random.Random
    first_block: int


@dataclass(frozen=True)
class Scene:
    """The cast on a deployed chain: what every act after governance shares."""

    cast: Cast
    deployment: Deployment
    schemas: DemoSchemas
    schema_names: Mapping[int, str]
    """Schema id → its on-chain name."""

    @property
    def w3(self) -> Web3:
        return self.cast.w3

    @property
    def story(self) -> Narrator:
        return self.cast.story

    @property
    def actors(self) -> Actors:
        return self.cast.actors

    @property
    def patient(self) -> KeySigner:
        return self.cast.patient

    @property
    def site(self) -> SiteLocalData:
        return self.cast.site

    @property
    def first_block(self) -> int:
        return self.cast.first_block

    def records(self, sender: Transactor | None = None) -> RecordRegistryClient:
        return self.deployment.records(self.w3, sender)

    def consent(self, sender: Transactor | None = None) -> ConsentRegistryClient:
        return self.deployment.consent(self.w3, sender)

    def credentials(self, sender: Transactor | None = None) -> CredentialRegistryClient:
        return self.deployment.credentials(self.w3, sender)

    def preauth(self, sender: Transactor | None = None) -> PreauthRegistryClient:
        return self.deployment.preauth(self.w3, sender)
