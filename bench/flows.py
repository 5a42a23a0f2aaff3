"""Every flow on the scale scenario (`oncall.sandbox.load`), 50 ms added to every outside request.

Contenders, each in a fresh process with its own ephemeral Prefect server (started before
the clock starts):
- ours: the flow as deployed (ONCALL_MAX_CONCURRENCY at its default, and Prefect's thread-pool
  task runner);
- sequential baseline: the same flow doing the same requests one at a time
  (ONCALL_MAX_CONCURRENCY=1 and a one-thread task runner).

Two clocks: the caller's wall time, and the run time Prefect records (its Running state to its
final state), which the Prefect UI shows. They differ by Prefect's setup and teardown; the
teardown includes joining the flow-run heartbeat thread, which sleeps in whole seconds, so a
sync run's wall time waits 0 to 1 s past its end (PREFECT-NOTES: "at least about 1.1 s each").

Every contender gets a fresh sandbox: a flow that writes (coe-prep's document, tracker row and
Slack post; runbook-gaps' and ops-review's issues) would otherwise find the previous
contender's writes and do less work (coe-prep's second contender made 52 requests against a
minimum of 53 that way).

Requests are counted by the fakes and compared with the fewest the work needs (`minimum()`,
derived from the scenario below; coe-prep's alert pages and related alerts are read from the
sandbox it runs against).

The request-latency floor of a run is ceil(requests / concurrency) x latency: the least time
its requests take at the concurrency the run allows (ONCALL_MAX_CONCURRENCY). A run on
Prefect's clock should stay within 1.5x its floor; where it does not, the report says what the
rest is, from the task runs Prefect recorded: time inside tasks (requests, parsing), time in the
flow outside any task (Prefect's flow set-up before the first task and teardown after the last,
task scheduling, and the flow body's own pure steps), the process's CPU seconds, and how long
at least one of its requests was in flight at the sandbox (the fakes log each request's arrival
and answer): the time with none in flight is the run computing or waiting on Prefect, not on a
vendor. The sandbox is served from its own process, as a vendor's API is elsewhere: the fakes'
work does not share the contender's interpreter (on 2 CPUs it does share the cores).

For the flows that hold the week's 50,000 alerts the peak RSS target is under 400 MB, at default
settings. Peak memory is the contender process's ru_maxrss; CPU is
the seconds the contender's process spent computing during the run (on a small machine the
fakes' and Prefect server's processes share the same cores).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
FLOWS = tuple(
    os.environ.get(
        "BENCH_FLOWS",
        "shift-handoff,shift-handoff-trend,runbook-gaps,incident-watch,coe-prep,coe-review,ops-review",
    ).split(",")
)
# the flows that hold all 50,000 alerts at once
HOLD_THE_WEEK = ("shift-handoff", "runbook-gaps", "ops-review")
COE_INCIDENT = "inc-load-0004"
# coe-prep's requests form a chain (incident, then the alerts around it, then their timelines,
# then Google in order): only its timelines run side by side, so 5x is not its target
CHAIN = {"coe-prep"}
FLOOR_TARGET = 1.5
MEMORY_TARGET_MB = 400


def _serve(port_q: Any, stop: Any) -> None:
    from oncall.sandbox.load import load_state
    from oncall.sandbox.server import Sandbox

    state = load_state()
    state.github.writes_per_minute = 10_000  # the bench measures our reads, not GitHub's write quota
    with Sandbox(state) as sb:
        sb.faults("*", latency_ms=LATENCY_MS)
        port_q.put((sb.port, sb.env()))
        stop.wait()


def coe_work(url: str) -> tuple[int, int]:
    """coe-prep's incident in the served scenario: (alerts in the window the flow reads, related
    alerts it quotes), read through the same client and rule the flow uses."""
    from oncall.coe import related_alerts
    from oncall.models import AlertQuery, TimeWindow
    from oncall.sources.opsgenie.client import OpsGenieSource

    with OpsGenieSource("sandbox-opsgenie-key", base_url=f"{url}/opsgenie") as src:
        incident = src.get_incident(COE_INCIDENT)
        end = incident.resolved_at or incident.created_at
        around = TimeWindow(start=incident.created_at - timedelta(minutes=30), end=end + timedelta(seconds=1))
        alerts = src.fetch_alerts(AlertQuery(created=around))
    return len(alerts), len(related_alerts(incident, alerts))


def minimum(coe_alerts: int = 100, coe_related: int = 20) -> dict[str, int]:
    """The fewest requests each flow's work needs on the scale scenario."""
    from oncall.sandbox.load import ALERTS, EXISTING_ISSUES, INCIDENTS, OPEN_COES
    from oncall.settings import Settings
    from tasks.coe import MAX_ALERT_TIMELINES

    pages = math.ceil(ALERTS / 100)
    week_incidents = math.ceil(INCIDENTS / 100)
    handoff = pages + 1 + week_incidents + INCIDENTS + 1 + 2 + 1 + 1 + 3
    return {
        # alert pages, open-before-shift page, incident pages, one timeline per resolved incident
        # (OpsGenie keeps resolve times there), schedule, on-call twice, runbook, Slack; the COE
        # column: Google's token, the tracker (no shift incident has a COE to read), and the
        # corrective-action issues' one listing; on a first run the trend reads the 7 shifts
        # before it in one query (one page: the scale scenario has no alerts before its week)
        "shift-handoff": handoff + 1,
        # the same hand-off once its trend's history is stored: no read beyond its own
        "shift-handoff-trend": handoff,
        # alert pages, runbook, the token's login, gap-issue pages by label and by the token's
        # account (the label alone cannot be trusted), the 10 new issues (the cap)
        "runbook-gaps": pages + 1 + 1 + 2 * math.ceil(EXISTING_ISSUES / 100) + 10,
        # resolved-incident pages and their timelines
        "incident-watch": week_incidents + INCIDENTS,
        # alert pages (the window's one query: no issue it filed before asks for older alerts),
        # incident pages and one timeline per resolved incident (OpsGenie keeps resolve times
        # there; a P1's incident is matched by its span), the operational-safety label's one
        # listing page (the scale scenario has none), the token's login and its account's issues
        # (the 5,000 gap issues: the label alone cannot be trusted), one POST per issue filed:
        # the cap, as each of the week's kinds pages far more than the noise threshold
        "ops-review": pages
        + week_incidents
        + INCIDENTS
        + 1
        + 1
        + math.ceil(EXISTING_ISSUES / 100)
        + Settings.model_fields["ops_max_issues"].default,
        # incident, its timeline (OpsGenie keeps the resolve time there), the alert pages around
        # it, on-call; logs and notes of the related alerts the COE quotes (at most 20); Google:
        # token, find, copy, read back, the timeline table's read, fill, sheet read, the tab's
        # id, sheet append (appendCells); Slack
        # Google: token, the tracker (one sheet read), the team's template Doc, one read per
        # COE not Done (none for a Done one); GitHub: the action issues' one listing; Slack: the agenda
        "coe-review": 1 + 1 + 1 + OPEN_COES + 1 + 1,
        "coe-prep": 2
        + max(1, math.ceil(coe_alerts / 100))
        + 1
        + 2 * min(coe_related, MAX_ALERT_TIMELINES)
        + 9
        + 1,
    }


