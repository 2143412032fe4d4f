"""What an auditor indexes: the contracts of one deployment on one chain, and where their history starts.

Addresses come from a deployment manifest (``deployments/<chainId>.json``), from a
:class:`radledger.deploy.Deployment` (the demo, tests), or from explicit name → address pairs
(the CLI's ``--records``/``--consent``/``--credentials``/``--preauth`` options).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError

KNOWN_CONTRACTS = ("RecordRegistry", "ConsentRegistry", "CredentialRegistry", "PreauthRegistry")
"""The contracts whose events the audit queries read (others are indexed and decoded too)."""


@dataclass(frozen=True)
class AuditTarget:
    """Contract name → address on chain `chain_id`; history is read from `start_blocks` (default 0)."""

    chain_id: int
    contracts: Mapping[str, str]
    start_blocks: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.contracts:
            raise ConfigurationError("nothing to audit: no contract address given")
        checked = {name: validation.nonzero_address(a, f"{name} address") for name, a in self.contracts.items()}
        if len(set(checked.values())) != len(checked):
            raise ConfigurationError("two contracts of the audit target share an address")
        object.__setattr__(self, "contracts", dict(sorted(checked.items())))

    def start_block(self, name: str) -> int:
        return max(0, int(self.start_blocks.get(name, 0)))

    @property
    def first_block(self) -> int:
        return min(self.start_block(n) for n in self.contracts)

    def address_of(self, name: str) -> str | None:
        return self.contracts.get(name)

    @classmethod
    def from_manifest(cls, manifest: Any) -> AuditTarget:
        """From a :class:`radledger.manifest.Manifest` (or a path to one): its addresses and creation blocks."""
        if isinstance(manifest, str | Path):
            from radledger.deployment.manifest import load_manifest

            manifest = load_manifest(manifest)
        starts = {
            name: int(record.block_number)
            for name, record in manifest.contracts.items()
            if getattr(record, "block_number", None) is not None
        }
        return cls(int(manifest.chain_id), dict(manifest.addresses), starts)

    @classmethod
    def from_deployment(cls, deployment: Any, extra: Mapping[str, str] | None = None) -> AuditTarget:
        """From a :class:`radledger.deploy.Deployment`, a manifest, an AuditTarget, or a name → address
        mapping with a ``chain_id`` key; `extra` adds contracts (name → address)."""
        if isinstance(deployment, AuditTarget):
            base = deployment
        elif hasattr(deployment, "contracts") and hasattr(deployment, "steps"):
            base = cls.from_manifest(deployment)
        elif hasattr(deployment, "addresses") and callable(deployment.addresses):
            base = cls(int(deployment.chain_id), dict(deployment.addresses()))
        elif isinstance(deployment, Mapping):
            mapping = dict(deployment)
            chain_id = mapping.pop("chain_id", None)
            if chain_id is None:
                raise ConfigurationError("a mapping of addresses needs a 'chain_id' key")
            base = cls(int(chain_id), mapping)
        else:
            raise ConfigurationError(f"cannot audit a {type(deployment).__name__}: give a Deployment or a manifest")
        if not extra:
            return base
        return cls(base.chain_id, {**base.contracts, **extra}, dict(base.start_blocks))
