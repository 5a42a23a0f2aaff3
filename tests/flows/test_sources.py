"""Every flow on every registered alert source (OpsGenie, JSM Operations, Rootly, ...), one seeded week.

The sandbox serves the same facts in each vendor's shapes, so the reports must agree on
everything each vendor records, and say "not available" for what it does not. A source joins
these tests by joining the registry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.incident_watch import WATERMARK, incident_watch
from flows.runbook_gaps import runbook_gaps
from flows.shift_handoff import shift_handoff
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sources import REGISTRY, SOURCE_NAMES
from tests.flows.conftest import coes, rows

SOURCES = SOURCE_NAMES
BASE, *OTHERS = SOURCES  # every other source's reports are compared with the default's
LONG = {name: spec.fake.long_incident_id for name, spec in REGISTRY.items()}
SHARED_LINES = ("- **Outgoing:**", "- **Incoming:**", "- After hours", "- Acknowledged:", "- Closed:")

UseSource = Callable[[str], None]


@pytest.fixture
def use_source(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[UseSource]:
    def use(source: str) -> None:
        for key in [k for k in os.environ if k.startswith("ONCALL_")]:
            monkeypatch.delenv(key)
        for key, value in sandbox.env(source).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path / source))
        monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")

    yield use


def _lines(markdown: str, prefixes: tuple[str, ...]) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith(prefixes)]


def _incident_rows(markdown: str) -> list[tuple[str, str, str]]:
    """(title, status, duration) of each incident row: ids and links differ between vendors."""
    section = markdown.split("## Incidents", 1)[1].split("\n## ", 1)[0]  # its table, not the next
    header, *rows = (
        [c.strip() for c in r.strip().strip("|").split(" | ")]
        for r in section.splitlines()
        if r.startswith("| ") and "---" not in r
    )
    at = {name: header.index(name) for name in ("title", "status", "duration")}
    return [(r[at["title"]], r[at["status"]], r[at["duration"]]) for r in rows]


def test_the_handoff_agrees_across_sources(
    use_source: UseSource, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reports = {}
    for source in SOURCES:
        use_source(source)
        reports[source] = shift_handoff(shift_end="2026-11-24T10:00", deliver=["file"])
    written = "".join(f.read_text() for f in tmp_path.rglob("*") if f.is_file())
    for secret in (c for spec in REGISTRY.values() for c in spec.fake.canaries):  # raw, Basic ...
        assert secret not in written and secret not in caplog.text and secret not in "".join(reports.values())
    base = reports[BASE]
    assert len(_incident_rows(base)) == 3 and (
        "xPro unavailable: RDS storage exhausted on the xpro applications db",
        "closed",
        "47m 00s",
    ) in _incident_rows(base)
    for source in OTHERS:
        md = reports[source]
        assert f"source: {source}" in md
        assert _lines(md, SHARED_LINES) == _lines(base, SHARED_LINES), source
        assert _incident_rows(md) == _incident_rows(base), source
        created = re.search(r"Alerts created: \*\*(\d+)\*\*", md)
        assert created and created.group(1) == re.search(r"Alerts created: \*\*(\d+)\*\*", base).group(1)  # type: ignore[union-attr]
    # JSM records everything OpsGenie did; Rootly has no alert priority or dedup count, and says so.
    assert _lines(reports["jsm"], ("- Alerts created", "- Escalated")) == _lines(
        base, ("- Alerts created", "- Escalated")
    )
    assert "Not available from rootly: priority" in reports["rootly"]
    assert "priority not available from rootly" in reports["rootly"]
    assert "Not available from" not in base and "Not available from" not in reports["jsm"]
    for source in SOURCES:  # each says what its registry entry says it lacks, and nothing else
        said = re.findall(rf"_Not available from {source}: ([^(]+) \(", reports[source])
        assert said == list(REGISTRY[source].lacks), source


def test_jsm_without_an_incident_project_says_incidents_are_not_available(
    use_source: UseSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_source("jsm")
    monkeypatch.delenv("ONCALL_JSM_INCIDENT_PROJECT")
    md = shift_handoff(shift_end="2026-11-24T10:00", deliver=["file"])
    assert "Incidents are not available from jsm: no incident project is configured" in md
    assert "ONCALL\\_JSM\\_INCIDENT\\_PROJECT" in md  # escaped for markdown
    assert re.search(r"- \*\*Outgoing:\*\* \S+@example\.edu", md)  # the rest still goes out
    assert re.search(r"Alerts created: \*\*\d+\*\*", md)


def test_runbook_gaps_files_the_same_gaps_from_every_source(
    sandbox: Sandbox, use_source: UseSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.state.github.repo("acme/gaps-sources")
    results = {}
    for source in SOURCES:
        use_source(source)
        monkeypatch.setenv("ONCALL_GITHUB_REPO", "acme/gaps-sources")
        results[source] = runbook_gaps(window="-7d", window_end=DEFAULT_ANCHOR.isoformat(), max_issues=50)
    first = results[BASE]
    assert first["create"] == first["gaps"] > 10
    for source in OTHERS:  # the same kinds, already filed: nothing new, nothing twice
        assert results[source]["gaps"] == first["gaps"], source
        assert results[source]["create"] == 0 and results[source]["comment"] == 0, source
    assert len(sandbox.state.github.repos["acme/gaps-sources"].issues) == first["create"]


@pytest.mark.parametrize("source", OTHERS)
def test_coe_prep_fills_the_same_coe_from_each_source(
    google: Sandbox,
    use_source: UseSource,
    source: str,
) -> None:
    use_source(source)
    result = coe_prep(incident_id=LONG[source])
    assert result["status"] == "created"
    [doc] = coes(google, LONG[source])
    text = google.state.google.text(doc["id"])
    assert "{{" not in text and "COE: xPro unavailable" in text and "(47m 00s)" in text
    [row] = rows(google, LONG[source])
    assert row[4] == "P1" and row[7] == "Draft"
    assert coe_prep(incident_id=LONG[source])["status"] == "exists"
    assert len(coes(google, LONG[source])) == 1 and len(rows(google, LONG[source])) == 1


@pytest.mark.parametrize("source", SOURCES)
def test_incident_watch_finds_the_long_incident_on_each_source(use_source: UseSource, source: str) -> None:
    use_source(source)
    since = DEFAULT_ANCHOR.replace(day=17).isoformat()
    Variable.set(WATERMARK, since, overwrite=True)
    found = incident_watch(dry_run=True)
    assert found["events"] == [LONG[source]]
    assert Variable.get(WATERMARK) == since