def _breakdown(client: Any, flow_run_id: Any, start: Any, end: Any) -> dict[str, Any]:
    """Where a run's time on Prefect's clock went, from the task runs Prefect recorded."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs: list[Any] = []
    for _ in range(20):  # task-run records reach the server through events: wait until they settle
        got = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        if got and len(got) == len(runs) and all(t.end_time for t in got):
            break
        runs = got
        time.sleep(0.5)
    spans = sorted((t.start_time, t.end_time) for t in runs if t.start_time and t.end_time)
    covered, reach = 0.0, start
    for a, b in spans:  # the union of the task runs' intervals
        a = max(a, reach)
        if b > a:
            covered += (b - a).total_seconds()
            reach = b
    total = (end - start).total_seconds()
    longest = sorted(
        (
            (t.name.rsplit("-", 1)[0], (t.end_time - t.start_time).total_seconds())
            for t in runs
            if t.start_time and t.end_time
        ),
        key=lambda nt: -nt[1],
    )[:3]
    return {
        "tasks": len(runs),
        "in_tasks": covered,
        "outside": total - covered,
        "before_first": (spans[0][0] - start).total_seconds() if spans else total,
        "after_last": (end - max(b for _, b in spans)).total_seconds() if spans else 0.0,
        "longest": longest,
    }


def in_flight(served: list[dict[str, Any]], start: float, end: float) -> float:
    """Seconds of [start, end] during which the sandbox held at least one of the run's requests
    (from its arrival to its answer, the injected latency included). The rest of a run is time
    no request was out: the process computing, or waiting on Prefect, with nothing to wait for
    outside; on a chain of requests (each needing the last one's answer) the floor's
    ceil(requests / concurrency) undercounts what the requests themselves take, and this does not."""
    spans = sorted(
        (max(s["arrived"], start), min(s["answered"], end))
        for s in served
        if s.get("answered") is not None and s["answered"] > start and s["arrived"] < end
    )
    covered, reach = 0.0, start
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            covered += b - a
            reach = b
    return covered


def _contender(flow: str, env: dict[str, str], mode: str, url: str, out: Any) -> None:
    """One flow run in this fresh process; mode is seq or ours."""
    sequential = mode == "seq"
    home = tempfile.mkdtemp(prefix="oncall-bench-prefect-")
    os.environ.update(env)
    os.environ.update(
        {
            "PREFECT_HOME": home,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # as in tests/conftest.py: on 2 busy cores the ephemeral server can take over 20 s
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "ONCALL_USE_PREFECT_CONFIG": "0",
            "ONCALL_GITHUB_WRITE_INTERVAL": "0",
            "ONCALL_OUT_DIR": home,
        }
    )
    if sequential:
        os.environ["ONCALL_MAX_CONCURRENCY"] = "1"
        os.environ["PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS"] = "1"
    else:
        os.environ.pop("ONCALL_MAX_CONCURRENCY", None)
    from prefect import flow as prefect_flow
    from prefect.client.orchestration import get_client
    from prefect.variables import Variable

    from flows.coe_prep import coe_prep
    from flows.coe_review import coe_review
    from flows.incident_watch import WATERMARK, incident_watch
    from flows.ops_review import ops_review
    from flows.runbook_gaps import runbook_gaps
    from flows.shift_handoff import shift_handoff
    from oncall.sandbox.seed import DEFAULT_ANCHOR

    @prefect_flow
    def warm_up() -> None:
        """Starts the ephemeral Prefect server before the clock does."""

    warm_up()
    Variable.set(WATERMARK, (DEFAULT_ANCHOR - timedelta(days=7)).isoformat(), overwrite=True)
    end = DEFAULT_ANCHOR.isoformat()
    runs: dict[str, tuple[Any, dict[str, Any]]] = {
        "shift-handoff": (shift_handoff, {"shift_end": end, "deliver": ["artifact", "slack"]}),
        # run once unmeasured first (below), so its trend's history exists; repost: Slack again
        "shift-handoff-trend": (
            shift_handoff,
            {"shift_end": end, "deliver": ["artifact", "slack"], "repost": True},
        ),
        "runbook-gaps": (
            runbook_gaps,
            # force: the scale runbook documents none of the week's alerts, by design, which the
            # misread guard would otherwise stop as a runbook read wrong
            {"window": "-7d", "window_end": end, "max_issues": 10, "force": True, "deliver": ["artifact"]},
        ),
        "incident-watch": (incident_watch, {"dry_run": True}),
        "coe-prep": (coe_prep, {"incident_id": COE_INCIDENT}),
        # the day after the scale week: its COEs started two days before, none old enough to nudge
        "coe-review": (coe_review, {"meeting": (DEFAULT_ANCHOR + timedelta(days=1)).isoformat()}),
        # the scale week's findings filed (up to the cap) and the digest, published as an artifact
        "ops-review": (ops_review, {"window": "-7d", "window_end": end, "deliver": ["artifact"]}),
    }
    run_flow, params = runs[flow]
    if flow == "shift-handoff-trend":
        shift_handoff(shift_end=end, deliver=["artifact"])  # the first run, which stores the trend
    before = len(httpx.get(f"{url}/_sandbox/requests", timeout=60).json())
    t0, cpu0 = time.perf_counter(), time.process_time()
    state: State[Any] = run_flow(**params, return_state=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    served = httpx.get(f"{url}/_sandbox/requests", timeout=60).json()[before:]
    after = before + len(served)
    assert state.is_completed(), f"{flow} ended {state.type.value}: {state.message}"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert run.start_time and run.end_time
    run_time = (run.end_time - run.start_time).total_seconds()
    with get_client(sync_client=True) as client:
        parts = _breakdown(client, run.id, run.start_time, run.end_time)
    parts["in_flight"] = in_flight(served, run.start_time.timestamp(), run.end_time.timestamp())
    out.put((wall, run_time, cpu, after - before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, parts))


def _sandbox(ctx: Any) -> tuple[Any, Any, str, dict[str, str]]:
    """A fresh sandbox on the scale scenario in its own process: (process, stop, url, env)."""
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_q, stop), daemon=True)
    server.start()
    port, env = port_q.get(timeout=300)
    return server, stop, f"http://127.0.0.1:{port}", env


def run() -> list[dict[str, Any]]:
    from oncall.retry import DEFAULT_CONCURRENCY

    ctx = mp.get_context("spawn")
    rows = []
    for flow in FLOWS:
        row: dict[str, Any] = {"flow": flow}
        modes = ("seq", "ours")
        for mode in modes:
            server, stop, url, env = _sandbox(ctx)  # fresh: no contender sees another's writes
            try:
                if flow == "coe-prep" and "minimum" not in row:
                    row["coe_work"] = coe_work(url)
                    row["minimum"] = minimum(*row["coe_work"])[flow]
                out = ctx.Queue()
                p = ctx.Process(target=_contender, args=(flow, env, mode, url, out))
                p.start()
                wall, run_time, cpu, requests, rss_kb, parts = out.get(timeout=1800)
                p.join()
            finally:
                stop.set()
                server.join(timeout=30)
            print(
                f"  {flow} {mode}: {wall:.1f} s ({run_time:.1f} s run), {requests} requests, "
                f"{rss_kb / 1024:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
            concurrency = 1 if mode == "seq" else DEFAULT_CONCURRENCY
            row[mode] = {
                "wall": wall,
                "run": run_time,
                "cpu": cpu,
                "requests": requests,
                "rss_mb": rss_kb / 1024,
                "floor": math.ceil(requests / concurrency) * LATENCY_MS / 1000,
                "parts": parts,
            }
        row.setdefault("minimum", minimum()[flow])
        rows.append(row)
    return rows


def _rss(r: dict[str, Any]) -> str:
    return f"{r['ours']['rss_mb']:.0f} MB / {r['seq']['rss_mb']:.0f} MB"


def _why_in_flight(flow: str) -> str:
    """Why requests are out for longer than the floor's ceil(requests / concurrency) rounds."""
    if flow in CHAIN:
        return "a chain of requests, each waiting on the last one's answer"
    return (
        "not every request could go out with the others: some wait on an earlier answer (a "
        "count before its pages, a listing before the items it names); or the sandbox "
        "answering late on a busy machine"
    )


def report(rows: list[dict[str, Any]]) -> str:
    from oncall.retry import DEFAULT_CONCURRENCY
    from oncall.sandbox.load import ALERTS, ENTRIES, EXISTING_ISSUES, INCIDENTS

    lines = [
        f"## Flows on the scale scenario ({ALERTS:,} alerts in the shift, {ENTRIES:,} runbook entries, "
        f"{EXISTING_ISSUES:,} gap issues, {INCIDENTS} incidents; {LATENCY_MS:.0f} ms per request; "
        "each contender on a fresh sandbox)",
        "",
        "| flow | wall: sequential / ours | speed-up | Prefect run time: sequential / ours | speed-up "
        "| ours CPU | requests (ours / seq / minimum) | ours ÷ minimum "
        "| peak RSS ours / seq |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seq, ours = r["seq"], r["ours"]
        lines.append(
            f"| {r['flow']} | {seq['wall']:.1f} s / {ours['wall']:.1f} s | {seq['wall'] / ours['wall']:.1f}x "
            f"| {seq['run']:.1f} s / {ours['run']:.1f} s | {seq['run'] / ours['run']:.1f}x "
            f"| {ours['cpu']:.1f} s | {ours['requests']} / {seq['requests']} / {r['minimum']} "
            f"| {ours['requests'] / r['minimum']:.2f}x | {_rss(r)} |"
        )
    lines += [
        "",
        f"### Prefect's clock against the request-latency floor, ceil(requests / {DEFAULT_CONCURRENCY}) "
        f"x {LATENCY_MS:.0f} ms (target ≤ {FLOOR_TARGET}x)",
        "",
        "| flow | ours on Prefect's clock | floor | ÷ floor | a request in flight | none in flight "
        "| in tasks | in the flow outside tasks (before the first / after the last) | ours CPU "
        "| longest task runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    above = []
    for r in rows:
        ours = r["ours"]
        parts, ratio = ours["parts"], ours["run"] / ours["floor"]
        longest = ", ".join(f"{name} {took:.1f} s" for name, took in parts["longest"])
        lines.append(
            f"| {r['flow']} | {ours['run']:.1f} s | {ours['floor']:.2f} s | {ratio:.1f}x "
            f"| {parts['in_flight']:.1f} s | {ours['run'] - parts['in_flight']:.1f} s "
            f"| {parts['in_tasks']:.1f} s ({parts['tasks']} task runs) "
            f"| {parts['outside']:.1f} s ({parts['before_first']:.1f} s / {parts['after_last']:.1f} s) "
            f"| {ours['cpu']:.1f} s | {longest} |"
        )
        if ratio > FLOOR_TARGET:
            idle = ours["run"] - parts["in_flight"]
            above.append(
                f"- {r['flow']}: {ratio:.1f}x its floor; requests were in flight for "
                f"{parts['in_flight']:.1f} s of its {ours['run']:.1f} s ({parts['in_flight'] / ours['floor']:.1f}x "
                f"the floor: {_why_in_flight(r['flow'])}"
                f"), none for {idle:.1f} s (the process computing or Prefect's bookkeeping, with "
                f"nothing outside to wait for; it spent {ours['cpu']:.1f} s of CPU in all). "
                f"Of the {ours['run'] - ours['floor']:.1f} s past the floor, "
                f"{parts['outside']:.1f} s is outside any task (Prefect's set-up {parts['before_first']:.1f} s, "
                f"teardown {parts['after_last']:.1f} s, task scheduling and the flow's own steps between) "
                f"and {max(0.0, parts['in_tasks'] - ours['floor']):.1f} s is inside tasks past the floor "
                f"(parsing and Prefect's task overhead; the process spent {ours['cpu']:.1f} s of CPU)"
            )
    lines += ["", *(above or [f"- every flow within {FLOOR_TARGET}x its floor"])]
    lines += ["", "### Targets, side by side", ""]
    for r in rows:
        seq, ours = r["seq"], r["ours"]
        speed = seq["run"] / ours["run"]
        if r["flow"] in CHAIN:
            verdict = "not its target: its requests form a chain"
        else:
            verdict = "met" if speed >= 5 else "NOT met"
        lines.append(
            f"- {r['flow']}: speed-up {speed:.1f}x on Prefect's clock (target ≥ 5x where the work allows "
            f"concurrency: {verdict}); requests {ours['requests'] / r['minimum']:.2f}x "
            f"the minimum (target ≤ 1.2x: {'met' if ours['requests'] <= 1.2 * r['minimum'] else 'NOT met'})"
        )
        if r["flow"] in HOLD_THE_WEEK:
            lines.append(
                f"  - {ALERTS:,} alerts held: peak RSS {ours['rss_mb']:.0f} MB "
                f"(target < {MEMORY_TARGET_MB} MB: {'met' if ours['rss_mb'] < MEMORY_TARGET_MB else 'NOT met'})"
            )
        if r["flow"] == "coe-review":
            lines.append(
                f"  - its read budget (1 sheet read, the template, 1 document read per COE not Done, "
                f"no read for a Done COE, the action listing, the Slack post): {r['minimum']} requests; "
                f"{ours['requests']} made ({'met' if ours['requests'] <= r['minimum'] else 'NOT met'})"
            )
        if r["flow"] == "ops-review":
            lines.append(
                f"  - its minimum: {math.ceil(ALERTS / 100)} alert pages, {math.ceil(INCIDENTS / 100)} incident "
                f"pages and {INCIDENTS} timelines, 1 label listing page, the login, "
                f"{math.ceil(EXISTING_ISSUES / 100)} pages of the token's issues, 1 POST per issue filed; "
                "it counts none of the counts that split a window past OpsGenie's 20,000 offset cap"
            )
        if r["flow"] == "coe-prep" and "coe_work" in r:
            alerts, related = r["coe_work"]
            lines.append(
                f"  - its minimum counts {max(1, math.ceil(alerts / 100))} alert page(s) for the {alerts} alerts "
                f"around the incident and {min(related, 20)} related alerts' logs and notes"
            )
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        lines += [
            "",
            f"- run under load {load:.1f} on {os.cpu_count()} CPUs: wall and run times are inflated",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
