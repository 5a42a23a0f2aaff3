"""coe-prep's markdown target end to end: PyGithub against the GitHub fake, faults injected.

One branch, one commit and one draft pull request per incident, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any

import pytest

from flows.coe_prep import coe_prep
from oncall.coe_markdown import MARKER, branch_name, slug
from oncall.escape import ZWSP
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import LONG, coes, rows

SHORT = "inc-7f3a-0002"  # 6 minutes
HOSTILE = "@oncall-team <img src=x onerror=alert(1)> | #12"
_repos = count(1)


@pytest.fixture
def repo(google: Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new postmortem repository for each test, with one file on main."""
    name = f"acme/postmortems-{next(_repos)}"
    google.state.github.repo(name).files["README.md@main"] = "# Postmortems\n"
    monkeypatch.setenv("ONCALL_COE_TARGET", "markdown")
    monkeypatch.setenv("ONCALL_COE_POSTMORTEM_REPO", name)
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    return name


def _pulls(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.state.github.repos[repo].issues if "_pr" in i]


def _coe_files(sandbox: Sandbox, repo: str) -> dict[str, str]:
    """Every COE file on any branch, "path@branch" -> text."""
    return {k: t for k, t in sandbox.state.github.repos[repo].files.items() if MARKER in t}


def _writes(sandbox: Sandbox) -> int:
    return sum(sandbox.app.count("github", m) for m in ("POST", "PUT", "PATCH"))


def _assert_one_coe(sandbox: Sandbox, repo: str) -> tuple[str, str, dict[str, Any]]:
    """One branch holding one COE file with one marker, and one draft pull request from it."""
    [pull] = _pulls(sandbox, repo)
    [(key, text)] = _coe_files(sandbox, repo).items()
    path, branch = key.rsplit("@", 1)
    assert branch == branch_name(LONG) == pull["_pr"]["head"] and pull["_pr"]["draft"]
    assert pull["_pr"]["base"] == "main" and text.count(MARKER) == 1
    branches = {k.rsplit("@", 1)[1] for k in sandbox.state.github.repos[repo].files}
    assert branches == {"main", branch}
    return path, text, pull


@contextmanager
def _incident_titled(sandbox: Sandbox, title: str) -> Iterator[None]:
    [incident] = [i for i in sandbox.state.opsgenie.incidents if i["id"] == LONG]
    before = incident["message"]
    incident["message"] = title
    try:
        yield
    finally:
        incident["message"] = before


def test_the_coe_is_one_file_on_one_branch_in_one_draft_pull_request(google: Sandbox, repo: str) -> None:
    served = len(google.app.served)
    with _incident_titled(google, f"xPro unavailable {HOSTILE}"):
        result = coe_prep(incident_id=LONG)
    made = [s.method for s in google.app.served[served:] if s.system == "github"]
    assert len(made) == 10 and made.count("GET") == 7  # the pull request, branch, base, file looked for first
    assert result["status"] == "created" and coes(google, LONG) == []  # no Google Doc
    path, text, pull = _assert_one_coe(google, repo)
    assert path == "postmortems/2026-11-21-xpro-unavailable-oncall-team-img-src-x-onerror-alert-1-12.md"
    assert "{{" not in text and "(47m 00s)" in text and "## Corrective actions" in text
    assert "<img" not in text and f"@{ZWSP}oncall-team" in text and "\\|" in text
    assert pull["title"].startswith("COE 2026-11-21 xPro unavailable @\u200b") and path in pull["body"]
    link = result["document"]
    assert link.endswith(f"/{repo}/pull/{pull['number']}")
    [row] = rows(google, LONG)  # the sheet is set: it stays the tracker, linking the pull request
    assert row[5] == link and row[7] == "Draft"
    assert len(google.state.slack.messages) == 1 and link in google.state.slack.messages[0]["text"]

    writes = _writes(google)
    served = len(google.app.served)
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    again = [s.method for s in google.app.served[served:] if s.system == "github"]
    assert again == ["GET"]  # the pull request, found by its branch
    assert _writes(google) == writes and len(rows(google, LONG)) == 1
    _assert_one_coe(google, repo)
    assert len(google.state.slack.messages) == 1


