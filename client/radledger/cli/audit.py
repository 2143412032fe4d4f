"""`radledger audit ...`: index a deployment's events into SQLite, then ask the index (no node needed).

    radledger audit sync --rpc-url URL [--deployment deployments/1.json] [--db audit.sqlite]
    radledger audit consent-history --patient ADDRESS
    radledger audit who-could-access --record-id HEX [--at 2030-04-01]
    radledger audit trail --record-id HEX
    radledger audit break-glass [--since 2030-01-01 --until 2030-04-01]
    radledger audit credentials --subject ADDRESS [--at 2030-04-01]
    radledger audit payer-requests [--payer ADDRESS]
    radledger audit metrics [--period year] [--csv metrics.csv] [--chart metrics.png]
    radledger audit export --what accesses --format csv --output accesses.csv

Query commands print a table, or --format csv / jsonl / json (every row with block number, block
hash, transaction hash and log index), to stdout or --output.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from radledger.audit import cms0057, exports, fhir, metrics
from radledger.audit.index import AUDIT_DB_ENV, DEFAULT_DB, AuditIndex, index_location, open_index
from radledger.audit.queries.accesses import access_trail, break_glass_events
from radledger.audit.queries.base import CONSENT, show_time
from radledger.audit.queries.consent import ConsentChange, consent_history, who_could_access
from radledger.audit.queries.credentials import credential_history, credential_standing
from radledger.audit.queries.preauth import payer_requests
from radledger.audit.queries.raw import all_events
from radledger.audit.syncer import sync
from radledger.chain import validation
from radledger.chain.connection import connect
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.chain.events.ranges import RangePlanner
from radledger.cli.options import (
    CONTRACT_OPTIONS,
    add_connection_options,
    add_parser,
    add_record_options,
    deployment_from,
    record_from_args,
    rpc_url,
    set_handler,
)
from radledger.deployment.manifest import manifest_path
from radledger.deployment.networks import get_network
from radledger.registries.parsing import parse_duration, parse_when

EXPORTS = (
    "events", "consents", "accesses", "break-glass", "credentials", "payer-requests", "fhir-consents",
    "fhir-audit-events", "cms-0057-f",
)  # fmt: skip


def register(subparsers: Any) -> None:
    group = add_parser(subparsers, "audit", "index every event of a deployment and answer an auditor's questions")
    actions = group.add_subparsers(required=True, metavar="ACTION")

    p = add_parser(actions, "sync", "read the deployment's events into the SQLite index (resumes; reorg-safe)")
    _add_db(p)
    add_connection_options(p, *CONTRACT_OPTIONS)
    where = p.add_argument_group("node and deployment")
    where.add_argument("--network", metavar="NAME", help="an entry of networks.toml, instead of --rpc-url")
    where.add_argument("--networks", type=Path, metavar="FILE", help="networks file (with --network)")
    where.add_argument("--manifest", dest="deployment", type=Path, metavar="PATH", help="the same as --deployment")
    where.add_argument(
        "--deployments-dir",
        type=Path,
        metavar="DIR",
        help="where manifests live, without --deployment: <DIR>/<chainId>.json if it exists (default: deployments)",
    )
    where.add_argument(
        "--from-block", type=int, metavar="N", help="first block to read (default: the manifest's, or 0)"
    )
    tune = p.add_argument_group("reading")
    tune.add_argument(
        "--confirmations", type=int, metavar="N", help="blocks kept back from the head (default 12; 0 on dev chains)"
    )
    tune.add_argument("--to-block", type=int, metavar="N", help="stop at this block")
    tune.add_argument(
        "--initial-range", type=int, default=2_000, metavar="BLOCKS", help="first eth_getLogs range (default 2000)"
    )
    tune.add_argument("--max-range", type=int, default=100_000, metavar="BLOCKS", help="largest range (default 100000)")
    tune.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal)"
    )
    set_handler(p, run_sync)

    p = add_parser(actions, "consent-history", "a patient's grants, revocations, guardians, break-glass and accesses")
    p.add_argument("--patient", required=True, metavar="ADDRESS")
    _add_period(p)
    _add_output(p)
    set_handler(p, run_consent_history)

    p = add_parser(actions, "who-could-access", "who could access a record at a time, and under which grant")
    add_record_options(p)
    p.add_argument("--at", metavar="TIME", help="ISO date/time or unix seconds (default: the last synced block)")
    _add_output(p)
    set_handler(p, run_who_could_access)

    p = add_parser(actions, "trail", "the recorded accesses of a record (accounting of disclosures)")
    add_record_options(p)
    _add_period(p)
    _add_output(p)
    set_handler(p, run_trail)

    p = add_parser(actions, "break-glass", "break-glass invocations in a period, with reason codes")
    p.add_argument("--patient", metavar="ADDRESS")
    _add_period(p)
    _add_output(p)
    set_handler(p, run_break_glass)

    p = add_parser(actions, "credentials", "a subject's attestations, and which were valid on a date")
    p.add_argument("--subject", required=True, metavar="ADDRESS|HEX", help="a physician's address or a 32-byte subject")
    p.add_argument("--at", metavar="TIME", help="show the standing per schema at this time instead of the history")
    _add_output(p)
    set_handler(p, run_credentials)

    p = add_parser(actions, "payer-requests", "a payer's prior-authorization requests and decisions")
    p.add_argument("--payer", metavar="ADDRESS", help="default: every payer")
    _add_period(p)
    _add_output(p)
    set_handler(p, run_payer_requests)

    p = add_parser(actions, "metrics", "CMS-0057-F prior-authorization metrics per payer and period")
    p.add_argument("--payer", metavar="ADDRESS", help="default: every payer")
    p.add_argument("--period", choices=metrics.PERIODS, default="year", help="reporting period (default: year)")
    _add_period(p)
    _add_db(p)
    p.add_argument("--csv", type=Path, metavar="PATH", help="also write the rows as CSV")
    p.add_argument("--chart", type=Path, metavar="PATH", help="also draw a PNG chart")
    set_handler(p, run_metrics)

    p = add_parser(actions, "export", "export a whole query as CSV, JSON Lines or FHIR")
    p.add_argument("--what", required=True, choices=EXPORTS)
    p.add_argument("--patient", metavar="ADDRESS", help="only this patient (consents, accesses, break-glass, fhir-*)")
    p.add_argument("--fhir-version", choices=fhir.FHIR_VERSIONS, default="R5")
    _add_period(p)
    _add_output(p, formats=("csv", "jsonl", "json", "fhir"), default="csv")
    set_handler(p, run_export)


# ----------------------------------------------------------------------------- options


def _add_db(parser: argparse.ArgumentParser) -> None:
    if any(a.dest == "db" for a in parser._actions):
        return
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help=f"the index: a SQLite file or a postgresql:// URL (default: ${AUDIT_DB_ENV} or ./{DEFAULT_DB})",
    )


def _add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", metavar="TIME", help="from this time, inclusive: ISO date/time, unix seconds, or 30d (30 days back)"
    )
    parser.add_argument("--until", metavar="TIME", help="to this time, exclusive")


def _add_output(
    parser: argparse.ArgumentParser, formats: tuple[str, ...] = exports.FORMATS, default: str = "table"
) -> None:
    _add_db(parser)
    parser.add_argument("--format", choices=formats, default=default, help=f"output format (default: {default})")
    parser.add_argument("--output", type=Path, metavar="PATH", help="write to this file instead of stdout")


def _open_index(args: argparse.Namespace) -> AuditIndex:
    return open_index(args.db, must_exist=True)


def _time(index: AuditIndex, text: str | None, what: str) -> int | None:
    """An ISO date or time, unix seconds, or a duration back from the last synced block (`30d`: 30 days ago)."""
    if text is None:
        return None
    now = index.latest_time() or 0
    try:
        return now - parse_duration(text)
    except ValidationError:
        return parse_when(text, now, what)


def _emit_text(text: str, count: int, args: argparse.Namespace) -> None:
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {count} rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _emit(items: list[Any], args: argparse.Namespace, columns: list[str] | None = None) -> int:
    table = args.format == "table"
    text = exports.render_table(items, columns) + "\n" if table else exports.export(items, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {len(items)} rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# ----------------------------------------------------------------------------------- sync


def run_sync(args: argparse.Namespace) -> int:
    deployments = args.deployments_dir
    if args.network:
        network = get_network(args.network, args.networks)
        if network.in_process:
            raise ConfigurationError("an in-process chain ends with its process: audit it from Python (audit_summary)")
        w3 = network.connect()
        deployments = deployments or network.deployments_dir
    else:
        url = rpc_url(args)
        if url is None:
            raise ConfigurationError("no node: pass --rpc-url URL, --network NAME, or set RADLEDGER_RPC_URL")
        w3 = connect(url)
    chain_id = int(w3.eth.chain_id)
    default = manifest_path(deployments or Path("deployments"), chain_id)
    deployment = deployment_from(args, chain_id, default_manifest=default)
    if not deployment.addresses():
        raise ConfigurationError(
            f"no deployment: no manifest at {default}; pass --deployment PATH or the addresses "
            "(--records, --consent, ...)"
        )
    source = str(deployment.source) if deployment.source else "the given addresses"
    if args.from_block is not None:
        deployment = deployment.reading_from(args.from_block)
    if args.initial_range < 1 or args.max_range < args.initial_range:
        raise ValidationError("--initial-range must be at least 1 and at most --max-range")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    with AuditIndex(index_location(args.db)) as index:
        print(
            f"auditing {', '.join(sorted(deployment.addresses()))} on chain {chain_id} from {source}", file=sys.stderr
        )
        report = sync(
            w3,
            index,
            deployment,
            confirmations=args.confirmations,
            to_block=args.to_block,
            planner=RangePlanner(args.initial_range, args.max_range),
            progress=progress,
        )
        print(report.summary())
        print(f"index: {index.path} ({index.count()} events, synced to block {index.checkpoint})")
    return 0


# -------------------------------------------------------------------------------- queries


def run_consent_history(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        found = consent_history(
            index, args.patient, _time(index, args.since, "--since"), _time(index, args.until, "--until")
        )
        return _emit(found, args, ["time", "action", "description", "tx_hash"])


def run_who_could_access(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        report = who_could_access(index, record_from_args(args), _time(index, args.at, "--at"))
        if args.format == "table" and not args.output:
            print(
                f"record 0x{report.record_id.hex()} of patient {report.patient}, custodian {report.custodian}, "
                f"at {show_time(report.at)}:"
            )
            for guardian in report.guardians:
                until = show_time(guardian.valid_until)
                print(f"  guardian {guardian.guardian} could act for the patient until {until}")
        return _emit(
            report.rights,
            args,
            [
                "grantee",
                "basis",
                "scopes",
                "purposes",
                "valid_from",
                "valid_until",
                "granted_by",
                "by_guardian",
                "tx_hash",
            ],
        )


def run_trail(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        found = access_trail(
            index, record_from_args(args), _time(index, args.since, "--since"), _time(index, args.until, "--until")
        )
        return _emit(found, args, ["time", "grantee", "scopes", "purpose", "basis", "recorder", "tx_hash"])


def run_break_glass(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        found = break_glass_events(
            index, _time(index, args.since, "--since"), _time(index, args.until, "--until"), args.patient
        )
        return _emit(
            found,
            args,
            ["time", "patient", "account", "reason_code", "valid_until", "accesses_under_break_glass", "tx_hash"],
        )


def run_credentials(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        if args.at:
            standing = credential_standing(index, args.subject, _time(index, args.at, "--at"))
            return _emit(
                standing, args, ["schema_id", "schema", "at", "status", "uid", "valid_from", "valid_until", "issuer"]
            )
        found = credential_history(index, args.subject)
        return _emit(
            found, args, ["time", "schema", "uid", "issuer", "valid_from", "valid_until", "revoked_at", "superseded_by"]
        )


def run_payer_requests(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        found = payer_requests(
            index, args.payer, _time(index, args.since, "--since"), _time(index, args.until, "--until")
        )
        return _emit(
            found, args,
            ["requested_at", "payer", "procedure", "units", "expedited", "status", "decision", "decision_hours",
             "decided_late", "appeal_decision", "request_id"],
        )  # fmt: skip


def run_metrics(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        cases = payer_requests(
            index, args.payer, _time(index, args.since, "--since"), _time(index, args.until, "--until")
        )
        rows = metrics.payer_metrics(cases, args.period)
        print(metrics.metrics_table(rows))
        if args.csv:
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            with args.csv.open("w", newline="") as handle:
                metrics.write_metrics_csv(rows, handle)
            print(f"wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
        if args.chart:
            metrics.plot_metrics(rows, args.chart)
            print(f"drew {args.chart}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _open_index(args) as index:
        since, until = _time(index, args.since, "--since"), _time(index, args.until, "--until")
        patient = validation.address(args.patient, "--patient") if args.patient else None
        if args.what.startswith("fhir-") or args.format == "fhir":
            return _export_fhir(index, args, patient, since, until)
        if args.what == "cms-0057-f":  # aggregates per payer and year, in the rule's words (CSV)
            buffer = io.StringIO()
            count = cms0057.write_cms_csv(cms0057.cms_report_of(index), buffer)
            _emit_text(buffer.getvalue(), count, args)
            return 0
        items: list[Any]
        if args.what == "events":
            items = all_events(index, since, until)
        elif args.what == "consents":
            items = [
                c
                for c in _patients_history(index, patient, since, until)
                if c.action
                in ("granted", "revoked", "guardian-appointed", "guardian-removed", "signatures-invalidated")
            ]
        elif args.what == "accesses":
            items = access_trail(index, since=since, until=until, patient=patient)
        elif args.what == "break-glass":
            items = break_glass_events(index, since, until, patient)
        elif args.what == "credentials":
            items = credential_history(index)
        else:
            items = payer_requests(index, None, since, until)
        if args.output is None:
            sys.stdout.write(exports.export(items, args.format))
        else:
            exports.export(items, args.format, args.output)
            print(f"wrote {len(items)} rows to {args.output}", file=sys.stderr)
    return 0


def _patients_history(
    index: AuditIndex, patient: str | None, since: int | None, until: int | None
) -> list[ConsentChange]:
    if patient:
        return consent_history(index, patient, since, until)
    patients = sorted({r.args["patient"] for r in index.events(["ConsentGranted", "GuardianSet"], contract=CONSENT)})
    changes = [c for p in patients for c in consent_history(index, p, since, until)]
    return sorted(changes, key=lambda c: c.source.position)


def _export_fhir(
    index: AuditIndex, args: argparse.Namespace, patient: str | None, since: int | None, until: int | None
) -> int:
    if args.what == "fhir-consents":
        resources = fhir.consent_resources(index, patient, args.fhir_version)
    elif args.what == "fhir-audit-events":
        resources = fhir.audit_event_resources(index, since, until, patient, version=args.fhir_version)
    else:
        raise ValidationError("--format fhir goes with --what fhir-consents or fhir-audit-events")
    made = fhir.bundle(resources, args.fhir_version, index.latest_time())
    text = made.model_dump_json(indent=2) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(
            f"wrote a FHIR {args.fhir_version} Bundle of {len(resources)} resources to {args.output}", file=sys.stderr
        )
    else:
        sys.stdout.write(text)
    return 0
