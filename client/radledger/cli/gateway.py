"""The imaging site's gateway (the `gateway` extra's packages, httpx and starlette among them, are
imported by the commands that need them, so the rest of the CLI works without them).

radledger gateway serve --config FILE [--host H] [--port P]
radledger gateway register-study --config FILE --study UID [--patient ADDRESS]
radledger gateway watch --config FILE [--once] [--interval S] [--from-now]
radledger gateway studies --config FILE [--json]
radledger gateway reconcile --config FILE [--repair] [--from-block N] [--json]
radledger gateway nginx-config --config FILE [--listen ADDR] [--gateway ADDR] [--credentials FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.cli.options import add_group, add_json_option, add_parser, set_handler
from radledger.cli.output import hex0x, print_json, show_time
from radledger.gateway.reconcile import access_events, repair
from radledger.gateway.reconcile import reconcile as compare
from radledger.gateway.store import GatewayStore

EXIT_INCONSISTENT = 3
"""`gateway reconcile` exit status when the log and the chain disagree."""
EXIT_WATCH_ERRORS = 4
"""`gateway watch --once` exit status when a study could not be registered."""


def register(subparsers: Any) -> None:
    gateway = add_group(subparsers, "gateway", "the consent-gated DICOMweb gateway of an imaging site")

    p = add_parser(gateway, "serve", "serve the gateway (uvicorn) as its configuration says")
    _config_option(p)
    p.add_argument("--host", help="listen address (default: [gateway] listen_host)")
    p.add_argument("--port", type=int, help="listen port (default: [gateway] listen_port)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    set_handler(p, serve)

    p = add_parser(gateway, "register-study", "register a study of the PACS on chain and in the gateway's map")
    _config_option(p)
    p.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID")
    p.add_argument(
        "--patient", metavar="ADDRESS", help="the patient's address (default: the patient map, by DICOM PatientID)"
    )
    add_json_option(p)
    set_handler(p, register_study)

    p = add_parser(gateway, "watch", "register studies as the PACS reports them stable (Orthanc change feed)")
    _config_option(p)
    p.add_argument("--once", action="store_true", help="handle the events so far, then exit")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS", help="poll interval (default 5)")
    p.add_argument("--from-now", action="store_true", help="skip studies already stable (start the feed now)")
    set_handler(p, watch)

    p = add_parser(gateway, "studies", "the gateway's local map of studies (never on chain)")
    _config_option(p)
    add_json_option(p)
    set_handler(p, studies)

    p = add_parser(gateway, "reconcile", "compare the gateway's access log with the chain's AccessRecorded trail")
    _config_option(p)
    p.add_argument("--repair", action="store_true", help="re-send recordAccess for accesses missing on chain")
    p.add_argument(
        "--from-block",
        type=int,
        metavar="N",
        help="first block to read (default: [chain] from_block, else the ConsentRegistry's creation block)",
    )
    add_json_option(p)
    set_handler(p, reconcile)

    p = add_parser(
        gateway, "nginx-config", "print an nginx configuration streaming WADO-RS bytes after the gateway's check"
    )
    _config_option(p)
    p.add_argument("--listen", default="127.0.0.1:8443", metavar="ADDR", help="nginx's listen address")
    p.add_argument("--gateway", metavar="ADDR", help="where `gateway serve` listens (default: the configuration's)")
    p.add_argument(
        "--credentials", type=Path, metavar="FILE", help="also write the PACS credentials include here (mode 0600)"
    )
    set_handler(p, nginx_config_cmd)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, metavar="FILE", help="the gateway's TOML configuration")


# ------------------------------------------------------------------------ site side


def _context(args: argparse.Namespace, with_key: bool = True) -> Any:
    # the gateway extra (an optional dependency): imported only when this command runs
    from radledger.gateway.config import load_settings
    from radledger.gateway.context import GatewayContext

    return GatewayContext.from_settings(load_settings(args.config), with_key=with_key)


def serve(args: argparse.Namespace) -> int:
    # the gateway extra (an optional dependency): imported only when this command runs
    import uvicorn

    from radledger.gateway.app import create_app

    ctx = _context(args, with_key=True)
    try:
        settings = ctx.settings
        app = create_app(ctx)
        host, port = args.host or settings.listen_host, args.port or settings.listen_port
        print(f"radledger gateway for {settings.audience} on http://{host}:{port}{settings.path_prefix}", flush=True)
        uvicorn.run(app, host=host, port=port, log_level=args.log_level, proxy_headers=True)
    finally:
        ctx.close()
    return 0


def register_study(args: argparse.Namespace) -> int:
    # the gateway extra (an optional dependency): imported only when this command runs
    import anyio

    from radledger.gateway.ingest import load_patient_map, patient_from_map
    from radledger.gateway.upstream import Upstream

    ctx = _context(args)
    patient = validation.nonzero_address(args.patient, "--patient") if args.patient else None

    async def run() -> Any:
        async with Upstream.open(ctx.settings.upstream) as upstream:
            who: str | None = patient
            if who is None and ctx.store.study(args.study) is None:
                if ctx.settings.patient_map is not None:
                    who = await patient_from_map(upstream, load_patient_map(ctx.settings.patient_map), args.study)
                if who is None:
                    raise ValidationError(
                        f"study {args.study}: give --patient ADDRESS (no patient map entry for its PatientID)"
                    )
            return await ctx.ingestor(upstream).register_study(args.study, who)

    try:
        result = anyio.run(run)
    finally:
        ctx.close()
    if args.json:
        print_json(_result_json(result))
    else:
        print(f"{result.action} study {result.study_uid} ({result.instances} instances) for patient {result.patient}")
        print(
            f"  record {hex0x(result.record_id)}  version {result.version}  content hash {hex0x(result.content_hash)}"
        )
        if result.tx_hash:
            print(f"  tx {result.tx_hash}")
    return 0


def _result_json(result: Any) -> dict[str, Any]:
    return {
        "studyInstanceUid": result.study_uid,
        "recordId": hex0x(result.record_id),
        "patient": result.patient,
        "action": result.action,
        "version": result.version,
        "contentHash": hex0x(result.content_hash),
        "instances": result.instances,
        "txHash": result.tx_hash,
    }


def watch(args: argparse.Namespace) -> int:
    # the gateway extra (an optional dependency): imported only when this command runs
    import anyio

    from radledger.gateway.ingest import WatchOutcome, load_patient_map, poll_stable_studies, skip_history
    from radledger.gateway.ingest import watch as watch_feed
    from radledger.gateway.upstream import Upstream

    ctx = _context(args)
    if ctx.settings.patient_map is None:
        raise ConfigurationError("`gateway watch` needs [custodian] patient_map (PatientID,address lines)")
    patients = load_patient_map(ctx.settings.patient_map)
    errors = 0

    def report(outcome: WatchOutcome) -> None:
        nonlocal errors
        if outcome.result is not None:
            r = outcome.result
            print(f"{r.action} study {r.study_uid} version {r.version} ({r.instances} instances)", flush=True)
        elif outcome.error is not None:
            errors += 1
            print(f"radledger: {type(outcome.error).__name__}: {outcome.error}", file=sys.stderr, flush=True)

    async def run() -> None:
        async with Upstream.open(ctx.settings.upstream) as upstream:
            ingestor = ctx.ingestor(upstream)
            if args.from_now:
                print(f"following the change feed from event {await skip_history(ingestor)}", flush=True)
            if args.once:
                for outcome in await poll_stable_studies(ingestor, patients):
                    report(outcome)
            else:
                await watch_feed(ingestor, patients, args.interval, report)

    try:
        anyio.run(run)
    finally:
        ctx.close()
    return EXIT_WATCH_ERRORS if errors and args.once else 0


def studies(args: argparse.Namespace) -> int:
    # the gateway extra (an optional dependency): imported only when this command runs
    from radledger.gateway.config import load_settings

    settings = load_settings(args.config)
    store = GatewayStore(settings.store_path)
    try:
        entries = store.studies()
    finally:
        store.close()
    if args.json:
        print_json(
            [
                {
                    "studyInstanceUid": s.study_uid,
                    "recordId": hex0x(s.record_id),
                    "patient": s.patient,
                    "version": s.version,
                    "contentHash": hex0x(s.content_hash),
                }
                for s in entries
            ]
        )
        return 0
    for s in entries:
        print(f"{s.study_uid}  record {hex0x(s.record_id)}  patient {s.patient}  version {s.version}")
    print(f"{len(entries)} stud{'y' if len(entries) == 1 else 'ies'}")
    return 0


def reconcile(args: argparse.Namespace) -> int:
    ctx = _context(args)
    try:
        custodian = ctx.custodian_address
        from_block = ctx.from_block if args.from_block is None else args.from_block
        consent = ctx.deployment.require("ConsentRegistry")
        events = access_events(ctx.w3, consent, from_block)
        report = compare(ctx.store, events, custodian)
        if args.repair and report.missing:
            repaired = repair(ctx.store, ctx.deployment.consent(ctx.w3, ctx.custodian), report)
            fixed = sum(1 for a in repaired if a.tx_hash)
            print(f"re-sent recordAccess for {fixed} of {len(repaired)} missing accesses", file=sys.stderr)
            events = access_events(ctx.w3, consent, from_block)
            report = compare(ctx.store, events, custodian)
    finally:
        ctx.close()
    if args.json:
        print_json(report.summary())
    else:
        s = report.summary()
        print(f"served {s['served']}, due on chain {s['dueOnChain']}, matched {s['matched']}")
        for row in report.missing:
            reason = row.chain_error or f"no AccessRecorded event in {row.tx_hash}"
            print(f"  missing: access {row.id} at {show_time(int(row.at))} grantee {row.grantee}: {reason}")
        for row in report.pending:
            print(f"  pending: access {row.id} grantee {row.grantee}")
        for event in report.unexplained:
            print(f"  unexplained: AccessRecorded in {event.tx_hash} (grantee {event.grantee}) has no log entry")
        print("consistent" if report.consistent else "INCONSISTENT")
    return 0 if report.consistent else EXIT_INCONSISTENT


def nginx_config_cmd(args: argparse.Namespace) -> int:
    from radledger.chain.files import write_private
    from radledger.gateway.config import load_settings
    from radledger.gateway.nginx import credentials_include, nginx_config

    settings = load_settings(args.config)
    gateway = args.gateway or f"{settings.listen_host}:{settings.listen_port}"
    include = args.credentials.resolve() if args.credentials else "pacs-credentials.conf"
    if args.credentials:
        write_private(args.credentials, credentials_include(settings))
    sys.stdout.write(nginx_config(settings, args.listen, gateway, credentials_file=include))
    return 0