def test_without_a_sheet_the_pull_request_is_the_record(
    google: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And without ONCALL_COE_POSTMORTEM_REPO, the postmortems go to ONCALL_GITHUB_REPO."""
    monkeypatch.delenv("ONCALL_COE_SHEET_ID")
    monkeypatch.delenv("ONCALL_COE_POSTMORTEM_REPO")
    monkeypatch.setenv("ONCALL_GITHUB_REPO", repo)
    sheet = len(google.state.sheets[google.state.coe_sheet]["COE tracker"])
    result = coe_prep(incident_id=LONG)
    assert result["status"] == "created" and result["tracked"] == "untracked"
    _assert_one_coe(google, repo)
    assert len(google.state.sheets[google.state.coe_sheet]["COE tracker"]) == sheet
    assert coe_prep(incident_id=LONG)["status"] == "exists" and len(google.state.slack.messages) == 1


@pytest.mark.parametrize(("path", "method"), [("contents/", "PUT"), ("pulls", "POST"), ("git/refs", "POST")])
def test_a_lost_answer_makes_no_second_branch_commit_or_pull_request(
    google: Sandbox, repo: str, path: str, method: str
) -> None:
    """GitHub acts, then the answer is lost (502)."""
    google.script(f"/github/repos/{repo}/{path}", 502, method=method, after=True, times=1)
    state = coe_prep(incident_id=LONG, return_state=True)
    if state.is_failed():  # a lost answer the client could not settle: the rerun finishes it
        assert coe_prep(incident_id=LONG)["status"] in ("created", "exists")
    _assert_one_coe(google, repo)
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    _assert_one_coe(google, repo)
    assert len(rows(google, LONG)) == 1


@pytest.mark.parametrize(("path", "method"), [("contents/", "PUT"), ("pulls", "POST")])
def test_a_crash_before_the_commit_or_the_pull_request_is_finished_by_a_rerun(
    google: Sandbox, repo: str, path: str, method: str
) -> None:
    """A step keeps failing before GitHub acts: the run stops there, and the next one finishes."""
    google.script(f"/github/repos/{repo}/{path}", 500, method=method, times=50)
    assert coe_prep(incident_id=LONG, return_state=True).is_failed()
    assert _pulls(google, repo) == [] and rows(google, LONG) == []
    google.app.script.clear()
    assert coe_prep(incident_id=LONG)["status"] == "created"
    _assert_one_coe(google, repo)
    assert len(rows(google, LONG)) == 1


def test_a_title_edited_between_the_commit_and_the_rerun_makes_no_second_file(
    google: Sandbox, repo: str
) -> None:
    google.script(f"/github/repos/{repo}/pulls", 500, method="POST", times=50)
    assert coe_prep(incident_id=LONG, return_state=True).is_failed()
    google.app.script.clear()
    with _incident_titled(google, "Renamed after the fact"):
        assert coe_prep(incident_id=LONG)["status"] == "created"
    path, _text, _pull = _assert_one_coe(google, repo)
    assert path.startswith(
        "postmortems/2026-11-21-xpro-unavailable"
    )  # the committed file, found by its marker


def test_another_file_with_the_same_name_gets_the_incident_id_added(google: Sandbox, repo: str) -> None:
    """Two incidents of one day with one title: the first one's postmortem is on main already."""
    [incident] = [i for i in google.state.opsgenie.incidents if i["id"] == LONG]
    taken = f"postmortems/2026-11-21-{slug(incident['message'])}.md"
    google.state.github.repos[repo].files[f"{taken}@main"] = "# Another incident's postmortem\n"
    assert coe_prep(incident_id=LONG)["status"] == "created"
    path, _text, _pull = _assert_one_coe(google, repo)
    assert path == taken.removesuffix(".md") + f"-{LONG}.md"
    assert google.state.github.repos[repo].files[f"{taken}@main"] == "# Another incident's postmortem\n"


def test_a_dry_run_shows_the_markdown_and_writes_nothing(google: Sandbox, repo: str) -> None:
    """On the 6-minute incident, forced: the dry-run artifact of the 47-minute one is
    test_coe_prep's to read."""
    writes, served = _writes(google), len(google.app.served)
    result = coe_prep(incident_id=SHORT, force=True, dry_run=True)
    assert result["status"] == "dry-run" and result["text"].startswith(f"<!-- {MARKER} {SHORT} -->\n# COE: ")
    assert "{{" not in result["text"] and repo in result["path"]
    assert result["path"].endswith(f" on {branch_name(SHORT)}") and "postmortems/2026-11-" in result["path"]
    assert _writes(google) == writes and _pulls(google, repo) == [] and rows(google, SHORT) == []
    assert not any(s.system == "github" for s in google.app.served[served:])  # not even a read
