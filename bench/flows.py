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

Requests are counted by the fakes and compared with the fewest the work needs (`minimum()`,
derived from the scenario below). Peak memory is the contender process's ru_maxrss; CPU is
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
FLOWS = tuple(os.environ.get("BENCH_FLOWS", "shift-handoff,runbook-gaps,incident-watch,coe-prep").split(","))


def _serve(port_q: Any, stop: Any) -> None:
    from oncall.sandbox.load import load_state
    from oncall.sandbox.server import Sandbox

    state = load_state()
    state.github.writes_per_minute = 10_000  # the bench measures our reads, not GitHub's write quota
    with Sandbox(state) as sb:
        sb.faults("*", latency_ms=LATENCY_MS)
        port_q.put((sb.port, sb.env()))
        stop.wait()


def minimum() -> dict[str, int]:
    """The fewest requests each flow's work needs on the scale scenario."""
    from oncall.sandbox.load import ALERTS, EXISTING_ISSUES, INCIDENTS
    from tasks.coe import MAX_ALERT_TIMELINES

    pages = math.ceil(ALERTS / 100)
    week_incidents = math.ceil(INCIDENTS / 100)
    return {
        # alert pages, open-before-shift page, incident pages, one timeline per resolved incident
        # (OpsGenie keeps resolve times there), schedule, on-call twice, runbook, Slack
        "shift-handoff": pages + 1 + week_incidents + INCIDENTS + 1 + 2 + 1 + 1,
        # alert pages, runbook, the token's login, gap-issue pages by label and by the token's
        # account (the label alone cannot be trusted), the 10 new issues (the cap)
        "runbook-gaps": pages + 1 + 1 + 2 * math.ceil(EXISTING_ISSUES / 100) + 10,
        # resolved-incident pages and their timelines
        "incident-watch": week_incidents + INCIDENTS,
        # incident, its timeline, the alert page around it, on-call; logs and notes of the 20
        # related alerts the COE quotes; Google: token, find, copy, fill, read back, sheet read,
        # the tab's id, sheet append (appendCells); Slack
        "coe-prep": 4 + 2 * MAX_ALERT_TIMELINES + 8 + 1,
    }


def _contender(flow: str, env: dict[str, str], sequential: bool, url: str, out: Any) -> None:
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
    from flows.incident_watch import WATERMARK, incident_watch
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
        "runbook-gaps": (
            runbook_gaps,
            # force: the scale runbook documents none of the week's alerts, by design, which the
            # misread guard would otherwise stop as a runbook read wrong
            {"window": "-7d", "window_end": end, "max_issues": 10, "force": True, "deliver": ["artifact"]},
        ),
        "incident-watch": (incident_watch, {"dry_run": True}),
        "coe-prep": (coe_prep, {"incident_id": "inc-load-0004"}),
    }
    run_flow, params = runs[flow]
    before = len(httpx.get(f"{url}/_sandbox/requests", timeout=60).json())
    t0, cpu0 = time.perf_counter(), time.process_time()
    state: State[Any] = run_flow(**params, return_state=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = len(httpx.get(f"{url}/_sandbox/requests", timeout=60).json())
    assert state.is_completed(), f"{flow} ended {state.type.value}: {state.message}"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert run.start_time and run.end_time
    run_time = (run.end_time - run.start_time).total_seconds()
    out.put((wall, run_time, cpu, after - before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def run() -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_q, stop), daemon=True)
    server.start()
    port, env = port_q.get(timeout=300)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for flow in FLOWS:
            row: dict[str, Any] = {"flow": flow, "minimum": minimum()[flow]}
            for label, sequential in (("seq", True), ("ours", False)):
                out = ctx.Queue()
                p = ctx.Process(target=_contender, args=(flow, env, sequential, url, out))
                p.start()
                wall, run_time, cpu, requests, rss_kb = out.get(timeout=1800)
                p.join()
                print(
                    f"  {flow} {label}: {wall:.1f} s ({run_time:.1f} s run), {requests} requests",
                    file=sys.stderr,
                    flush=True,
                )
                row[label] = {
                    "wall": wall,
                    "run": run_time,
                    "cpu": cpu,
                    "requests": requests,
                    "rss_mb": rss_kb / 1024,
                }
            rows.append(row)
    finally:
        stop.set()
        server.join(timeout=10)
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    from oncall.sandbox.load import ALERTS, ENTRIES, EXISTING_ISSUES, INCIDENTS

    lines = [
        f"## Flows on the scale scenario ({ALERTS:,} alerts in the shift, {ENTRIES:,} runbook entries, "
        f"{EXISTING_ISSUES:,} gap issues, {INCIDENTS} incidents; {LATENCY_MS:.0f} ms per request)",
        "",
        "| flow | wall: sequential / ours | speed-up | Prefect run time: sequential / ours | speed-up "
        "| ours CPU | requests (ours / seq / minimum) | ours ÷ minimum | peak RSS ours / seq |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seq, ours = r["seq"], r["ours"]
        lines.append(
            f"| {r['flow']} | {seq['wall']:.1f} s / {ours['wall']:.1f} s | {seq['wall'] / ours['wall']:.1f}x "
            f"| {seq['run']:.1f} s / {ours['run']:.1f} s | {seq['run'] / ours['run']:.1f}x "
            f"| {ours['cpu']:.1f} s | {ours['requests']} / {seq['requests']} / {r['minimum']} "
            f"| {ours['requests'] / r['minimum']:.2f}x "
            f"| {ours['rss_mb']:.0f} MB / {seq['rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
