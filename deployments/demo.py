"""`make demo` / `oncall demo`: every flow against the seeded sandbox on an ephemeral Prefect server.

Writes what it produced under `out/demo/` for a person to read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox


def prepare_prefect_env(home: Path) -> None:
    """A private, quiet Prefect home; must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")


def run_demo(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    prepare_prefect_env(out.parent / ".prefect-demo")
    with Sandbox.seeded(DEFAULT_ANCHOR) as sandbox:
        os.environ.update(sandbox.env())
        os.environ["ONCALL_OUT_DIR"] = str(out)
        os.environ["ONCALL_USE_PREFECT_CONFIG"] = "0"
        from flows.shift_handoff import shift_handoff

        shift_handoff(shift_end=DEFAULT_ANCHOR.isoformat(), deliver=["artifact", "slack", "file"])
        slack = out / "slack.jsonl"
        slack.write_text(
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in sandbox.state.slack.messages)
        )
    return [out / "handoff.md", slack]
