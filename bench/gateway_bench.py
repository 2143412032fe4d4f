"""Benchmark: retrieving a whole study directly from Orthanc, through the Python gateway, and
through nginx with the gateway's auth_request decision (the production byte path).

Same run, same study, same client: a 50-instance synthetic study (512 x 512, 16-bit: about
26 MB) is stored in a local Orthanc (DICOMweb plugin), registered on the in-process chain and
granted to a requester; the gateway (uvicorn, in this process) serves it with a warm consent
cache, and nginx (its own process, one worker, loopback) streams it from Orthanc after asking
the gateway. A separate client process signs in once (a session) and retrieves the whole study
(WADO-RS, instances as stored) from the three paths in rotating order, and reports the medians
with the machine's load average.

    python bench/gateway_bench.py [--instances 50] [--size 512] [--runs 20] [--tokens] [--json]

`--tokens` signs a fresh EIP-712 token per request (its signing included in the time) instead
of using a session. Needs Orthanc and its DICOMweb plugin (Debian: orthanc, orthanc-dicomweb)
and nginx (Debian: nginx).
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
    from radledger.gateway.sessions import sign_login
    from radledger.gateway.tokens import mint_token
    from radledger.registries.common import Purpose

    signer = KeySigner.from_env(KEY_ENV)
    d = params["domain"]
    domain = Domain(d["name"], d["version"], int(d["chainId"]), d["verifyingContract"])
    direct_url = f"{params['orthanc']}/studies/{params['study']}"
    urls = {"gateway": f"{params['gateway']}/studies/{params['study']}",
            "nginx": f"{params['nginx']}/studies/{params['study']}"}  # fmt: skip
    times: dict[str, list[float]] = {"direct": [], "gateway": [], "nginx": []}
    sizes: dict[str, int] = {}
    with httpx.Client(timeout=120) as http:
        signed = sign_login(signer, domain, params["audience"], Purpose.TREAT)
        session = http.post(params["nginx"] + "/session", json={"typed": json.loads(signed.to_json())})
        session.raise_for_status()
        bearer = session.json()["session"]

        def direct() -> int:
            with http.stream("GET", direct_url, headers={"Accept": ACCEPT}, auth=tuple(params["auth"])) as r:
                r.raise_for_status()
                return sum(len(c) for c in r.iter_raw())

        def through(path: str) -> Any:
            def fetch() -> int:
                token = mint_token(signer, domain, params["audience"], Purpose.TREAT) if params["tokens"] else bearer
                headers = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
                with http.stream("GET", urls[path], headers=headers) as r:
                    r.raise_for_status()
                    return sum(len(c) for c in r.iter_raw())

            return fetch

        paths = [("direct", direct), ("gateway", through("gateway")), ("nginx", through("nginx"))]
        for _ in range(params["warmup"]):
            for _, fetch in paths:
                fetch()
        for i in range(params["runs"]):
            for name, fetch in paths[i % 3 :] + paths[: i % 3]:  # each path first, second and third in turn
                start = time.perf_counter()
                sizes[name] = fetch()
                times[name].append(time.perf_counter() - start)
    return {"times": times, "bytes": sizes}


def nginx_cpu(master: int) -> float:
    """CPU seconds of nginx's master and workers so far."""
    pids = [master, *(int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split())]
    return sum(process_cpu(p) for p in pids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--size", type=int, default=512, help="rows and columns of each image")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tokens", action="store_true", help="a fresh signed token per request, not a session")
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
    from radledger.gateway.nginx import LocalNginx, find_nginx
    from radledger.gateway.orthanc import LocalOrthanc, find_orthanc, free_port, missing_reason
    from radledger.gateway.synthetic import synthetic_study
    from radledger.gateway.upstream import Upstream, UpstreamSettings
    from radledger.registries.common import Purpose, Scope
    from radledger.registries.records.client import new_site_salt

    if find_orthanc() is None:
        print(f"cannot run: {missing_reason()}", file=sys.stderr)
        return 2
    if find_nginx() is None:
        print("cannot run: nginx is not installed (Debian: apt-get install nginx)", file=sys.stderr)
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
            port, nginx_port = free_port(), free_port()
            public_url = f"http://127.0.0.1:{nginx_port}/dicomweb"
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
            nginx = LocalNginx.start(folder / "nginx", settings, f"127.0.0.1:{port}", port=nginx_port)
            params = {
                "orthanc": orthanc.dicomweb_url,
                "auth": list(orthanc.auth),
                "gateway": f"http://127.0.0.1:{port}/dicomweb",
                "nginx": public_url,
                "audience": public_url,
                "tokens": args.tokens,
                "study": study[0].study_uid,
                "domain": ctx.domain().as_dict(),
                "runs": args.runs,
                "warmup": args.warmup,
            }
            env = {**os.environ, KEY_ENV: "0x" + grantee.account.key.hex().removeprefix("0x")}
            load_before = os.getloadavg()
            cpu_gateway, cpu_orthanc = time.process_time(), process_cpu(orthanc.process.pid)
            cpu_nginx = nginx_cpu(nginx.process.pid)
            done = subprocess.run(
                [sys.executable, __file__, "--client"], input=json.dumps(params), capture_output=True, text=True,
                env=env, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout)
            load_after = os.getloadavg()
            retrieves = args.runs + args.warmup
            cpu_nginx = (nginx_cpu(nginx.process.pid) - cpu_nginx) / retrieves
            cpu_gateway = (time.process_time() - cpu_gateway) / (2 * retrieves)  # it serves both proxied paths
            cpu_orthanc = (process_cpu(orthanc.process.pid) - cpu_orthanc) / (3 * retrieves)
            nginx.stop()
            server.should_exit = True
            thread.join(timeout=10)
            ctx.close()
        finally:
            orthanc.stop(kill=True)

    direct, gateway, proxied = (statistics.median(result["times"][k]) for k in ("direct", "gateway", "nginx"))
    summary = {
        "instances": args.instances,
        "megabytes": round(result["bytes"]["direct"] / 1e6, 1),
        "runs": args.runs,
        "auth": "token per request" if args.tokens else "session",
        "direct_median_ms": round(direct * 1000, 1),
        "gateway_median_ms": round(gateway * 1000, 1),
        "nginx_median_ms": round(proxied * 1000, 1),
        "gateway_ratio": round(gateway / direct, 3),
        "nginx_ratio": round(proxied / direct, 3),
        "same_bytes": len(set(result["bytes"].values())) == 1,
        "gateway_cpu_ms_per_retrieve": round(cpu_gateway * 1000, 1),
        "nginx_cpu_ms_per_retrieve": round(cpu_nginx * 1000, 1),
        "orthanc_cpu_ms_per_retrieve": round(cpu_orthanc * 1000, 1),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"whole-study retrieve, {summary['instances']} instances, {summary['megabytes']} MB, "
              f"median of {summary['runs']} runs each ({summary['auth']})")  # fmt: skip
        print("| path | median | ratio to direct |")
        print("|---|---|---|")
        print(f"| Orthanc directly | {summary['direct_median_ms']} ms | 1.00 |")
        print(f"| Python gateway (relay) | {summary['gateway_median_ms']} ms | {summary['gateway_ratio']:.2f} |")
        print(f"| nginx + auth_request | {summary['nginx_median_ms']} ms | {summary['nginx_ratio']:.2f} |")
        print(f"CPU per retrieve: gateway {summary['gateway_cpu_ms_per_retrieve']} ms, nginx "
              f"{summary['nginx_cpu_ms_per_retrieve']} ms, Orthanc {summary['orthanc_cpu_ms_per_retrieve']} ms; "
              f"{summary['cpus']} CPUs, load average {summary['load_average_before']} before, "
              f"{summary['load_average_after']} after; same bytes: {summary['same_bytes']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
