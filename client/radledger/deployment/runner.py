"""Running a deployment plan against a chain: resumable, idempotent, recorded step by step.

:func:`run_deployment` sends each step that the manifest and the chain do not already show
done, waits for its confirmations, and rewrites the manifest atomically after each one. A
contract creation is announced in the manifest (`pending`: nonce and the address it will
create) before it is sent, so a run interrupted between sending and confirming adopts the
contract on the next run instead of deploying it twice.

:func:`dry_run` sends nothing: it replays the plan on an in-process chain to measure each
transaction's gas and prices it with the target network's current fees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import TxReceipt
from web3.utils.address import get_create_address

from radledger.chain import validation
from radledger.chain.artifacts import Artifact, default_dir, load_artifact
from radledger.chain.compiler import _IMPORT_RE, _resolve
from radledger.chain.connection import in_process_chain
from radledger.chain.errors import (
    ChainError,
    ConfigurationError,
    DeploymentInterrupted,
    NodeUnreachable,
    unreachable_reason,
)
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor, endpoint_of
from radledger.deployment.manifest import (
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    ContractRecord,
    Manifest,
    PendingTransaction,
    StepRecord,
    archive_manifest,
    load_manifest,
    save_manifest,
    standard_input_dir,
    write_atomically,
)
from radledger.deployment.plan import (
    ROLE_GRANTED,
    ROLE_REVOKED,
    ContractSpec,
    DeployContract,
    DeployOptions,
    Step,
    StepEnv,
    build_plan,
)
from radledger.deployment.setup_file import SetupConfig

PENDING_SCAN_BLOCKS = 1024
"""How far past the block a pending creation was sent in to look for its transaction."""

StepHook = Callable[[str, Manifest], None]
Log = Callable[[str], None]


@dataclass
class DeployResult:
    manifest: Manifest
    sent: list[str] = field(default_factory=list)
    """Ids of the steps that sent a transaction in this run."""
    found: list[str] = field(default_factory=list)
    """Ids of the steps the chain already showed done."""

    @property
    def up_to_date(self) -> bool:
        return not self.sent


def _quiet(_: str) -> None:
    pass


class _Run:
    """One run of a plan: the environment, the manifest file, what was sent."""

    def __init__(
        self,
        transactor: Transactor,
        specs: Sequence[ContractSpec],
        options: DeployOptions,
        setup: SetupConfig | None,
        network: str,
        manifest_path: Path | None,
        fresh: bool,
        artifacts_dir: Path | None,
        on_step: StepHook | None,
        log: Log,
    ) -> None:
        self.transactor = transactor
        self.w3 = transactor.w3
        self.specs = list(specs)
        self.setup = setup
        self.path = manifest_path
        self.artifacts_dir = artifacts_dir
        self.on_step = on_step
        self.log = log
        self.chain_id = self._node(lambda: self.w3.eth.chain_id, "reading the chain id")
        if options.handoff_to == transactor.address:
            options = replace(options, handoff_to=None)
        self.plan = build_plan(self.specs, options, setup, artifacts_dir)  # a bad setup file fails here, first
        manifest = self._open_manifest(network, options, fresh)
        self.options = options
        self.env = StepEnv(self.w3, transactor, manifest, {s.name: s for s in self.specs}, options, artifacts_dir)
        self.result = DeployResult(manifest)

    @property
    def manifest(self) -> Manifest:
        return self.env.manifest

    # ------------------------------------------------------------------ manifest

    def _open_manifest(self, network: str, options: DeployOptions, fresh: bool) -> Manifest:
        deployer = self.transactor.address
        if self.path is not None and self.path.is_file():
            if fresh:
                archived = archive_manifest(self.path)
                self.log(f"--fresh: previous manifest moved to {archived}")
            else:
                manifest = load_manifest(self.path)
                self._check_existing(manifest, options)
                return manifest
        first = load_artifact(self.specs[0].name, self.artifacts_dir)
        return Manifest(
            chain_id=self.chain_id,
            network=network,
            deployer=deployer,
            compiler_version=first.compiler_version,
            options=options.to_json(deployer),
        )

    def _check_existing(self, manifest: Manifest, options: DeployOptions) -> None:
        """A manifest is resumed only if it is this chain's, of these artifacts and options, and still on chain."""
        where = str(self.path)
        if manifest.chain_id != self.chain_id:
            raise ConfigurationError(f"{where} is for chain {manifest.chain_id}; the node is chain {self.chain_id}")
        recorded = manifest.options
        wanted = options.to_json(manifest.deployer if options.admin is None else options.admin)
        if recorded.get("breakGlassSeconds") != wanted["breakGlassSeconds"]:
            raise ConfigurationError(
                f"{where} was deployed with break-glass {recorded.get('breakGlassSeconds')} s, not "
                f"{wanted['breakGlassSeconds']} s: pass --fresh to deploy anew"
            )
        if options.admin is not None and recorded.get("admin") != options.admin:
            raise ConfigurationError(f"{where} was deployed with admin {recorded.get('admin')}, not {options.admin}")
        handoff = recorded.get("handoffTo")
        if handoff and options.handoff_to and handoff != options.handoff_to:
            raise ConfigurationError(f"{where}: the admin role was handed to {handoff}, not {options.handoff_to}")
        for name, record in manifest.contracts.items():
            if name not in {s.name for s in self.specs}:
                continue
            artifact = load_artifact(name, self.artifacts_dir)
            if record.bytecode_hash != bytecode_hash(artifact):
                raise ConfigurationError(
                    f"{where} records a {name} built from other sources (source hash {record.source_hash}, "
                    f"now {artifact.source_hash}): pass --fresh to deploy the current contracts"
                )
            code = self._node(partial(self.w3.eth.get_code, record.address), f"reading the code of {name}")
            if not code:
                raise ConfigurationError(
                    f"{where} records {name} at {record.address} but chain {self.chain_id} has no code there "
                    "(was the chain reset?): pass --fresh to deploy anew"
                )

    def _save(self) -> None:
        if self.path is not None:
            save_manifest(self.manifest, self.path)

    # ------------------------------------------------------------------- running

    def run(self) -> DeployResult:
        unchanged = self.manifest.status == STATUS_COMPLETE and self.path is not None and self.path.is_file()
        if (handoff := self.options.handoff_to) and self.manifest.options.get("handoffTo") != handoff:
            self.manifest.options["handoffTo"] = handoff
            unchanged = False
        if self.manifest.pending is not None:
            self._recover_pending()
        for step in self.plan:
            self._run_step(step)
        self.manifest.status = STATUS_COMPLETE
        if not unchanged or self.result.sent or self.result.found:
            self._save()
        return self.result

    def _run_step(self, step: Step) -> None:
        if isinstance(step, DeployContract):
            if step.is_done(self.env):
                return
        elif self.manifest.step(step.id) is not None and step.contract in self.manifest.contracts:
            return
        elif self._node(lambda: step.is_done(self.env), f"checking {step.id}"):
            step.expected_effect(self.env)
            if step.record_when_found:
                self.manifest.steps.append(
                    StepRecord(step.id, step.describe(self.env, self._labels()), None, None, None)
                )
                self.result.found.append(step.id)
                self.log(f"= {step.describe(self.env, self._labels())}: already done on chain")
            return
        self._check_deployer(step)
        self.manifest.status = STATUS_IN_PROGRESS
        description = step.describe(self.env, self._labels())
        self.log(f"> {description}")
        if isinstance(step, DeployContract):
            receipt = self._deploy(step)
        else:
            step.precondition(self.env)
            receipt = self._node(lambda: self.transactor.send(step.function(self.env)), f"sending {step.id}")
            self._apply_role_events(receipt)
            step.expected_effect(self.env)
        self.manifest.steps.append(
            StepRecord(
                step.id,
                description,
                receipt["transactionHash"].to_0x_hex(),
                int(receipt["blockNumber"]),
                int(receipt["gasUsed"]),
            )
        )
        self.result.sent.append(step.id)
        self._save()
        self.log(
            f"  tx {receipt['transactionHash'].to_0x_hex()} block {receipt['blockNumber']} gas {receipt['gasUsed']:,}"
        )
        if self.on_step is not None:
            self.on_step(step.id, self.manifest)

    def _check_deployer(self, step: Step) -> None:
        if self.manifest.deployer != self.transactor.address:
            raise ConfigurationError(
                f"{self.path} was deployed by {self.manifest.deployer}; the key given is {self.transactor.address}. "
                f"Resume with the same key, or pass --fresh (step {step.id} is still to do)"
            )

    def _deploy(self, step: DeployContract) -> TxReceipt:
        artifact = self.env.artifact(step.spec.name)
        args = step.constructor_args(self.env)
        deployer = self.transactor.address
        if self.path is not None:
            nonce, block = self._node(
                lambda: (self.w3.eth.get_transaction_count(deployer, "pending"), self.w3.eth.block_number),
                "reading the deployer's nonce",
            )
            self.manifest.pending = PendingTransaction(step.id, nonce, get_create_address(deployer, nonce), block)
            self._save()
        receipt = self._node(
            lambda: self.transactor.deploy(list(artifact.abi), artifact.bytecode, *args), f"deploying {step.spec.name}"
        )
        self._record_contract(step.spec.name, artifact, args, receipt["contractAddress"], receipt)
        return receipt

    def _record_contract(
        self,
        name: str,
        artifact: Artifact,
        args: Sequence[Any],
        address: str,
        receipt: TxReceipt | None,
        adopted: bool = False,
    ) -> None:
        self.manifest.contracts[name] = ContractRecord(
            address=validation.nonzero_address(address, f"{name} address"),
            tx_hash=receipt["transactionHash"].to_0x_hex() if receipt else None,
            block_number=int(receipt["blockNumber"]) if receipt else None,
            constructor_args=[_jsonable(a) for a in args],
            source_name=artifact.source_name,
            source_hash=artifact.source_hash,
            bytecode_hash=bytecode_hash(artifact),
            standard_input=self._write_standard_input(artifact),
            adopted=adopted,
        )
        self.manifest.pending = None
        if receipt is not None:
            self._apply_role_events(receipt)
        else:
            self._read_roles(name)

    def _write_standard_input(self, artifact: Artifact) -> str | None:
        if self.path is None:
            return None
        target = standard_input_dir(self.path) / f"{artifact.name}.json"
        doc = contract_standard_input(artifact, self.artifacts_dir)
        write_atomically(target, json.dumps(doc, indent=1, sort_keys=True) + "\n")
        return target.relative_to(self.path.parent).as_posix()

    # ---------------------------------------------------------------- pending

    def _recover_pending(self) -> None:
        """A creation was sent but not confirmed: adopt its contract if it landed, else forget it."""
        pending = self.manifest.pending
        assert pending is not None
        name = pending.step.removeprefix("deploy:")
        spec = next((s for s in self.specs if s.name == name), None)
        if spec is None or name in self.manifest.contracts:
            self.manifest.pending = None
            return
        artifact = self.env.artifact(name)
        deployer = self.manifest.deployer
        deadline = time.monotonic() + self.transactor.timeout
        while True:
            mined = self._node(lambda: self.w3.eth.get_transaction_count(deployer, "latest"), "reading the nonce")
            in_pool = self._node(lambda: self.w3.eth.get_transaction_count(deployer, "pending"), "reading the nonce")
            if mined > pending.nonce or in_pool <= pending.nonce or time.monotonic() > deadline:
                break
            time.sleep(self.transactor.poll_latency)  # still in the pool: wait for it to be mined
        code = self._node(lambda: self.w3.eth.get_code(pending.predicted_address), "reading code")
        if mined > pending.nonce and code and runtime_matches(bytes(code), artifact):
            receipt = self._find_creation(pending)
            args = DeployContract(spec).constructor_args(self.env)
            self._record_contract(name, artifact, args, pending.predicted_address, receipt, adopted=True)
            self.manifest.steps.append(
                StepRecord(
                    pending.step,
                    f"deploy {name} (adopted after an interruption)",
                    receipt["transactionHash"].to_0x_hex() if receipt else None,
                    int(receipt["blockNumber"]) if receipt else None,
                    int(receipt["gasUsed"]) if receipt else None,
                )
            )
            self.result.found.append(pending.step)
            self.log(f"= {name}: the interrupted creation landed at {pending.predicted_address}; adopted")
        elif mined <= pending.nonce and in_pool > pending.nonce:
            raise ChainError(
                f"the interrupted creation of {name} (nonce {pending.nonce}) is still pending after "
                f"{self.transactor.timeout:.0f}s: re-run later"
            )
        else:
            self.manifest.pending = None
            self.log(f"= the interrupted creation of {name} did not land; deploying it again")
        self._save()

    def _find_creation(self, pending: PendingTransaction) -> TxReceipt | None:
        latest = self._node(lambda: self.w3.eth.block_number, "reading the block number")
        for number in range(pending.sent_at_block, min(latest, pending.sent_at_block + PENDING_SCAN_BLOCKS) + 1):
            block = self._node(partial(self.w3.eth.get_block, number, full_transactions=True), "reading blocks")
            for tx in block["transactions"]:
                if tx["from"] == self.manifest.deployer and int(tx["nonce"]) == pending.nonce:
                    receipt: TxReceipt = self._node(
                        partial(self.w3.eth.get_transaction_receipt, tx["hash"]), "reading a receipt"
                    )
                    return receipt
        return None

    # ----------------------------------------------------------------- roles

    def _apply_role_events(self, receipt: TxReceipt) -> None:
        """Update the manifest's roles from the RoleGranted/RoleRevoked logs of our contracts."""
        by_address = {r.address: name for name, r in self.manifest.contracts.items()}
        for log in receipt["logs"]:
            name = by_address.get(Web3.to_checksum_address(log["address"]))
            topics = [bytes(t) for t in log["topics"]]
            if name is None or len(topics) < 3 or topics[0] not in (ROLE_GRANTED, ROLE_REVOKED):
                continue
            role = self.env.role_name(name, topics[1])
            account = Web3.to_checksum_address(topics[2][-20:])
            if topics[0] == ROLE_GRANTED:
                self.manifest.grant(name, role, account)
            else:
                self.manifest.revoke(name, role, account)

    def _read_roles(self, name: str) -> None:
        """Without a receipt (an adopted contract): the roles the deployer and admin hold, read from the chain."""
        client = self.env.client(name)
        accounts = {self.manifest.deployer, self.env.context().admin}
        for role in self.env.role_names(name).values():
            for account in accounts:
                if client.has_role(role, account):
                    self.manifest.grant(name, role, account)

    # ----------------------------------------------------------------- helpers

    def _labels(self) -> dict[str, str]:
        labels: dict[str, str] = {address: name for name, address in self.manifest.addresses.items()}
        labels[self.transactor.address] = "deployer"
        if self.options.handoff_to:
            labels[self.options.handoff_to] = "new admin"
        return labels

    def _node(self, action: Callable[[], Any], what: str) -> Any:
        """Run `action`; a node that is gone becomes :class:`DeploymentInterrupted` (one that answers
        nonsense, a ChainError) naming the step."""
        saved = f"; the manifest {self.path} holds every confirmed step: re-run to resume" if self.path else ""
        try:
            return action()
        except (ChainError, OSError, Web3Exception) as exc:
            reason = unreachable_reason(exc)
            if reason is not None:
                url = endpoint_of(self.w3)
                if self.path is None:
                    raise NodeUnreachable(url, reason) from exc
                raise DeploymentInterrupted(what, self.path, url, reason) from exc
            if isinstance(exc, ChainError):
                raise ChainError(f"{exc} (while {what}){saved}") from exc
            raise ChainError(f"node failed while {what}: {type(exc).__name__}: {exc}{saved}") from exc


