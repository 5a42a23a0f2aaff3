"""coe-review's reading of COEs kept as markdown: the tracker's pull request links, the status
a pull request stands for, the file's actions table with its cells' offsets, and the issue links
written into it; from plain data."""

from __future__ import annotations

import pytest

from oncall.coe import TEMPLATE
from oncall.coe_action_filing import links_to_write
from oncall.coe_actions import read_actions
from oncall.coe_markdown import (
    body_path,
    body_priority,
    branch_marker,
    branch_name,
    coe_marker,
    file_blocks,
    file_on_call,
    indexed_blocks,
    link_cells,
    md_value,
    pull_body,
    pull_title,
    title_day,
)
from oncall.coe_review import (
    DONE,
    DRAFT,
    IN_REVIEW,
    PullLink,
    build_agenda,
    default_template_blocks,
    plan_status,
    pull_link,
    pull_status,
    read_entry,
    to_read,
    to_read_pulls,
)
from oncall.coe_sections import completeness
from oncall.models import IssueRef

TZ = "America/New_York"
REFERENCE = default_template_blocks()
PR = "https://github.com/acme/postmortems/pull/7"


def _file(*actions: str, incident: str = "inc-1") -> str:
    """The default template as coe-prep commits it, its first action rows filled by a person."""
    lines = [coe_marker(incident), *TEMPLATE.read_text(encoding="utf-8").split("\n")]
    prompts = [i for i, line in enumerate(lines) if line.startswith("| _(")]
    for i, row in zip(prompts, actions, strict=False):
        lines[i] = row
    return "\n".join(lines)


def _issue(number: int) -> IssueRef:
    return IssueRef(
        number=number,
        title="t",
        body="",
        state="open",
        html_url=f"https://github.com/acme/ops/issues/{number}",
    )


@pytest.mark.parametrize(
    ("link", "want"),
    [
        (PR, PullLink(repo="acme/postmortems", number=7)),
        (f"  {PR}/files  ", PullLink(repo="acme/postmortems", number=7)),
        ("https://ghe.example.com/acme/pm/pull/12#discussion", PullLink(repo="acme/pm", number=12)),
        ("http://127.0.0.1:9/github/acme/pm/pull/3", PullLink(repo="acme/pm", number=3)),
        ("https://github.com/acme/postmortems/issues/7", None),
        ("https://docs.google.com/document/d/1abcdefghijk/edit", None),
        ("see the PR", None),
    ],
)
def test_a_tracker_link_to_a_pull_request_is_read_as_one(link: str, want: PullLink | None) -> None:
    assert pull_link(link) == want


def _row(link: str, status: str = "Draft") -> list[object]:
    return ["inc-1", "Outage", "2026-11-21 14:05", "", "P2", link, "Ada", status, ""]


def test_an_entry_linking_a_pull_request_is_read_as_markdown_and_is_no_problem_on_the_agenda() -> None:
    entry = read_entry(2, _row(PR), TZ)
    assert (
        entry is not None
        and entry.doc_id is None
        and entry.pull == PullLink(repo="acme/postmortems", number=7)
    )
    assert to_read([entry]) == [] and to_read_pulls([entry]) == [entry]
    other = read_entry(3, _row("in Confluence"), TZ)
    assert other is not None and other.pull is None and to_read_pulls([other]) == []
    agenda = build_agenda([entry, other], {}, {}, entry.start)  # type: ignore[arg-type]
    problems = {i.entry.row: i.problems for i in agenda.items}
    assert problems[2] == () and "pull request" in problems[3][0] and "row 3" in problems[3][0]
    done = read_entry(4, _row(PR, "Done"), TZ)
    assert done is not None and to_read_pulls([done]) == []


@pytest.mark.parametrize(
    ("state", "draft", "merged", "want"),
    [
        ("open", True, False, DRAFT),
        ("open", False, False, IN_REVIEW),
        ("closed", False, True, DONE),
        ("closed", True, True, DONE),
        ("closed", False, False, None),  # withdrawn: not reviewed until reopened
    ],
)
def test_without_a_tracker_the_pull_request_s_state_is_the_status(
    state: str, draft: bool, merged: bool, want: str | None
) -> None:
    assert pull_status(state, draft, merged) == want


def test_the_flow_writes_no_status_for_a_coe_without_a_tracker_row() -> None:
    entry = read_entry(2, _row(PR), TZ)
    assert entry is not None
    assert plan_status(entry, on_agenda=True, ready=False) is not None  # tracked: Draft -> In review
    untracked = entry.model_copy(update={"tracked": False})
    assert plan_status(untracked, on_agenda=True, ready=True) is None


