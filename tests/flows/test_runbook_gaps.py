"""runbook-gaps end to end: Prefect test server, sandbox fakes, PyGithub against the GitHub fake."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from flows.runbook_gaps import runbook_gaps
from oncall.clients.github import GitHubClient
from oncall.errors import InputError
from oncall.gaps import read_markers
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import new_repo

END = DEFAULT_ANCHOR.isoformat()


@pytest.fixture
def repo(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    return new_repo(sandbox, monkeypatch, tmp_path, "gaps")


def _issues(sandbox: Sandbox, repo: str) -> list[dict]:  # type: ignore[type-arg]
    return sandbox.state.github.repos[repo].issues


def _fingerprints(sandbox: Sandbox, repo: str) -> Counter[str]:
    return Counter(read_markers(i["body"])[0][1].fp for i in _issues(sandbox, repo))


def test_files_one_issue_per_gap_and_a_rerun_files_nothing(
    sandbox: Sandbox, repo: str, tmp_path: Path
) -> None:
    first = runbook_gaps(window="-7d", window_end=END, max_issues=50, deliver=["artifact", "file"])
    assert first["gaps"] == first["create"] > 10
    assert len(_issues(sandbox, repo)) == first["create"]
    assert max(_fingerprints(sandbox, repo).values()) == 1
    titles = {i["title"] for i in _issues(sandbox, repo)}
    assert "Runbook gap: DiskUsageWarning edxapp filesystem ext4" in titles
    assert not any("xqwatcher" in t for t in titles)  # covered by the real runbook's entry
    report = (tmp_path / "coverage.md").read_text()
    assert (
        "| DiskUsageWarning xqwatcher filesystem ext4 |" in report and "#diskusagewarning-xqwatcher" in report
    )

    posts = sandbox.app.count("github", "POST")
    second = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    assert second["create"] == 0 and second["comment"] == 0
    assert sandbox.app.count("github", "POST") == posts


def test_the_cap_holds_and_the_rest_are_held_back(sandbox: Sandbox, repo: str) -> None:
    result = runbook_gaps(window="-7d", window_end=END, max_issues=3)
    assert len(_issues(sandbox, repo)) == 3 and result["hold"] == result["gaps"] - 3


def test_new_occurrences_get_one_comment_then_none(sandbox: Sandbox, repo: str) -> None:
    runbook_gaps(window="-7d", window_end="2026-11-21T10:00", max_issues=50)
    later = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    assert later["comment"] > 0
    comments = sandbox.state.github.repos[repo].comments
    assert sum(len(c) for c in comments.values()) == later["comment"]
    again = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    assert again["comment"] == 0 and sum(len(c) for c in comments.values()) == later["comment"]


def test_closed_issues_reopen_unless_closed_as_not_planned(sandbox: Sandbox, repo: str) -> None:
    runbook_gaps(window="-7d", window_end="2026-11-21T10:00", max_issues=50)
    issues = list(_issues(sandbox, repo))
    for issue in issues:
        issue["state"] = "closed"
        issue["state_reason"] = "completed" if issue["number"] % 2 else "not_planned"
    result = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    reopened = [i for i in issues if i["state"] == "open"]  # of those closed above
    assert reopened and all(i["number"] % 2 for i in reopened)
    assert result["reopen"] == len(reopened) and result["leave"] > 0


def test_a_lost_answer_to_create_makes_no_duplicate(sandbox: Sandbox, repo: str) -> None:
    """GitHub creates the issue, then the answer is lost (502): the flow finds it by its marker."""
    sandbox.script(f"/github/repos/{repo}/issues", 502, method="POST", after=True, times=2)
    result = runbook_gaps(window="-7d", window_end=END, max_issues=5)
    assert result["create"] == 5
    assert len(_issues(sandbox, repo)) == 5 and max(_fingerprints(sandbox, repo).values()) == 1


def test_two_runs_at_once_file_each_gap_once(sandbox: Sandbox, repo: str) -> None:
    sandbox.faults("github", latency_ms=20)
    results: list[dict[str, int]] = []
    runs = [
        threading.Thread(
            target=lambda: results.append(runbook_gaps(window="-7d", window_end=END, max_issues=50))
        )
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert len(results) == 2
    assert sorted(r["create"] for r in results)[0] == 0  # the second run found the first one's issues
    assert max(_fingerprints(sandbox, repo).values()) == 1
    assert len(_issues(sandbox, repo)) == results[0]["gaps"]


def test_dry_run_changes_nothing(sandbox: Sandbox, repo: str) -> None:
    result = runbook_gaps(window="-7d", window_end=END, dry_run=True)
    assert result["create"] > 0
    assert _issues(sandbox, repo) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("no headings here\n", "no markdown headings"),
        ("<html><body>x</body></html>", "markdown"),
    ],
)
def test_a_bad_runbook_fails_before_any_write(
    sandbox: Sandbox, repo: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "runbook.md"
    path.write_text(content)
    state = runbook_gaps(window="-7d", window_end=END, runbook=str(path), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=message):
        state.result()
    assert _issues(sandbox, repo) == []


def test_a_missing_runbook_names_it(sandbox: Sandbox, repo: str) -> None:
    state = runbook_gaps(
        window="-7d", window_end=END, runbook="example-org/ops-runbook:docs/nope.md@main", return_state=True
    )
    with pytest.raises(Exception, match=r"docs/nope.md .* was not found"):
        state.result()
    assert _issues(sandbox, repo) == []


def test_a_token_without_push_access_stops_and_never_files_twice(
    sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub drops the label of a new issue without push access: each run stops with an error
    naming the access to grant, and the next run finds the unlabelled issue by its marker."""
    sandbox.state.github.add_account("sandbox-github-token-reader", "oncall-reader", "read")
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "sandbox-github-token-reader")
    for _ in range(3):
        state = runbook_gaps(window="-7d", window_end=END, max_issues=50, return_state=True)
        assert state.is_failed()
        with pytest.raises(Exception, match=r"dropped its label .*needs Triage \(or Write\) access"):
            state.result()
    assert max(_fingerprints(sandbox, repo).values()) == 1
    assert len(_issues(sandbox, repo)) <= 3  # at most one per run, and each of another kind