def run_deployment(
    transactor: Transactor,
    specs: Sequence[ContractSpec],
    options: DeployOptions | None = None,
    *,
    setup: SetupConfig | None = None,
    network: str = "",
    manifest_path: Path | None = None,
    fresh: bool = False,
    artifacts_dir: Path | None = None,
    on_step: StepHook | None = None,
    log: Log = _quiet,
) -> DeployResult:
    """Deploy (or resume, or confirm) the contracts of `specs` with `transactor`.

    With `manifest_path`, the manifest there is resumed (or, with `fresh`, moved aside) and
    rewritten after every confirmed step; `on_step(step_id, manifest)` runs after each save.
    """
    if options is None:
        options = DeployOptions()
    if setup is not None and setup.handoff_to is not None and options.handoff_to is None:
        options = replace(options, handoff_to=setup.handoff_to)
    run = _Run(transactor, specs, options, setup, network, manifest_path, fresh, artifacts_dir, on_step, log)
    return run.run()


# ------------------------------------------------------------------------------- dry run


@dataclass(frozen=True)
class PlannedTransaction:
    step: str
    description: str
    gas: int


@dataclass(frozen=True)
class DryRunReport:
    chain_id: int
    deployer: ChecksumAddress
    balance: int
    base_fee: int
    max_fee_per_gas: int
    priority_fee: int
    gas_margin: float
    transactions: list[PlannedTransaction]

    @property
    def total_gas(self) -> int:
        return sum(t.gas for t in self.transactions)

    @property
    def expected_cost(self) -> int:
        """Wei at today's base fee plus the priority fee."""
        return self.total_gas * (self.base_fee + self.priority_fee)

    @property
    def max_cost(self) -> int:
        """Wei if every gas limit were used up at the maximum fee (what the balance must cover)."""
        return sum(int(t.gas * self.gas_margin) + 10_000 for t in self.transactions) * self.max_fee_per_gas

    def lines(self) -> list[str]:
        out = [
            f"dry run on chain {self.chain_id}: nothing is sent",
            f"deployer {self.deployer}, balance {_eth(self.balance)}",
            f"fees: base {_gwei(self.base_fee)}, priority {_gwei(self.priority_fee)}, "
            f"max {_gwei(self.max_fee_per_gas)}",
        ]
        if not self.transactions:
            out.append("the deployment is up to date: no transaction to send")
        for i, tx in enumerate(self.transactions, 1):
            out.append(f"{i:3}. {tx.description}")
            out.append(f"     gas {tx.gas:,}  (~{_eth(tx.gas * (self.base_fee + self.priority_fee))})")
        out.append(
            f"total: {len(self.transactions)} transaction(s), gas {self.total_gas:,}, expected cost "
            f"{_eth(self.expected_cost)}, at most {_eth(self.max_cost)}"
        )
        if self.max_cost > self.balance:
            out.append(f"WARNING: the deployer's balance {_eth(self.balance)} is below the maximum cost")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "deployer": self.deployer,
            "balance": self.balance,
            "baseFee": self.base_fee,
            "maxFeePerGas": self.max_fee_per_gas,
            "priorityFee": self.priority_fee,
            "transactions": [{"step": t.step, "description": t.description, "gas": t.gas} for t in self.transactions],
            "totalGas": self.total_gas,
            "expectedCost": self.expected_cost,
            "maxCost": self.max_cost,
        }


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


