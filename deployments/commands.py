"""What each `oncall` command does; `deployments.cli` only parses arguments.

Prefect is imported inside the commands that run flows, so `--help` and `doctor` stay fast.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path


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
        anchor = parse_instant(args.anchor, "UTC")
    sandbox = Sandbox.seeded(anchor, port=args.port, seed=args.seed)
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
    """A private, quiet Prefect home for flows run from the command line; before Prefect loads."""
    from deployments.demo import prepare_prefect_env

    prepare_prefect_env(Path(os.environ.get("ONCALL_OUT_DIR", "out")) / ".prefect")


def cmd_handoff(args: argparse.Namespace) -> int:
    flow_env()
    from flows.shift_handoff import shift_handoff

    deliver = args.deliver or ["artifact", "slack"]
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
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
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
        deliver=["artifact", "file"],
        force=args.force,
        open_pr=args.open_pr,
    )
    print(", ".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def cmd_coe_prep(args: argparse.Namespace) -> int:
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


def cmd_coe_watch(args: argparse.Namespace) -> int:
    flow_env()
    from flows.incident_watch import incident_watch

    result = incident_watch(lookback_minutes=args.lookback, dry_run=args.dry_run)
    print(
        f"{len(result['events'])} event(s) for {result['since']} .. {result['until']}: {', '.join(result['events'])}"
    )
    return 0


def cmd_coe_placeholders(args: argparse.Namespace) -> int:
    from oncall.coe import PLACEHOLDERS, REQUIRED

    width = max(len(p) for p in PLACEHOLDERS) + 4
    for name, description in PLACEHOLDERS.items():
        print(f"{'{{' + name + '}}':<{width}} {description}{' (required)' if name in REQUIRED else ''}")
    return 0


def cmd_coe_check(args: argparse.Namespace) -> int:
    from oncall.clients.google import DOC_MIME, GoogleWorkspace, load_key
    from oncall.coe import check_template
    from oncall.settings import load_settings

    settings = load_settings()
    with GoogleWorkspace(
        load_key(settings.require("google_service_account")), base_url=settings.google_base_url
    ) as gw:
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
    from deployments.relay import build_relay
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
    app = build_relay(
        settings.require("relay_secret"),
        api_url,
        threshold_minutes=settings.coe_threshold_minutes,
        api_key=os.environ.get("PREFECT_API_KEY"),
    )
    print(f"relay: POST http://{args.host}:{args.port}/opsgenie (secret in the X-Oncall-Relay-Secret header)")
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
