"""Benchmark: retrieving a whole study directly from Orthanc and through the radledger gateway.

Same run, same study, same client: a 50-instance synthetic study (512 x 512, 16-bit: about
26 MB) is stored in a local Orthanc (DICOMweb plugin), registered on the in-process chain and
granted to a requester; the gateway (uvicorn, in this process) serves it with a warm consent
cache. A separate client process then retrieves the whole study (WADO-RS, instances as stored)
alternately from Orthanc (HTTP basic auth) and from the gateway (a fresh EIP-712 token signed
for every request, the signing included in the time), and reports the medians.

    python bench/gateway_bench.py [--instances 50] [--size 512] [--runs 20] [--json]

Needs Orthanc and its DICOMweb plugin (Debian: orthanc, orthanc-dicomweb).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
KEY_ENV = "RADLEDGER_BENCH_GRANTEE_KEY"


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(params: dict[str, Any]) -> dict[str, Any]:
    """The requester: times whole-study retrieves, alternating direct and gateway."""
    import httpx

    from radledger.chain.eip712 import Domain
    from radledger.chain.signers import KeySigner
    from radledger.gateway.tokens import mint_token
    from radledger.registries.common import Purpose

    signer = KeySigner.from_env(KEY_ENV)
    d = params["domain"]
    domain = Domain(d["name"], d["version"], int(d["chainId"]), d["verifyingContract"])
    direct_url = f"{params['orthanc']}/studies/{params['study']}"
    gateway_url = f"{params['gateway']}/studies/{params['study']}"
    times: dict[str, list[float]] = {"direct": [], "gateway": []}
    sizes: dict[str, int] = {}
    with httpx.Client(timeout=120) as http:

        def direct() -> int:
            with http.stream("GET", direct_url, headers={"Accept": ACCEPT}, auth=tuple(params["auth"])) as r:
                r.raise_for_status()
                return sum(len(c) for c in r.iter_raw())

        def gateway() -> int:
            token = mint_token(signer, domain, params["gateway"], Purpose.TREAT)
            with http.stream("GET", gateway_url, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"}) as r:
                r.raise_for_status()
                return sum(len(c) for c in r.iter_raw())

        for _ in range(params["warmup"]):
            direct()
            gateway()
        for i in range(params["runs"]):
            order = [("direct", direct), ("gateway", gateway)]
            for name, fetch in order if i % 2 == 0 else reversed(order):
                start = time.perf_counter()
                sizes[name] = fetch()
                times[name].append(time.perf_counter() - start)
    return {"times": times, "bytes": sizes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--size", type=int, default=512, help="rows and columns of each image")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(json.loads(sys.stdin.read()))))
        return 0

    import anyio
    import uvicorn

    from radledger.chain.connection import DEFAULT_START_TIMESTAMP, in_process_chain, tester_private_keys
    from radledger.chain.signers import KeySigner, UnlockedAccount
    from radledger.chain.transactions import Transactor
    from radledger.deployment.deploy import deploy_core
    from radledger.gateway.app import create_app
    from radledger.gateway.config import GatewaySettings
    from radledger.gateway.context import GatewayContext
    from radledger.gateway.orthanc import LocalOrthanc, find_orthanc, free_port, missing_reason
    from radledger.gateway.synthetic import synthetic_study
    from radledger.gateway.upstream import Upstream, UpstreamSettings
    from radledger.registries.common import Purpose, Scope
    from radledger.registries.records.client import new_site_salt

    if find_orthanc() is None:
        print(f"cannot run: {missing_reason()}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="radledger-bench-") as tmp:
        folder = Path(tmp)
        orthanc = LocalOrthanc.start(folder / "orthanc")
        try:
            w3 = in_process_chain(DEFAULT_START_TIMESTAMP)
            keys = tester_private_keys(w3)
            admin = Transactor(w3, UnlockedAccount(w3.eth.accounts[0]))
            site = Transactor(w3, KeySigner.from_key(keys[1]))
            patient = Transactor(w3, KeySigner.from_key(keys[2]))
            grantee = KeySigner.from_key(keys[3])
            port = free_port()
            public_url = f"http://127.0.0.1:{port}/dicomweb"
            deployment = deploy_core(admin)
            deployment.records(w3, admin).register_custodian(site.address, public_url)

            study = synthetic_study(args.instances, rows=args.size, columns=args.size)
            orthanc.upload(*(i.data for i in study))
            settings = GatewaySettings(
                public_url=public_url,
                state_dir=folder / "state",
                upstream=UpstreamSettings(orthanc.dicomweb_url, orthanc.username, orthanc.password),
                consent_cache_seconds=3600.0,  # warm cache for the whole run
                verify_content=False,
                record_on_chain=False,
            )
            ctx = GatewayContext(settings, w3, deployment, site, new_site_salt())

            async def register() -> bytes:
                async with Upstream.open(settings.upstream) as upstream:
                    return (await ctx.ingestor(upstream).register_study(study[0].study_uid, patient.address)).record_id

            record = anyio.run(register)
            deployment.consent(w3, patient).grant(patient.address, grantee.address, record, Scope.IMAGES, Purpose.TREAT)

            server = uvicorn.Server(
                uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning", access_log=False)
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.01)
            params = {
                "orthanc": orthanc.dicomweb_url,
                "auth": list(orthanc.auth),
                "gateway": public_url,
                "study": study[0].study_uid,
                "domain": ctx.domain().as_dict(),
                "runs": args.runs,
                "warmup": args.warmup,
            }
            env = {**os.environ, KEY_ENV: "0x" + grantee.account.key.hex().removeprefix("0x")}
            cpu_gateway, cpu_orthanc = time.process_time(), process_cpu(orthanc.process.pid)
            done = subprocess.run(
                [sys.executable, __file__, "--client"], input=json.dumps(params), capture_output=True, text=True,
                env=env, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout)
            retrieves = args.runs + args.warmup
            cpu_gateway = (time.process_time() - cpu_gateway) / retrieves
            cpu_orthanc = (process_cpu(orthanc.process.pid) - cpu_orthanc) / (2 * retrieves)
            server.should_exit = True
            thread.join(timeout=10)
            ctx.close()
        finally:
            orthanc.stop(kill=True)

    direct, gateway = (statistics.median(result["times"][k]) for k in ("direct", "gateway"))
    summary = {
        "instances": args.instances,
        "megabytes": round(result["bytes"]["direct"] / 1e6, 1),
        "runs": args.runs,
        "direct_median_ms": round(direct * 1000, 1),
        "gateway_median_ms": round(gateway * 1000, 1),
        "overhead_ms": round((gateway - direct) * 1000, 1),
        "ratio": round(gateway / direct, 3),
        "same_bytes": result["bytes"]["direct"] == result["bytes"]["gateway"],
        "gateway_cpu_ms_per_retrieve": round(cpu_gateway * 1000, 1),
        "orthanc_cpu_ms_per_retrieve": round(cpu_orthanc * 1000, 1),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"whole-study retrieve, {summary['instances']} instances, {summary['megabytes']} MB, "
              f"median of {summary['runs']} runs each")  # fmt: skip
        print("| path | median | ")
        print("|---|---|")
        print(f"| Orthanc directly | {summary['direct_median_ms']} ms |")
        print(f"| through the gateway | {summary['gateway_median_ms']} ms |")
        print(f"| added by the gateway | {summary['overhead_ms']} ms ({(summary['ratio'] - 1) * 100:.1f} %) |")
        print(f"CPU per retrieve: gateway {summary['gateway_cpu_ms_per_retrieve']} ms, "
              f"Orthanc {summary['orthanc_cpu_ms_per_retrieve']} ms; {summary['cpus']} CPUs, "
              f"load average {summary['load_average']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
