"""coe-review end to end: the agenda from the tracker and the documents, within its read budget,
with statuses that never overwrite a person's and Slack posts made once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.coe_review import coe_review
from oncall.sandbox.server import Sandbox
from oncall.tracker import TRACKER_HEADER
from tasks.coe_review import STATUS_RECORD
from tests.flows.conftest import LONG, rows

STATUS = TRACKER_HEADER.index("Status")
MEETING = "2026-12-10"  # a Thursday of the default cadence, three weeks after the seeded incident


@pytest.fixture
def review(google: Sandbox) -> Iterator[Sandbox]:
    """The seeded long incident's COE, prepared; the review's own records cleared after."""
    del google.state.sheets[google.state.coe_sheet]["COE tracker"][1:]  # rows other tests left
    coe_prep(incident_id=LONG)
    yield google
    Variable.unset(STATUS_RECORD)
    Variable.unset("oncall-slack-posted-coe-review")


def _reads(sandbox: Sandbox, since: int) -> dict[str, int]:
    served = [s for s in sandbox.app.served[since:] if s.system == "google"]
    return {
        "sheet reads": sum(1 for s in served if s.method == "GET" and "/values/" in s.path),
        "document reads": sum(1 for s in served if s.method == "GET" and "/docs/v1/documents/" in s.path),
        "writes": sum(1 for s in served if s.method in ("POST", "PUT") and not s.path.endswith("/token")),
    }


def _add_row(sandbox: Sandbox, incident: str, link: str, status: str) -> None:
    row = [incident, f"Hand-added {incident}", "2026-11-20 09:00", "", "P2", link, "Ada", status, ""]
    sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"].append(row)


def test_the_agenda_reads_the_sheet_once_and_each_open_document_once(
    review: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = review
    monkeypatch.setenv("ONCALL_COE_NUDGE_DAYS", "60")  # no nudge: this test counts the agenda's post
    gone = "https://docs.google.com/document/d/1deletedDocumentIdxx/edit"
    _add_row(sandbox, "inc-gone", gone, "Draft")
    _add_row(sandbox, "inc-done", "https://docs.google.com/document/d/1finishedDocumentIdx/edit", "Done")
    mark, posts = len(sandbox.app.served), len(sandbox.state.slack.messages)
    result = coe_review(meeting=MEETING)
    reads = _reads(sandbox, mark)
    # 1 sheet read; the template and the two COEs not Done; nothing for the Done one
    assert reads["sheet reads"] == 1 and reads["document reads"] == 3, reads
    assert result["on_agenda"] == 2 and result["unreadable"] == 1 and result["incomplete"] == 1
    [row] = rows(sandbox, LONG)
    assert row[STATUS] == "In review"  # the agenda includes it
    by_id = {r[0]: r for r in sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"]}
    assert by_id["inc-gone"][STATUS] == "In review" and by_id["inc-done"][STATUS] == "Done"
    [agenda] = sandbox.state.slack.messages[posts:]
    assert "2 COE(s)" in agenda["text"]

    mark = len(sandbox.app.served)
    again = coe_review(meeting=MEETING)
    assert again["status_changes"] == 0 and len(sandbox.state.slack.messages) == posts + 1  # posted once
    assert _reads(sandbox, mark)["writes"] == 0


def test_a_status_a_person_set_is_left_even_when_it_is_one_of_the_flow_s_words(review: Sandbox) -> None:
    sandbox = review
    coe_review(meeting=MEETING, deliver=[])
    [row] = rows(sandbox, LONG)
    assert row[STATUS] == "In review"
    row[STATUS] = "Draft"  # a person moved it back
    mark = len(sandbox.app.served)
    result = coe_review(meeting=MEETING, deliver=[])
    assert result["status_changes"] == 0 and _reads(sandbox, mark)["writes"] == 0
    row[STATUS] = "Blocked on vendor"
    assert coe_review(meeting=MEETING, deliver=[])["status_changes"] == 0
    assert rows(sandbox, LONG)[0][STATUS] == "Blocked on vendor"


def test_an_old_incomplete_coe_is_nudged_once_per_meeting(
    review: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = review
    monkeypatch.setenv("ONCALL_COE_NUDGE_DAYS", "7")
    monkeypatch.setenv("ONCALL_SLACK_MEMBER_IDS", '{"nobody": "U0NOBODY1"}')
    posts = len(sandbox.state.slack.messages)
    assert coe_review(meeting=MEETING)["nudges"] == 1
    texts = [m["text"] for m in sandbox.state.slack.messages[posts:]]
    assert len(texts) == 2 and "please write" in texts[1] and "<@" not in texts[1]  # no id for the presenter
    coe_review(meeting=MEETING)
    assert len(sandbox.state.slack.messages) == posts + 2  # neither posted twice
    coe_review(meeting="2026-12-24")  # the next meeting: its own agenda and nudge
    assert len(sandbox.state.slack.messages) == posts + 4


def test_a_dry_run_writes_and_posts_nothing_and_returns_the_agenda(review: Sandbox) -> None:
    sandbox = review
    mark, posts = len(sandbox.app.served), len(sandbox.state.slack.messages)
    result = coe_review(meeting=MEETING, dry_run=True)
    assert result["status_changes"] == 1 and "# COE review" in str(result["agenda"])
    assert _reads(sandbox, mark)["writes"] == 0 and len(sandbox.state.slack.messages) == posts
    assert rows(sandbox, LONG)[0][STATUS] == "Draft"


def test_a_meeting_that_is_not_a_date_is_one_line_naming_the_parameter(review: Sandbox) -> None:
    from oncall.errors import InputError

    with pytest.raises(InputError, match="meeting 'soon'"):
        coe_review(meeting="soon")


def _actions(sandbox: Sandbox, rows: list[str]) -> str:
    """The COE's corrective-actions table as a person filled it in; returns the document id."""
    [doc_id] = [
        f for f, m in sandbox.state.google.files.items() if m["appProperties"].get("oncallIncidentId") == LONG
    ]
    paragraphs = sandbox.state.google.docs[doc_id]
    prompts = [p for p in paragraphs if p.text.startswith("| _(")]
    for p, text in zip(prompts, rows, strict=False):
        p.text = text
    return doc_id