def _gwei(wei: int) -> str:
    return f"{wei / 10**9:.3f} gwei"


def dry_run(
    transactor: Transactor,
    specs: Sequence[ContractSpec],
    options: DeployOptions | None = None,
    *,
    setup: SetupConfig | None = None,
    network: str = "",
    manifest_path: Path | None = None,
    fresh: bool = False,
    artifacts_dir: Path | None = None,
) -> DryRunReport:
    """What a run would send, with each transaction's gas measured on an in-process replay.

    Nothing is sent to the target chain and no file is written. The target's manifest (when
    resuming) decides which steps are already done; their effects are replayed first.
    """
    if options is None:
        options = DeployOptions()
    if setup is not None and setup.handoff_to is not None and options.handoff_to is None:
        options = replace(options, handoff_to=setup.handoff_to)
    target = _Run(
        transactor, specs, options, setup, network, None if fresh else manifest_path, False, artifacts_dir, None, _quiet
    )
    todo = [s for s in target.plan if not _done_on_target(target, s)]
    if todo:
        target._check_deployer(todo[0])

    sim_w3 = in_process_chain()
    sim_tx = Transactor(sim_w3, UnlockedAccount(sim_w3.eth.accounts[0]), poll_latency=0.005)
    sim_options = replace(options, admin=None if options.admin in (None, transactor.address) else options.admin)
    labels: dict[str, str] = {}
    gas: dict[str, int] = {}

    def measure(step_id: str, manifest: Manifest) -> None:
        record = manifest.step(step_id)
        if record is not None and record.gas_used is not None:
            gas[step_id] = record.gas_used

    sim = _Run(sim_tx, specs, sim_options, setup, "dry-run", None, False, artifacts_dir, measure, _quiet)
    sim.run()
    labels = sim._labels()
    planned = [
        PlannedTransaction(step.id, sim_step.describe(sim.env, labels), gas.get(step.id, 0))
        for step in todo
        for sim_step in sim.plan
        if sim_step.id == step.id and step.id in gas
    ]
    fees = target._node(transactor.fees, "reading fees")
    base = int(target._node(lambda: transactor.w3.eth.get_block("latest"), "reading a block").get("baseFeePerGas", 0))
    balance = int(target._node(lambda: transactor.w3.eth.get_balance(transactor.address), "reading the balance"))
    return DryRunReport(
        chain_id=target.chain_id,
        deployer=transactor.address,
        balance=balance,
        base_fee=base,
        max_fee_per_gas=int(fees["maxFeePerGas"]),
        priority_fee=int(fees["maxPriorityFeePerGas"]),
        gas_margin=transactor.gas_margin,
        transactions=planned,
    )


