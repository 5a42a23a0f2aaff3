"""The `oncall` command line: arguments and help. The commands live in `deployments.commands`."""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from deployments import commands
from oncall.errors import OncallError

# The registry's names load no source package, so `oncall runbook check` in a team's CI starts fast.
from oncall.sources import DEFAULT_SOURCE, SOURCE_NAMES

ACTIONS = ("coe_command", "setup_command", "runbook_command")
EPILOG = (
    "Settings come from ONCALL_* environment variables and oncall.toml; see README.md#configuration. "
    "--debug shows the traceback of an error."
)
# Options whose value may be a span back in time, such as `--start -72h`: argparse would read the
# `-72h` as an option, so main joins it to its option first (`--start=-72h`).
SPAN_OPTIONS = ("--start", "--window", "--since")
_SPAN = re.compile(r"-\s*\d+\s*[a-zA-Z]*")


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one-line form every other error has."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("oncall-flows")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def join_spans(argv: Sequence[str]) -> list[str]:
    """`--start -72h` as `--start=-72h`, so that argparse takes the span as the option's value."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in SPAN_OPTIONS and _SPAN.fullmatch(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535; 0 picks a free one)")
    return value


for _type, _name in ((_non_negative, "a whole number"), (_positive, "a whole number"), (_port, "a port")):
    _type.__name__ = _name  # argparse's "invalid <name> value: 'x'"


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction["Parser"]


def _group(sub: Commands, name: str, *, help: str, description: str) -> Commands:
    """A command whose actions are its own sub-commands (`oncall coe prep`); `main` names the
    action in its one-line error through ACTIONS, so its dest is `<name>_command`."""
    return _command(sub, name, help=help, description=description).add_subparsers(
        dest=f"{name}_command", required=True, metavar="ACTION"
    )


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\n" + EPILOG


def _command(
    sub: Commands, name: str, *, help: str, description: str, examples: Sequence[str] = ()
) -> Parser:
    """Every command's help ends the same way: its examples (laid out as written), then where
    settings come from and what --debug does."""
    if not examples:
        return sub.add_parser(name, help=help, description=description, epilog=EPILOG)
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _window_args(cmd: argparse.ArgumentParser, default: str) -> None:
    """--window and --end, as every command over a window of alerts or messages takes them."""
    cmd.add_argument(
        "--window",
        default=default,
        help=f"window start: a span back from its end such as -24h, -7d, -2w, or an ISO time (default: {default})",
    )
    cmd.add_argument(
        "--end", default="now", help="window end: ISO time in the team's zone, or 'now' (default)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="oncall",
        description="On-call duties as Prefect flows: shift hand-off, runbook gaps, COE prep.",
        epilog=_examples(
            "oncall demo                              # every flow against the sandbox, about a minute",
            "oncall doctor                            # check the settings and every outside system",
            "oncall handoff --dry-run                 # the last shift's hand-off, printed",
            "oncall COMMAND --help                    # each command's options and defaults",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"oncall {_version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error; may also follow the command (oncall handoff --debug)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        sub,
        "demo",
        help="run the flows against the seeded sandbox; write out/demo/",
        description="Start the sandbox fakes, run every flow on an ephemeral Prefect server, "
        "and write what they produced under --out.",
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument(
        "--source",
        choices=SOURCE_NAMES,
        default=os.environ.get("ONCALL_SOURCE") or DEFAULT_SOURCE,
        help=f"alert source whose fake the flows read (default: $ONCALL_SOURCE, else {DEFAULT_SOURCE})",
    )
    demo.set_defaults(func=commands.cmd_demo)

    sandbox = _command(
        sub,
        "sandbox",
        help="serve local fakes of OpsGenie, JSM, Rootly, Slack, GitHub and Google on 127.0.0.1",
        description="Serve faithful local fakes of every outside API with a seeded week "
        "of alerts, and print the settings that point oncall at them.",
    )
    sandbox.add_argument(
        "--port", type=_port, default=8787, help="port on 127.0.0.1 (default: 8787; 0 picks a free one)"
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
        choices=SOURCE_NAMES,
        default=os.environ.get("ONCALL_SOURCE") or DEFAULT_SOURCE,
        help="alert source the printed settings point at; every fake is served either way",
    )
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    sandbox.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests answered 429 or 5xx"
    )
    sandbox.set_defaults(func=commands.cmd_sandbox)

    handoff = _command(
        sub,
        "handoff",
        help="run shift-handoff now, by hand",
        description="Run the shift-handoff flow for the last finished shift (or the one ending at --end) "
        "and deliver it. Without PREFECT_API_URL it runs on a temporary Prefect server, so the hand-off "
        "is written under ONCALL_OUT_DIR (default: out/) instead of an artifact; the command says where.",
        examples=(
            "oncall handoff --dry-run                 # the last finished shift, printed; Slack untouched",
            "oncall handoff --start -72h --print      # Friday 09:00 on, from a Monday",
            "oncall handoff --end 2026-11-24T10:00 --deliver file",
        ),
    )
    handoff.add_argument("--schedule", help="schedule name (default: ONCALL_SCHEDULE; see oncall schedules)")
    handoff.add_argument(
        "--end",
        default="now",
        help="shift end: a past ISO time in the team's zone, or 'now' (default): the last hand-off that has passed",
    )
    handoff.add_argument(
        "--start",
        help="shift start: an ISO time, or a span back from the end such as -24h, -72h, -1w "
        "(default: the schedule's previous hand-off)",
    )
    handoff.add_argument("--timezone", help="team time zone (default: ONCALL_TEAM_TIMEZONE)")
    handoff.add_argument(
        "--business-hours", help="e.g. 'Mon-Fri 09:00-17:00' (default: ONCALL_BUSINESS_HOURS)"
    )
    handoff.add_argument(
        "--deliver",
        action="append",
        choices=["artifact", "slack", "file"],
        help="where to send it; repeat for several (default: artifact and slack with PREFECT_API_URL, "
        "else file and slack)",
    )
    handoff.add_argument("--dry-run", action="store_true", help="print the hand-off; post nothing to Slack")
    handoff.add_argument(
        "--repost",
        action="store_true",
        help="post to Slack even if this shift's hand-off was posted already (by default once per shift)",
    )
    handoff.add_argument("--print", action="store_true", help="also print the markdown on stdout")
    handoff.set_defaults(func=commands.cmd_handoff)

    gaps = _command(
        sub,
        "gaps",
        help="run runbook-gaps now: file issues for alerts with no runbook entry",
        description="Match every alert of the window to the runbook and file one GitHub issue per "
        "uncovered alert kind (or update the one that exists). Use --dry-run first. The coverage "
        "report is written under ONCALL_OUT_DIR (default: out/).",
        examples=(
            "oncall gaps --window -7d --dry-run       # the week's gaps; files nothing",
            "oncall gaps --window -7d --max-issues 3  # then file the first three",
        ),
    )
    _window_args(gaps, "-24h")
    gaps.add_argument(
        "--runbook",
        help="'owner/repo:path@ref' or a local path, a file or a folder (default: ONCALL_RUNBOOK)",
    )
    gaps.add_argument("--repo", help="owner/name that gets the issues (default: ONCALL_GITHUB_REPO)")
    gaps.add_argument("--label", help="label on gap issues (default: ONCALL_GAP_LABEL, runbook-gap)")
    gaps.add_argument(
        "--max-issues",
        type=_non_negative,
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

    ops = _command(
        sub,
        "ops-review",
        help="run ops-review now: file operational-safety findings, write the advocacy digest",
        description="Find what paged too often, flapped, was never acted on, woke people, escalated "
        "or repeated in the window; file one GitHub issue per finding (or update the one that "
        "exists); and rank every open operational-safety issue by what it has cost. Use --dry-run "
        "first. Not `oncall coe review`, the COE meeting's agenda. The review is written under "
        "ONCALL_OUT_DIR (default: out/).",
        examples=(
            "oncall ops-review --dry-run             # last week's findings; files nothing",
            "oncall ops-review --window -14d --slack  # two weeks, filed, and posted to Slack",
        ),
    )
    _window_args(ops, "-7d")
    ops.add_argument("--repo", help="owner/name that gets the issues (default: ONCALL_GITHUB_REPO)")
    ops.add_argument(
        "--label", help="label on operational-safety issues (default: ONCALL_OPS_LABEL, operational-safety)"
    )
    ops.add_argument(
        "--max-issues",
        type=_non_negative,
        help="most issues filed or reopened (default: ONCALL_OPS_MAX_ISSUES, 5)",
    )
    ops.add_argument("--slack", action="store_true", help="also post the review to Slack (once per window)")
    ops.add_argument("--dry-run", action="store_true", help="log the issues it would file; change nothing")
    ops.set_defaults(func=commands.cmd_ops_review)

    asks = _command(
        sub,
        "requests",
        help="list the @SRE requests in Slack and their states; --tickets files the ticket-reaction ones",
        description="Read ONCALL_SRE_CHANNELS over the window with the Slack bot token and list every "
        "request that mentions the SRE group: answered, acknowledged, tracked or unanswered, who "
        "asked, who answered and how fast. Files nothing unless --tickets, which turns each request "
        "with the ticket reaction into one GitHub issue, as the sre-requests sweep does. The listing "
        "is written to sre-requests.md under ONCALL_OUT_DIR (default: out/).",
        examples=(
            "oncall requests                    # the last 24 hours' requests",
            "oncall requests --window -7d --tickets  # the week's, and file their ticket issues",
        ),
    )
    _window_args(asks, "-24h")
    asks.add_argument(
        "--tickets",
        action="store_true",
        help="file the issues of requests with the ticket reaction (once each)",
    )
    asks.set_defaults(func=commands.cmd_requests)

    incidents = _command(
        sub,
        "incidents",
        help="list the source's incidents, with the numbers `oncall coe prep` takes",
        description="List the incidents created in a window, newest last: number (what the hand-off "
        "shows and `oncall coe prep` takes), id, status, priority, start, duration and title. "
        "Reads the source directly; no Prefect server.",
        examples=(
            "oncall incidents                         # the last 7 days",
            "oncall incidents --since -30d",
            "oncall incidents --since 2026-11-01T00:00 --end 2026-11-08T00:00",
        ),
    )
    incidents.add_argument(
        "--since",
        default="-7d",
        help="window start: a span back from --end such as -7d, -24h, or an ISO time (default: -7d)",
    )
    incidents.add_argument(
        "--end", default="now", help="window end: ISO time in the team's zone, or 'now' (default)"
    )
    incidents.set_defaults(func=commands.cmd_incidents)

    schedules = _command(
        sub,
        "schedules",
        help="list the source's on-call schedules, with their time zones",
        description="List the on-call schedules the source has: name (what ONCALL_SCHEDULE and "
        "--schedule take), time zone, rotations and who is on call now. No Prefect server.",
    )
    schedules.set_defaults(func=commands.cmd_schedules)

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
    prep = _command(
        coe_sub,
        "prep",
        help="run coe-prep for one incident now",
        description="Copy the COE template for an incident, fill in its data and track it. "
        "Idempotent: an incident that has a COE keeps it.",
        examples=(
            "oncall incidents --since -7d             # find the number",
            "oncall coe prep 101 --dry-run            # print the filled document; write nothing",
            "oncall coe prep 101",
        ),
    )
    prep.add_argument(
        "id",
        metavar="ID",
        help="the incident: the number the hand-off and `oncall incidents` show (OpsGenie tinyId "
        "such as 101, a JSM key such as INC-101 or its number, a Rootly sequential id) or its id; "
        "with --alert, a closed P1/P2 alert's id (on OpsGenie also its tinyId, such as 1101)",
    )
    prep.add_argument(
        "--alert", action="store_true", help="the id is an alert's, for teams that page without incidents"
    )
    prep.add_argument(
        "--threshold",
        type=_non_negative,
        help="minutes an incident must last (default: ONCALL_COE_THRESHOLD_MINUTES, 10)",
    )
    prep.add_argument("--force", action="store_true", help="prepare it even under the threshold")
    prep.add_argument("--dry-run", action="store_true", help="print the filled document; write nothing")
    prep.set_defaults(func=commands.cmd_coe_prep)
    watch = _command(
        coe_sub,
        "watch",
        help="run incident-watch now: emit events for long incidents that closed",
        description="Find incidents and P1/P2 alerts closed since the last run and emit "
        "oncall.incident.closed for each that needs a COE.",
    )
    watch.add_argument(
        "--lookback",
        type=_positive,
        default=60,
        help="minutes the first run looks back (default: 60; later runs start at the watermark)",
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
    check = _command(
        coe_sub,
        "check-template",
        help="which placeholders a Google Doc template uses, lacks, or invents",
        description="Read a Google Doc and compare its placeholders with the ones coe-prep "
        "fills. Exit 1 when it is not a Doc or lacks a required placeholder.",
    )
    check.add_argument("doc_id", help="the template's Google Doc id")
    check.set_defaults(func=commands.cmd_coe_check)
    review = _command(
        coe_sub,
        "review",
        help="run coe-review now: the review meeting's agenda, nudges and statuses",
        description="Read every COE in the tracker that is not Done and its document, say which "
        "sections are still unwritten, publish the agenda of the next review meeting, nudge the "
        "incomplete ones in Slack, file their corrective actions as GitHub issues and move their "
        "tracker status (Draft to In review, In review to Done). A status a person set is left.",
        examples=(
            "oncall coe review --dry-run             # the agenda and what it would write",
            "oncall coe review",
            "oncall coe review --meeting 2026-12-10  # the agenda of a given meeting",
        ),
    )
    review.add_argument(
        "--meeting",
        default="next",
        metavar="WHEN",
        help="the meeting: 'next' (default: the next one on ONCALL_COE_REVIEW_* cadence) or a "
        "date or ISO time in the team's zone",
    )
    review.add_argument(
        "--dry-run", action="store_true", help="print the agenda and the planned writes; change nothing"
    )
    review.set_defaults(func=commands.cmd_coe_review)
    actions = _command(
        coe_sub,
        "actions",
        help="file one COE's corrective actions as GitHub issues now",
        description="Read the COE of INCIDENT (its tracker row and document) and file each "
        "corrective action that has no issue yet as one GitHub issue in ONCALL_COE_ACTIONS_REPO "
        "(else ONCALL_GITHUB_REPO), labelled ONCALL_COE_ACTION_LABEL; a row edited since it was "
        "filed gets a comment on its issue. Reruns file nothing twice.",
        examples=(
            "oncall coe actions inc-7f3a-0001 --dry-run   # what it would file",
            "oncall coe actions inc-7f3a-0001",
        ),
    )
    actions.add_argument("incident_id", metavar="INCIDENT", help="the incident id, as in the tracker")
    actions.add_argument("--dry-run", action="store_true", help="print what would be filed; file nothing")
    actions.set_defaults(func=commands.cmd_coe_actions)
    status = _command(
        coe_sub,
        "status",
        help="every COE in the tracker with its status, completeness and open actions",
        description="A table of every COE in the tracker: status, how much of it is written, and "
        "its corrective actions still open. Reads the tracker and each document; writes nothing.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per COE")
    status.set_defaults(func=commands.cmd_coe_status)

    relay = _command(
        sub,
        "relay",
        help="serve the webhook relay: OpsGenie webhooks in, Prefect events out",
        description="Accept OpsGenie's outgoing webhook (with the shared secret "
        "ONCALL_RELAY_SECRET in the X-Oncall-Relay-Secret header; a secret in the URL is "
        "refused) and post oncall.incident.closed to PREFECT_API_URL for "
        "every incident or P1/P2 alert that closed after lasting past the COE threshold.",
    )
    relay.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    relay.add_argument("--port", type=_port, default=8788, help="port (default: 8788)")
    relay.set_defaults(func=commands.cmd_relay)

    setup_sub = _group(
        sub,
        "setup",
        help="create what deployments read from Prefect: Secret blocks, Variables",
        description="Prepare the Prefect server at PREFECT_API_URL for the deployments.",
    )
    blocks = _command(
        setup_sub,
        "blocks",
        help="create or update the Secret blocks and the oncall-settings Variable",
        description="Save every ONCALL_* secret as its Secret block (prompting, hidden, "
        "for missing ones on a terminal) and the other ONCALL_* settings as the JSON "
        "Variable oncall-settings. Secret values are never printed.",
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
    automations = _command(
        setup_sub,
        "automations",
        help="post to Slack when an oncall flow fails or runs late",
        description="Create (or replace) a Prefect automation that posts to "
        "ONCALL_SLACK_WEBHOOK_URL whenever a run of an oncall-tagged deployment "
        "fails, crashes, times out or is late.",
    )
    automations.set_defaults(func=commands.cmd_setup_automations)

    deploy = _command(
        sub,
        "deploy",
        help="deploy the flows to PREFECT_API_URL, with the schedules from the team's settings",
        description="Run `prefect deploy --all` on a copy of the prefect file whose hand-off schedules "
        "(cron, zone, schedule name) come from the settings (ONCALL_SCHEDULE, ONCALL_TEAM_TIMEZONE, "
        "ONCALL_HANDOFF_CRON, ONCALL_BUSINESS_HOURS). The file in the repository is never rewritten. "
        "Run it from the checkout's root.",
        examples=(
            "oncall deploy --dry-run                  # print the schedules and the rendered file",
            "oncall deploy",
            "oncall deploy --prefect-file deployments/kubernetes/prefect.yaml",
        ),
    )
    deploy.add_argument(
        "--prefect-file",
        default="prefect.yaml",
        metavar="FILE",
        help="the prefect file to deploy, relative to the checkout's root (default: prefect.yaml)",
    )
    deploy.add_argument(
        "--dry-run", action="store_true", help="print the schedules and the rendered file; deploy nothing"
    )
    deploy.set_defaults(func=commands.cmd_deploy)

    doctor = _command(
        sub,
        "doctor",
        help="check settings and reach every configured outside system",
        description="Check every setting and make one cheap authenticated call to each "
        "configured system; name what is missing or rejected. Exit 1 on any problem.",
    )
    doctor.add_argument(
        "--json", action="store_true", help="print one JSON object (checks, summary, exit_code)"
    )
    doctor.set_defaults(func=commands.cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Bad input is checked before any flow (and Prefect) starts, and answered in one line with
    exit code 2; `--debug`, anywhere before a `--`, adds the traceback."""
    if "httpx" not in sys.modules:
        # httpx's own command line (httpx._main) loads rich, click and pygments on `import httpx`,
        # a third of the time a one-line answer to bad input takes; httpx does without it.
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    raw = list(sys.argv[1:] if argv is None else argv)
    end = raw.index("--") if "--" in raw else len(raw)
    debug = "--debug" in raw[:end]
    raw = [a for a in raw[:end] if a != "--debug"] + raw[end:]
    args = build_parser().parse_args(join_spans(raw))
    try:
        return int(args.func(args))
    except OncallError as exc:
        if debug:
            traceback.print_exc()
        action = next((getattr(args, a) for a in ACTIONS if getattr(args, a, None)), None)
        command = f"{args.command} {action}" if action else args.command
        print(f"oncall {command}: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, for CI logs
        return 2


if __name__ == "__main__":
    sys.exit(main())
