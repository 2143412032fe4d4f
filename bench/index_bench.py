"""Benchmark: index 10,000 and 100,000 events on anvil into SQLite and PostgreSQL, against reading them with one
plain web3 `get_logs` per event type, and time the auditor's queries on the index.

    .venv/bin/python bench/index_bench.py [--sizes 10000,100000] [--backends sqlite,postgres] [--runs 1] [--json]

Starts anvil from node_modules on 127.0.0.1 (a free port) and, for PostgreSQL, a throw-away server in a
temporary directory (tests/postgres_server.py; or `--postgres-url`), deploys the contracts and writes a
history (records registered, consents granted, accesses recorded, break-glass, credentials attested in
batches of 50, prior-authorization requests decided by a payer), 20 transactions a block with 10 empty
blocks between. At each size (the history grows from one size to the next on the same chain) it times:

- radledger: `radledger.audit.sync` into a fresh index (a new SQLite file, a new PostgreSQL database): one
  `eth_getLogs` per block range for every address, decoding, block times, the writes with their checkpoints;
- baseline: for each contract and each event of its ABI, one `contract.events.<Event>().get_logs(...)`
  over the whole range (web3 decoding, no storage);
- queries on each index: `who_could_access` (a record of a patient with hundreds of grants), `access_trail`
  (that record) and the CMS-0057-F metrics (`payer_metrics` over every request), median of 5.

It prints events per second, the ratio (baseline time / radledger time: above 1 means the index is faster)
and the growth (seconds per event at a size over seconds per event at the first size: 1.0 is linear).
Nothing here is a test: the figures depend on the machine; docs/auditing.md records them.
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
REQUEST_EVERY = 10
"""One prior-authorization request every 10 iterations (about 1 event in 150), decided a block later."""
PROCEDURE = "72148"
REQUESTED = Web3.keccak(
    text="PreauthRequested(bytes32,address,address,address,bytes5,uint16,bool,bytes32,bytes32,uint40)"
).to_0x_hex()


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


class History:
    """The deployment and a history that grows to a number of events (:meth:`grow`)."""

    def __init__(self, node: Anvil, w3: Web3) -> None:
        from radledger.chain.signers import UnlockedAccount
        from radledger.chain.transactions import Transactor
        from radledger.deployment.deploy import deploy_core, deploy_credentials, deploy_preauth
        from radledger.registries.common import FOREVER
        from radledger.registries.credentials.client import CredentialRegistryClient
        from radledger.registries.preauth.client import PreauthRegistryClient
        from radledger.registries.preauth.types import Policy

        self.node, self.w3 = node, w3
        accounts = list(w3.eth.accounts)
        admin = Transactor(w3, UnlockedAccount(accounts[0]), poll_latency=0.01)
        deployment = deploy_core(admin)
        self.site, self.issuer, self.emergency, self.payer = accounts[1], accounts[2], accounts[3], accounts[12]
        self.patients, self.grantees = accounts[4:12], accounts[13:20]
        deployment.records(w3, admin).register_custodian(self.site, "https://gateway.bench.example/dicomweb")
        deployment.consent(w3, admin).grant_role("BREAK_GLASS_ROLE", self.emergency)
        if deployment.credential_registry:
            creds = CredentialRegistryClient(w3, deployment.credential_registry, admin)
        else:  # an older deployment plan without CredentialRegistry
            creds = deploy_credentials(admin)
        preauth_address = deploy_preauth(admin, creds.address, deployment.require("RecordRegistry"))
        preauth = PreauthRegistryClient(w3, preauth_address, admin)
        preauth.register_payer(self.payer)
        payer = Transactor(w3, UnlockedAccount(self.payer), poll_latency=0.01)
        preauth.with_sender(payer).set_policy(PROCEDURE, Policy(max_units=3))
        extra = {"CredentialRegistry": creds.address, "PreauthRegistry": preauth_address}
        self.target = deployment.with_contracts(extra)
        self.schema = creds.register_schema("bench: CME credit", True, FOREVER).schema_id
        creds.authorize_issuer(self.schema, self.issuer)
        self.records = deployment.records(w3).contract
        self.consent = deployment.consent(w3).contract
        self.credentials = creds.contract
        self.preauth = preauth.contract
        self.events = 0
        self.n = 0
        self.undecided: list[bytes] = []
        self.last_record = b""
        self.last_patient = ""

    def grow(self, wanted: int) -> int:
        """Send transactions until the history holds about `wanted` events; returns how many it holds."""
        from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
        from radledger.registries.records.client import custodian_record_id

        node = self.node
        node.rpc("evm_setAutomine", False)
        calls: list[tuple[str, list[Any]]] = []
        requested_in_block = 0

        def send(sender: str, contract: Any, fn: str, args: list[Any], gas: int) -> None:
            data = contract.encode_abi(fn, args)
            tx = {"from": sender, "to": contract.address, "data": data, "gas": hex(gas)}
            calls.append(("eth_sendTransaction", [tx]))

        def mine() -> None:
            nonlocal requested_in_block
            node.batch(calls)
            calls.clear()
            node.rpc("evm_mine")
            if requested_in_block:
                number = hex(int(node.rpc("eth_blockNumber"), 16))
                logs = node.rpc(
                    "eth_getLogs",
                    {"fromBlock": number, "toBlock": number, "address": self.preauth.address, "topics": [REQUESTED]},
                )
                self.undecided += [bytes.fromhex(log["topics"][1][2:]) for log in logs]
                requested_in_block = 0
            node.rpc("anvil_mine", hex(EMPTY_BLOCKS_BETWEEN))

        while self.events < wanted:
            self.n += 1
            n = self.n
            patient = self.patients[n % len(self.patients)]
            local = Web3.keccak(text=f"bench record {n}")
            send(self.site, self.records, "register", [local, patient, int(RecordKind.IMAGING_STUDY), local], 200_000)
            rid = custodian_record_id(self.site, local)  # the id the chain stores, bound to the site
            grantee = self.grantees[n % len(self.grantees)]
            grant = [patient, grantee, rid, int(Scope.IMAGES), int(Purpose.TREAT), 0, FOREVER]
            send(patient, self.consent, "grant", grant, 200_000)
            access = [grantee, rid, int(Scope.IMAGES), int(Purpose.TREAT)]
            send(self.site, self.consent, "recordAccess", access, 200_000)
            self.events += 3
            self.last_record, self.last_patient = rid, patient
            if n % 4 == 0:
                subjects = [Web3.keccak(text=f"bench subject {n} {i}") for i in range(BATCH)]
                batch = [(s, s, 100, 0, FOREVER, b"\x00" * 32) for s in subjects]
                send(self.issuer, self.credentials, "attestBatch", [self.schema, batch], 5_000_000)
                self.events += BATCH
            if n % 25 == 0:
                send(self.emergency, self.consent, "breakGlass", [patient, 1 + n % 9], 200_000)
                self.events += 1
            if n % REQUEST_EVERY == 0:  # a pended request (no physician signature): the payer decides it later
                member, clinical = Web3.keccak(text=f"bench member {n}"), Web3.keccak(text=f"bench clinical {n}")
                physician = self.grantees[n % len(self.grantees)]
                request = [self.payer, member, PROCEDURE.encode(), 2, physician, n % 3 == 0, clinical, 0, b""]
                send(self.site, self.preauth, "request", request, 400_000)
                requested_in_block += 1
                self.events += 1
            while self.undecided and len(calls) < TXS_PER_BLOCK:
                request_id = self.undecided.pop()
                kind = int.from_bytes(request_id[:1], "big") % 10
                if kind < 6:
                    send(self.payer, self.preauth, "approve", [request_id], 200_000)
                elif kind < 9:
                    send(self.payer, self.preauth, "deny", [request_id, 1 + kind], 200_000)
                else:
                    send(self.payer, self.preauth, "modify", [request_id, 1], 200_000)
                self.events += 1
            if len(calls) >= TXS_PER_BLOCK:
                mine()
        if calls:
            mine()
        node.rpc("evm_setAutomine", True)
        return self.events


def new_location(backend: str, folder: Path, postgres: Any, label: str) -> str:
    if backend == "sqlite":
        return str(folder / f"{label}.sqlite")
    return str(postgres.create_database(label))


def size_of(backend: str, location: str) -> int:
    if backend == "sqlite":
        return Path(location).stat().st_size
    import psycopg

    with psycopg.connect(location) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


def time_index(w3: Web3, target: Any, location: str) -> tuple[float, int, int]:
    from radledger.audit import AuditIndex, sync

    started = time.perf_counter()
    with AuditIndex(location) as index:
        report = sync(w3, index, target, confirmations=0)
        count = index.count()
    return time.perf_counter() - started, count, report.requests


def time_queries(location: str, record_id: bytes, repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of each auditor's query on the index at `location` (a fresh connection)."""
    from radledger.audit import AuditIndex, access_trail, payer_requests, who_could_access
    from radledger.audit.metrics import payer_metrics

    queries = {
        "who_could_access": lambda index: who_could_access(index, record_id).rights,
        "trail": lambda index: access_trail(index, record_id),
        "metrics": lambda index: payer_metrics(payer_requests(index), "year"),
    }
    out: dict[str, float] = {}
    with AuditIndex(location) as index:
        for name, query in queries.items():
            runs = []
            for _ in range(repeats):
                started = time.perf_counter()
                answer = query(index)
                runs.append(time.perf_counter() - started)
                assert answer, f"{name} found nothing"
            out[name] = round(1000 * statistics.median(runs), 1)
    return out


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


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="event counts, ascending (default 10000,100000)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=1, help="syncs per size and backend (the median is reported)")
    parser.add_argument("--postgres-url", help="a server to create the benchmark's databases on (default: start one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    backends = [b.strip() for b in args.backends.split(",")]
    if not ANVIL.exists():
        print(f"anvil is not installed at {ANVIL} (npm ci)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT / "client"))
    sys.path.insert(0, str(ROOT))
    from radledger.chain.connection import connect

    postgres: Any = None
    if "postgres" in backends:
        if args.postgres_url:
            postgres = ExistingServer(args.postgres_url)
        else:
            from tests.postgres_server import PostgresServer

            postgres = PostgresServer.start()
    node = Anvil()
    results: list[dict[str, Any]] = []
    loads = [load_average()]
    try:
        w3 = connect(node.url)
        history = History(node, w3)
        with tempfile.TemporaryDirectory() as folder:
            for size in sizes:
                started = time.perf_counter()
                written = history.grow(size)
                built = time.perf_counter() - started
                blocks = int(w3.eth.block_number)
                baseline = [time_baseline(w3, history.target) for _ in range(args.runs)]
                base_seconds = statistics.median(r[0] for r in baseline)
                row: dict[str, Any] = {
                    "size": size, "events_written": written, "blocks": blocks, "history_build_seconds": round(built, 1),
                    "baseline_seconds": round(base_seconds, 3), "baseline_events": baseline[0][1],
                    "baseline_events_per_second": round(baseline[0][1] / base_seconds),
                    "baseline_get_logs_calls": baseline[0][2], "backends": {},
                }  # fmt: skip
                for backend in backends:
                    runs = []
                    location = ""
                    for run in range(args.runs):
                        location = new_location(backend, Path(folder), postgres, f"bench_{size}_{run}")
                        runs.append(time_index(w3, history.target, location))
                    seconds = statistics.median(r[0] for r in runs)
                    _, indexed, requests_sent = runs[0]
                    row["backends"][backend] = {
                        "seconds": round(seconds, 3),
                        "events": indexed,
                        "events_per_second": round(indexed / seconds),
                        "requests": requests_sent,
                        "bytes": size_of(backend, location),
                        "ratio_baseline_over_index": round(base_seconds / seconds, 2),
                        "queries_ms": time_queries(location, history.last_record),
                    }
                results.append(row)
                loads.append(load_average())
    finally:
        node.stop()
        if postgres is not None:
            postgres.stop()
    first = results[0]
    for row in results:
        for backend, figures in row["backends"].items():
            per_event = figures["seconds"] / figures["events"]
            first_figures = first["backends"][backend]
            figures["growth"] = round(per_event / (first_figures["seconds"] / first_figures["events"]), 2)
        row["baseline_growth"] = round(
            (row["baseline_seconds"] / row["baseline_events"]) / (first["baseline_seconds"] / first["baseline_events"]),
            2,
        )
    summary = {"runs": args.runs, "load_average_1_5_15": loads, "sizes": results}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(render(summary))
    return 0


def render(summary: dict[str, Any]) -> str:
    lines = [
        "| events | reader | seconds | events / s | x baseline | growth | who-could-access ms | trail ms"
        " | metrics ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["sizes"]:
        for backend, f in row["backends"].items():
            q = f["queries_ms"]
            lines.append(
                f"| {f['events']:,} | radledger index, {backend} | {f['seconds']:.2f} | {f['events_per_second']:,} | "
                f"**{f['ratio_baseline_over_index']}x** | {f['growth']} | {q['who_could_access']} | {q['trail']} | "
                f"{q['metrics']} |"
            )
        lines.append(
            f"| {row['baseline_events']:,} | plain `get_logs` ({row['baseline_get_logs_calls']} calls) | "
            f"{row['baseline_seconds']:.2f} | {row['baseline_events_per_second']:,} | 1x | "
            f"{row['baseline_growth']} | | | |"
        )
    lines.append("")
    lines.append(f"load average (1, 5, 15 min) before and after each size: {summary['load_average_1_5_15']}")
    for row in summary["sizes"]:
        lines.append(
            f"history of {row['events_written']:,} events over {row['blocks']:,} blocks built in "
            f"{row['history_build_seconds']} s"
        )
    return "\n".join(lines)


class ExistingServer:
    """A PostgreSQL server given by URL: the benchmark creates (and leaves) its databases there."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        base = self.url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def stop(self) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
