"""Where the memory of 50,000 held alerts goes, at default settings.

1. Parsing alone (no Prefect, no HTTP), in a fresh process: the scale scenario's 50,000
   OpsGenie alert records, as JSON the fake would serve, read by `oncall.sources.genie`. The
   alerts' total is what tracemalloc still counts once the records are dropped; the parts are
   the objects reachable from the alerts, each counted once however many alerts share it (an
   object two alerts share costs once, which is the point of sharing).
2. With `--flows`: peak RSS of the flows that hold the whole window (shift-handoff,
   runbook-gaps) as `make bench` runs them (`bench.flows`, the default contender), and of
   paging alone (`bench.alert_paging`, default concurrency). The target is under 400 MB.

Times move with the load on the machine's 2 shared cores, and so do peaks, a little.

Measured at issue 18 on the same tree with and without `Alert.lean` in the parsers (one
fields-set shared by alerts given the same fields; equal tag and responder tuples and equal
values of the repeated string fields shared), each contender in a fresh process, the two
side by side in one run:

| contender | peak RSS before | after |
|---|---|---|
| shift-handoff | 478 MB | 317 MB |
| runbook-gaps | 513 MB | 351 MB |
| paging alone | 307 MB | 147 MB |
| parsing alone: what the alerts hold | 239 MB | 73 MB |

Two such runs at load 2.5 agreed within 1 MB; under load 6 to 8 the parse overlaps the
flow's other reads differently, and runbook-gaps without the string sharing peaked at 365,
384 and 392 MB in three runs (two with a sampling thread). Parsing alone, the fields-sets
were 113 MB of the 239 (2,264 bytes an alert), the responders 26 MB (528) and the repeated
strings about 24 MB; what remains is the alert's object and field dict (912 bytes), its own
strings (308) and times (224). `Alert.lean` costs about 14 µs of CPU an alert (pydantic's
`model_construct` after the validation): 2.5 s of parsing became 3.2 s over the 50,000.
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import queue
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

ALERTS = 50_000
MEMORY_TARGET_MB = 400
KEY = "sandbox-opsgenie-key"
PARTS = ("alert and its field dict", "fields-sets", "responders", "tags", "times", "strings", "other")


def _part(obj: object) -> str:
    """Which part of an alert's memory `obj` is."""
    from pydantic import BaseModel

    from oncall.models import Responder

    if isinstance(obj, str):
        return "strings"
    if isinstance(obj, datetime | timedelta):
        return "times"
    if isinstance(obj, set):
        return "fields-sets"
    if isinstance(obj, Responder):
        return "responders"
    if isinstance(obj, BaseModel):
        return "alert and its field dict"
    return "other"


def _reachable(alerts: list[Any]) -> Iterator[tuple[str, object]]:
    """(part, object) for every object the alerts hold, each once: instance, field dict,
    fields-set and values, descending into responders and tuples."""
    seen: set[int] = set()
    stack: list[tuple[str | None, object]] = [(None, a) for a in alerts]
    while stack:
        part, obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, bool | int):
            continue  # None, booleans and small counts are shared by the interpreter
        seen.add(id(obj))
        own = part or _part(obj)
        yield own, obj
        if hasattr(obj, "__pydantic_fields_set__"):
            yield own, obj.__dict__
            stack.append((part, obj.__pydantic_fields_set__))  # a responder's own is the responder's
            for name, value in obj.__dict__.items():
                inner = "tags" if name == "tags" else "responders" if name == "responders" else None
                stack.append((inner, value))
        elif isinstance(obj, tuple | list):
            stack += [(part if part == "responders" else None, v) for v in obj]
        elif isinstance(obj, dict):
            stack += [(None, v) for v in (*obj.keys(), *obj.values())]


