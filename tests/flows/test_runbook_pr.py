"""runbook-gaps' draft pull requests end to end: PyGithub against the GitHub fake, faults injected."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from flows.runbook_gaps import runbook_gaps
from oncall.runbook_pr import BRANCH_PREFIX, ENTRY_MARKER, LINK_MARKER
from oncall.sandbox.seed import DEFAULT_ANCHOR, RUNBOOK
from oncall.sandbox.server import Sandbox
from tests.factories import FIXTURES

END = DEFAULT_ANCHOR.isoformat()
PATH = "docs/runbooks/oncall.md"
_repos = count(1)


@pytest.fixture
def repos(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, str]:
    """(gap issue repository, runbook repository), both new for each test."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    n = next(_repos)
    gaps, book = f"acme/pr-gaps-{n}", f"acme/pr-runbook-{n}"
    sandbox.state.github.repo(gaps)
    sandbox.state.github.repo(book).files[f"{PATH}@main"] = RUNBOOK.read_text(encoding="utf-8")
    monkeypatch.setenv("ONCALL_GITHUB_REPO", gaps)
    monkeypatch.setenv("ONCALL_RUNBOOK", f"{book}:{PATH}@main")
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    return gaps, book


def _pulls(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.state.github.repos[repo].issues if "_pr" in i]


def _issues(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.state.github.repos[repo].issues if "_pr" not in i]


def _branch_texts(sandbox: Sandbox, repo: str) -> dict[str, str]:
    files = sandbox.state.github.repos[repo].files
    return {
        key.rsplit("@", 1)[1]: text
        for key, text in files.items()
        if key.startswith(f"{PATH}@{BRANCH_PREFIX}")
    }


def _link_comments(sandbox: Sandbox, repo: str) -> dict[int, int]:
    comments = sandbox.state.github.repos[repo].comments
    return {n: sum(LINK_MARKER in c["body"] for c in cs) for n, cs in comments.items()}


def _assert_once_each(sandbox: Sandbox, gaps: str, book: str, expected: int) -> None:
    """One branch, one commit (one entry marker in its file), one draft PR and one link per gap."""
    pulls, texts = _pulls(sandbox, book), _branch_texts(sandbox, book)
    assert len(pulls) == expected and len(texts) == expected
    assert {p["_pr"]["head"] for p in pulls} == set(texts)
    assert all(text.count(ENTRY_MARKER) == 1 for text in texts.values())
    assert all(p["_pr"]["draft"] and p["_pr"]["base"] == "main" for p in pulls)
    issue_numbers = {i["number"] for i in _issues(sandbox, gaps)}
    closes = {int(m) for p in pulls for m in re.findall(rf"Closes {gaps}#(\d+)", p["body"])}
    assert closes <= issue_numbers and len(closes) == expected
    links = _link_comments(sandbox, gaps)
    assert sorted(n for n, k in links.items() if k) == sorted(closes) and set(links.values()) <= {0, 1}


def test_each_new_gap_gets_one_draft_pull_request_and_a_rerun_writes_nothing(
    sandbox: Sandbox, repos: tuple[str, str]
) -> None:
    gaps, book = repos
    first = runbook_gaps(window="-7d", window_end=END, max_issues=3, open_pr=True)
    assert first["create"] == 3 and first["pulls"] == 3
    _assert_once_each(sandbox, gaps, book, 3)
    original = RUNBOOK.read_text(encoding="utf-8")
    for text in _branch_texts(sandbox, book).values():
        assert len(text) > len(original) and text.count("\n### ") == original.count("\n### ") + 1
    assert sandbox.state.github.repos[book].files[f"{PATH}@main"] == original  # main untouched

    again = runbook_gaps(window="-7d", window_end=END, max_issues=3, open_pr=True)
    assert again["create"] == 3 and again["pulls"] == 6  # three more gaps filed, each with its PR
    _assert_once_each(sandbox, gaps, book, 6)
    writes = sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH"))
    runbook_gaps(window="-7d", window_end=END, max_issues=0, open_pr=True)
    assert sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH")) == writes


def test_a_gap_whose_pull_request_exists_reads_no_notes_again(
    sandbox: Sandbox, repos: tuple[str, str]
) -> None:
    """Notes prefill a new pull request only: every open gap is a candidate on every run, and
    reading its alerts' notes again would spend the alert source's budget on each of them daily."""

    def notes_read() -> int:
        return sum("/notes" in s.path for s in list(sandbox.app.served) if s.system == "opsgenie")

    before = notes_read()
    assert runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True)["pulls"] == 2
    assert notes_read() > before  # the new ones were prefilled
    read = notes_read()
    assert runbook_gaps(window="-7d", window_end=END, max_issues=0, open_pr=True)["pulls"] == 2
    assert notes_read() == read


