"""How long `import oncall.gaps` takes in a fresh interpreter, beside two references.

The core is pure at import: `oncall.gaps` loads no PyGithub, httpx, gspread or Prefect (before
issue 18 it loaded PyGithub through `IssueRef` and took 0.8–1.6 s here). Goal: under 0.2 s.

Each figure is the median of several fresh interpreters (`python -c`), timed inside the
interpreter from just before the import to just after, so Python's own start-up is not in
it; that start-up is measured too (a whole `python -c pass`, wall clock) as the floor every
command pays. The other reference is `import oncall.settings` (pydantic-settings and the
source registry), what every command line and flow imports first.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))
GOAL_S = 0.2
VENDORS = ("github", "httpx", "gspread", "prefect")
TARGETS = ("oncall.gaps", "oncall.settings")

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import {module}
took = time.perf_counter() - t0
print(json.dumps({{"s": took, "loaded": [m for m in {vendors!r} if m in sys.modules]}}))
"""


def _fresh(code: str) -> tuple[float, str]:
    """Runs `code` in a fresh interpreter on this checkout: (wall seconds, its stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    t0 = time.perf_counter()
    done = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - t0, done.stdout


def run() -> dict[str, Any]:
    load = os.getloadavg()[0]
    startup = statistics.median(_fresh("pass")[0] for _ in range(RUNS))
    rows: dict[str, Any] = {"startup": startup, "load": load, "cpus": os.cpu_count() or 1}
    for module in TARGETS:
        got = [json.loads(_fresh(_PROBE.format(module=module, vendors=VENDORS))[1]) for _ in range(RUNS)]
        rows[module] = {"s": statistics.median(g["s"] for g in got), "loaded": got[-1]["loaded"]}
    return rows


def report(r: dict[str, Any]) -> str:
    gaps, settings = r["oncall.gaps"], r["oncall.settings"]
    verdict = "met" if gaps["s"] < GOAL_S else "NOT met"
    lines = [
        f"## Import time in a fresh interpreter (median of {RUNS})",
        "",
        "| import | time | vendor libraries it loads |",
        "|---|---|---|",
        f"| `import oncall.gaps` (the core) | {gaps['s']:.3f} s | {', '.join(gaps['loaded']) or 'none'} |",
        f"| `import oncall.settings` (reference) | {settings['s']:.3f} s | {', '.join(settings['loaded']) or 'none'} |",
        f"| `python -c pass` (reference: Python's start-up, whole process) | {r['startup']:.3f} s | — |",
        "",
        f"- goal: `import oncall.gaps` under {GOAL_S} s: {verdict} ({gaps['s'] / GOAL_S:.2f}x the goal); "
        "before issue 18 it loaded PyGithub and took 0.8–1.6 s",
    ]
    if r["load"] > r["cpus"]:
        lines.append(f"- measured under load {r['load']:.1f} on {r['cpus']} CPUs: times are inflated")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