def _parse(out: Any) -> None:
    """In a fresh process: parse the records and say what the alerts hold."""
    from oncall.sandbox.load import ALERTS as SCENARIO
    from oncall.sandbox.seed import DEFAULT_ANCHOR, synthetic_alerts
    from oncall.sources.genie import alert_from_raw

    assert SCENARIO == ALERTS, f"the scale scenario holds {SCENARIO:,} alerts"
    body = json.dumps(synthetic_alerts(ALERTS, DEFAULT_ANCHOR - timedelta(days=7), DEFAULT_ANCHOR))
    records = json.loads(body)
    t0 = time.process_time()  # untraced: tracemalloc slows parsing several times over
    alerts = [alert_from_raw(r) for r in records]
    took = time.process_time() - t0
    del alerts, records
    gc.collect()
    tracemalloc.start()
    records = json.loads(body)
    alerts = [alert_from_raw(r) for r in records]
    del records
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    parts = dict.fromkeys(PARTS, 0)
    for part, obj in _reachable(alerts):
        parts[part] += sys.getsizeof(obj)
    out.put(
        {
            "alerts": len(alerts),
            "held_mb": held / 1e6,
            "peak_mb": peak / 1e6,
            "parse_s": took,
            "parts_mb": {k: v / 1e6 for k, v in parts.items()},
            "fields_sets": len({id(a.__pydantic_fields_set__) for a in alerts}),
            "responder_tuples": len({id(a.responders) for a in alerts}),
            "tag_tuples": len({id(a.tags) for a in alerts}),
        }
    )


def parsing() -> dict[str, Any]:
    """What 50,000 parsed alerts hold, measured in a fresh process."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_parse, args=(out,))
    proc.start()
    got: dict[str, Any] = out.get(timeout=600)
    proc.join()
    return got


CONTENDERS = ("shift-handoff", "runbook-gaps", "paging alone")


def _rss_mb(ctx: Any, target: Any, args: Callable[[Any], tuple[Any, ...]], at: int) -> float:
    """Peak RSS of `target(*args(queue))` run in a fresh process: item `at` of what it puts on
    the queue, in KB.

    Tried up to three times: on 2 busy cores Prefect's ephemeral server can miss its start-up
    timeout, and a contender that dies says nothing on its queue."""
    for _ in range(3):
        out = ctx.Queue()
        proc = ctx.Process(target=target, args=args(out))
        proc.start()
        while True:
            try:
                got = out.get(timeout=5)
            except queue.Empty:
                if proc.is_alive():
                    continue
                break
            proc.join()
            return float(got[at]) / 1024
        proc.join()
    raise RuntimeError(f"{target.__name__} failed three times")


def peak(contender: str) -> float:
    """Peak RSS in MB of one default contender holding the whole window, in a fresh process:
    a flow as `bench.flows` runs it, or "paging alone" as `bench.alert_paging` does."""
    from bench import alert_paging, flows
    from oncall.sources.base import DEFAULT_CONCURRENCY

    ctx = mp.get_context("spawn")
    if contender in flows.HOLD_THE_WEEK:
        server, stop, url, env = flows._sandbox(ctx)
        try:
            return _rss_mb(ctx, flows._contender, lambda out: (contender, env, "ours", url, out), 4)
        finally:
            stop.set()
            server.join(timeout=30)
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=alert_paging._serve, args=(port_q, stop), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{port_q.get(timeout=120)}/opsgenie"
        return _rss_mb(ctx, alert_paging._ours, lambda out: (base, KEY, out, DEFAULT_CONCURRENCY), 2)
    finally:
        stop.set()
        server.join(timeout=10)


def report(parsed: dict[str, Any], peak: dict[str, float] | None = None) -> str:
    n = parsed["alerts"]
    lines = [
        f"## Memory: {n:,} alerts held, default settings",
        "",
        f"Parsed by `oncall.sources.genie` in {parsed['parse_s']:.1f} s of CPU: the alerts hold "
        f"{parsed['held_mb']:.0f} MB ({parsed['held_mb'] * 1e6 / n:,.0f} bytes each; parsing peaked at "
        f"{parsed['peak_mb']:.0f} MB with the records). {parsed['fields_sets']:,} fields-sets, "
        f"{parsed['responder_tuples']:,} responder tuples and {parsed['tag_tuples']:,} tag tuples among them.",
        "",
        "| part | MB | bytes per alert |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {v:.1f} | {v * 1e6 / n:,.0f} |" for k, v in parsed["parts_mb"].items()]
    if peak:
        lines += ["", f"Peak RSS of the default contenders (target < {MEMORY_TARGET_MB} MB):", ""]
        lines += [
            f"- {name}: {mb:.0f} MB ({'met' if mb < MEMORY_TARGET_MB else 'NOT met'})"
            for name, mb in peak.items()
        ]
    return "\n".join(lines)


def run() -> dict[str, Any]:
    return parsing()


if __name__ == "__main__":
    print(report(parsing(), {c: peak(c) for c in CONTENDERS} if "--flows" in sys.argv else None))