def _action_issues(sandbox: Sandbox) -> list[dict[str, object]]:
    repo = sandbox.state.github.repos[sandbox.state.runbook_repo]
    return [i for i in repo.issues if any(lb["name"] == "coe-action" for lb in i["labels"])]


def test_each_action_becomes_one_issue_whatever_the_reruns_and_lost_answers(review: Sandbox) -> None:
    sandbox = review
    _actions(
        sandbox,
        [
            "| Alarm at 80% disk on @xpro-db (see #12) | Ada | | 2026-12-31 |",
            "| Write the RDS runbook entry | Grace | | next sprint-ish |",
        ],
    )
    repo = sandbox.state.runbook_repo
    sandbox.script(f"/github/repos/{repo}/issues", 502, method="POST", after=True)  # filed, answer lost
    result = coe_review(meeting=MEETING, deliver=[])
    [issue] = [i for i in _action_issues(sandbox) if "80% disk" in str(i["title"])]
    body = str(issue["body"])
    assert result["actions_filed"] == 1 and "oncall-flows:coe-action" in body
    assert (
        "**Owner:** Ada" in body and "**Due:** 2026-12-31" in body and "**Incident:** inc-7f3a-0001" in body
    )
    assert "@xpro" not in body and "#12" not in body  # a person's text mentions nobody and links nothing
    # the row with a due date that does not read as a date is a problem, not an issue
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 0
    assert [i for i in _action_issues(sandbox) if "80% disk" in str(i["title"])] == [issue]


def test_a_dry_run_files_no_action(review: Sandbox) -> None:
    sandbox = review
    _actions(sandbox, ["| Add a canary for checkout | Ada | | |"])
    before = len(_action_issues(sandbox))
    coe_review(meeting=MEETING, dry_run=True)
    assert len(_action_issues(sandbox)) == before


def test_the_hand_off_shows_the_shift_s_coe_and_the_open_corrective_actions(review: Sandbox) -> None:
    from flows.shift_handoff import shift_handoff

    sandbox = review
    _actions(sandbox, ["| Add a canary for checkout | Ada | | |"])
    coe_review(meeting=MEETING, deliver=[])  # files the action; the COE goes In review
    mark = len(sandbox.app.served)
    md = shift_handoff(shift_end="2026-11-24T10:00", deliver=["artifact"], dry_run=True)
    [row] = rows(sandbox, LONG)
    line = next(x for x in md.splitlines() if LONG.split("-")[-1] in x or "47m" in x)
    assert "| COE |" in md and f"({row[TRACKER_HEADER.index('COE doc')]})" in line
    assert "In review" in line and "sections (" in line
    open_now = [i for i in _action_issues(sandbox) if i["state"] == "open"]  # earlier tests' too
    actions = md.split(f"## Open corrective actions ({len(open_now)})")[1]
    assert "Add a canary for checkout" in actions and LONG in actions
    # the COE's reads: one sheet read, the team's template Doc and the shift's one open COE
    assert _reads(sandbox, mark) == {"sheet reads": 1, "document reads": 2, "writes": 0}


