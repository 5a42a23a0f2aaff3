"""`make demo` (`oncall demo`) on an ephemeral Prefect server: every output a newcomer reads."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.demo import OfflineLinks, csv_cell
from oncall.sandbox.urls import SANDBOX_REPO
from tests.processes import ROOT, clean_env

# A link in the demo's files: markdown `](...)`, Slack's `<...|`, or a bare URL.
LINK = re.compile(r"\]\(([^)\s]+)\)|<([^|>\s]+)\||(https?://[^\s)>|\"]+)")


def test_demo_writes_every_output(tmp_path: Path) -> None:
    """One run: a second into the same folder (repeatable, no second issue) is the wheel's test,
    in test-install, which finishes long before this suite and so costs CI no wall time."""
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "demo", "--out", str(out)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    handoff = (out / "handoff.md").read_text()
    assert "Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST" in handoff and "Runbook coverage" in handoff
    slack = [json.loads(line) for line in (out / "slack.jsonl").read_text().splitlines()]
    assert slack and all(m["blocks"] for m in slack)
    assert "| DiskUsageWarning xqwatcher filesystem ext4 |" in (out / "coverage.md").read_text()
    issues = {p: p.read_text() for p in sorted((out / "issues").glob("*.md"))}
    gaps = [p for p, text in issues.items() if "oncall-flows:runbook-gap" in text]
    actions = [text for text in issues.values() if "oncall-flows:coe-action" in text]
    findings = [text for text in issues.values() if "oncall-flows:ops-finding" in text]
    hand_filed = [
        text
        for text in issues.values()
        if "labels: operational-safety" in text and "oncall-flows:" not in text
    ]
    tickets = [text for text in issues.values() if "oncall-flows:sre-request" in text]
    hand_filed += [
        text for text in issues.values() if "labels: sre-request" in text and "oncall-flows:" not in text
    ]
    assert len(gaps) > 10 and len(findings) == 5 and len(tickets) == 1  # ops-review's cap; the one ticket
    assert len(hand_filed) == 4  # the seeded operational-safety issues, and the request tracked by hand
    assert len(gaps) + len(actions) + len(findings) + len(tickets) + len(hand_filed) == len(issues)
    requests = (out / "sre-requests.md").read_text()
    assert (
        "| answered | 3 |" in requests
        and "| unanswered | 4 |" in requests
        and "filed, replied, reacted" in requests
    )
    assert "## @SRE requests" in handoff and "| tracked | 1 |" in handoff
    assert "127.0.0.1" not in requests and not re.search(r"(?<!\\)<script>", requests)  # escaped: \<script>
    review = (out / "ops-review.md").read_text()
    assert (
        review.startswith("# Ops review Tue 2026-11-17 10:00 EST")
        and "| flapping | CPUUsageWarning edxapp |" in review
    )
    assert "No alert on the xqueue grading backlog" in review  # the digest advocates the hand-filed ones
    # the earlier COE's two actions: the one filed before, and the one the review filed, once
    assert sorted(a.split("\n")[0].split(" ", 2)[2] for a in actions) == [
        "COE action: Alert when the grading queue is older than 10 minutes",
        "COE action: Autoscale the xqueue workers on queue depth",
    ]
    coes = sorted(p.name for p in (out / "coe").glob("*.md"))
    assert coes == ["inc-7f39-0042.md", "inc-7f3a-0001.md"]
    assert "{{" not in (out / "coe" / "inc-7f3a-0001.md").read_text()
    rows = (out / "coe-tracker.csv").read_text().splitlines()
    assert rows[0].startswith("Incident ID,") and len(rows) == 3
    by_id = {r[0]: r for r in csv.reader(rows[1:])}
    tracked = by_id["inc-7f3a-0001"]
    assert tracked[2:4] == ["2026-11-21 14:05", "0:47"] and tracked[5] == "coe/inc-7f3a-0001.md"
    assert tracked[7] == "In review"  # coe-review put it on the agenda of the next meeting
    assert by_id["inc-7f39-0042"][7] == "In review"  # partly written, an action open: not Done
    agenda = (out / "coe-agenda.md").read_text()
    assert agenda.startswith("# COE review: Thu 2026-12-03") and "(coe/inc-7f3a-0001.md)" in agenda
    assert "(coe/inc-7f39-0042.md)" in agenda
    assert "## Open corrective actions (1)" in handoff and "grading queue is older" in handoff
    _every_link_works_offline_or_says_sandbox(out)
    assert (
        (out / "runbook" / "docs" / "runbooks" / "oncall.md")
        .read_text()
        .startswith((ROOT / "oncall" / "sandbox" / "data" / "mitodl-oncall-runbook.md").read_text()[:200])
    )
    log = done.stdout + done.stderr
    filed = re.findall(r"Filed (\S+)", log)
    # no real vendor host in the log: issues on the GitHub fake's own pages, the COE on sandbox.invalid
    assert len(filed) > 10 and "github.com" not in log and "docs.google.com" not in log
    assert re.search(r"Created COE https://sandbox\.invalid/google/document/d/[\w-]+/edit", log)
    assert all(re.fullmatch(rf"http://127\.0\.0\.1:\d+/github/{SANDBOX_REPO}/issues/\d+", u) for u in filed)


def _every_link_works_offline_or_says_sandbox(out: Path) -> None:
    """Relative links name files the demo wrote; absolute ones are the sandbox's, plainly."""
    checked = 0
    for path in [*out.glob("*.md"), *out.glob("*.json*"), *out.glob("*.csv"), *out.glob("*/*.md")]:
        text = path.read_text()
        assert "127.0.0.1" not in text and "mitodl/ol-infrastructure" not in text, path
        for match in LINK.finditer(text):
            link = next(g for g in match.groups() if g)
            checked += 1
            if link.startswith(("http://", "https://")):
                assert link.startswith("https://sandbox.invalid/"), (path, link)
            elif not link.startswith(("#", "mailto:")):
                assert (path.parent / link.split("#")[0]).is_file(), (path, link)
        for cell in (
            (c for row in csv.reader(text.splitlines()) for c in row) if path.suffix == ".csv" else ()
        ):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert checked > 100


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("xPro down", "xPro down"),
        ("0:47", "0:47"),
    ],
)
def test_the_tracker_csv_neutralises_formula_looking_cells(cell: str, written: str) -> None:
    assert csv_cell(cell) == written