def _done_on_target(run: _Run, step: Step) -> bool:
    if isinstance(step, DeployContract):
        return step.is_done(run.env)
    if step.contract not in run.manifest.contracts:
        return False
    return run.manifest.step(step.id) is not None or bool(run._node(lambda: step.is_done(run.env), "checking"))


# ---------------------------------------------------------------------------- artifacts


def bytecode_hash(artifact: Artifact) -> str:
    """keccak256 of an artifact's creation bytecode: what the manifest pins."""
    return "0x" + keccak(hexstr=artifact.bytecode).hex()


def masked(code: bytes, artifact: Artifact) -> bytes:
    """`code` with every immutable's bytes zeroed (offsets from the artifact)."""
    out = bytearray(code)
    for refs in artifact.immutable_references.values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            out[start : start + length] = bytes(min(length, max(len(out) - start, 0)))
    return bytes(out)


def runtime_matches(code: bytes, artifact: Artifact) -> bool:
    """Whether deployed `code` is the artifact's runtime bytecode, immutables aside."""
    expected = bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
    return len(code) == len(expected) and masked(code, artifact) == masked(expected, artifact)


def contract_standard_input(artifact: Artifact, artifacts_dir: Path | None = None) -> dict[str, Any]:
    """The standard-JSON input for one contract: its source and everything it imports, with the
    project's settings (what a block explorer's source verification takes)."""
    path = (artifacts_dir or default_dir()) / "standard-input.json"
    try:
        full = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the standard-JSON input {path}: {exc}") from exc
    sources: Mapping[str, Any] = full["sources"]
    needed: dict[str, Any] = {}
    pending = [artifact.source_name]
    while pending:
        unit = pending.pop()
        if unit in needed:
            continue
        if unit not in sources:
            raise ConfigurationError(f"{path} lacks source {unit!r} that {artifact.name} needs")
        needed[unit] = sources[unit]
        pending.extend(_resolve(unit, imp) for imp in _IMPORT_RE.findall(sources[unit]["content"]))
    settings = dict(full["settings"])
    settings["outputSelection"] = {artifact.source_name: {artifact.name: ["abi", "evm.bytecode.object", "metadata"]}}
    return {"language": full.get("language", "Solidity"), "sources": dict(sorted(needed.items())), "settings": settings}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