def test_two_runs_at_once_open_each_pull_request_once(sandbox: Sandbox, repos: tuple[str, str]) -> None:
    """Two runs at once (serialised by the gap lock, which is held around the pull requests, and
    each write found again before it is made) end with one branch, commit and pull request per gap."""
    gaps, book = repos
    sandbox.faults("github", latency_ms=20)
    results: list[dict[str, int]] = []

    def run() -> None:
        results.append(runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True))

    runs = [threading.Thread(target=run) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(timeout=180)
    assert len(results) == 2 and sorted(r["create"] for r in results) == [2, 2]
    _assert_once_each(sandbox, gaps, book, 4)  # each run's two new gaps, each with one pull request


def test_lost_answers_make_no_second_branch_commit_pull_or_link(
    sandbox: Sandbox, repos: tuple[str, str]
) -> None:
    """GitHub acts, then the answer is lost (502), once at every step."""
    gaps, book = repos
    for path, method in (
        (f"/github/repos/{book}/git/refs", "POST"),
        (f"/github/repos/{book}/contents/", "PUT"),
        (f"/github/repos/{book}/pulls", "POST"),
        (f"/github/repos/{gaps}/issues/", "POST"),
    ):
        sandbox.script(path, 502, method=method, after=True, times=1)
    state = runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True, return_state=True)
    if state.is_failed():  # a lost answer the client could not settle: the rerun finishes it
        runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True)
    _assert_once_each(sandbox, gaps, book, 2)


@pytest.mark.parametrize(
    ("path", "method"),
    [("git/refs", "POST"), ("contents/", "PUT"), ("pulls", "POST"), ("comments", "POST")],
)
def test_a_crash_between_branch_commit_and_pull_is_finished_by_a_rerun(
    sandbox: Sandbox, repos: tuple[str, str], path: str, method: str
) -> None:
    """A step keeps failing before GitHub acts: the run stops there, and the next one finishes."""
    gaps, book = repos
    where = f"/github/repos/{gaps}/issues/" if path == "comments" else f"/github/repos/{book}/{path}"
    sandbox.script(where, 500, method=method, times=50)
    state = runbook_gaps(window="-7d", window_end=END, max_issues=1, open_pr=True, return_state=True)
    assert state.is_failed()
    sandbox.app.script.clear()
    result = runbook_gaps(window="-7d", window_end=END, max_issues=1, open_pr=True)
    # The half-done one is finished first; unless its pull request was already open (only its
    # link was missing), that spends the cap and the gap this rerun filed waits.
    assert result["create"] == 1 and result["pulls"] == (2 if path == "comments" else 1)
    _assert_once_each(sandbox, gaps, book, result["pulls"])
    assert re.search(rf"Closes {gaps}#1\n", _pulls(sandbox, book)[0]["body"])


def test_dry_run_shows_the_pull_requests_and_writes_nothing(sandbox: Sandbox, repos: tuple[str, str]) -> None:
    writes = sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH"))
    result = runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True, dry_run=True)
    assert result["create"] == 2 and result["pulls"] == 2
    assert sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH")) == writes


