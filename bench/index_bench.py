"""Benchmark: index 10,000 events on anvil, against reading them with one plain web3 `get_logs` per event type.

    /work/venv/rl/bin/python bench/index_bench.py [--events 10000] [--runs 3] [--json]

Starts anvil from node_modules on 127.0.0.1 (a free port), deploys the four contracts and writes a
history of about `--events` events (records registered, consents granted, accesses recorded, break-glass,
credentials attested in batches of 50), 20 transactions a block with 10 empty blocks between, then times:

- radledger: `radledger.audit.sync` into a fresh SQLite file: one `eth_getLogs` per block range for
  every address, decoding, block times, and the writes with their checkpoints;
- baseline: for each contract and each event of its ABI, one `contract.events.<Event>().get_logs(...)`
  over the whole range (web3 decoding, no storage).

It prints events per second for both and their ratio (baseline time / radledger time: above 1 means the
index is faster). Nothing here is a test: the figures depend on the machine; docs/auditing.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from web3 import Web3

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
TXS_PER_BLOCK = 20
EMPTY_BLOCKS_BETWEEN = 10
BATCH = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Anvil:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent", "--accounts", "20",
             "--hardfork", "prague", "--gas-limit", "60000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.session = requests.Session()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.rpc("eth_chainId")
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil did not start")

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self.session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        body = answer.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(self.session.post(self.url, json=body).json(), key=lambda a: a["id"])
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise RuntimeError(f"batch: {errors[0]}")
        return [a["result"] for a in answers]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def build_history(node: Anvil, w3: Web3, wanted: int) -> tuple[Any, int]:
    """Deploy, then send transactions `TXS_PER_BLOCK` to a block with empty blocks between; returns the
    audit target (every contract deployed) and the number of events written."""
    from radledger.chain.signers import UnlockedAccount
    from radledger.chain.transactions import Transactor
    from radledger.deployment.deploy import deploy_core, deploy_credentials
    from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
    from radledger.registries.credentials.client import CredentialRegistryClient

    accounts = list(w3.eth.accounts)
    admin = Transactor(w3, UnlockedAccount(accounts[0]), poll_latency=0.01)
    deployment = deploy_core(admin)
    site, issuer, emergency = accounts[1], accounts[2], accounts[3]
    patients, grantees = accounts[4:12], accounts[12:20]
    deployment.records(w3, admin).register_custodian(site, "https://gateway.bench.example/dicomweb")
    deployment.consent(w3, admin).grant_role("BREAK_GLASS_ROLE", emergency)
    if deployment.credential_registry:
        creds = CredentialRegistryClient(w3, deployment.credential_registry, admin)
    else:  # an older deployment plan without CredentialRegistry
        creds = deploy_credentials(admin)
    target = deployment.with_contracts({"CredentialRegistry": creds.address})
    schema = creds.register_schema("bench: CME credit", True, FOREVER).schema_id
    creds.authorize_issuer(schema, issuer)

    records = deployment.records(w3).contract
    consent = deployment.consent(w3).contract
    credentials = creds.contract
    node.rpc("evm_setAutomine", False)
    calls: list[tuple[str, list[Any]]] = []
    events = 0

    def send(sender: str, to: str, data: str, gas: int) -> None:
        calls.append(("eth_sendTransaction", [{"from": sender, "to": to, "data": data, "gas": hex(gas)}]))

    n = 0
    while events < wanted:
        n += 1
        patient = patients[n % len(patients)]
        rid = Web3.keccak(text=f"bench record {n}")
        send(
            site,
            records.address,
            records.encode_abi("register", [rid, patient, int(RecordKind.IMAGING_STUDY), rid]),
            200_000,
        )
        grantee = grantees[n % len(grantees)]
        send(
            patient,
            consent.address,
            consent.encode_abi("grant", [patient, grantee, rid, int(Scope.IMAGES), int(Purpose.TREAT), 0, FOREVER]),
            200_000,
        )
        send(
            site,
            consent.address,
            consent.encode_abi("recordAccess", [grantee, rid, int(Scope.IMAGES), int(Purpose.TREAT)]),
            200_000,
        )
        events += 3
        if n % 4 == 0:
            subjects = [Web3.keccak(text=f"bench subject {n} {i}") for i in range(BATCH)]
            batch = [(s, s, 100, 0, FOREVER, b"\x00" * 32) for s in subjects]
            send(issuer, credentials.address, credentials.encode_abi("attestBatch", [schema, batch]), 5_000_000)
            events += BATCH
        if n % 25 == 0:
            send(emergency, consent.address, consent.encode_abi("breakGlass", [patient, 1 + n % 9]), 200_000)
            events += 1
        if len(calls) >= TXS_PER_BLOCK:
            node.batch(calls)
            calls.clear()
            node.rpc("evm_mine")
            node.rpc("anvil_mine", hex(EMPTY_BLOCKS_BETWEEN))
    if calls:
        node.batch(calls)
        node.rpc("evm_mine")
    node.rpc("evm_setAutomine", True)
    return target, events


def time_index(w3: Web3, target: Any) -> tuple[float, int, int, int]:
    from radledger.audit import AuditIndex, sync

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        started = time.perf_counter()
        with AuditIndex(path) as index:
            report = sync(w3, index, target, confirmations=0)
            count = index.count()
        elapsed = time.perf_counter() - started
        return elapsed, count, report.requests, path.stat().st_size


def time_baseline(w3: Web3, target: Any) -> tuple[float, int, int]:
    from radledger.chain.artifacts import load_artifact

    head = w3.eth.block_number
    started = time.perf_counter()
    found = calls = 0
    for name, address in target.contracts.items():
        abi = list(load_artifact(name).abi)
        contract = w3.eth.contract(address=address, abi=abi)
        for item in abi:
            if item.get("type") == "event":
                found += len(getattr(contract.events, item["name"])().get_logs(from_block=0, to_block=head))
                calls += 1
    return time.perf_counter() - started, found, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not ANVIL.exists():
        print(f"anvil is not installed at {ANVIL} (npm ci)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT / "client"))
    from radledger.chain.connection import connect

    node = Anvil()
    try:
        w3 = connect(node.url)
        started = time.perf_counter()
        target, written = build_history(node, w3, args.events)
        built = time.perf_counter() - started
        index_runs = [time_index(w3, target) for _ in range(args.runs)]
        baseline_runs = [time_baseline(w3, target) for _ in range(args.runs)]
        blocks = int(w3.eth.block_number)
    finally:
        node.stop()
    index_seconds = statistics.median(r[0] for r in index_runs)
    baseline_seconds = statistics.median(r[0] for r in baseline_runs)
    _, indexed, requests_sent, db_size = index_runs[0]
    _, baseline_events, baseline_calls = baseline_runs[0]
    result = {
        "blocks": blocks,
        "events_written": written,
        "events_indexed": indexed,
        "events_baseline": baseline_events,
        "index_seconds": round(index_seconds, 3),
        "index_events_per_second": round(indexed / index_seconds),
        "index_requests": requests_sent,
        "index_file_bytes": db_size,
        "baseline_seconds": round(baseline_seconds, 3),
        "baseline_events_per_second": round(baseline_events / baseline_seconds),
        "baseline_get_logs_calls": baseline_calls,
        "ratio_baseline_over_index": round(baseline_seconds / index_seconds, 2),
        "history_build_seconds": round(built, 1),
        "runs": args.runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"history: {written} events written over {blocks} blocks in {built:.1f} s")
        print(
            f"radledger index: {indexed} events in {index_seconds:.2f} s = "
            f"{result['index_events_per_second']:,} events/s ({requests_sent} requests, SQLite {db_size / 1e6:.1f} MB)"
        )
        print(
            f"plain get_logs:  {baseline_events} events in {baseline_seconds:.2f} s = "
            f"{result['baseline_events_per_second']:,} events/s "
            f"({baseline_calls} calls: one per event type and contract)"
        )
        print(f"ratio (baseline time / index time): {result['ratio_baseline_over_index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
