"""ops-review end to end on the seeded week: Prefect test server, sandbox fakes, PyGithub."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from flows.ops_review import ops_review
from oncall.advocacy import DigestMarker
from oncall.ops_filing import FindingMarker
from oncall.sandbox.ops_seed import seed_ops_issues
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import new_repo

END = DEFAULT_ANCHOR.isoformat()


@pytest.fixture
def repo(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    return new_repo(sandbox, monkeypatch, tmp_path, "ops")


def _issues(sandbox: Sandbox, repo: str) -> list[dict]:  # type: ignore[type-arg]
    return sandbox.state.github.repos[repo].issues


def _findings(sandbox: Sandbox, repo: str) -> Counter[str]:
    return Counter(m.fp for i in _issues(sandbox, repo) if (m := FindingMarker.first(i["body"])))


def test_the_week_is_filed_once_through_lost_answers_and_the_digest_ranks_every_open_issue(
    sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GitHub creates two issues and loses both answers (502): the flow finds them by marker.
    The rerun files and comments nothing, and the tracking issue is rewritten, not filed again."""
    monkeypatch.setattr(sandbox.state, "runbook_repo", repo)
    hand_filed = seed_ops_issues(sandbox.state, DEFAULT_ANCHOR)
    monkeypatch.setenv("ONCALL_OPS_TRACKING_ISSUE", "true")
    sandbox.script(f"/github/repos/{repo}/issues", 502, method="POST", after=True, times=2)
    first = ops_review(window_end=END, max_issues=3, deliver=["artifact", "file", "slack"])
    assert first["alerts"] > 100 and first["findings"] > 3
    assert first["create"] == 3 and first["hold"] == first["findings"] - 3 - first["leave"] > 0
    assert max(_findings(sandbox, repo).values()) == 1 and sum(_findings(sandbox, repo).values()) == 3
    tracking = [i for i in _issues(sandbox, repo) if DigestMarker.first(i["body"])]
    assert len(tracking) == 1
    report = (tmp_path / "ops-review.md").read_text()
    assert "## Findings" in report and "| Day | Pages |" in report
    for number in hand_filed[:2]:  # the open hand-filed ones are advocated too
        assert f"#{number}" in report
    posted = len(sandbox.state.slack.messages)
    assert posted >= 1 and "Ops review" in sandbox.state.slack.messages[-1]["text"]

    writes = sandbox.app.count("github", "POST")
    again = ops_review(window_end=END, max_issues=3, deliver=["artifact", "file", "slack"])
    assert again["create"] == 3 and again["comment"] == 0  # the next three of those held back
    assert sum(_findings(sandbox, repo).values()) == 6 and max(_findings(sandbox, repo).values()) == 1
    assert sandbox.app.count("github", "POST") == writes + 3
    assert len([i for i in _issues(sandbox, repo) if DigestMarker.first(i["body"])]) == 1
    assert len(sandbox.state.slack.messages) == posted  # one post per window


def test_a_window_with_no_alerts_says_so_and_files_nothing(
    sandbox: Sandbox, repo: str, tmp_path: Path
) -> None:
    result = ops_review(window="-7d", window_end="2026-01-10T10:00", deliver=["file"])
    assert result["alerts"] == 0 and result["findings"] == 0 and result["create"] == 0
    assert _issues(sandbox, repo) == []
    assert (
        "No alerts in the window: nothing to review, and nothing was filed."
        in (tmp_path / "ops-review.md").read_text()
    )
