"""What each `oncall` command does; `deployments.cli` only parses arguments.

Prefect is imported inside the commands that run flows, and only after their inputs were
checked with the parsers the flows use (oncall.clock, load_settings): a mistyped zone is one
line in a fraction of a second, not a server start and a flow run's traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from oncall import escape
from oncall.errors import ConfigError, InputError

if TYPE_CHECKING:
    from oncall.settings import Settings

T = TypeVar("T")


def _option(name: str, parse: Callable[[], T]) -> T:
    """`parse()`, with its InputError naming the option (or setting) the value came from."""
    try:
        return parse()
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc


def _zone_and_hours(settings: Settings, timezone: str | None, hours: str | None) -> str:
    """The team's zone, after checking it and the business hours; a value from the settings is
    named by its setting, one from the command line by its option."""
    from oncall.clock import BusinessHours, zone

    tz = timezone or settings.team_timezone
    _option("--timezone" if timezone else "setting ONCALL_TEAM_TIMEZONE is invalid", lambda: zone(tz))
    text = hours or settings.business_hours
    _option(
        "--business-hours" if hours else "setting ONCALL_BUSINESS_HOURS is invalid",
        lambda: BusinessHours.parse(text),
    )
    return tz


def _window(
    start_option: str, start: str, end: str, tz: str, *, past: bool = False
) -> tuple[datetime, datetime]:
    """A window given as a start (ISO or a span back such as -7d) and an end (ISO or now)."""
    from oncall.clock import fmt_local, now, parse_instant, parse_start

    until = _option("--end", lambda: parse_instant(end, tz))
    if past and until > now():
        raise InputError(
            f"--end {fmt_local(until, tz)} is in the future (it is {fmt_local(now(), tz)}); "
            "a hand-off reports a shift that has ended: pass a time that has passed, or now"
        )
    since = _option(start_option, lambda: parse_start(start, until, tz))
    if since >= until:
        raise InputError(f"{start_option} {fmt_local(since, tz)} is not before --end {fmt_local(until, tz)}")
    return since, until


def _prefect_server() -> str | None:
    """The Prefect server a flow run from here reports to, or None: a temporary one that stops,
    with its artifacts, Variables and events, when the command ends."""
    return os.environ.get("PREFECT_API_URL") or None


def cmd_demo(args: argparse.Namespace) -> int:
    from deployments.demo import run_demo

    files = run_demo(Path(args.out), args.source)
    print("\nDemo finished. Read what it produced:")
    for f in files:
        print(f"  {f}")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from oncall.clock import now, parse_instant
    from oncall.sandbox.seed import DEFAULT_ANCHOR, last_handoff
    from oncall.sandbox.server import Sandbox

    if args.anchor == "now":
        anchor = last_handoff(now())
    elif args.anchor == "default":
        anchor = DEFAULT_ANCHOR
    else:
        anchor = _option("--anchor", lambda: parse_instant(args.anchor, "UTC"))
    try:
        sandbox = Sandbox.seeded(anchor, port=args.port, seed=args.seed)
    except OSError as exc:
        raise InputError(
            f"cannot listen on 127.0.0.1 port {args.port} ({exc.strerror or exc}): another program, "
            "or another oncall sandbox, has it; pick another with --port, or --port 0 for a free one"
        ) from exc
    if args.latency_ms or args.fault_rate:
        sandbox.faults(latency_ms=args.latency_ms, rate_429=args.fault_rate / 2, rate_5xx=args.fault_rate / 2)
    with sandbox:
        print(f"oncall sandbox on {sandbox.url} (seeded week ending {anchor.isoformat()})")
        print(f"  OpsGenie   {sandbox.opsgenie_url}")
        print(f"  JSM        {sandbox.url}/atlassian (Operations API and Jira site)")
        print(f"  Rootly     {sandbox.url}/rootly")
        print(f"  Slack hook {sandbox.slack_webhook_url}")
        print(f"  requests   {sandbox.url}/_sandbox/requests")
        print("\nPoint oncall at it (these are the sandbox's own throwaway credentials):")
        for key, value in sandbox.env(args.source).items():
            print(f"  export {key}={shlex.quote(value)}")
        print("\nCtrl-C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopped")
    return 0


def flow_env() -> None:
    """A private, quiet Prefect home for flows run from the command line; before Prefect loads.
    Made here: the temporary server's database cannot be opened in a folder that does not exist."""
    from deployments.demo import prepare_prefect_env

    home = Path(os.environ.get("ONCALL_OUT_DIR", "out")) / ".prefect"
    if not os.environ.get("PREFECT_HOME"):
        home.mkdir(parents=True, exist_ok=True)
    prepare_prefect_env(home)


