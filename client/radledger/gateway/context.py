"""Everything a gateway process holds: settings, chain clients, the local store, the nonce store.

Built from a configuration file (`GatewayContext.from_settings`) or, in tests and embedded
use, from a `Web3` and a deployment given directly.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.middleware import Web3Middleware

from radledger.chain.connection import connect
from radledger.chain.eip712 import Domain
from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import Signer
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment, consent_deployment
from radledger.gateway.config import GatewaySettings
from radledger.gateway.consent_check import ConsentChecker
from radledger.gateway.grant_index import GrantIndex
from radledger.gateway.ingest import Ingestor
from radledger.gateway.sessions import SessionStore
from radledger.gateway.store import GatewayStore
from radledger.gateway.tokens import NonceStore, TokenVerifier
from radledger.gateway.upstream import Upstream
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.records.client import RecordRegistryClient


@dataclass
class GatewayContext:
    settings: GatewaySettings
    w3: Web3
    deployment: Deployment
    custodian: Transactor | None
    """Sends registrations and recordAccess; None for a gateway that only serves."""
    salt: bytes | None = None
    store: GatewayStore = field(init=False)
    nonces: NonceStore = field(init=False)
    sessions: SessionStore = field(init=False)
    _chain_id: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.store = GatewayStore(self.settings.store_path, self.salt)
        self.nonces = NonceStore(self.settings.nonces_path)
        self.sessions = SessionStore(self.settings.sessions_path)
        cache_chain_id(self.w3)

    # -------------------------------------------------------------- constructors

    @classmethod
    def from_settings(cls, settings: GatewaySettings, w3: Web3 | None = None, with_key: bool = True) -> GatewayContext:
        """Connect as the configuration says (the key is loaded when `with_key`)."""
        if w3 is None:
            if not settings.rpc_url:
                raise ConfigurationError("no [chain] rpc_url in the gateway configuration")
            w3 = connect(settings.rpc_url)
        deployment = deployment_of(settings, w3)
        signer: Signer | None = settings.custodian_signer() if with_key else None
        salt = settings.salt() if settings.salt_file is not None else None
        return cls(settings, w3, deployment, Transactor(w3, signer) if signer else None, salt)

    # ----------------------------------------------------------------- clients

    @property
    def custodian_address(self) -> ChecksumAddress | None:
        return self.custodian.address if self.custodian else None

    def records(self) -> RecordRegistryClient:
        return self.deployment.records(self.w3, self.custodian)

    def consent(self) -> ConsentRegistryClient:
        """Read-only ConsentRegistry (the gateway's questions)."""
        return self.deployment.consent(self.w3)

    def recorder(self) -> ConsentRegistryClient | None:
        """ConsentRegistry sending as the custodian, when accesses go on chain."""
        if not self.settings.record_on_chain:
            return None
        if self.custodian is None:
            raise ConfigurationError("record_on_chain needs the custodian's key")
        return self.deployment.consent(self.w3, self.custodian)

    @property
    def from_block(self) -> int:
        """Where the gateway's event readers (the trail's reconciliation) start: [chain] from_block,
        else the ConsentRegistry's creation block."""
        if self.settings.from_block is not None:
            return self.settings.from_block
        return self.deployment.start_block("ConsentRegistry")

    @property
    def chain_id(self) -> int:
        """The node's chain id, read once (it does not change under a running gateway)."""
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def domain(self) -> Domain:
        return Domain.gateway(self.chain_id, self.deployment.require("ConsentRegistry"))

    def grant_index(self) -> GrantIndex:
        """The per-grantee index searches start from (refreshed every consent_cache_seconds)."""
        return GrantIndex(
            self.w3, self.deployment.require("ConsentRegistry"), self.from_block, self.settings.consent_cache_seconds
        )

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.domain(), self.settings.audience, self.nonces, w3=self.w3)

    def checker(self) -> ConsentChecker:
        return ConsentChecker(self.consent(), self.settings.consent_cache_seconds)

    def ingestor(self, upstream: Upstream) -> Ingestor:
        if self.salt is None:
            raise ConfigurationError("registering studies needs the site salt ([custodian] salt_file)")
        if self.custodian is None:
            raise ConfigurationError("registering studies needs the custodian's key")
        return Ingestor(upstream, self.store, self.records(), self.salt)

    def close(self) -> None:
        self.store.close()
        self.nonces.close()
        self.sessions.close()


CHAIN_ID_CACHE = "radledger_chain_id_cache"


class ChainIdCache(Web3Middleware):
    """Answers `eth_chainId` from the first answer: web3's validation middleware asks the node for
    the chain id before every `eth_call`, which doubled the node calls of every consent question."""

    def wrap_make_request(self, make_request: Any) -> Any:
        cached: dict[str, Any] = {}

        def middleware(method: str, params: Any) -> Any:
            if method != "eth_chainId":
                return make_request(method, params)
            if "answer" not in cached:
                answer = make_request(method, params)
                if "error" in answer:
                    return answer
                cached["answer"] = answer
            return dict(cached["answer"])

        return middleware


def cache_chain_id(w3: Web3) -> None:
    """Put :class:`ChainIdCache` on `w3` (once)."""
    with contextlib.suppress(ValueError):  # already there
        w3.middleware_onion.inject(ChainIdCache, name=CHAIN_ID_CACHE, layer=0)


def deployment_of(settings: GatewaySettings, w3: Web3) -> Deployment:
    """The contracts the gateway's configuration names ([chain] records and consent, or a manifest)."""
    return consent_deployment(w3, settings.records_address, settings.consent_address, settings.manifest, "gateway")
