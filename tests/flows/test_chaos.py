"""Chaos: every flow, many seeded runs, 20% faults on every outside API; nothing lost, nothing twice.

Every flow runs on the default source (OpsGenie); runbook-gaps and shift-handoff also run on
every other registered source (`oncall.sources.SOURCE_NAMES`: JSM, Rootly, PagerDuty), each on
the same share of the seeds, so a new source joins chaos by registering and CI stays quick.

Each scenario reseeds the fault injector, runs the flow with faults until it completes (a failed
run is rerun, as a schedule would), then checks the invariants against a fault-free reference:
one issue per gap and no stray comments, one filled document and one tracker row per long
incident, a hand-off identical to the fault-free one, and the watched incident emitted.

`CHAOS_RUNS` sets the number of seeded runs per flow (50 in CI; `make chaos` runs more).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.incident_watch import WATERMARK, incident_watch
from flows.runbook_gaps import runbook_gaps
from flows.shift_handoff import shift_handoff
from oncall.gaps import read_markers
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sources import DEFAULT_SOURCE, SOURCE_NAMES
from tests.flows.conftest import LONG, coes, forget_coes, rows

RUNS = int(os.environ.get("CHAOS_RUNS", "50"))
# Runs with faults before a scenario counts as not converging. coe-prep makes four writes that
# are never retried blind (a lost answer may hide a made copy); at 20% faults about half its
# runs fail and are rerun, so convergence needs room: 0.45^12 is one seed in 14,000.
ATTEMPTS = 12
END = DEFAULT_ANCHOR.isoformat()


def _faults(sandbox: Sandbox, seed: int) -> None:
    """20% of requests to every API fail one way or another; half the 429s carry Retry-After: 0."""
    sandbox.app.reset(seed)
    sandbox.state.github.forget_writes()  # each scenario is its own minute of GitHub's write quota
    rates: dict[str, Any] = {
        "rate_429": 0.05,
        "rate_5xx": 0.05,
        "rate_timeout": 0.02,
        "rate_drop": 0.03,
        "rate_slow": 0.03,
        "rate_lost": 0.02,
        "timeout_seconds": 1.2,
        "slow_ms": 60,
    }
    sandbox.faults("*", **rates, retry_after=0 if seed % 2 else None)
    # Without Retry-After GitHub's rule is "wait at least a minute"; the client obeys, so the
    # chaos runs give GitHub's 429s a Retry-After to stay quick.
    sandbox.faults("github", **rates, retry_after=0)


def _calm(sandbox: Sandbox) -> None:
    sandbox.app.rates.clear()


@pytest.fixture
def chaos_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("ONCALL_HTTP_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("ONCALL_HTTP_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    yield sandbox
    _calm(sandbox)


def _until_done(run: Callable[[], Any]) -> tuple[Any, int]:
    """Run with faults until the flow completes; (its result, how many runs it took)."""
    for attempt in range(1, ATTEMPTS + 1):
        state = run()
        if state.is_completed():
            return state.result(), attempt
    raise AssertionError(f"the flow did not complete in {ATTEMPTS} runs under faults")


def _gaps_under_chaos(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, name: str, seeds: range) -> int:
    """runbook-gaps for each seed into its own repository; returns the reruns it took."""

    def run() -> Any:
        return runbook_gaps(window="-7d", window_end=END, max_issues=100, return_state=True)

    def issues(repo: str) -> list[dict[str, Any]]:
        return sandbox.state.github.repos[repo].issues

    sandbox.state.github.repo(f"acme/{name}-reference")
    monkeypatch.setenv("ONCALL_GITHUB_REPO", f"acme/{name}-reference")
    reference = _until_done(run)[0]
    expected = {read_markers(i["body"])[0][1].fp for i in issues(f"acme/{name}-reference")}
    assert len(expected) == reference["gaps"] > 10

    reruns = 0
    for seed in seeds:
        repo = f"acme/{name}-{seed}"
        sandbox.state.github.repo(repo)
        monkeypatch.setenv("ONCALL_GITHUB_REPO", repo)
        _faults(sandbox, seed)
        reruns += _until_done(run)[1] - 1
        _calm(sandbox)
        fingerprints = Counter(read_markers(i["body"])[0][1].fp for i in issues(repo))
        assert max(fingerprints.values()) == 1, f"seed {seed}: a gap was filed twice"
        assert set(fingerprints) == expected, f"seed {seed}: a gap has no issue"
        assert not sandbox.state.github.repos[repo].comments, f"seed {seed}: a stray comment"
    return reruns


def _handoff_under_chaos(sandbox: Sandbox, seeds: range) -> int:
    """shift-handoff for each seed, compared with the fault-free one; returns the reruns it took."""

    def run() -> Any:
        return shift_handoff(shift_end="2026-11-24T10:00", deliver=["artifact", "file"], return_state=True)

    reference = _until_done(run)[0]
    reruns = 0
    for seed in seeds:
        _faults(sandbox, seed)
        markdown, attempts = _until_done(run)
        reruns += attempts - 1
        assert markdown == reference, f"seed {seed}: the hand-off differs from the fault-free one"
    return reruns


def test_runbook_gaps_under_chaos(chaos_env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    reruns = _gaps_under_chaos(chaos_env, monkeypatch, "chaos", range(RUNS))
    print(f"runbook-gaps: {RUNS} seeded runs, {reruns} reruns after failures")


def test_coe_prep_under_chaos(chaos_env: Sandbox, google: Sandbox) -> None:
    sandbox = chaos_env
    reruns = 0
    for seed in range(RUNS):
        _faults(sandbox, seed)
        result, attempts = _until_done(lambda: coe_prep(incident_id=LONG, return_state=True))
        reruns += attempts - 1
        _calm(sandbox)
        [doc] = coes(sandbox, LONG)
        text = sandbox.state.google.text(doc["id"])
        assert "{{" not in text and "COE: xPro unavailable" in text and "(47m 00s)" in text, f"seed {seed}"
        assert len(rows(sandbox, LONG)) == 1, f"seed {seed}: tracker rows"
        assert result["status"] in ("created", "exists", "completed")
        forget_coes(sandbox)
    print(f"coe-prep: {RUNS} seeded runs, {reruns} reruns after failures")


def test_shift_handoff_under_chaos(chaos_env: Sandbox) -> None:
    reruns = _handoff_under_chaos(chaos_env, range(RUNS))
    print(f"shift-handoff: {RUNS} seeded runs, {reruns} reruns after failures")


OTHER_SOURCES = tuple(name for name in SOURCE_NAMES if name != DEFAULT_SOURCE)


@pytest.mark.parametrize("source", OTHER_SOURCES)
def test_the_other_sources_under_chaos(
    chaos_env: Sandbox, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """The same faults on every other registered source's fake, for the two flows that read
    alerts in bulk; a tenth of the seeds each (the same share for every source), so CI stays quick."""
    for key, value in chaos_env.source_env(source).items():
        monkeypatch.setenv(key, value)
    seeds = range(1000, 1000 + max(1, RUNS // 10))
    gap_reruns = _gaps_under_chaos(chaos_env, monkeypatch, f"chaos-{source}", seeds)
    handoff_reruns = _handoff_under_chaos(chaos_env, seeds)
    print(
        f"{source}: {len(seeds)} seeded runs each; runbook-gaps {gap_reruns} reruns, "
        f"shift-handoff {handoff_reruns} reruns after failures"
    )


def test_incident_watch_under_chaos(chaos_env: Sandbox) -> None:
    """Dry runs: what is under test is finding the incident through faulty reads; emitting the
    event and moving the watermark are Prefect's side (tested in test_coe_prep) and cost ~3 s a run."""
    since = DEFAULT_ANCHOR.replace(day=17).isoformat()
    Variable.set(WATERMARK, since, overwrite=True)
    reruns = 0
    for seed in range(RUNS):
        _faults(chaos_env, seed)
        found, attempts = _until_done(lambda: incident_watch(dry_run=True, return_state=True))
        reruns += attempts - 1
        assert found["events"] == [LONG] and found["since"] == since, f"seed {seed}"
    print(f"incident-watch: {RUNS} seeded runs, {reruns} reruns after failures")