def _check_handoff(args: argparse.Namespace, settings: Settings) -> None:
    from oncall.clock import now, parse_start

    if args.schedule is not None and not args.schedule.strip():
        raise InputError("--schedule is empty: give a schedule's name (see oncall schedules)")
    tz = _zone_and_hours(settings, args.timezone, args.business_hours)
    if args.end.strip().lower() != "now":
        _window("--start", args.start or "-1m", args.end, tz, past=True)
    elif args.start:
        _option("--start", lambda: parse_start(args.start, now(), tz))


def _check_schedule(settings: Settings, name: str, given_by: str) -> None:
    """The schedule exists: one call to the source, before a Prefect server starts for nothing.
    When it does not, the one-line answer lists the schedules there are. Only for a temporary
    server: a flow run on PREFECT_API_URL may read the schedule and the source's credential from
    the server (the oncall-settings Variable, Secret blocks), which this process does not."""
    from oncall.errors import NotFoundError
    from oncall.wiring import Clients

    if _prefect_server():
        return
    with Clients(settings) as clients:
        source = clients.source()
        try:
            source.get_schedule(name)
        except NotFoundError:
            names = sorted(s.name for s in source.list_schedules())
            raise InputError(
                f"{given_by}: schedule {name!r} is not in {settings.source}; its schedules: "
                f"{', '.join(repr(n) for n in names) or 'none'} (see oncall schedules)"
            ) from None