def test_triage_access_labels_what_create_dropped_and_a_rerun_files_nothing(
    sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.state.github.add_account("sandbox-github-token-triager", "oncall-triager", "triage")
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "sandbox-github-token-triager")
    first = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    assert all(i["labels"] and i["labels"][0]["name"] == "runbook-gap" for i in _issues(sandbox, repo))
    assert runbook_gaps(window="-7d", window_end=END, max_issues=50)["create"] == 0
    assert len(_issues(sandbox, repo)) == first["create"]


def test_an_issue_whose_label_a_person_removed_is_still_found(sandbox: Sandbox, repo: str) -> None:
    first = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    for issue in _issues(sandbox, repo):
        issue["labels"] = []
    assert runbook_gaps(window="-7d", window_end=END, max_issues=50)["create"] == 0
    assert len(_issues(sandbox, repo)) == first["create"]


def test_an_edit_made_during_the_run_is_kept(
    sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person edits the issue after the run listed it: the run moves only its marker forward."""
    runbook_gaps(window="-7d", window_end="2026-11-21T10:00", max_issues=50)
    original = GitHubClient.comment

    def comment_then_a_person_edits(self: GitHubClient, repo_name: str, number: int, body: str) -> None:
        original(self, repo_name, number, body)
        issue = next(i for i in _issues(sandbox, repo_name) if i["number"] == number)
        issue["body"] += "\n\nOwner: @alice, see the dashboard."

    monkeypatch.setattr(GitHubClient, "comment", comment_then_a_person_edits)
    later = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    edited = [i for i in _issues(sandbox, repo) if "Owner: @alice" in i["body"]]
    assert later["comment"] > 0 and len(edited) == later["comment"]
    for issue in edited:
        marker = read_markers(issue["body"])[0][1]
        assert marker.last > datetime.fromisoformat("2026-11-21T10:00-05:00")  # moved forward too
    assert runbook_gaps(window="-7d", window_end=END, max_issues=50)["comment"] == 0


def test_writes_are_spaced_within_a_run(sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every action builds its own client; ONCALL_GITHUB_WRITE_INTERVAL still spaces them all."""
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0.2")
    result = runbook_gaps(window="-7d", window_end=END, max_issues=5)
    times = sandbox.state.github.writes_at
    assert result["create"] == 5 and len(times) == 5
    assert min(b - a for a, b in pairwise(times)) >= 0.2


def test_a_long_hostile_title_files_its_issue(sandbox: Sandbox, repo: str) -> None:
    """300 characters that escaping grows (mentions, braces): the title still fits GitHub's 256."""
    title = ("@ops{{" * 60)[:300]
    alerts = sandbox.state.opsgenie.alerts
    hostile = {**alerts[-1], "id": "hostile-title", "tinyId": "99999", "alias": "hostile", "message": title}
    sandbox.state.opsgenie.set_alerts([*alerts, hostile])
    try:
        runbook_gaps(window="-7d", window_end=END, max_issues=50)
    finally:
        sandbox.state.opsgenie.set_alerts(alerts)
    filed = [i for i in _issues(sandbox, repo) if "@\u200bops" in i["title"]]
    assert len(filed) == 1 and len(filed[0]["title"]) <= 256
    assert "@ops" not in filed[0]["title"]  # no live mention survived the cut


# Runbook links, the misread guard, bad input (issue 16)


def _runbook_web(sandbox: Sandbox) -> str:
    """The seeded runbook's page on the sandbox's web host, which sits under a path prefix
    (`http://127.0.0.1:PORT/github/...`), as GitHub Enterprise may."""
    return f"{sandbox.github_url}/example-org/ops-runbook/blob/main/docs/runbooks/oncall.md"


@contextmanager
def _links(sandbox: Sandbox, kind_word: str, url: str) -> Iterator[None]:
    """Every alert whose title names `kind_word` carries `url` as its runbook_url."""
    og = sandbox.state.opsgenie
    saved = [dict(a) for a in og.alerts]
    for a in og.alerts:
        if kind_word in a["message"]:
            a["details"] = {**(a.get("details") or {}), "runbook_url": url}
    og.set_alerts(list(og.alerts))
    try:
        yield
    finally:
        og.set_alerts(saved)


def test_a_broken_runbook_link_gets_its_own_issue_and_a_fixed_one_closes_it(
    sandbox: Sandbox, repo: str, tmp_path: Path
) -> None:
    with _links(sandbox, "VaultAbsent", f"{_runbook_web(sandbox)}#vaultabsent-nowhere"):
        first = runbook_gaps(window="-7d", window_end=END, max_issues=50, deliver=["file"])
        assert first["broken_links"] == 1
        broken = [i for i in _issues(sandbox, repo) if read_markers(i["body"])[0][1].link]
        assert [read_markers(i["body"])[0][1].kind for i in broken] == ["VaultAbsent vault"]
        assert broken[0]["title"] == "Broken runbook link: VaultAbsent vault"
        assert "The alert links to" in broken[0]["body"] and "which does not exist" in broken[0]["body"]
        assert "has no heading \\#vaultabsent-nowhere)" in broken[0]["body"]
        kinds = [read_markers(i["body"])[0][1].kind for i in _issues(sandbox, repo)]
        assert kinds.count("VaultAbsent vault") == 1  # no gap issue beside it
        assert "| VaultAbsent vault |" in (tmp_path / "coverage.md").read_text()
        assert runbook_gaps(window="-7d", window_end=END, max_issues=50)["create"] == 0
    with _links(sandbox, "VaultAbsent", f"{_runbook_web(sandbox)}#diskusagewarning-xqwatcher"):
        fixed = runbook_gaps(window="-7d", window_end=END, max_issues=50, close_covered=True)
    assert fixed["broken_links"] == 0 and fixed["close"] >= 1
    assert broken[0]["state"] == "closed"


def test_an_unverified_link_is_shown_and_never_filed(sandbox: Sandbox, repo: str, tmp_path: Path) -> None:
    with _links(sandbox, "VaultAbsent", "http://127.0.0.1:9/runbooks/vault"):  # never fetched
        result = runbook_gaps(window="-7d", window_end=END, max_issues=50, deliver=["file"])
    assert result["unverified_links"] == 1
    assert not any("VaultAbsent" in i["title"] for i in _issues(sandbox, repo))
    row = next(ln for ln in (tmp_path / "coverage.md").read_text().splitlines() if "| VaultAbsent" in ln)
    assert "| unverified-link |" in row


def _widgets(n: int) -> str:
    body = "".join(
        f"### Widget{chr(65 + i)}Down\n\n_Diagnosis_\n\nx\n\n_Mitigation_\n\ny\n\n" for i in range(n)
    )
    return f"# Runbook\n\n## Widgets\n\n{body}"


def test_a_runbook_that_covers_almost_nothing_stops_before_filing_unless_forced(
    sandbox: Sandbox, repo: str, tmp_path: Path
) -> None:
    path = tmp_path / "widgets.md"
    path.write_text(_widgets(25))
    state = runbook_gaps(window="-7d", window_end=END, runbook=str(path), max_issues=50, return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError) as caught:
        state.result()
    text = str(caught.value)
    assert "\n" not in text and "'headings'" in text and "25 entries" in text and "force" in text
    assert _issues(sandbox, repo) == []
    forced = runbook_gaps(window="-7d", window_end=END, runbook=str(path), max_issues=3, force=True)
    assert forced["create"] == 3 and len(_issues(sandbox, repo)) == 3  # the cap still holds


@pytest.mark.parametrize(
    ("files", "target"),
    [
        ({"notes.txt": "not markdown\n"}, "."),  # a folder with no markdown
        ({"runbook.md": "# Diagnosis\n\nx\n\n# Mitigation\n\ny\n"}, "runbook.md"),  # only section headings
        ({"runbook.md": '{"entries": []}'}, "runbook.md"),  # not markdown
        ({"runbook.md": "<!doctype html><html><body>x</body></html>"}, "runbook.md"),
    ],
)
def test_bad_runbook_input_is_one_line_naming_the_path_and_nothing_is_filed(
    sandbox: Sandbox, repo: str, tmp_path: Path, files: dict[str, str], target: str
) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    where = folder if target == "." else folder / target
    state = runbook_gaps(window="-7d", window_end=END, runbook=str(where), return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError) as caught:
        state.result()
    assert "\n" not in str(caught.value) and str(where) in str(caught.value)
    assert _issues(sandbox, repo) == []


def test_the_summary_counts_add_up_to_the_gaps(sandbox: Sandbox, repo: str, tmp_path: Path) -> None:
    """Every gap and broken link is counted once: filed, held back, or unchanged (its issue
    exists and nothing new paged), in the result and in the report."""
    runbook_gaps(window="-7d", window_end=END, max_issues=3)
    result = runbook_gaps(window="-7d", window_end=END, max_issues=3, deliver=["artifact", "file"])
    acted = ("create", "comment", "reopen", "hold", "leave", "unchanged")
    assert result["unchanged"] == 3 and result["create"] == 3
    assert sum(result[k] for k in acted) == result["gaps"] + result["broken_links"]
    report = (tmp_path / "coverage.md").read_text()
    line = f"Gaps and broken links: **{result['gaps'] + result['broken_links']}** (create 3 · hold "
    assert line in report and "unchanged 3: issue filed, no new alerts)" in report
