"""coe-review's pure core: a COE read back as blocks, each section's completeness against the
team's own template, the corrective-actions table, the agenda, nudges and status transitions,
and the agenda as markdown and Slack.

Documents are built the way they reach the flow: the default template filled by coe-prep's own
`coe_values`, then edited as people edit (answers typed after prompts, prompts deleted, sections
renamed, moved, deleted or added), and read back either as markdown or as a Docs
`documents.get` body whose headings are styles, whose bullets carry no marker character, and
whose tables are real tables.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oncall.coe import TEMPLATE, coe_values, fill
from oncall.coe_actions import (
    ActionColumns,
    IssueLink,
    action_fingerprint,
    parse_due,
    parse_issue,
    read_actions,
)
from oncall.coe_doc import Block, BlockKind, Cell, blocks_from_docs, blocks_from_markdown, document_id
from oncall.coe_review import (
    DONE,
    DRAFT,
    IN_REVIEW,
    STATUS_COLUMN,
    Agenda,
    CoeEntry,
    build_agenda,
    document_problem,
    done_key,
    done_ready,
    next_meeting,
    nudge_key,
    plan_nudges,
    plan_status,
    read_entries,
    read_entry,
    to_read,
)
from oncall.coe_review_render import (
    SLACK_HEADER,
    SLACK_SECTION,
    render_agenda_markdown,
    render_agenda_slack,
    render_done,
    render_nudge,
)
from oncall.coe_sections import Completeness, SectionState, SectionStatus, completeness
from oncall.models import Priority, TimelineEntry
from oncall.tracker import TRACKER_HEADER
from tests.factories import alert, coe_facts, incident

TZ = "America/New_York"
DOC = "COE 2026-11-18 Disk full on db-1"
TEMPLATE_TEXT = TEMPLATE.read_text(encoding="utf-8")
TEMPLATE_BLOCKS = blocks_from_markdown(TEMPLATE_TEXT)
TO_WRITE: tuple[str, ...] = (
    *("Links", "Impact", "Detection", "Root cause", "Five whys", "Mitigation and resolution"),
    *("Corrective actions", "Lessons learned"),
)


def _filled() -> str:
    """The default template as coe-prep fills it: multi-line alert list and timeline included."""
    inc = incident(
        message="Disk full on db-1",
        priority=Priority.P2,
        resolved_at=datetime(2026, 11, 18, 16, 30, tzinfo=UTC),
        created_at=datetime(2026, 11, 18, 15, 0, tzinfo=UTC),
    )
    at = inc.created_at + timedelta(minutes=2)
    related = [
        alert("DiskUsageWarning db-1", at=at),
        alert("HighLatency api", at=at),
        alert("Disk db-2", at=at),
    ]
    timeline = [
        TimelineEntry(at=at, origin="incident", kind="Acknowledge", text="acked by alice", actor="alice"),
        TimelineEntry(
            at=at + timedelta(minutes=5), origin="alert-note", kind="note", text="restarted", actor="bob"
        ),
    ]
    return fill(TEMPLATE_TEXT, coe_values(coe_facts(inc, related=related, timeline=timeline, timezone=TZ)))


FILLED = _filled()


def _state(c: Completeness) -> dict[str, SectionState]:
    return {s.name: s.state for s in c.sections}


def _answer(text: str, after: str, answer: str) -> str:
    """`answer` typed on the line after the first line containing `after`."""
    assert after in text, after
    head, tail = text.split(after, 1)
    line_end = tail.index("\n")
    return head + after + tail[:line_end] + "\n" + answer + tail[line_end:]


def _written_everywhere() -> str:
    text = FILLED
    text = _answer(text, "Runbook entries used:", "- https://github.com/mitodl/runbooks/blob/main/db.md#disk")
    text = _answer(text, "Who was affected", "About 300 learners could not submit answers.")
    text = _answer(text, "How did we find out", "The DiskUsageWarning alert paged alice.")
    text = text.replace(
        "_What broke, and why? State the technical cause without blame._", "Binlogs were kept forever."
    )
    text = text.replace("5. Why did that happen?", "5. Why did that happen? Nobody owned retention.")
    text = _answer(text, "What stopped the bleeding", "Purged old binlogs, then set expire_logs_days.")
    text = text.replace("| _(prevent it)_ | | | |", "| Set binlog retention | alice | | 2026-12-15 |")
    text = text.replace("- What went well?", "- What went well? The alert fired within two minutes.")
    return text


# -- the document as blocks --------------------------------------------------------------------


def test_a_document_id_comes_from_a_docs_link_or_a_bare_id() -> None:
    assert (
        document_id("https://docs.google.com/document/d/1AbCdEfGhIjK_lm-no/edit#heading=h.1")
        == "1AbCdEfGhIjK_lm-no"
    )
    assert document_id("  1AbCdEfGhIjK_lm-no ") == "1AbCdEfGhIjK_lm-no"
    assert document_id("see the folder") is None
    assert document_id("") is None


def test_markdown_blocks_keep_headings_tables_and_fenced_text() -> None:
    blocks = blocks_from_markdown(
        "# Title\n\n## Part ##\ntext\n| a | b |\n|---|---|\n| 1 | 2 |\n```\n# not a heading\n```\n"
    )
    kinds = [(b.kind, b.level, b.text) for b in blocks if b.kind is not BlockKind.TABLE]
    assert kinds[:3] == [
        (BlockKind.HEADING, 1, "Title"),
        (BlockKind.HEADING, 2, "Part"),
        (BlockKind.PARAGRAPH, 0, "text"),
    ]
    assert (BlockKind.PARAGRAPH, 0, "# not a heading") in kinds
    table = next(b for b in blocks if b.kind is BlockKind.TABLE)
    assert [[c.text for c in r] for r in table.rows] == [["a", "b"], ["1", "2"]]


def _run(text: str, url: str | None = None) -> dict[str, Any]:
    style: dict[str, Any] = {"link": {"url": url}} if url else {}
    return {"textRun": {"content": text, "textStyle": style}}


def _para(
    *elements: dict[str, Any], style: str = "NORMAL_TEXT", bullet: bool = False, at: int = 1
) -> dict[str, Any]:
    para: dict[str, Any] = {"elements": list(elements), "paragraphStyle": {"namedStyleType": style}}
    if bullet:
        para["bullet"] = {"listId": "kix.1"}
    return {"startIndex": at, "paragraph": para}


def _docs_table(rows: list[list[list[dict[str, Any]]]], at: int = 500) -> dict[str, Any]:
    return {
        "startIndex": at,
        "table": {
            "rows": len(rows),
            "tableRows": [
                {
                    "tableCells": [
                        {"content": [_para(*els, at=at + 10 * i + j)] if els else []}
                        for j, els in enumerate(r)
                    ]
                }
                for i, r in enumerate(rows)
            ],
        },
    }


def docs_body(markdown: str) -> dict[str, Any]:
    """A markdown COE as Docs holds it after upload and editing: heading styles, bullets as list
    paragraphs without their marker, soft line breaks, and tables as tables."""
    content: list[dict[str, Any]] = [{"endIndex": 1, "sectionBreak": {}}]
    table: list[list[list[dict[str, Any]]]] = []
    for n, line in enumerate(markdown.split("\n")):
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                table.append([[_run(c + "\n")] for c in cells])  # an empty cell holds a newline, as in Docs
            continue
        if table:
            content.append(_docs_table(table))
            table = []
        if m := re.match(r"(#{1,6}) (.*)", line):
            content.append(_para(_run(m.group(2) + "\n"), style=f"HEADING_{len(m.group(1))}", at=n))
        elif line.startswith("- "):
            content.append(_para(_run(line[2:] + "\n"), bullet=True, at=n))
        else:
            content.append(_para(_run(line + "\n"), at=n))
    if table:
        content.append(_docs_table(table))
    return {"documentId": "d1", "revisionId": "rev-3", "body": {"content": content}}


def test_docs_blocks_read_styles_chips_links_and_tables() -> None:
    body = {
        "body": {
            "content": [
                {"sectionBreak": {}},
                _para(_run("The COE\n"), style="TITLE"),
                _para(_run("Impact\n"), style="HEADING_2"),
                _para(_run("line one\x0bline two\n"), bullet=True),
                _docs_table(
                    [
                        [[_run("action\n")], [_run("owner\n")], [_run("issue\n")]],
                        [
                            [_run("Add alert\n")],
                            [{"person": {"personProperties": {"name": "Alice Ng", "email": "a@x.org"}}}],
                            [
                                {
                                    "richLink": {
                                        "richLinkProperties": {
                                            "title": "Add alert #12",
                                            "uri": "https://github.com/o/r/issues/12",
                                        }
                                    }
                                }
                            ],
                        ],
                        [
                            [{"dateElement": {"dateElementProperties": {"displayText": "Dec 15, 2026"}}}],
                            [],
                            [_run("#4\n", "https://github.com/o/r/issues/4")],
                        ],
                    ]
                ),
            ]
        }
    }
    blocks = blocks_from_docs(body)
    assert [(b.kind, b.level, b.text) for b in blocks[:3]] == [
        (BlockKind.HEADING, 1, "The COE"),
        (BlockKind.HEADING, 2, "Impact"),
        (BlockKind.PARAGRAPH, 0, "line one\nline two"),
    ]
    rows = blocks[3].rows
    assert [c.text for c in rows[1]] == ["Add alert", "Alice Ng", "Add alert #12"]
    assert rows[1][2].links == ("https://github.com/o/r/issues/12",)
    assert (
        rows[2][0].text == "Dec 15, 2026"
        and rows[2][1].text == ""
        and rows[2][2].links == ("https://github.com/o/r/issues/4",)
    )
    assert rows[1][0].start_index == 510 and blocks[3].start_index == 500


def test_docs_blocks_read_pipe_paragraphs_as_a_table_and_the_first_tab() -> None:
    # The sandbox imports markdown a paragraph per line; a team may paste a markdown table.
    paras = [
        _para(_run(line + "\n")) for line in ("| action | owner |", "|---|---|", "| Fix it | bo |", "after")
    ]
    tabbed = {"tabs": [{"documentTab": {"body": {"content": paras}}}]}
    blocks = blocks_from_docs(tabbed)
    assert blocks[0].kind is BlockKind.TABLE
    assert [[c.text for c in r] for r in blocks[0].rows] == [["action", "owner"], ["Fix it", "bo"]]
    assert blocks[1].text == "after"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"body": []},
        {"body": {"content": "x"}},
        {"body": {"content": [1, None, {"paragraph": {"elements": "x"}}]}},
        {
            "body": {
                "content": [
                    {"table": {"tableRows": [{"tableCells": [None, {"content": [{"paragraph": None}]}]}]}}
                ]
            }
        },
    ],
)
def test_a_malformed_docs_answer_gives_fewer_blocks_not_an_exception(body: dict[str, Any]) -> None:
    blocks = blocks_from_docs(body)
    assert all(isinstance(b, Block) for b in blocks)
    assert all(b.kind is BlockKind.TABLE for b in blocks)  # no text came through: nothing else to show


# -- completeness -------------------------------------------------------------------------------


def test_a_fresh_copy_holds_only_prompts_and_its_facts_are_not_writing() -> None:
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(FILLED))
    states = _state(c)
    assert {n for n, s in states.items() if s is SectionState.PROMPTS} == set(TO_WRITE)
    assert {n for n, s in states.items() if s is SectionState.PREFILLED} == {
        "COE: {{incident.title}}",
        "Overview",
        "Timeline",
        "Analysis",
    }
    assert (c.written, c.total, c.complete, c.extra) == (0, 8, False, ())
    assert c.figure == "0/8 sections (0%)"
    assert (
        "DiskUsageWarning" in FILLED and "restarted" in FILLED
    )  # the multi-line values were there to be ignored


def test_a_partly_written_copy_counts_the_sections_with_answers() -> None:
    text = _answer(FILLED, "How did we find out", "A learner told us on the forum first.")
    text = text.replace(
        "_What broke, and why? State the technical cause without blame._", "Binlogs filled the disk."
    )
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert {n for n, s in _state(c).items() if s is SectionState.WRITTEN} == {"Detection", "Root cause"}
    assert c.figure == "2/8 sections (25%)"
    assert [s.name for s in c.unwritten] == [n for n in TO_WRITE if n not in ("Detection", "Root cause")]
    assert next(s for s in c.sections if s.name == "Root cause").written_lines == 1


def test_a_fully_written_copy_is_complete_in_markdown_and_read_back_from_docs() -> None:
    text = _written_everywhere()
    for blocks in (blocks_from_markdown(text), blocks_from_docs(docs_body(text))):
        c = completeness(TEMPLATE_BLOCKS, blocks)
        assert c.complete, c.unwritten
        assert c.ratio == 1.0


def test_docs_read_back_of_a_fresh_copy_agrees_with_markdown() -> None:
    from_docs = completeness(blocks_from_docs(docs_body(TEMPLATE_TEXT)), blocks_from_docs(docs_body(FILLED)))
    from_md = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(FILLED))
    assert _state(from_docs) == _state(from_md)


def test_prompts_deleted_and_nothing_written_is_empty_not_written() -> None:
    text = FILLED
    for prompt in (
        "- Who was affected, and how many? _(users, courses, orders, API clients)_",
        "- What could they not do, and for how long?",
        "- Was any data lost or corrupted? Did we breach an SLA or a promise?",
        "_What broke, and why? State the technical cause without blame._",
    ):
        assert prompt in text
        text = text.replace(prompt, "")
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert _state(c)["Impact"] is SectionState.EMPTY
    assert _state(c)["Root cause"] is SectionState.EMPTY
    assert c.written == 0


def test_prompts_reformatted_or_trimmed_are_still_prompts() -> None:
    text = FILLED.replace(
        "- Who was affected, and how many? _(users, courses, orders, API clients)_",
        "*   WHO was affected,   and how many?",
    )
    text = text.replace("1. Why did the service fail?", "Why did the service fail")  # Docs numbering, no "1."
    text = text.replace("- What went well?", "• What went **well**")
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert (
        _state(c)["Impact"] is _state(c)["Five whys"] is _state(c)["Lessons learned"] is SectionState.PROMPTS
    )


@pytest.mark.parametrize("answer", ["No.", "- n/a: nobody was affected", "Ja, 3 Kurse", "🙂"])
def test_any_text_that_is_not_the_prompt_is_writing(answer: str) -> None:
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(_answer(FILLED, "Did we breach an SLA", answer)))
    expected = SectionState.PROMPTS if answer == "🙂" else SectionState.WRITTEN  # an emoji has no words
    assert _state(c)["Impact"] is expected


def test_an_edited_fact_line_or_timeline_entry_is_not_an_answer() -> None:
    text = FILLED.replace("- Impacted services: not available", "- Impacted services: mysql, edxapp")
    text = _answer(text, "Add what people did and decided", "2026-11-18 10:07 · carol · paged the DBA")
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert _state(c)["Overview"] is _state(c)["Timeline"] is SectionState.PREFILLED
    assert c.written == 0


def test_an_answer_between_the_question_and_the_alert_list_is_writing() -> None:
    text = FILLED.replace(
        "Related alerts (3):", "We only noticed when the forum lit up.\n\nRelated alerts (3):"
    )
    assert (
        _state(completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text)))["Detection"] is SectionState.WRITTEN
    )


def test_renamed_sections_are_found_by_words_prompts_or_place() -> None:
    text = FILLED.replace("## Impact", "## Customer impact")  # words kept
    text = text.replace("### Five whys", "### 5 Whys?")  # prompts kept
    text = text.replace(
        "## Lessons learned\n\n- What went well?", "## Retro\n\n- The pager worked."
    )  # rewritten in place
    text = text.replace("### Mitigation and resolution", "### Fix")  # renamed, prompts kept
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    found = {s.name: (s.found_as, s.state) for s in c.sections}
    assert found["Impact"] == ("Customer impact", SectionState.PROMPTS)
    assert found["Five whys"] == ("5 Whys?", SectionState.PROMPTS)
    assert found["Mitigation and resolution"] == ("Fix", SectionState.PROMPTS)
    assert found["Lessons learned"] == ("Retro", SectionState.WRITTEN)
    assert c.extra == ()


def test_a_deleted_section_is_missing_and_an_added_one_is_listed_but_not_counted() -> None:
    start, end = FILLED.index("## Impact"), FILLED.index("## Detection")
    text = FILLED[:start] + FILLED[end:]
    text = text.replace(
        "## Lessons learned", "## Customer comms\n\nWe emailed every course team.\n\n## Lessons learned"
    )
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert _state(c)["Impact"] is SectionState.MISSING
    assert c.extra == ("Customer comms",)
    assert (c.written, c.total) == (0, 8)
    assert "Impact" in [s.name for s in c.unwritten]


def test_reordered_sections_keep_their_state() -> None:
    text = _answer(FILLED, "What went badly?", "Paging took 20 minutes.")
    lessons = text[text.index("## Lessons learned") :]
    text = text.replace(lessons, "")
    text = text.replace("## Links", lessons + "\n## Links")
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert _state(c)["Lessons learned"] is SectionState.WRITTEN
    assert _state(c)["Links"] is SectionState.PROMPTS
    assert c.extra == ()


TEAM_TEMPLATE = """# Postmortem {{incident.tiny_id}}