def cmd_handoff(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    settings = load_settings()
    _check_handoff(args, settings)
    _check_schedule(
        settings, args.schedule or settings.schedule, "--schedule" if args.schedule else "ONCALL_SCHEDULE"
    )
    server = _prefect_server()
    # On a temporary server the artifact is gone when the command ends: write the file instead.
    deliver = args.deliver or (["artifact", "slack"] if server else ["file", "slack"])
    flow_env()
    from flows.shift_handoff import shift_handoff

    markdown = shift_handoff(
        schedule=args.schedule,
        shift_end=args.end,
        shift_start=args.start,
        timezone=args.timezone,
        business_hours=args.business_hours,
        deliver=deliver,
        dry_run=args.dry_run,
        repost=args.repost,
    )
    if args.dry_run or args.print:
        print(markdown)
    out = Path(settings.out_dir)
    where: list[str] = []
    if "file" in deliver:
        where.append(f"hand-off written to {out / 'handoff.md'} (Slack blocks: {out / 'slack-handoff.json'})")
    if "artifact" in deliver or args.dry_run:
        where.append(
            f"artifact on {server} (Artifacts, key shift-handoff-...)"
            if server
            else "the artifact was on a temporary Prefect server and is gone: set PREFECT_API_URL to "
            "keep it, or add --deliver file"
        )
    if "slack" in deliver:
        where.append(
            "Slack: not posted (dry run)"
            if args.dry_run
            else "Slack: posted once per shift (see the log; --repost posts again)"
        )
    for line in where:
        print(line, file=sys.stderr)
    return 0


def _check_filing(args: argparse.Namespace, settings: Settings, what: str) -> None:
    """A flow that files issues over a window: the window, and a repository to file in."""
    tz = _zone_and_hours(settings, None, None)
    _window("--window", args.window, args.end, tz)
    if not (args.repo or settings.github_repo):
        raise InputError(f"no repository for {what}: pass --repo OWNER/NAME or set ONCALL_GITHUB_REPO")


def _wrote(result: dict[str, int], report: Path, server: str | None) -> None:
    print(", ".join(f"{k}: {v}" for k, v in result.items()))
    print(f"report written to {report}" + (f"; artifact on {server}" if server else ""), file=sys.stderr)


def _check_gaps(args: argparse.Namespace, settings: Settings) -> None:
    _check_filing(args, settings, "gap issues")
    if not (args.runbook or settings.runbook):
        raise InputError(
            "no runbook: pass --runbook (owner/repo:path@ref or a local path) or set ONCALL_RUNBOOK"
        )


def cmd_gaps(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    settings = load_settings()
    _check_gaps(args, settings)
    server = _prefect_server()
    deliver: list[Literal["artifact", "file"]] = ["artifact", "file"] if server else ["file"]
    flow_env()
    from flows.runbook_gaps import runbook_gaps

    result = runbook_gaps(
        window=args.window,
        window_end=args.end,
        runbook=args.runbook,
        repo=args.repo,
        label=args.label,
        max_issues=args.max_issues,
        close_covered=args.close_covered,
        dry_run=args.dry_run,
        deliver=deliver,
        force=args.force,
        open_pr=args.open_pr,
    )
    _wrote(result, Path(settings.out_dir) / "coverage.md", server)
    return 0


def cmd_ops_review(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    settings = load_settings()
    _check_filing(args, settings, "ops-review issues")
    server = _prefect_server()
    deliver: list[Literal["artifact", "slack", "file"]] = ["artifact", "file"] if server else ["file"]
    if args.slack:
        deliver.append("slack")
    flow_env()
    from flows.ops_review import ops_review

    result = ops_review(
        window=args.window,
        window_end=args.end,
        repo=args.repo,
        label=args.label,
        max_issues=args.max_issues,
        deliver=deliver,
        dry_run=args.dry_run,
    )
    _wrote(result, Path(settings.out_dir) / "ops-review.md", server)
    return 0


def cmd_requests(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    settings = load_settings()
    tz = _zone_and_hours(settings, None, None)
    _window("--window", args.window, args.end, tz)
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise ConfigError(
            "no Slack bot token: set ONCALL_SLACK_BOT_TOKEN (xoxb-…; its scopes are in docs/going-live.md)"
        )
    if not settings.sre_channels:
        raise ConfigError(
            "no channel to read: set ONCALL_SRE_CHANNELS to the channel ids (C…) people ask @SRE in"
        )
    server = _prefect_server()
    flow_env()
    from flows.sre_requests import sre_requests

    result = sre_requests(
        window=args.window,
        window_end=args.end,
        dry_run=not args.tickets,
        deliver=["artifact", "file"] if server else ["file"],
    )
    report = Path(settings.out_dir) / "sre-requests.md"
    print(escape.terminal_lines(report.read_text(encoding="utf-8")))
    verb = "filed" if args.tickets else "would file"
    print(f"tickets {verb}: {result['filed']}; listing written to {report}", file=sys.stderr)
    return 0


def cmd_coe_prep(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    load_settings()
    if not args.id.strip():
        raise InputError("ID is empty: give the incident's number or id (see oncall incidents)")
    flow_env()
    from flows.coe_prep import coe_prep

    result = coe_prep(
        incident_id=None if args.alert else args.id,
        alert_id=args.id if args.alert else None,
        threshold_minutes=args.threshold,
        force=args.force,
        dry_run=args.dry_run,
    )
    if "text" in result:  # a dry run that got as far as the document; a skipped one has none
        print(result.pop("text"))
    print(", ".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def _print_result(result: dict[str, Any]) -> None:
    """A flow's counts on one line; a report it returned (a dry run's) printed whole first."""
    for name in ("agenda", "text"):
        if name in result:
            print(result.pop(name))
    print(", ".join(f"{k}: {v}" for k, v in result.items()))


def cmd_coe_review(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    load_settings()
    flow_env()
    from flows.coe_review import coe_review

    _print_result(dict(coe_review(meeting=args.meeting, dry_run=args.dry_run)))
    return 0


def cmd_coe_actions(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    load_settings()
    flow_env()
    from flows.coe_review import coe_actions

    _print_result(dict(coe_actions(incident_id=args.incident_id, dry_run=args.dry_run)))
    return 0


def cmd_coe_status(args: argparse.Namespace) -> int:
    """Every COE in the tracker with its status, completeness and open actions: the reads
    coe-review makes (one sheet read, one per document not Done), and no write."""
    import json

    from oncall.coe_action_filing import open_rows
    from oncall.coe_actions import read_actions
    from oncall.coe_review import read_entries
    from oncall.coe_sections import completeness
    from oncall.errors import OutsideError
    from oncall.escape import terminal
    from oncall.settings import load_settings
    from oncall.wiring import Clients

    settings = load_settings()
    if not settings.coe_sheet_id:
        raise ConfigError("ONCALL_COE_SHEET_ID is not set: the COE tracker sheet id")
    repo = settings.coe_actions_repo or settings.github_repo
    with Clients(settings) as clients:
        gw = clients.google()
        entries = read_entries(
            gw.tracker_values(settings.coe_sheet_id, settings.coe_sheet_tab), settings.team_timezone
        )
        template = gw.template_blocks(settings.coe_template_id)
        listed = (
            clients.github().list_issues(repo, settings.coe_action_label)
            if repo and settings.github_token
            else []
        )
        closed = {i.number for i in listed if i.state == "closed"}
        found: list[dict[str, str]] = []
        for e in entries:
            row = {
                "incident": e.incident_id,
                "status": e.status,
                "written": "-",
                "open actions": "-",
                "title": e.title,
            }
            if not e.done and e.doc_id:
                try:
                    doc = gw.read_document(e.doc_id)
                except OutsideError as exc:
                    row["written"] = f"unreadable ({exc.status or 'no answer'})"
                else:
                    row["written"] = completeness(template, doc.blocks).figure
                    table = read_actions(doc.blocks, template, doc.title or e.incident_id)
                    row["open actions"] = str(len(open_rows(table, closed)))
            found.append(row)
    if args.json:
        for row in found:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not found:
        print("No COEs in the tracker.", file=sys.stderr)
        return 0
    names = list(found[0])
    for line in _table(names, [[terminal(r[n])[:100] for n in names] for r in found]):
        print(line)
    return 0


def cmd_coe_watch(args: argparse.Namespace) -> int:
    from oncall.settings import load_settings

    load_settings()
    flow_env()
    from flows.incident_watch import incident_watch

    result = incident_watch(lookback_minutes=args.lookback, dry_run=args.dry_run)
    print(
        f"{len(result['events'])} event(s) for {result['since']} .. {result['until']}: {', '.join(result['events'])}"
    )
    if not _prefect_server() and not args.dry_run:
        print(
            "no PREFECT_API_URL: the events and the watermark went to a temporary Prefect server, which "
            "has stopped, so no coe-prep ran; set PREFECT_API_URL to your server, or prepare each with "
            "oncall coe prep ID",
            file=sys.stderr,
        )
    return 0


def cmd_coe_placeholders(args: argparse.Namespace) -> int:
    from oncall.coe import PLACEHOLDERS, REQUIRED

    width = max(len(p) for p in PLACEHOLDERS) + 4
    for name, description in PLACEHOLDERS.items():
        print(f"{'{{' + name + '}}':<{width}} {description}{' (required)' if name in REQUIRED else ''}")
    return 0


def cmd_coe_check(args: argparse.Namespace) -> int:
    from oncall.clients.google import DOC_MIME
    from oncall.coe import check_template
    from oncall.settings import load_settings
    from oncall.wiring import Clients

    settings = load_settings()
    with Clients(settings) as clients:  # the configured timeout and retry, as coe-prep's
        gw = clients.google()
        meta = gw.get_file(args.doc_id)
        if meta.mimeType != DOC_MIME:
            print(f"{args.doc_id} ({meta.name}) is a {meta.mimeType}, not a Google Doc", file=sys.stderr)
            return 1
        check = check_template(gw.document_text(args.doc_id))
    print(f"Template {meta.name} ({args.doc_id})")
    print(f"  uses     {len(check.used)}: {', '.join(check.used) or '-'}")
    print(f"  lacks    {len(check.missing)}: {', '.join(check.missing) or '-'}")
    print(
        f"  unknown  {len(check.unknown)}: {', '.join(check.unknown) or '-'} (left for people to fill; coe-prep fails on them)"
    )
    if check.missing_required:
        print(f"  required placeholders missing: {', '.join(check.missing_required)}", file=sys.stderr)
        return 1
    return 0


def cmd_runbook_check(args: argparse.Namespace) -> int:
    from deployments.runbook_check import run_check

    return run_check(
        args.runbook, titles=args.titles, rules=args.rules or (), fmt=args.format, repo=args.repo
    )


def cmd_relay(args: argparse.Namespace) -> int:
    from deployments.relay import SlackRoute, build_relay
    from deployments.relay_server import relay_config, serve_relay
    from oncall.settings import load_settings

    settings = load_settings()
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        print(
            "oncall relay: set PREFECT_API_URL to the Prefect server's API, e.g. http://127.0.0.1:4200/api",
            file=sys.stderr,
        )
        return 2
    signing = settings.slack_signing_secret
    slack = (
        SlackRoute(
            signing_secret=settings.require("slack_signing_secret"),
            channels=frozenset(settings.sre_channels),
            ticket_reaction=settings.sre_ticket_reaction,
        )
        if signing is not None and signing.get_secret_value()
        else None
    )
    # With no Slack route the OpsGenie secret is required, and its error names where to set it.
    secret = settings.require("relay_secret") if slack is None or settings.relay_secret else None
    app = build_relay(
        secret,
        api_url,
        threshold_minutes=settings.coe_threshold_minutes,
        api_key=os.environ.get("PREFECT_API_KEY"),
        slack=slack,
    )
    if secret:
        print(
            f"relay: POST http://{args.host}:{args.port}/opsgenie (secret in the X-Oncall-Relay-Secret header)"
        )
    if slack:
        print(f"relay: POST http://{args.host}:{args.port}/slack/events (Slack's Events API, signed)")
    serve_relay(relay_config(app, args.host, args.port))
    return 0


def cmd_setup_blocks(args: argparse.Namespace) -> int:
    from deployments.setup import setup_blocks

    setup_blocks(print, prompt=False if args.no_input else None, remove_sandbox=args.remove_sandbox)
    return 0


def cmd_setup_automations(args: argparse.Namespace) -> int:
    from deployments.setup import setup_automations
    from oncall.settings import load_settings

    setup_automations(print, load_settings().require("slack_webhook_url"))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from deployments.doctor import run_doctor

    return run_doctor(print, as_json=args.json)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; the last column (a title) is not."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in [header, *rows]
    ]


def cmd_incidents(args: argparse.Namespace) -> int:
    from oncall.clock import fmt_duration, fmt_local
    from oncall.escape import terminal
    from oncall.kinds import one_line
    from oncall.models import TimeWindow
    from oncall.settings import load_settings
    from oncall.wiring import Clients

    settings = load_settings()
    tz = _zone_and_hours(settings, None, None)
    since, until = _window("--since", args.since, args.end, tz)
    with Clients(settings) as clients:
        found = sorted(
            clients.source().fetch_incidents(TimeWindow(start=since, end=until)), key=lambda i: i.created_at
        )
    span = f"{fmt_local(since, tz)} to {fmt_local(until, tz)}"
    if not found:
        print(f"No incidents in {settings.source} from {span}.", file=sys.stderr)
        return 0
    rows = [
        [
            terminal(i.tiny_id or i.id),
            terminal(i.id),
            i.status,
            i.priority.value if i.priority else "-",
            fmt_local(i.created_at, tz),
            fmt_duration(i.duration) if i.duration is not None else "open",
            terminal(one_line(i.message))[:100],
        ]
        for i in found
    ]
    for line in _table(["number", "id", "status", "priority", "started", "duration", "title"], rows):
        print(line)
    print(
        f"{len(found)} incident(s) in {settings.source} from {span}; prepare a COE with: oncall coe prep NUMBER",
        file=sys.stderr,
    )
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    from oncall.escape import terminal
    from oncall.settings import load_settings
    from oncall.wiring import Clients

    settings = load_settings()
    with Clients(settings) as clients:
        found = clients.source().list_schedules()
    rows = [
        [
            terminal(s.name),
            terminal(s.timezone),
            "yes" if s.enabled else "no",
            str(len(s.rotations)),
            ", ".join(terminal(r.name) for r in s.rotations) or "-",
        ]
        for s in sorted(found, key=lambda s: s.name)
    ]
    if not rows:
        print(f"No schedules in {settings.source}.", file=sys.stderr)
        return 0
    for line in _table(["name", "zone", "enabled", "rotations", "rotation names"], rows):
        print(line)
    configured = settings.schedule
    known = any(s.name == configured for s in found)
    print(
        f"{len(rows)} schedule(s) in {settings.source}; ONCALL_SCHEDULE is {configured!r}"
        + ("" if known else ", which is not among them"),
        file=sys.stderr,
    )
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from deployments.deploy import run_deploy

    return run_deploy(args)