def test_sandbox_links_become_offline_files_or_say_sandbox() -> None:
    base = "http://127.0.0.1:4242"
    links = OfflineLinks(base, SANDBOX_REPO, {"doc-1": "inc-1"})
    text = (
        f"[#3]({base}/github/{SANDBOX_REPO}/issues/3) "
        f"[e]({base}/github/{SANDBOX_REPO}/blob/main/docs/runbooks/oncall.md#disk-full) "
        "<https://sandbox.invalid/google/document/d/doc-1/edit|COE> "
        "<https://sandbox.invalid/google/document/d/doc-2/edit|other> "
        "[#1101](https://app.opsgenie.com/alert/detail/a-1/details) "
        f"[101]({base}/atlassian/browse/OPS-101) "
        "[other](https://github.com/mitodl/ol-infrastructure/blob/main/docs/x.md)"
    )
    assert links(text, depth=1) == (
        "[#3](../issues/3.md) [e](../runbook/docs/runbooks/oncall.md#disk-full) <../coe/inc-1.md|COE> "
        "<https://sandbox.invalid/google/document/d/doc-2/edit|other> "
        "[#1101](https://sandbox.invalid/opsgenie/alert/detail/a-1/details) "
        "[101](https://sandbox.invalid/atlassian/browse/OPS-101) "
        "[other](https://github.com/mitodl/ol-infrastructure/blob/main/docs/x.md)"  # the runbook's own text
    )
    bare = f"| gap | {base}/github/{SANDBOX_REPO}/issues/7 |"
    assert links(bare, markdown=True) == "| gap | [#7](issues/7.md) |"
    assert links(bare) == "| gap | issues/7.md |"  # JSON and CSV keep a plain path