def test_coe_actions_files_one_coe_s_actions_once_and_a_dry_run_files_nothing(review: Sandbox) -> None:
    from flows.coe_review import coe_actions
    from oncall.errors import InputError

    sandbox = review
    _actions(sandbox, ["| Page on replica lag | Ada | | 2027-01-15 |", "| | Grace | | |"])
    before = len(_action_issues(sandbox))
    planned = coe_actions(incident_id=LONG, dry_run=True)
    assert planned["planned"] == 1 and len(_action_issues(sandbox)) == before
    assert coe_actions(incident_id=LONG)["filed"] == 1  # the row with an owner and no action waits
    [issue] = [i for i in _action_issues(sandbox) if "replica lag" in str(i["title"])]
    assert "**Due:** 2027-01-15" in str(issue["body"])
    assert coe_actions(incident_id=LONG)["filed"] == 0 and len(_action_issues(sandbox)) == before + 1
    with pytest.raises(InputError, match="no COE for 'inc-nope' in the tracker"):
        coe_actions(incident_id="inc-nope")


def _issue_cells(sandbox: Sandbox, doc_id: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each action row's issue cell (its text and links), as the document now reads."""
    from oncall.coe_doc import blocks_from_docs
    from oncall.sandbox.google_fake import content_json

    content, _ = content_json(sandbox.state.google.docs[doc_id].body, 1)
    blocks = blocks_from_docs({"body": {"content": content}})
    table = next(b for b in blocks if b.kind == "table" and b.rows and b.rows[0][0].text == "action")
    return {r[0].text: (r[2].text, r[2].links) for r in table.rows[1:] if r[0].text}


def test_each_filed_action_s_link_is_written_into_its_issue_cell_once(review: Sandbox) -> None:
    sandbox = review
    doc_id = _actions(sandbox, ["| Page on queue age | Ada | | |", "| Drill the restore | Grace | | |"])
    result = coe_review(meeting=MEETING, deliver=[])
    assert result["actions_filed"] == 2
    numbers = {str(i["title"]).removeprefix("COE action: "): i["number"] for i in _action_issues(sandbox)}
    cells = _issue_cells(sandbox, doc_id)
    repo = sandbox.state.runbook_repo
    for action in ("Page on queue age", "Drill the restore"):
        text, links = cells[action]
        assert (
            text == f"{repo}#{numbers[action]}" and links and links[0].endswith(f"/issues/{numbers[action]}")
        )
    revision = sandbox.state.google.revisions[doc_id]
    again = coe_review(meeting=MEETING, deliver=[])  # the link is the row's identity now
    assert again["actions_filed"] == 0 and sandbox.state.google.revisions[doc_id] == revision


def test_a_write_back_that_fails_or_meets_a_person_s_edit_is_finished_by_the_next_run(
    review: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oncall.clients.google import GoogleWorkspace

    sandbox = review
    doc_id = _actions(sandbox, ["| Alarm on WAL lag | Ada | | |"])
    # Docs is down for the write-back: the issue is filed, the cell stays empty, the run goes on
    sandbox.script(f"/google/docs/v1/documents/{doc_id}:batchUpdate", 503, times=20)
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 1
    sandbox.app.script.clear()
    assert _issue_cells(sandbox, doc_id)["Alarm on WAL lag"][0] == ""
    # next run: a person edits the document between the read and the write: the lock refuses it
    original = GoogleWorkspace.link_cells

    def edited_meanwhile(self: GoogleWorkspace, doc: str, revision: str, links: object) -> str:
        sandbox.state.google.edit(doc)  # a person typed somewhere: the revision moves
        return original(self, doc, revision, links)  # type: ignore[arg-type]

    monkeypatch.setattr(GoogleWorkspace, "link_cells", edited_meanwhile)
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 0
    assert _issue_cells(sandbox, doc_id)["Alarm on WAL lag"][0] == ""
    monkeypatch.setattr(GoogleWorkspace, "link_cells", original)
    # and the run after links the one issue, filing none
    assert coe_review(meeting=MEETING, deliver=[])["actions_filed"] == 0
    [issue] = [i for i in _action_issues(sandbox) if "WAL lag" in str(i["title"])]
    assert _issue_cells(sandbox, doc_id)["Alarm on WAL lag"][0].endswith(f"#{issue['number']}")


def test_a_written_coe_whose_actions_are_closed_becomes_done_and_the_team_is_told_once(
    review: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = review
    monkeypatch.setenv("ONCALL_COE_NUDGE_DAYS", "60")
    doc_id = _actions(sandbox, ["| Set binlog retention | Ada | | 2026-12-15 |"])
    for prompt, written in (
        ("Runbook entries used:", "Runbook entries used: db.md#disk;"),
        ("Who was affected", "About 300 learners could not submit answers. Who was affected"),
        ("How did we find out", "The DiskUsageWarning alert paged Ada. How did we find out"),
        ("_What broke, and why? State the technical cause without blame._", "Binlogs were kept forever."),
        ("5. Why did that happen?", "5. Why did that happen? Nobody owned retention."),
        ("What stopped the bleeding", "Purged old binlogs. What stopped the bleeding"),
        ("What went well?", "What went well? The alert fired within two minutes."),
    ):
        sandbox.state.google.edit(doc_id, prompt, written)
    posts = len(sandbox.state.slack.messages)
    first = coe_review(meeting=MEETING, deliver=["slack"])
    assert first["actions_filed"] == 1 and first["incomplete"] == 0 and first["done"] == 0
    [row] = rows(sandbox, LONG)
    assert row[STATUS] == "In review"  # written, but its action is open
    [issue] = [i for i in _action_issues(sandbox) if "binlog retention" in str(i["title"])]
    issue.update(state="closed", state_reason="completed", closed_at="2026-12-09T10:00:00Z")
    assert coe_review(meeting=MEETING, deliver=["slack"])["done"] == 1
    [row] = rows(sandbox, LONG)
    assert row[STATUS] == "Done"
    told = [m for m in sandbox.state.slack.messages[posts:] if "is done" in m["text"]]
    assert len(told) == 1 and "every corrective action is closed" in told[0]["text"]
    coe_review(meeting=MEETING, deliver=["slack"])  # a Done COE is not read, and not told again
    assert len([m for m in sandbox.state.slack.messages[posts:] if "is done" in m["text"]]) == 1


def test_two_actions_runs_at_once_file_each_action_once_and_link_it_once(review: Sandbox) -> None:
    import threading

    from flows.coe_review import coe_actions

    sandbox = review
    doc_id = _actions(
        sandbox, ["| Rotate the xpro db credentials | Ada | | |", "| Cap binlog size | Grace | | |"]
    )
    sandbox.faults("github", latency_ms=20)
    results: list[dict[str, int | str]] = []
    runs = [threading.Thread(target=lambda: results.append(coe_actions(incident_id=LONG))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    sandbox.faults("github", latency_ms=0)
    assert len(results) == 2 and sum(int(r["filed"]) for r in results) == 2
    titles = [str(i["title"]) for i in _action_issues(sandbox)]
    assert titles.count("COE action: Rotate the xpro db credentials") == 1
    assert titles.count("COE action: Cap binlog size") == 1
    cells = _issue_cells(sandbox, doc_id)
    repo = sandbox.state.runbook_repo
    for action in ("Rotate the xpro db credentials", "Cap binlog size"):
        text, links = cells[action]
        assert text.startswith(f"{repo}#") and text.count("#") == 1 and len(links) == 1, cells


def test_a_tracker_that_cannot_be_read_leaves_the_hand_off_without_coe_claims(review: Sandbox) -> None:
    from flows.shift_handoff import shift_handoff

    sandbox = review
    sandbox.script("/google/sheets/", 503, times=50)
    md = shift_handoff(shift_end="2026-11-24T10:00", deliver=["artifact"], dry_run=True)
    sandbox.app.script.clear()
    assert "COEs: the tracker could not be read" in md
    line = next(x for x in md.splitlines() if "47m" in x)
    assert "needed" not in line and "review" not in line.casefold()  # no COE state is guessed