## Summary
{{incident.title}}, {{incident.duration}}, {{incident.priority}}

## What happened
{{timeline}}

## Customer impact
Describe who noticed and what they saw.

## Root cause analysis
Why did it happen?

## Follow-ups
| Action | Owner | Issue | Due | Notes |
|---|---|---|---|---|
| describe the follow-up | | | | |

## Retro
What would we do differently?
"""


def test_a_teams_own_template_is_the_reference() -> None:
    template = blocks_from_markdown(TEAM_TEMPLATE)
    values = {
        "incident.tiny_id": "77",
        "incident.title": "Queue stuck",
        "incident.duration": "41m",
        "incident.priority": "P1",
        "timeline": "10:00 · alice · ack\n10:05 · bob · restarted",
    }
    doc = fill(TEAM_TEMPLATE, values)
    fresh = completeness(template, blocks_from_markdown(doc))
    assert _state(fresh) == {
        "Postmortem {{incident.tiny_id}}": SectionState.PREFILLED,
        "Summary": SectionState.PREFILLED,
        "What happened": SectionState.PREFILLED,
        "Customer impact": SectionState.PROMPTS,
        "Root cause analysis": SectionState.PROMPTS,
        "Follow-ups": SectionState.PROMPTS,
        "Retro": SectionState.PROMPTS,
    }
    written = doc.replace("Why did it happen?", "A consumer deadlocked.").replace(
        "| describe the follow-up | | | | |", "| Add a deadlock alarm | bo | | 2027-01-10 | soon |"
    )
    c = completeness(template, blocks_from_markdown(written))
    assert c.figure == "2/4 sections (50%)"
    # The default template's headings mean nothing to this team's document.
    assert completeness(TEMPLATE_BLOCKS, blocks_from_markdown(written)).extra


def test_hostile_and_huge_text_is_judged_quickly() -> None:
    flood = "<!channel> {{incident.title}} \u202e" + "x" * 200_000
    text = _answer(FILLED, "Who was affected", flood)
    text = text.replace("## Links", "## Links \u200b\u200b<script>")
    begun = time.perf_counter()
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(text))
    assert time.perf_counter() - begun < 2.0
    assert _state(c)["Impact"] is SectionState.WRITTEN
    assert next(s for s in c.sections if s.name == "Links").found_as == "Links \u200b\u200b<script>"


def test_a_hostile_line_against_a_fact_line_with_many_placeholders_is_judged_quickly() -> None:
    template = blocks_from_markdown(
        "## Scope\n\nSeen by {{a}} at {{b}} in {{c}} region\n\nWho else saw it?\n"
    )
    fact = "Seen by alice at 10:00 in us-east region"
    hostile = "Seen by " + "at in " * 50_000 + "zzz"
    begun = time.perf_counter()
    states = [
        _state(completeness(template, blocks_from_markdown(f"## Scope\n\n{line}\n\nWho else saw it?\n")))[
            "Scope"
        ]
        for line in (fact, hostile)
    ]
    assert time.perf_counter() - begun < 2.0
    assert states == [SectionState.PROMPTS, SectionState.WRITTEN]


def test_a_document_with_thousands_of_added_sections_is_judged_quickly() -> None:
    doc = blocks_from_markdown(FILLED + "".join(f"## Note {i}\n\nline {i}\nmore\n" for i in range(3000)))
    begun = time.perf_counter()
    c = completeness(TEMPLATE_BLOCKS, doc)
    assert time.perf_counter() - begun < 5.0  # about 0.6 s here; 9 s before headings were read once
    assert (len(c.extra), c.written) == (3000, 0)


def test_a_template_with_no_prompts_is_complete_with_nothing_to_write() -> None:
    template = blocks_from_markdown("# COE {{incident.id}}\n\n{{timeline}}\n")
    c = completeness(template, blocks_from_markdown("# COE i1\n\nsomething\n"))
    assert (c.total, c.complete, c.ratio) == (0, True, 1.0)


# -- corrective actions ---------------------------------------------------------------------------

ROWS = """| action | owner | issue | due |
|---|---|---|---|
| Set binlog retention | alice | https://github.com/mitodl/ops/issues/12 | 2026-12-15 |
| Alert on disk at 80% | Bob Li | #14 | Dec 20, 2026 |
| Runbook: purge binlogs | | mitodl/runbooks#3 | TBD |
| Automate the purge | carol | | |
"""


def _with_rows(rows: str) -> str:
    start = FILLED.index("| action | owner | issue | due |")
    end = FILLED.index("## Lessons learned")
    return FILLED[:start] + rows + "\n" + FILLED[end:]


def _actions(text: str, columns: ActionColumns | None = None) -> Any:
    return read_actions(blocks_from_markdown(text), TEMPLATE_BLOCKS, DOC, columns)


def test_an_untouched_table_has_no_rows_and_no_problems() -> None:
    table = _actions(FILLED)
    assert (table.found, table.rows, table.problems) == (True, (), ())


def test_rows_become_typed_actions() -> None:
    table = _actions(_with_rows(ROWS))
    assert table.problems == ()
    assert [(r.row, r.action, r.owner, r.issue, r.due) for r in table.rows] == [
        (
            1,
            "Set binlog retention",
            "alice",
            IssueLink(number=12, repo="mitodl/ops", url="https://github.com/mitodl/ops/issues/12"),
            date(2026, 12, 15),
        ),
        (2, "Alert on disk at 80%", "Bob Li", IssueLink(number=14), date(2026, 12, 20)),
        (3, "Runbook: purge binlogs", None, IssueLink(number=3, repo="mitodl/runbooks"), None),
        (4, "Automate the purge", "carol", None, None),
    ]
    assert [r.action for r in table.unfiled] == ["Automate the purge"]


def test_columns_in_another_order_with_extra_ones_and_docs_chips_read_the_same() -> None:
    rows = "| Due | **Issue** | Notes | ACTION | Owner |\n|---|---|---|---|---|\n| 2026-12-15 | | first | Set binlog retention | alice |\n"
    table = read_actions(blocks_from_docs(docs_body(_with_rows(rows))), TEMPLATE_BLOCKS, DOC)
    assert [(r.action, r.owner, r.due, r.issue) for r in table.rows] == [
        ("Set binlog retention", "alice", date(2026, 12, 15), None)
    ]
    assert table.rows[0].issue_cell is not None  # the write-back knows where the issue cell is


def test_an_issue_chip_links_its_issue() -> None:
    assert parse_issue(Cell(text="Set retention", links=("https://github.com/o/r/issues/9",))) == IssueLink(
        number=9, repo="o/r", url="https://github.com/o/r/issues/9"
    )
    assert parse_issue(Cell(text="")) is None


def test_a_renamed_column_is_one_problem_naming_the_document_and_the_fix() -> None:
    table = _actions(_with_rows(ROWS.replace("| action | owner |", "| task | owner |")))
    assert table.rows == () and len(table.problems) == 1
    problem = str(table.problems[0])
    assert problem.startswith(DOC + ":")
    assert "'task'" in problem and "rename them to action, owner, issue, due" in problem
    assert "is 'task' the 'action' column?" in problem


def test_two_renamed_columns_are_both_named() -> None:
    problem = str(
        _actions(_with_rows(ROWS.replace("| owner | issue |", "| assignee | ticket |"))).problems[0]
    )
    assert "owner, issue not found" in problem and "the 'owner' column?" not in problem


def test_a_teams_own_column_names_are_read_when_configured() -> None:
    rows = "| What | Who | Ticket | By |\n|---|---|---|---|\n| Fix it | bo | | 2027-01-02 |\n"
    columns = ActionColumns(action="What", owner="Who", issue="Ticket", due="By")
    assert [r.action for r in _actions(_with_rows(rows), columns).rows] == ["Fix it"]
    assert _actions(_with_rows(rows)).problems  # with the default names it is a renamed table


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("| | carol | | |", "owner 'carol' but no action"),
        ("| _(prevent it)_ | carol | | 2026-12-01 |", "owner 'carol' and due '2026-12-01' but no action"),
        ("| | | #12 | |", "issue '#12' but no action"),
    ],
)
def test_a_row_with_an_owner_but_no_action_is_a_problem(row: str, fragment: str) -> None:
    table = _actions(_with_rows(ROWS + row + "\n"))
    assert len(table.rows) == 4
    (problem,) = table.problems
    assert (
        problem.row == 5
        and fragment in problem.message
        and "write the action in the 'action' cell" in problem.message
    )
    assert str(problem).startswith(f"{DOC}, row 5:")


@pytest.mark.parametrize("due", ["next sprint", "12/01/2026", "2026-13-01", "31 Feb 2027"])
def test_a_due_date_that_does_not_parse_is_a_problem_and_the_row_waits(due: str) -> None:
    table = _actions(_with_rows(ROWS + f"| Add a dashboard | dee | | {due} |\n"))
    assert "Add a dashboard" not in [r.action for r in table.rows]
    (problem,) = table.problems
    assert repr(due) in problem.message and "YYYY-MM-DD" in problem.message and problem.document == DOC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-15", date(2026, 12, 15)),
        ("2026/12/15", date(2026, 12, 15)),
        ("Dec 15, 2026", date(2026, 12, 15)),
        ("15 December 2026", date(2026, 12, 15)),
        ("  tbd ", None),
        ("—", None),
        ("", None),
    ],
)
def test_due_dates_people_write_are_read(text: str, expected: date | None) -> None:
    assert parse_due(text) == expected


def test_an_issue_cell_that_is_not_a_github_issue_is_never_filed_again() -> None:
    table = _actions(_with_rows(ROWS + "| Rotate the keys | ed | OPS-42 | |\n"))
    assert "Rotate the keys" not in [r.action for r in table.rows]
    assert "'OPS-42', not a GitHub issue" in table.problems[0].message


def test_a_repeated_unfiled_action_is_a_problem_not_a_second_issue() -> None:
    table = _actions(_with_rows(ROWS + "|  automate THE purge. | fay | | |\n"))
    assert [r.action for r in table.rows].count("Automate the purge") == 1
    assert "repeats the action of row 4" in table.problems[0].message


def test_a_missing_table_is_a_problem_unless_the_template_has_none() -> None:
    start, end = FILLED.index("| action |"), FILLED.index("## Lessons learned")
    without = FILLED[:start] + FILLED[end:]
    (problem,) = _actions(without).problems
    assert "no corrective-actions table" in str(problem) and DOC in str(problem)
    no_table = blocks_from_markdown("# COE\n\n## Notes\nwrite here\n")
    assert read_actions(no_table, no_table, DOC).problems == ()


def test_the_fingerprint_follows_the_words_not_the_spacing() -> None:
    assert action_fingerprint("Set binlog retention") == action_fingerprint("  set   BINLOG retention.")
    assert action_fingerprint("Set binlog retention") != action_fingerprint("Set binlog retention to 7 days")
    assert re.fullmatch(r"[0-9a-f]{16}", action_fingerprint("x"))


# -- the tracker, the agenda, nudges and status ------------------------------------------------------

MEETING = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # Thu 10:00 New York


def _row(
    incident_id: str,
    *,
    start: str = "2026-11-18 10:00",
    priority: str = "P2",
    status: str = DRAFT,
    on_call: str = "Alice Ng",
    link: str | None = None,
) -> list[object]:
    link = link if link is not None else f"https://docs.google.com/document/d/doc-{incident_id}-xxxxxxxx/edit"
    return [
        incident_id,
        f"Outage {incident_id}",
        start,
        "0:42",
        priority,
        link,
        on_call,
        status,
        "2026-12-03",
    ]


def _entry(incident_id: str, number: int = 2, **kw: Any) -> CoeEntry:
    entry = read_entry(number, _row(incident_id, **kw), TZ)
    assert entry is not None
    return entry


def test_a_tracker_row_reads_back_as_an_entry() -> None:
    e = _entry("i7", 9)
    assert (e.row, e.incident_id, e.priority, e.on_call, e.status) == (
        9,
        "i7",
        Priority.P2,
        "Alice Ng",
        DRAFT,
    )
    assert e.start == datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    assert e.doc_id == "doc-i7-xxxxxxxx"
    serial = read_entry(3, ["i8", "t", 46344.5, 0.03, "—", "x", "", "", ""], TZ)
    assert serial is not None and serial.start == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert (serial.priority, serial.doc_id, serial.status) == (None, None, DRAFT)  # blank status: a draft
    assert read_entry(4, ["", "a note"], TZ) is None
    short = read_entry(5, ["i9"], TZ)
    assert short is not None and short.start is None and short.title == ""


def test_the_whole_tracker_reads_back_in_one_pass_with_sheet_row_numbers() -> None:
    values: list[list[object]] = [list(TRACKER_HEADER), _row("a"), [], ["", "note"], _row("b")]
    assert [(e.row, e.incident_id) for e in read_entries(values, TZ)] == [(2, "a"), (5, "b")]
    assert [e.row for e in read_entries([_row("a")], TZ)] == [1]  # a range read without its header


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        (404, "restore it from Drive's trash or share it"),
        (403, "share it with ops@x.iam as an editor"),
        (400, "Save as Google Docs"),
        (503, "the next run tries again"),
        (None, "no answer"),
    ],
)
def test_an_unreadable_document_names_the_coe_and_the_fix(status: int | None, fix: str) -> None:
    problem = document_problem(_entry("i3"), status, "ops@x.iam")
    assert problem.startswith("COE for i3 (https://docs.google.com/document/d/doc-i3-xxxxxxxx/edit): ")
    assert fix in problem


def test_only_coes_not_done_and_with_a_document_are_read() -> None:
    entries = [
        _entry("a"),
        _entry("b", status=" done "),
        _entry("c", link="ask Bo"),
        _entry("d", status="Blocked"),
    ]
    assert [e.incident_id for e in to_read(entries)] == ["a", "d"]


def _complete(done: bool) -> Completeness:
    state = SectionState.WRITTEN if done else SectionState.PROMPTS
    return Completeness(
        sections=(
            SectionStatus(name="Impact", found_as="Impact", state=state),
            SectionStatus(name="Root cause", found_as="Root cause", state=SectionState.WRITTEN),
        )
    )


def test_the_agenda_is_by_priority_then_oldest_first_without_done_coes() -> None:
    entries = [
        _entry("young-p2", start="2026-11-30 10:00"),
        _entry("old-p2", start="2026-11-10 10:00"),
        _entry("p1", priority="P1", start="2026-12-01 10:00"),
        _entry("nopri", priority="—", start="2026-11-01 10:00"),
        _entry("nostart-p2", start="soon"),
        _entry("done", status="Done", priority="P1"),
        _entry("nodoc", priority="P3", link=""),
    ]
    agenda = build_agenda(
        entries, {"old-p2": _complete(False)}, {"young-p2": ["young-p2's doc: gone"]}, MEETING
    )
    assert [i.entry.incident_id for i in agenda.items] == [
        "p1",
        "old-p2",
        "young-p2",
        "nostart-p2",
        "nodoc",
        "nopri",
    ]
    by_id = {i.entry.incident_id: i for i in agenda.items}
    assert by_id["old-p2"].age == MEETING - datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    assert by_id["old-p2"].presenter == "Alice Ng"
    assert by_id["young-p2"].problems == ("young-p2's doc: gone",)
    assert "not a Google Docs link" in by_id["nodoc"].problems[0] and "row 2" in by_id["nodoc"].problems[0]
    assert (
        _entry("x", on_call="").on_call == ""
        and build_agenda([_entry("x", on_call="")], {}, {}, MEETING).items[0].presenter == "nobody on record"
    )


def _agenda(*items: tuple[str, bool | None, str]) -> Agenda:
    """(incident id, complete or None for unread, start) per COE."""
    entries = [_entry(i, start=s, on_call="Alice Ng, bob") for i, _, s in items]
    read = {i: _complete(done) for i, done, _ in items if done is not None}
    return build_agenda(entries, read, {}, MEETING)


def test_nudges_go_to_incomplete_coes_older_than_the_age_once_per_meeting() -> None:
    agenda = _agenda(
        ("old", False, "2026-11-10 10:00"),
        ("young", False, "2026-12-01 10:00"),
        ("complete", True, "2026-11-01 10:00"),
        ("unread", None, "2026-11-01 10:00"),
    )
    ids = {"alice ng": "U012ABCDEF"}
    nudges = plan_nudges(agenda, timedelta(days=7), ids)
    assert [n.incident_id for n in nudges] == ["old"]
    assert (nudges[0].mentions, nudges[0].unnamed) == (("U012ABCDEF",), ("bob",))
    assert nudges[0].key == nudge_key("old", MEETING)
    assert plan_nudges(agenda, timedelta(days=7), ids, already={nudges[0].key}) == []
    next_time = Agenda(meeting=MEETING + timedelta(days=14), items=agenda.items)
    assert nudge_key("old", next_time.meeting) != nudges[0].key
    assert [n.incident_id for n in plan_nudges(agenda, timedelta(days=1), {})] == ["old", "young"]


@pytest.mark.parametrize("bad_id", ["U1>|<!channel>", "<!here>", "alice", "u012abcdef", ""])
def test_a_slack_id_that_is_not_a_member_id_never_becomes_a_mention(bad_id: str) -> None:
    (nudge,) = plan_nudges(
        _agenda(("old", False, "2026-11-10 10:00")), timedelta(days=7), {"Alice Ng": bad_id}
    )
    assert nudge.mentions == () and nudge.unnamed == ("Alice Ng", "bob")


def test_status_moves_draft_to_in_review_and_in_review_to_done_only() -> None:
    draft, review = _entry("a"), _entry("b", status="in review")
    change = plan_status(draft, on_agenda=True, ready=False)
    assert change is not None and (change.before, change.after, change.column, change.row) == (
        DRAFT,
        IN_REVIEW,
        STATUS_COLUMN,
        2,
    )
    assert TRACKER_HEADER[STATUS_COLUMN] == "Status"
    assert plan_status(draft, on_agenda=False, ready=True) is None  # Done comes after a review
    done = plan_status(review, on_agenda=True, ready=True)
    assert done is not None and done.after == DONE
    assert plan_status(review, on_agenda=True, ready=False) is None
    assert plan_status(_entry("c", status=DONE), on_agenda=True, ready=True) is None


@pytest.mark.parametrize(
    ("status", "last_written"),
    [("Blocked", None), ("Won't fix", IN_REVIEW), (DRAFT, IN_REVIEW), (IN_REVIEW, DRAFT)],
)
def test_a_status_a_person_set_is_left_alone(status: str, last_written: str | None) -> None:
    assert (
        plan_status(_entry("a", status=status), on_agenda=True, ready=True, last_written=last_written) is None
    )


def test_a_status_the_flow_last_wrote_still_moves() -> None:
    change = plan_status(_entry("a", status=IN_REVIEW), on_agenda=True, ready=True, last_written=" in review")
    assert change is not None and change.after == DONE


def test_done_needs_complete_sections_and_every_action_issue_closed() -> None:
    table = _actions(_with_rows(ROWS.replace("| Automate the purge | carol | | |\n", "")))
    closed = [
        IssueLink(number=12, repo="mitodl/ops"),
        IssueLink(number=14, repo="mitodl/ops"),
        IssueLink(number=3, repo="mitodl/runbooks"),
    ]
    assert done_ready(_complete(True), table, closed)
    assert not done_ready(_complete(False), table, closed)
    assert not done_ready(None, table, closed)
    assert not done_ready(_complete(True), table, closed[:2])  # one still open
    assert not done_ready(_complete(True), _actions(_with_rows(ROWS)), closed)  # one not filed yet
    with_problem = _actions(
        _with_rows(ROWS.replace("| Automate the purge | carol | | |\n", "| | carol | | |\n"))
    )
    assert not done_ready(_complete(True), with_problem, closed)
    assert not done_ready(_complete(True), _actions(FILLED), [])  # no actions at all: nothing was learned
    assert done_key("a") != done_key("b")


def test_the_next_meeting_is_every_other_thursday_at_ten_local_across_dst() -> None:
    anchor = date(2026, 10, 22)  # a Thursday meeting, daylight time
    assert next_meeting(datetime(2026, 10, 20, tzinfo=UTC), anchor, 2, 10, 0, TZ) == datetime(
        2026, 10, 22, 14, 0, tzinfo=UTC
    )
    after_dst = next_meeting(datetime(2026, 10, 22, 14, 0, tzinfo=UTC), anchor, 2, 10, 0, TZ)
    assert after_dst == datetime(2026, 11, 5, 15, 0, tzinfo=UTC)  # 10:00 EST
    assert next_meeting(datetime(2026, 11, 6, tzinfo=UTC), anchor, 2, 10, 0, TZ) == datetime(
        2026, 11, 19, 15, 0, tzinfo=UTC
    )
    with pytest.raises(Exception, match="whole number of weeks"):
        next_meeting(MEETING, anchor, 0, 10, 0, TZ)


# -- rendering ------------------------------------------------------------------------------------

HOSTILE = "<!channel> *bold* [x](javascript:alert(1)) | `code` @here <script>"


def test_the_markdown_agenda_lists_each_coe_and_escapes_what_people_typed() -> None:
    entries = [_entry("p1", priority="P1", on_call="@here"), _entry("p3", priority="P3")]
    entries[0] = entries[0].model_copy(update={"title": HOSTILE})
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(FILLED))
    agenda = build_agenda(
        entries, {"p1": c}, {"p3": ["COE p3: the document was deleted; share it again"]}, MEETING
    )
    md = render_agenda_markdown(agenda, TZ)
    assert md.index("Outage p3") > md.index("\\[x\\]")
    assert (
        "0/8 sections (0%)" in md and "[open](https://docs.google.com/document/d/doc-p1-xxxxxxxx/edit)" in md
    )
    # The UI's markdown shows a backslash-escaped character as typed: nothing unescaped remains.
    assert not re.search(r"(?<!\\)(<script>|\]\(javascript|<!channel>)", md)
    assert "\\<script>" in md
    assert all(
        line.count(" | ") == 6 for line in md.splitlines() if line.startswith("| 1 ")
    )  # no cell breakout
    assert "Still to write: Links (prompts only)" in md and "To fix: COE p3: the document was deleted" in md
    assert "Nothing to review" in render_agenda_markdown(Agenda(meeting=MEETING, items=()), TZ)


def test_the_slack_agenda_stays_inside_slacks_limits_and_pings_nobody() -> None:
    entries = [
        _entry(f"i{n}", start="2026-11-10 10:00").model_copy(update={"title": HOSTILE * 40})
        for n in range(120)
    ]
    c = completeness(TEMPLATE_BLOCKS, blocks_from_markdown(FILLED))
    agenda = build_agenda(
        entries,
        {e.incident_id: c for e in entries},
        {e.incident_id: [HOSTILE * 20] * 3 for e in entries},
        MEETING,
    )
    payload = render_agenda_slack(agenda, TZ, "https://prefect.example/artifacts/1")
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= SLACK_HEADER
    texts = [b["text"]["text"] for b in blocks[1:-1]]
    assert all(len(t) <= SLACK_SECTION for t in texts)
    assert "…and 80 more" in blocks[-1]["elements"][0]["text"]
    assert "<https://prefect.example/artifacts/1|Full agenda>" in blocks[-1]["elements"][0]["text"]
    everything = str(payload)
    assert "<!channel>" not in everything and "<script>" not in everything and "@here" not in everything
    assert "<https://docs.google.com/document/d/doc-i0-xxxxxxxx/edit|" in texts[0]


def test_a_nudge_mentions_only_configured_ids_and_says_what_is_unwritten() -> None:
    agenda = _agenda(("old", False, "2026-11-10 10:00"))
    item = agenda.items[0]
    (with_id,) = plan_nudges(agenda, timedelta(days=7), {"Alice Ng": "U012ABCDEF"})
    text = render_nudge(with_id, item, MEETING, TZ)["text"]
    assert (
        "<@U012ABCDEF>" in text
        and "bob" in text
        and "Impact (prompts only)" in text
        and "1/2 sections" in text
    )
    (without,) = plan_nudges(agenda, timedelta(days=7), {})
    assert "<@" not in render_nudge(without, item, MEETING, TZ)["text"]
    hostile = _agenda(("old", False, "2026-11-10 10:00"))
    hostile_item = hostile.items[0].model_copy(
        update={"entry": hostile.items[0].entry.model_copy(update={"on_call": HOSTILE})}
    )
    hostile = Agenda(meeting=MEETING, items=(hostile_item,))
    (nudge,) = plan_nudges(hostile, timedelta(days=7), {HOSTILE: "U012ABCDEF"})
    assert "<!channel>" not in render_nudge(nudge, hostile_item, MEETING, TZ)["text"]


def test_the_done_message_links_the_coe() -> None:
    text = render_done(_entry("a"))["text"]
    assert "<https://docs.google.com/document/d/doc-a-xxxxxxxx/edit|Outage a>" in text and "is done" in text


def test_review_rrule_is_every_other_thursday_by_default_and_agrees_with_next_meeting() -> None:
    from dateutil.rrule import rrulestr

    from oncall.coe_review import meeting_clock, next_meeting, review_rrule
    from oncall.settings import Settings

    s = Settings()
    rule = review_rrule(s.coe_review_anchor, s.coe_review_every_weeks, s.coe_review_at)
    assert rule.endswith("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH")
    tz = "America/New_York"
    after = datetime(2026, 12, 2, 12, tzinfo=UTC)
    hour, minute = meeting_clock(s.coe_review_at)
    meeting = next_meeting(after, s.coe_review_anchor, s.coe_review_every_weeks, hour, minute, tz)
    local = meeting.astimezone(ZoneInfo(tz))
    first = rrulestr(rule).after(local.replace(tzinfo=None) - timedelta(minutes=1), inc=True)
    assert first == local.replace(tzinfo=None)
    assert local.weekday() == 3 and (local.hour, local.minute) == (10, 0)
    # every other week: the meeting after that is 14 days on
    again = next_meeting(meeting, s.coe_review_anchor, 2, hour, minute, tz)
    assert again - meeting == timedelta(days=14)
