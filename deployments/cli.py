"""The `oncall` command line: arguments and help. The commands live in `deployments.commands`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from deployments import commands
from oncall.errors import OncallError

# The registry's names (oncall.sources.SOURCES, which a test keeps equal to these): importing
# the registry loads every client, and `oncall runbook check` in a team's CI must start fast.
SOURCES = ("opsgenie", "jsm", "rootly")
ACTIONS = ("coe_command", "setup_command", "runbook_command")
EPILOG = "Settings come from ONCALL_* environment variables; see README.md#configuration."


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _group(sub: Commands, name: str, *, help: str, description: str) -> Commands:
    """A command whose actions are its own sub-commands (`oncall coe prep`); `main` names the
    action in its one-line error through ACTIONS, so its dest is `<name>_command`."""
    parser = sub.add_parser(name, help=help, description=description, epilog=EPILOG)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oncall",
        description="On-call duties as Prefect flows: shift hand-off, runbook gaps, COE prep.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the flows against the seeded sandbox; write out/demo/",
        description="Start the sandbox fakes, run every flow on an ephemeral Prefect server, "
        "and write what they produced under --out.",
        epilog=EPILOG,
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument(
        "--source",
        choices=SOURCES,
        default=os.environ.get("ONCALL_SOURCE") or "opsgenie",
        help="alert source whose fake the flows read (default: $ONCALL_SOURCE, else opsgenie)",
    )
    demo.set_defaults(func=commands.cmd_demo)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the fake OpsGenie and Slack on 127.0.0.1",
        description="Serve faithful local fakes of every outside API with a seeded week "
        "of alerts, and print the settings that point oncall at them.",
        epilog=EPILOG,
    )
    sandbox.add_argument(
        "--port", type=int, default=8787, help="port on 127.0.0.1 (default: 8787; 0 picks one)"
    )
    sandbox.add_argument(
        "--anchor",
        default="now",
        help="end of the seeded week: 'now' (the last Tuesday 10:00 New York hand-off, "
        "default), 'default' (2026-11-24, as tests use) or an ISO time",
    )
    sandbox.add_argument("--seed", type=int, default=7, help="random seed of the data set (default: 7)")
    sandbox.add_argument(
        "--source",
        choices=SOURCES,
        default=os.environ.get("ONCALL_SOURCE") or "opsgenie",
        help="alert source the printed settings point at; every fake is served either way",
    )
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    sandbox.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests answered 429 or 5xx"
    )
    sandbox.set_defaults(func=commands.cmd_sandbox)

    handoff = sub.add_parser(
        "handoff",
        help="run shift-handoff now, by hand",
        description="Run the shift-handoff flow for the last finished shift (or the one ending at --end) and deliver it.",
        epilog=EPILOG,
    )
    handoff.add_argument("--schedule", help="schedule name (default: ONCALL_SCHEDULE)")
    handoff.add_argument(
        "--end",
        default="now",
        help="shift end: a past ISO time in the team's zone, or 'now' (default): the last hand-off that has passed",
    )
    handoff.add_argument("--start", help="shift start (default: the schedule's previous hand-off)")
    handoff.add_argument("--timezone", help="team time zone (default: ONCALL_TEAM_TIMEZONE)")
    handoff.add_argument(
        "--business-hours", help="e.g. 'Mon-Fri 09:00-17:00' (default: ONCALL_BUSINESS_HOURS)"
    )
    handoff.add_argument(
        "--deliver",
        action="append",
        choices=["artifact", "slack", "file"],
        help="where to send it; repeat for several (default: artifact and slack)",
    )
    handoff.add_argument("--dry-run", action="store_true", help="print the hand-off; post nothing to Slack")
    handoff.add_argument(
        "--repost",
        action="store_true",
        help="post to Slack even if this shift's hand-off was posted already (by default once per shift)",
    )
    handoff.add_argument("--print", action="store_true", help="also print the markdown")
    handoff.set_defaults(func=commands.cmd_handoff)

    gaps = sub.add_parser(
        "gaps",
        help="run runbook-gaps now: file issues for alerts with no runbook entry",
        description="Match every alert of the window to the runbook and file one GitHub issue per "
        "uncovered alert kind (or update the one that exists). Use --dry-run first.",
        epilog=EPILOG,
    )
    gaps.add_argument(
        "--window", default="-24h", help="window start: a span back from its end like -24h, or ISO"
    )
    gaps.add_argument("--end", default="now", help="window end: ISO time in the team's zone, or 'now'")
    gaps.add_argument(
        "--runbook",
        help="'owner/repo:path@ref' or a local path, a file or a folder (default: ONCALL_RUNBOOK)",
    )
    gaps.add_argument("--repo", help="owner/name that gets the issues (default: ONCALL_GITHUB_REPO)")
    gaps.add_argument("--label", help="label on gap issues (default: ONCALL_GAP_LABEL, runbook-gap)")
    gaps.add_argument(
        "--max-issues",
        type=int,
        help="most issues (and pull requests) filed or reopened (default: ONCALL_MAX_ISSUES, 10)",
    )
    gaps.add_argument(
        "--close-covered", action="store_true", help="close gap issues whose kind now has an entry"
    )
    gaps.add_argument(
        "--dry-run",
        action="store_true",
        help="log the issues and pull requests it would open; change nothing",
    )
    gaps.add_argument(
        "--force",
        action="store_true",
        help="file even when nearly every kind is a gap (by default that stops the run: the runbook looks misread)",
    )
    gaps.add_argument(
        "--open-pr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open a draft pull request adding each new gap's entry to a GitHub runbook "
        "(default: ONCALL_OPEN_PR, off)",
    )
    gaps.set_defaults(func=commands.cmd_gaps)

    runbook_sub = _group(
        sub,
        "runbook",
        help="check a runbook: the entries it has, the alerts it lacks, the links that are broken",
        description="Work with a runbook without a Prefect server: for a person, and for the "
        "runbook repository's own CI.",
    )
    check_runbook = runbook_sub.add_parser(
        "check",
        help="list a runbook's entries, or check alert titles and Prometheus rules against it",
        description="Read RUNBOOK as runbook-gaps reads it. With no other argument, list the\n"
        "entries found (layout, count, products, quality flags). With --titles or --rules,\n"
        "match each alert as runbook-gaps would, and check every rule's runbook_url.\n\n"
        "Exit 0 when nothing is a gap or a broken link, 1 when something is, 2 on bad input.\n"
        "No Prefect server is needed.",
        epilog="examples:\n"
        "  oncall runbook check docs/runbook.md                  # what did it find?\n"
        "  oncall runbook check docs/runbooks --rules alerts/*.yaml --repo acme/runbooks\n"
        "  oncall runbook check acme/ops:runbooks@main --titles titles.txt --format json\n\n"
        "A GitHub runbook (owner/repo:path@ref) is read with ONCALL_GITHUB_TOKEN. "
        "See docs/runbook-check.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check_runbook.add_argument(
        "runbook",
        metavar="RUNBOOK",
        help="a local markdown file, a local folder of them, or owner/repo:path@ref on GitHub",
    )
    check_runbook.add_argument(
        "--titles", metavar="FILE", help="alert titles, one per line, each matched as runbook-gaps would"
    )
    check_runbook.add_argument(
        "--rules",
        metavar="FILE",
        nargs="+",
        action="extend",
        help="Prometheus rule files (groups[].rules[].alert, annotations.runbook_url): each alert "
        "needs an entry, and its runbook_url must resolve. Several files, or a shell glob, may follow",
    )
    check_runbook.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text for people (default), or json: one object per line, for scripts",
    )
    check_runbook.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="the GitHub repository whose checkout holds RUNBOOK, run from its root (in GitHub "
        "Actions: $GITHUB_REPOSITORY): links into it are checked against the local files",
    )
    check_runbook.set_defaults(func=commands.cmd_runbook_check)

    coe_sub = _group(
        sub,
        "coe",
        help="COE documents: prepare one, watch for incidents, check a template",
        description="Work with COE (Clarification of Error) documents.",
    )
    prep = coe_sub.add_parser(
        "prep",
        help="run coe-prep for one incident now",
        description="Copy the COE template for an incident, fill in its data and track it. "
        "Idempotent: an incident that has a COE keeps it.",
        epilog=EPILOG,
    )
    prep.add_argument("id", help="incident id (or, with --alert, a closed P1/P2 alert id)")
    prep.add_argument(
        "--alert", action="store_true", help="the id is an alert's, for teams that page without incidents"
    )
    prep.add_argument(
        "--threshold", type=int, help="minutes an incident must last (default: ONCALL_COE_THRESHOLD_MINUTES)"
    )
    prep.add_argument("--force", action="store_true", help="prepare it even under the threshold")
    prep.add_argument("--dry-run", action="store_true", help="print the filled document; write nothing")
    prep.set_defaults(func=commands.cmd_coe_prep)
    watch = coe_sub.add_parser(
        "watch",
        help="run incident-watch now: emit events for long incidents that closed",
        description="Find incidents and P1/P2 alerts closed since the last run and emit "
        "oncall.incident.closed for each that needs a COE.",
        epilog=EPILOG,
    )
    watch.add_argument(
        "--lookback", type=int, default=60, help="minutes the first run looks back (default: 60)"
    )
    watch.add_argument(
        "--dry-run", action="store_true", help="log the events; emit nothing, keep the watermark"
    )
    watch.set_defaults(func=commands.cmd_coe_watch)
    placeholders = coe_sub.add_parser(
        "placeholders",
        help="list every {{placeholder}} coe-prep fills",
        description="Every placeholder a COE template may use, with its meaning.",
    )
    placeholders.set_defaults(func=commands.cmd_coe_placeholders)
    check = coe_sub.add_parser(
        "check-template",
        help="which placeholders a Google Doc template uses, lacks, or invents",
        description="Read a Google Doc and compare its placeholders with the ones coe-prep "
        "fills. Exit 1 when it is not a Doc or lacks a required placeholder.",
        epilog=EPILOG,
    )
    check.add_argument("doc_id", help="the template's Google Doc id")
    check.set_defaults(func=commands.cmd_coe_check)

    relay = sub.add_parser(
        "relay",
        help="serve the webhook relay: OpsGenie webhooks in, Prefect events out",
        description="Accept OpsGenie's outgoing webhook (with the shared secret "
        "ONCALL_RELAY_SECRET in the X-Oncall-Relay-Secret header; a secret in the URL is "
        "refused) and post oncall.incident.closed to PREFECT_API_URL for "
        "every incident or P1/P2 alert that closed after lasting past the COE threshold.",
        epilog=EPILOG,
    )
    relay.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    relay.add_argument("--port", type=int, default=8788, help="port (default: 8788)")
    relay.set_defaults(func=commands.cmd_relay)

    setup_sub = _group(
        sub,
        "setup",
        help="create what deployments read from Prefect: Secret blocks, Variables",
        description="Prepare the Prefect server at PREFECT_API_URL for the deployments.",
    )
    blocks = setup_sub.add_parser(
        "blocks",
        help="create or update the Secret blocks and the oncall-settings Variable",
        description="Save every ONCALL_* secret as its Secret block (prompting, hidden, "
        "for missing ones on a terminal) and the other ONCALL_* settings as the JSON "
        "Variable oncall-settings. Secret values are never printed.",
        epilog=EPILOG,
    )
    blocks.add_argument(
        "--no-input", action="store_true", help="never prompt; skip secrets not in the environment"
    )
    blocks.add_argument(
        "--remove-sandbox",
        action="store_true",
        help="delete Secret blocks and Variable values the sandbox left behind (127.0.0.1 URLs, its "
        "throwaway credentials) that this run does not replace",
    )
    blocks.set_defaults(func=commands.cmd_setup_blocks)
    automations = setup_sub.add_parser(
        "automations",
        help="post to Slack when an oncall flow fails or runs late",
        description="Create (or replace) a Prefect automation that posts to "
        "ONCALL_SLACK_WEBHOOK_URL whenever a run of an oncall-tagged deployment "
        "fails, crashes, times out or is late.",
        epilog=EPILOG,
    )
    automations.set_defaults(func=commands.cmd_setup_automations)

    doctor = sub.add_parser(
        "doctor",
        help="check settings and reach every configured outside system",
        description="Check every setting and make one cheap authenticated call to each "
        "configured system; name what is missing or rejected. Exit 1 on any problem.",
        epilog=EPILOG,
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object (checks, summary, exit_code)")
    doctor.set_defaults(func=commands.cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except OncallError as exc:
        action = next((getattr(args, a) for a in ACTIONS if getattr(args, a, None)), None)
        command = f"{args.command} {action}" if action else args.command
        print(f"oncall {command}: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, for CI logs
        return 2


if __name__ == "__main__":
    sys.exit(main())
