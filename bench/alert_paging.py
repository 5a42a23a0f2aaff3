"""Fetching a 50,000-alert window from the fake OpsGenie with 50 ms added to every request.

Ours: `OpsGenieSource.fetch_alerts` (count, split by time past the 20,000 cap, pages in
parallel). Baseline: plain sequential offset paging, which OpsGenie stops at 20,000.
The fake runs in its own process; each contender runs in a fresh process so its peak
memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from oncall.sources.base import DEFAULT_CONCURRENCY

ALERTS = 50_000
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
END = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
START = END - timedelta(hours=12)


def _serve(port_q: Any, stop: Any) -> None:
    from oncall.sandbox.seed import synthetic_alerts
    from oncall.sandbox.server import Sandbox, SandboxState
    from oncall.sources.opsgenie.fake import State

    state = SandboxState(opsgenie=State())
    state.opsgenie.set_alerts(synthetic_alerts(ALERTS, START, END))
    with Sandbox(state) as sb:
        sb.faults("opsgenie", latency_ms=LATENCY_MS)
        port_q.put(sb.port)
        stop.wait()


def _ours(base: str, key: str, out: Any, concurrency: int) -> None:
    from oncall.models import AlertQuery, TimeWindow
    from oncall.sources.opsgenie.client import OpsGenieSource

    t0 = time.perf_counter()
    with OpsGenieSource(key, base_url=base, concurrency=concurrency) as src:
        alerts = src.fetch_alerts(AlertQuery(created=TimeWindow(start=START, end=END)))
    out.put(
        (
            time.perf_counter() - t0,
            len({a.id for a in alerts}),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        )
    )


def _sequential(base: str, key: str, out: Any, _: int = 1) -> None:
    """What a plain client does: offset paging until a short page or OpsGenie's refusal."""
    from oncall.sources.genie import alert_from_raw

    query = f"createdAt>={int(START.timestamp() * 1000)} AND createdAt<{int(END.timestamp() * 1000)}"
    t0 = time.perf_counter()
    seen: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"GenieKey {key}"}, timeout=30) as http:
        offset = 0
        while True:
            r = http.get(
                "/v2/alerts", params={"query": query, "offset": offset, "limit": 100, "order": "asc"}
            )
            if r.status_code != 200:
                break  # 422 past offset+limit 20,000
            page = r.json()["data"]
            seen.update((a["id"], alert_from_raw(a)) for a in page)
            if len(page) < 100:
                break
            offset += 100
    out.put((time.perf_counter() - t0, len(seen), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _requests(url: str) -> int:
    return len(httpx.get(f"{url}/_sandbox/requests", timeout=30).json())


def _reset(url: str) -> None:
    httpx.post(f"{url}/_sandbox/faults", json={"rates": {"opsgenie": {"latency_ms": LATENCY_MS}}}, timeout=30)


def run() -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_q, stop), daemon=True)
    server.start()
    port = port_q.get(timeout=120)
    url = f"http://127.0.0.1:{port}"
    base, key = f"{url}/opsgenie", "sandbox-opsgenie-key"
    rows = []
    try:
        contenders: list[tuple[str, Callable[..., None], int]] = [
            ("sequential offset paging (baseline)", _sequential, 1)
        ]
        for n in sorted({8, DEFAULT_CONCURRENCY}):
            default = " (default)" if n == DEFAULT_CONCURRENCY else ""
            contenders.append((f"oncall OpsGenieSource, concurrency {n}{default}", _ours, n))
        for name, target, concurrency in contenders:
            _reset(url)
            out = ctx.Queue()
            proc = ctx.Process(target=target, args=(base, key, out, concurrency))
            proc.start()
            wall, fetched, rss_kb = out.get(timeout=600)
            proc.join()
            rows.append(
                {
                    "contender": name,
                    "wall_s": wall,
                    "fetched": fetched,
                    "requests": _requests(url),
                    "peak_mb": rss_kb / 1024,
                }
            )
    finally:
        stop.set()
        server.join(timeout=10)
    minimum = math.ceil(ALERTS / 100)
    for row in rows:
        row["min_requests"] = minimum
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    lines = [
        f"## OpsGenie paging: {ALERTS:,} alerts, {LATENCY_MS:.0f} ms per request",
        "",
        "| contender | wall | alerts fetched | requests (min) | peak RSS |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['contender']} | {r['wall_s']:.2f} s | {r['fetched']:,} | {r['requests']} ({r['min_requests']}) | "
        f"{r['peak_mb']:.0f} MB |"
        for r in rows
    ]
    lines += [
        "",
        f"- the baseline stops at {base['fetched']:,} alerts: OpsGenie refuses offset+limit past 20,000",
    ]
    for ours in rows[1:]:
        per_alert = (base["wall_s"] / base["fetched"]) / (ours["wall_s"] / ours["fetched"])
        lines.append(
            f"- {ours['contender']}: every alert fetched: {'yes' if ours['fetched'] == ALERTS else 'NO'}; "
            f"{per_alert:.1f}x the baseline's alerts per second ({base['wall_s'] / ours['wall_s']:.1f}x on wall "
            f"time while fetching {ours['fetched'] / base['fetched']:.1f}x the alerts); "
            f"requests {100 * (ours['requests'] / ours['min_requests'] - 1):+.1f}% over the minimum"
        )
    return "\n".join(lines)
