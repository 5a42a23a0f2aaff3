"""coe-review and coe-actions on COEs kept as markdown pull requests: PyGithub against the GitHub
fake, within the read budget, each action filed once and its link committed once, whatever the
lost answers and people's edits in between."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.coe_review import coe_actions, coe_review
from oncall.clients.github import GitHubClient
from oncall.coe_markdown import MARKER, branch_name
from oncall.sandbox.github_git import merge_pull
from oncall.sandbox.server import Sandbox
from oncall.tracker import TRACKER_HEADER
from tasks.coe_review import STATUS_RECORD
from tests.flows.conftest import LONG, rows

STATUS, DOC = TRACKER_HEADER.index("Status"), TRACKER_HEADER.index("COE doc")
MEETING = "2026-12-10"
_repos = count(1)


@pytest.fixture
def repo(google: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new postmortem repository holding the seeded long incident's COE pull request; the
    corrective actions go to the sandbox's repository (ONCALL_GITHUB_REPO)."""
    name = f"acme/postmortems-review-{next(_repos)}"
    google.state.github.repo(name).files["README.md@main"] = "# Postmortems\n"
    monkeypatch.setenv("ONCALL_COE_TARGET", "markdown")
    monkeypatch.setenv("ONCALL_COE_POSTMORTEM_REPO", name)
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    monkeypatch.setenv("ONCALL_COE_NUDGE_DAYS", "60")
    del google.state.sheets[google.state.coe_sheet]["COE tracker"][1:]
    yield name
    Variable.unset(STATUS_RECORD)
    Variable.unset("oncall-slack-posted-coe-review")


def _prepared(sandbox: Sandbox, repo: str) -> str:
    """coe-prep's pull request for the long incident; returns the file's "path@branch" key."""
    assert coe_prep(incident_id=LONG)["status"] == "created"
    [key] = [k for k, t in sandbox.state.github.repos[repo].files.items() if MARKER in t]
    assert key.endswith(f"@{branch_name(LONG)}")
    return key


def _write_actions(sandbox: Sandbox, repo: str, key: str, actions: list[str]) -> None:
    """A person fills the template's action rows on the branch (a commit, as GitHub's editor makes)."""
    files = sandbox.state.github.repos[repo].files
    lines = files[key].split("\n")
    prompts = [i for i, line in enumerate(lines) if line.startswith("| _(")]
    for i, row in zip(prompts, actions, strict=False):
        lines[i] = row
    files[key] = "\n".join(lines)


def _action_issues(sandbox: Sandbox) -> list[dict[str, Any]]:
    issues = sandbox.state.github.repos[sandbox.state.runbook_repo].issues
    return [i for i in issues if any(lb["name"] == "coe-action" for lb in i["labels"])]


def _issue_of(sandbox: Sandbox, repo: str, words: str) -> list[dict[str, Any]]:
    """This test's action issues (their body links its COE's pull request) whose title has `words`."""
    return [
        i for i in _action_issues(sandbox) if words in str(i["title"]) and f"/{repo}/pull/" in str(i["body"])
    ]


def _calls(sandbox: Sandbox, repo: str, since: int) -> dict[str, int]:
    """The requests of the run to the postmortem repository, by kind."""
    served = [s for s in sandbox.app.served[since:] if s.path.startswith(f"/github/repos/{repo}/")]
    return {
        "pull lookups": sum(1 for s in served if s.method == "GET" and "/pulls" in s.path),
        "file reads": sum(1 for s in served if s.method == "GET" and "/contents/" in s.path),
        "tree listings": sum(1 for s in served if "/git/trees/" in s.path),
        "commits": sum(1 for s in served if s.method == "PUT" and "/contents/" in s.path),
        "all": len(served),
    }


def _pull(sandbox: Sandbox, repo: str) -> dict[str, Any]:
    [pull] = [i for i in sandbox.state.github.repos[repo].issues if "_pr" in i]
    return pull