def test_the_pull_request_s_own_words_name_the_file_the_day_and_the_priority() -> None:
    """Read from what coe-prep writes, so the two cannot drift apart."""
    values = {
        "incident.id": "inc-1",
        "incident.priority": "P2",
        "incident.duration": "47m 00s",
        "incident.link": PR,
    }
    path = "postmortems/2026-11-21-xpro-down.md"
    body = pull_body(values, path)
    assert body_path(body) == path and body_priority(body) == "P2"
    assert title_day(pull_title("COE 2026-11-21 xPro down")) == "2026-11-21"
    assert body_path("A person rewrote this.") is None and title_day("xPro down") is None


@pytest.mark.parametrize("incident", ["inc-7f3a-0001", "INC 42/β", "x" * 90])
def test_the_marker_is_found_from_the_branch_alone(incident: str) -> None:
    assert branch_marker(branch_name(incident)) == coe_marker(incident)


def test_the_file_reads_against_the_default_template_without_its_marker_line() -> None:
    on_call = md_value("Ada (primary)")
    text = _file().replace("{{oncall.at_start}}", on_call)
    found = completeness(REFERENCE, file_blocks(text))
    assert found.extra == () and not found.complete
    assert file_on_call(text) == "Ada (primary)"


def test_each_filed_action_s_link_goes_into_its_issue_cell_and_reads_back_as_that_issue() -> None:
    text = _file("| Page on queue age | Ada | | 2026-12-20 |", "| Drill the restore | Grace |   | |")
    table = read_actions(file_blocks(text), REFERENCE, "the COE")
    assert [r.action for r in table.rows] == ["Page on queue age", "Drill the restore"] and not table.problems
    filed = {f"doc:{r.fingerprint}": _issue(n) for r, n in zip(table.rows, (12, 13), strict=True)}
    back = links_to_write("doc", "sha", table, filed, "acme/ops")
    assert len(back.links) == 2 and back.unwritable == ()
    after = link_cells(text, back.links)
    assert (
        "| Page on queue age | Ada | [acme/ops#12](https://github.com/acme/ops/issues/12) | 2026-12-20 |"
        in after
    )
    assert "| Drill the restore | Grace | [acme/ops#13](https://github.com/acme/ops/issues/13) | |" in after
    changed = [line for line in after.split("\n") if line not in text.split("\n")]
    assert len(changed) == 2  # nothing else in the file moves
    again = read_actions(file_blocks(after), REFERENCE, "the COE")
    assert [(r.issue.repo, r.issue.number) for r in again.rows if r.issue] == [
        ("acme/ops", 12),
        ("acme/ops", 13),
    ]
    assert again.unfiled == () and links_to_write("doc", "sha", again, filed, "acme/ops").links == ()


def test_offsets_hold_in_a_crlf_file_and_past_a_fenced_pipe_table() -> None:
    fenced = "```\n| action | owner | issue | due |\n| not | a | table | row |\n```\n"
    text = _file("| Page on lag | Ada | | |").replace(
        "## Corrective actions", fenced + "## Corrective actions"
    )
    text = text.replace("\n", "\r\n")
    table = read_actions(file_blocks(text), REFERENCE, "the COE")
    [row] = table.rows
    back = links_to_write("doc", "sha", table, {f"doc:{row.fingerprint}": _issue(5)}, "acme/ops")
    after = link_cells(text, back.links)
    assert "| Page on lag | Ada | [acme/ops#5](https://github.com/acme/ops/issues/5) | |\r\n" in after
    assert "| not | a | table | row |" in after and after.count("\r\n") == text.count("\r\n")


def test_a_table_whose_lines_do_not_read_back_is_left_without_offsets_and_nothing_is_written() -> None:
    text = _file("|| Page on lag | Ada | | |")  # a doubled pipe: the reader drops it, the offsets would not
    table = read_actions(indexed_blocks(text), REFERENCE, "the COE")
    rows = [r for r in table.rows if r.action == "Page on lag"]
    assert rows and rows[0].issue_cell is None
    back = links_to_write("doc", "sha", table, {f"doc:{rows[0].fingerprint}": _issue(5)}, "acme/ops")
    assert back.links == () and back.unwritable == ("Page on lag",)


def test_a_cell_that_is_not_the_empty_one_read_is_never_overwritten() -> None:
    text = _file("| Page on lag | Ada | | |")
    table = read_actions(file_blocks(text), REFERENCE, "the COE")
    [row] = table.rows
    [link] = links_to_write("doc", "sha", table, {f"doc:{row.fingerprint}": _issue(5)}, "acme/ops").links
    with pytest.raises(ValueError, match="not the empty one read"):
        link_cells(text.replace("| Page on lag | Ada | | |", "| Page on lag | Ada | #9 | |"), [link])
