"""`oncall doctor`: everything a run will need, checked with reads only, one line per check.

Each line says ok, warn or fail, and for the last two the fix; a summary follows. The exit
code is 1 when anything failed. `--json` prints one object for scripts. The checks live in
`deployments.doctor_checks` (the outside systems) and `deployments.doctor_prefect` (what
deployed runs read from Prefect, and the deployments).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

from deployments.doctor_checks import (
    Check,
    Status,
    fail,
    github_checks,
    google_checks,
    settings_checks,
    slack_checks,
    source_checks,
)
from oncall.errors import OncallError, scrub
from oncall.escape import terminal
from oncall.settings import SECRET_BLOCKS, Settings, load_settings, settings_sources
from oncall.wiring import Clients

MARKS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗"}


def collect(settings: Settings) -> list[Check]:
    """Every check, in the order a person fixes things: settings, source, GitHub, Google, Slack, Prefect."""
    from deployments.doctor_prefect import prefect_checks

    checks = settings_checks(settings)
    with Clients(settings) as clients:  # each outside client built once, as a flow run builds them
        for group in (source_checks, github_checks, google_checks, slack_checks):
            checks += _group(group.__name__, partial(group, settings, clients))
    try:
        checks += prefect_checks(settings)
    except OncallError as exc:
        checks.append(fail("prefect", " ".join(str(exc).split())))
    except Exception as exc:
        # Prefect's client raises its own errors (httpx's, a 401 from Prefect Cloud).
        checks.append(
            fail(
                "prefect.server",
                f"the Prefect API could not be read: {type(exc).__name__}: {scrub(terminal(str(exc)))}",
                "check PREFECT_API_URL (and PREFECT_API_KEY for Prefect Cloud)",
            )
        )
    return checks


def _group(name: str, run: Callable[[], list[Check]]) -> list[Check]:
    """One group's checks; a group that could not finish says so, and the others still run."""
    try:
        return run()
    except OncallError as exc:
        return [fail(name.removesuffix("_checks"), " ".join(str(exc).split()))]


def counts(checks: list[Check]) -> dict[str, int]:
    return {s.value: sum(c.status == s for c in checks) for s in Status}


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == Status.FAIL for c in checks) else 0


def line(check: Check) -> str:
    """`✗ fail  github.access  read access to o/r: ...  → fix: grant Write`, on one line; text from
    outside (names, vendor messages) cannot move the cursor or recolour the terminal."""
    fix = f"  → fix: {terminal(check.fix, 400)}" if check.fix and check.status != Status.OK else ""
    return (
        f"{MARKS[check.status]} {check.status.value:<4}  {check.name:<30} {terminal(check.detail, 600)}{fix}"
    )


def summary(checks: list[Check]) -> str:
    n = counts(checks)
    tally = f"{n['ok']} ok, {n['warn']} warn, {n['fail']} fail"
    if n["fail"]:
        return f"{tally}: {n['fail']} problem(s) found; fix the lines marked fail and run again."
    return f"{tally}. All checks passed." + (" The warnings name what is turned off." if n["warn"] else "")


def _settings_lines(settings: Settings) -> list[str]:
    """Every setting with where it came from (env, file, default); secrets only as set or not."""
    origins = settings_sources(settings)
    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = ("set (hidden)" if value is not None else "not set") if name in SECRET_BLOCKS else repr(value)
        lines.append(f"  ONCALL_{name.upper():<28} {terminal(shown, 120):<40} ({origins.get(name, '?')})")
    return lines


def run_doctor(say: Callable[[str], None], *, as_json: bool = False) -> int:
    """Prints the report (text, or one JSON object); returns 1 when any check failed."""
    settings: Settings | None = None
    try:
        settings = load_settings()
    except OncallError as exc:
        checks = [fail("settings", " ".join(str(exc).split()), "fix that setting and run again")]
    else:
        checks = collect(settings)
    code = exit_code(checks)
    if as_json:
        say(
            json.dumps(
                {
                    "checks": [c.model_dump(mode="json") for c in checks],
                    "summary": counts(checks),
                    "exit_code": code,
                }
            )
        )
        return code
    if settings is not None:
        say("Settings:")
        for text in _settings_lines(settings):
            say(text)
        say("\nChecks:")
    for check in checks:
        say(line(check))
    say("\n" + summary(checks))
    return code