def test_a_tracked_markdown_coe_is_read_in_two_requests_and_each_action_is_filed_and_linked_once(
    repo: str, google: Sandbox
) -> None:
    sandbox = google
    key = _prepared(sandbox, repo)
    _write_actions(
        sandbox,
        repo,
        key,
        [
            "| Page on consumer queue depth | Ada | | 2026-12-20 |",
            "| Rehearse the snapshot restore | Grace | | |",
        ],
    )
    actions = sandbox.state.runbook_repo
    # GitHub files the first issue and the link commit, and both answers are lost
    sandbox.script(f"/github/repos/{actions}/issues", 502, method="POST", after=True, times=1)
    sandbox.script(f"/github/repos/{repo}/contents/", 502, method="PUT", after=True, times=1)
    mark = len(sandbox.app.served)
    result = coe_review(meeting=MEETING, deliver=[])
    calls = _calls(sandbox, repo, mark)
    # the budget: one pull request look-up and one file read; then the one commit (sent once,
    # its lost answer settled by reading the file back)
    assert calls["pull lookups"] == 1 and calls["tree listings"] == 0, calls
    assert calls["file reads"] == 2 and calls["commits"] == 1, calls
    assert result["on_agenda"] == 1 and result["unreadable"] == 0 and result["actions_filed"] == 2
    [queue], [drill] = (
        _issue_of(sandbox, repo, "consumer queue depth"),
        _issue_of(sandbox, repo, "Rehearse the snapshot restore"),
    )
    assert "**Due:** 2026-12-20" in queue["body"] and str(rows(sandbox, LONG)[0][DOC]) in queue["body"]
    text = sandbox.state.github.repos[repo].files[key]
    for issue in (queue, drill):
        assert len(re.findall(rf"\[{actions}#{issue['number']}\]\(\S+/issues/{issue['number']}\)", text)) == 1
    assert rows(sandbox, LONG)[0][STATUS] == "In review"  # the tracker stays the tracker

    mark = len(sandbox.app.served)
    again = coe_review(meeting=MEETING, deliver=[])
    calls = _calls(sandbox, repo, mark)
    assert again["actions_filed"] == 0 and calls["commits"] == 0
    assert calls == {"pull lookups": 1, "file reads": 1, "tree listings": 0, "commits": 0, "all": 2}
    assert (
        len(_issue_of(sandbox, repo, "consumer queue depth")) == 1
        and len(_issue_of(sandbox, repo, "Rehearse the snapshot restore")) == 1
    )
    assert sandbox.state.github.repos[repo].files[key] == text


def test_a_person_s_edit_between_the_read_and_the_link_wins_and_the_next_run_links(
    repo: str, google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = google
    key = _prepared(sandbox, repo)
    _write_actions(sandbox, repo, key, ["| Alarm on archive lag | Ada | | |"])
    original = GitHubClient.put_file

    def edited_meanwhile(self: GitHubClient, *args: Any, **kwargs: Any) -> None:
        files = sandbox.state.github.repos[repo].files
        files[key] = files[key].replace("## Lessons learned", "## Lessons learned\n\nWritten by Grace.")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GitHubClient, "put_file", edited_meanwhile)
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 1  # GitHub answers 409
    monkeypatch.setattr(GitHubClient, "put_file", original)
    text = sandbox.state.github.repos[repo].files[key]
    assert "Written by Grace." in text and "](" not in text.split("Alarm on archive lag")[1].split("\n")[0]
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 0
    [issue] = _issue_of(sandbox, repo, "archive lag")
    text = sandbox.state.github.repos[repo].files[key]
    assert f"#{issue['number']}](" in text and "Written by Grace." in text