def test_a_dry_run_logs_no_control_character_of_alert_text(
    sandbox: Sandbox, repos: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The previews go to a terminal (`oncall gaps --dry-run`): an escape sequence or a bidi
    override in an alert title must not recolour, retitle or reorder it."""
    caplog.set_level(logging.INFO)
    alerts = sandbox.state.opsgenie.alerts
    title = "[FIRING:1] WidgetMeltdown prod \x1b]0;pwned\x07\x1b[8mhidden \u202eevil"
    hostile = {**alerts[-1], "id": "hostile-ctl", "tinyId": "99998", "alias": "hostile-ctl", "message": title}
    sandbox.state.opsgenie.set_alerts([*alerts, hostile])
    try:
        runbook_gaps(window="-7d", window_end=END, max_issues=50, open_pr=True, dry_run=True)
    finally:
        sandbox.state.opsgenie.set_alerts(alerts)
    previews = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Dry run:")]
    assert any("WidgetMeltdown" in p and "#" in p for p in previews)  # the issue and the pull request
    assert sum("WidgetMeltdown" in p for p in previews) >= 2
    assert not any(ch in p for p in previews for ch in ("\x1b", "\x07", "\u202e"))


def test_a_local_runbook_opens_no_pull_request(
    sandbox: Sandbox, repos: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _gaps, book = repos
    local = tmp_path / "oncall.md"
    local.write_text(RUNBOOK.read_text(encoding="utf-8"), encoding="utf-8")
    result = runbook_gaps(window="-7d", window_end=END, max_issues=2, open_pr=True, runbook=str(local))
    assert result["create"] == 2 and result["pulls"] == 0 and _pulls(sandbox, book) == []


def test_open_pr_is_off_by_default(sandbox: Sandbox, repos: tuple[str, str]) -> None:
    _gaps, book = repos
    result = runbook_gaps(window="-7d", window_end=END, max_issues=2)
    assert result["create"] == 2 and result["pulls"] == 0 and _pulls(sandbox, book) == []


FILES = FIXTURES / "runbooks" / "files"


@contextmanager
def _alerts(sandbox: Sandbox, titles: list[str], notes: dict[int, list[str]]) -> Iterator[None]:
    """The week's alerts replaced by one per title (inside the window), with notes on some."""
    og = sandbox.state.opsgenie
    saved, saved_notes = list(og.alerts), dict(og.alert_notes)
    template = og.alerts[-1]
    made = [{**template, "id": f"files-{n}", "tinyId": str(90_000 + n), "alias": f"files-{n}", "message": t}
            for n, t in enumerate(titles)]  # fmt: skip
    for n, said in notes.items():
        og.alert_notes[made[n]["id"]] = [
            {"note": text, "owner": "dana", "createdAt": template["createdAt"], "offset": f"n{i}"}
            for i, text in enumerate(said)
        ]
    og.set_alerts(made)
    try:
        yield
    finally:
        og.set_alerts(saved)
        og.alert_notes.clear()
        og.alert_notes.update(saved_notes)


def test_a_folder_runbook_gets_a_new_file_in_the_guessed_folder_prefilled_with_notes(
    sandbox: Sandbox, repos: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _gaps, book = repos
    files = sandbox.state.github.repos[book].files
    for page in FILES.rglob("*.md"):
        files[f"runbooks/{page.relative_to(FILES).as_posix()}@main"] = page.read_text(encoding="utf-8")
    monkeypatch.setenv("ONCALL_RUNBOOK", f"{book}:runbooks@main")
    titles = [
        "[Prometheus]: [FIRING:1] KubeStatefulSetDown production (kubernetes db-0)",
        "[Prometheus]: [FIRING:1] KubePodNotReady production (kubernetes api-7d9f8c6b5-x2x9z)",
    ]
    with _alerts(sandbox, titles, {0: ["Rolled back @dana's deploy <b>v2</b>", "Raised the memory limit"]}):
        result = runbook_gaps(window="-7d", window_end=END, max_issues=5, open_pr=True)
        assert result["gaps"] == 1 and result["create"] == 1 and result["pulls"] == 1
        [pull] = _pulls(sandbox, book)
        added = files[f"runbooks/kubernetes/KubeStatefulSetDown.md@{pull['_pr']['head']}"]
        assert added.startswith("# KubeStatefulSetDown\n") and added.count(ENTRY_MARKER) == 1
        sections = [line for line in added.splitlines() if line.startswith("## ")]
        assert sections == ["## Summary", "## Impact", "## Diagnosis", "## Mitigation", "## Notes"]
        assert "Raised the memory limit" in added and "<b>" not in added and "@dana" not in added
        assert "runbooks/kubernetes/KubeStatefulSetDown.md@main" not in files  # main untouched
        writes = sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH"))
        assert runbook_gaps(window="-7d", window_end=END, max_issues=5, open_pr=True)["pulls"] == 1
        assert sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH")) == writes


def test_a_file_a_person_added_meanwhile_gets_no_branch_and_no_pull_request(
    sandbox: Sandbox, repos: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder runbook was read, then someone added the very file the entry would be: nothing
    to propose, and no branch left behind for a pull request that will never be opened."""
    import flows.runbook_gaps as module
    from oncall.runbook_pr import PullPlan, plan_pull

    _gaps, book = repos
    files = sandbox.state.github.repos[book].files
    for page in FILES.rglob("*.md"):
        files[f"runbooks/{page.relative_to(FILES).as_posix()}@main"] = page.read_text(encoding="utf-8")
    monkeypatch.setenv("ONCALL_RUNBOOK", f"{book}:runbooks@main")
    planned: list[PullPlan] = []

    def plan_then_a_person_adds_the_file(*args: Any, **kwargs: Any) -> PullPlan:
        plan = plan_pull(*args, **kwargs)
        files[f"{plan.path}@main"] = "# KubeStatefulSetDown\n\nWritten by a person.\n"
        planned.append(plan)
        return plan

    monkeypatch.setattr(module, "plan_pull", plan_then_a_person_adds_the_file)
    titles = ["[Prometheus]: [FIRING:1] KubeStatefulSetDown production (kubernetes db-0)"]
    with _alerts(sandbox, titles, {}):
        result = runbook_gaps(window="-7d", window_end=END, max_issues=5, open_pr=True)
    assert result["create"] == 1 and result["pulls"] == 0 and _pulls(sandbox, book) == []
    [plan] = planned
    assert files[f"{plan.path}@main"].endswith("Written by a person.\n")
    assert not any(key.endswith(f"@{plan.branch}") for key in files)
    assert sandbox.app.count("github", "POST", f"/github/repos/{book}/git/refs") == 0
