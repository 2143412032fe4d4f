"""Checking a deployment against its manifest and the artifacts.

- **Code**: each contract's runtime bytecode on chain equals the artifact's, with the
  immutables (the EIP-712 domain cache, linked addresses, durations) masked at the offsets
  the artifact's `immutableReferences` give. The metadata hash at the end of the code is not
  masked, so the sources are pinned too.
- **Links**: each spec's own checks (ConsentRegistry reads the manifest's RecordRegistry ...).
- **Roles**: every role the manifest lists is held, and the role events since the deployment
  show no other holder (a grant made outside the manifest, a deployer that did not renounce).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.exceptions import Web3Exception

from radledger.chain.artifacts import Artifact, load_artifact
from radledger.chain.errors import RadledgerError
from radledger.chain.events.reader import read_logs
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.manifest import Manifest
from radledger.deployment.plan import ROLE_GRANTED, ROLE_REVOKED, ContractSpec, DeployOptions, StepEnv, role_constants
from radledger.deployment.runner import bytecode_hash, masked, runtime_matches
from radledger.deployment.specs import CONTRACTS


@dataclass(frozen=True)
class Check:
    """One verified fact: `ok`, what was checked, and what was found when it failed."""

    subject: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.subject}" + (f": {self.detail}" if self.detail else "")

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class VerifyReport:
    chain_id: int
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def verify_deployment(
    w3: Web3,
    manifest: Manifest,
    specs: Sequence[ContractSpec] | None = None,
    artifacts_dir: Path | None = None,
) -> VerifyReport:
    """Check the deployment `manifest` on `w3`."""
    specs = list(specs if specs is not None else CONTRACTS)
    checks: list[Check] = []
    chain_id = w3.eth.chain_id
    if chain_id != manifest.chain_id:
        return VerifyReport(
            chain_id,
            [Check("chain id", False, f"the manifest is for chain {manifest.chain_id}, the node is {chain_id}")],
        )
    checks.append(Check(f"chain id {chain_id}", True))
    checks.append(
        Check(
            "deployment complete",
            manifest.status == "complete" and manifest.pending is None,
            "" if manifest.status == "complete" else f"status {manifest.status}: re-run the deployment to finish it",
        )
    )
    by_name = {s.name: s for s in specs}
    # A read-only environment: the manifest's deployer as a sender that never signs.
    env = StepEnv(
        w3, Transactor(w3, UnlockedAccount(manifest.deployer)), manifest, by_name, DeployOptions(), artifacts_dir
    )
    present: list[str] = []
    for name, record in manifest.contracts.items():
        if name not in by_name:
            checks.append(Check(f"{name}", False, "not a contract of this version of radledger"))
            continue
        artifact = load_artifact(name, artifacts_dir)
        code = bytes(w3.eth.get_code(record.address))
        if not code:
            checks.append(Check(f"{name} code at {record.address}", False, "no code at that address"))
            continue
        matches = runtime_matches(code, artifact)
        checks.append(
            Check(
                f"{name} code at {record.address} matches the artifact (immutables masked)",
                matches,
                "" if matches else _code_difference(code, artifact),
            )
        )
        if matches:  # reading another contract's code through this ABI would only mislead
            present.append(name)
        if record.bytecode_hash != bytecode_hash(artifact):
            checks.append(
                Check(
                    f"{name} artifact",
                    False,
                    f"the manifest records source hash {record.source_hash}, the artifacts are {artifact.source_hash}",
                )
            )
    ctx = env.context()
    for name in present:
        spec = by_name[name]
        if spec.checks is None:
            continue
        try:
            found_links = spec.checks(env.client(name), ctx)
        except (RadledgerError, Web3Exception) as exc:
            checks.append(Check(f"{name} links", False, f"cannot read them: {exc}"))
            continue
        for what, expected, found in found_links:
            checks.append(
                Check(f"{name} {what} = {expected}", expected == found, "" if expected == found else f"found {found}")
            )
    checks.extend(_role_checks(w3, manifest, env, [n for n in present if role_constants(env.artifact(n))]))
    return VerifyReport(chain_id, checks)


def _role_checks(w3: Web3, manifest: Manifest, env: StepEnv, names: list[str]) -> list[Check]:
    checks: list[Check] = []
    expected: set[tuple[str, str, str]] = {(r.contract, r.role, r.account) for r in manifest.roles}
    for contract, role, account in sorted(expected):
        if contract not in names:
            continue
        held = env.client(contract).has_role(role, account)
        checks.append(Check(f"{contract} {role} held by {account}", held, "" if held else "not held"))
    holders = role_holders_from_events(w3, manifest, env, names)
    for contract, role, account in sorted(holders - expected):
        checks.append(Check(f"{contract} {role} held by {account}", False, "not in the manifest"))
    return checks


def role_holders_from_events(w3: Web3, manifest: Any, env: Any, names: list[str]) -> set[tuple[str, str, str]]:
    """Who holds which role, replayed from RoleGranted/RoleRevoked since the deployment's first block
    (read with the package's log reader: py-evm's database in process, else ``eth_getLogs`` in ranges
    that adapt to the node's limits)."""
    by_address = {manifest.contracts[n].address: n for n in names}
    holders: set[tuple[str, str, str]] = set()
    if not by_address:
        return holders
    for log in read_logs(w3, list(by_address), manifest.first_block, topics=[[ROLE_GRANTED, ROLE_REVOKED]]):
        topics = log.topics
        if len(topics) < 3:
            continue
        name = by_address[Web3.to_checksum_address(log.address)]
        key = (name, env.role_name(name, topics[1]), Web3.to_checksum_address(topics[2][-20:]))
        if topics[0] == ROLE_GRANTED:
            holders.add(key)
        else:
            holders.discard(key)
    return holders


def _code_difference(code: bytes, artifact: Artifact) -> str:
    expected = masked(bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x")), artifact)
    found = masked(code, artifact)
    if len(found) != len(expected):
        return f"{len(code)} bytes on chain, {len(expected)} in the artifact"
    first = next(i for i, (a, b) in enumerate(zip(found, expected, strict=True)) if a != b)
    return f"first difference at byte {first}"