def test_without_a_tracker_the_pull_request_s_state_is_the_status_and_one_listing_finds_every_coe(
    repo: str, google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = google
    monkeypatch.delenv("ONCALL_COE_SHEET_ID")
    key = _prepared(sandbox, repo)
    _write_actions(sandbox, repo, key, ["| Add a canary for enrolment | Ada | | |"])
    sheet = [list(r) for r in sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"]]
    for google_setting in ("ONCALL_GOOGLE_SERVICE_ACCOUNT", "ONCALL_COE_TEMPLATE_ID"):
        monkeypatch.delenv(google_setting)  # a team keeping its COEs in git may have no Google key
    mark = len(sandbox.app.served)
    draft = coe_review(meeting=MEETING, dry_run=True)
    assert _calls(sandbox, repo, mark) == {
        "pull lookups": 1,  # the one listing
        "file reads": 1,
        "tree listings": 0,
        "commits": 0,
        "all": 2,
    }
    assert not any(s.system == "google" for s in sandbox.app.served[mark:])  # no Google needed
    assert draft["on_agenda"] == 1 and draft["status_changes"] == 0
    assert "(opening)" not in str(draft["agenda"])  # the marker line is no section of the COE
    _pull(sandbox, repo)["_pr"]["draft"] = False  # marked ready for review
    ready = coe_review(meeting=MEETING, deliver=[])
    assert ready["status_changes"] == 0 and ready["actions_filed"] == 1
    assert sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"] == sheet  # no status written
    [issue] = _issue_of(sandbox, repo, "canary for enrolment")
    assert f"#{issue['number']}](" in sandbox.state.github.repos[repo].files[key]
    assert coe_actions(incident_id=LONG)["filed"] == 0  # by hand, the same COE: nothing twice

    _pull(sandbox, repo)["state"] = "closed"  # withdrawn: off the agenda, not read
    mark = len(sandbox.app.served)
    assert coe_review(meeting=MEETING, deliver=[])["on_agenda"] == 0
    assert _calls(sandbox, repo, mark)["file reads"] == 0


def test_a_merged_coe_is_read_from_its_base_and_its_links_are_not_written(
    repo: str, google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = google
    key = _prepared(sandbox, repo)
    _write_actions(sandbox, repo, key, ["| Rotate the replica certs | Ada | | |"])
    files = sandbox.state.github.repos[repo].files
    path = key.rsplit("@", 1)[0]
    merge_pull(sandbox.state.github, repo, _pull(sandbox, repo)["number"])  # merged on github.com,
    del files[key]  # and the branch deleted
    mark = len(sandbox.app.served)
    result = coe_review(meeting=MEETING, deliver=[])  # the tracker still says Draft: on the agenda
    assert result["on_agenda"] == 1 and result["unreadable"] == 0 and result["actions_filed"] == 1
    assert _calls(sandbox, repo, mark)["commits"] == 0 and "](" not in files[f"{path}@main"]
    # without a tracker, merged is Done: neither on the agenda nor read
    monkeypatch.delenv("ONCALL_COE_SHEET_ID")
    mark = len(sandbox.app.served)
    assert coe_review(meeting=MEETING, deliver=[])["on_agenda"] == 0
    assert _calls(sandbox, repo, mark) == {
        "pull lookups": 1,
        "file reads": 0,
        "tree listings": 0,
        "commits": 0,
        "all": 1,
    }
    assert len(_issue_of(sandbox, repo, "replica certs")) == 1


def test_a_missing_pull_request_or_file_is_a_problem_naming_the_coe_and_the_run_goes_on(
    repo: str, google: Sandbox
) -> None:
    sandbox = google
    key = _prepared(sandbox, repo)
    [row] = rows(sandbox, LONG)
    link = str(row[DOC])
    tracker = sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"]
    nowhere = link.rsplit("/", 1)[0] + "/999"
    tracker.append(["inc-nowhere", "Hand-added", "2026-11-20 09:00", "", "P2", nowhere, "Ada", "Draft", ""])
    text = sandbox.state.github.repos[repo].files.pop(key)  # the file is gone from the branch
    result = coe_review(meeting=MEETING, deliver=["artifact"], dry_run=True)
    agenda = str(result["agenda"])
    assert result["on_agenda"] == 2 and result["unreadable"] == 2
    assert "pull request \\#999 does not exist" in agenda or "pull request #999 does not exist" in agenda
    assert "inc-nowhere" in agenda and LONG in agenda and "restore the COE file" in agenda
    renamed = key.rsplit("@", 1)[0].removesuffix(".md") + "-renamed.md"
    sandbox.state.github.repos[repo].files[f"{renamed}@{branch_name(LONG)}"] = text
    mark = len(sandbox.app.served)
    found = coe_review(meeting=MEETING, deliver=[], dry_run=True)  # renamed: found by its marker
    assert found["unreadable"] == 1 and _calls(sandbox, repo, mark)["tree listings"] == 1


def test_a_link_commit_github_refuses_for_an_outage_is_made_by_the_next_run_and_files_nothing_again(
    repo: str, google: Sandbox
) -> None:
    sandbox = google
    key = _prepared(sandbox, repo)
    _write_actions(sandbox, repo, key, ["| Bound the binlog volume | Ada | | |"])
    sandbox.script(f"/github/repos/{repo}/contents/", 503, method="PUT", times=50)  # not acted on
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 1
    sandbox.app.script.clear()
    assert (
        "]("
        not in sandbox.state.github.repos[repo].files[key].split("Bound the binlog volume")[1].split("\n")[0]
    )
    mark = len(sandbox.app.served)
    assert coe_actions(incident_id=LONG)["linked"] == 1  # by hand: links the one issue, files none
    assert _calls(sandbox, repo, mark)["commits"] == 1
    [issue] = _issue_of(sandbox, repo, "binlog volume")
    assert f"#{issue['number']}](" in sandbox.state.github.repos[repo].files[key]
    assert (
        coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 0
        and len(_issue_of(sandbox, repo, "binlog")) == 1
    )
