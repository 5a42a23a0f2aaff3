"""The core imports no vendor library: planning and rendering load in a fraction of a second,
and a worker that only decides never pays for PyGithub, httpx, gspread, slack_sdk or Prefect.

Each check runs in a fresh interpreter, whose `sys.modules` no earlier test has filled."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.processes import ROOT, clean_env

VENDORS = ("github", "httpx", "gspread", "prefect", "slack_sdk")

# The pure modules of the core: decisions, rules and the tracker row; and the wiring, which
# imports each client only when it is first built.
CORE = (
    "oncall.gaps",
    "oncall.models",
    "oncall.kinds",
    "oncall.coe",
    "oncall.watch",
    "oncall.handoff",
    "oncall.tracker",
    "oncall.wiring",
    "oncall.coe_doc",
    "oncall.coe_sections",
    "oncall.coe_actions",
    "oncall.coe_review",
    "oncall.coe_review_render",
    "oncall.coe_action_filing",
    "oncall.handoff_coe",
    "oncall.findings",
    "oncall.trends",
    "oncall.charts",
    "oncall.ops_filing",
    "oncall.sre_requests",
    "oncall.advocacy",
    "oncall.alert_quality",
    "oncall.ops_review",
    "oncall.sre_tickets",
)


def _vendors_loaded(module: str) -> list[str]:
    """Which of VENDORS a fresh `import <module>` leaves in `sys.modules`."""
    child = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(VENDORS)!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=ROOT, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_loads_no_vendor_library(module: str) -> None:
    assert _vendors_loaded(module) == []


def test_the_check_sees_a_vendor_library_when_one_is_loaded() -> None:
    # The GitHub client is the edge: importing it must show up, or the checks above prove nothing.
    assert "github" in _vendors_loaded("oncall.clients.github")
