"""The corrective-action planner: a row is filed once, a linked row is known by its link, and an
edit to a filed row's text is said once on its issue."""

from __future__ import annotations

from oncall.coe_action_filing import ActionMarker, action_body, plan_actions
from oncall.coe_actions import ActionTable, read_actions
from oncall.coe_doc import blocks_from_markdown
from oncall.filing import Act, Filing, index_issues
from oncall.models import IssueRef
from tests.core.test_review import TEMPLATE_BLOCKS, _entry, _with_rows

REPO, LABEL, DOC_ID = "acme/ops", "coe-action", "doc-i7-xxxxxxxx"
HEADER = "| action | owner | issue | due |\n|---|---|---|---|\n"


def _table(rows: str) -> ActionTable:
    return read_actions(blocks_from_markdown(_with_rows(HEADER + rows)), TEMPLATE_BLOCKS, "COE i7")


def _issue(number: int, body: str, state: str = "open") -> IssueRef:
    return IssueRef(
        number=number,
        title=f"COE action {number}",
        body=body,
        state=state,
        html_url=f"https://github.com/{REPO}/issues/{number}",
        labels=(LABEL,),
    )


def _plan(rows: str, issues: list[IssueRef], cap: int = 10) -> tuple[ActionTable, list[Filing]]:
    table = _table(rows)
    found = index_issues(issues, ActionMarker)
    return table, plan_actions(
        _entry("i7"), DOC_ID, "COE i7", table, found, {i.number: i for i in issues}, LABEL, REPO, cap=cap
    )


def test_an_unfiled_row_is_filed_once_and_a_rerun_finds_it_by_its_marker() -> None:
    _, [step] = _plan("| Add a disk alarm | Ada | | 2026-12-31 |\n", [])
    assert step.act is Act.CREATE and step.want.labels == (LABEL,)
    assert "**Due:** 2026-12-31" in step.want.body and "**Owner:** Ada" in step.want.body
    filed = _issue(7, step.want.body)
    assert _plan("| Add a disk alarm | Ada | | 2026-12-31 |\n", [filed])[1] == []  # open, nothing new
    assert (
        _plan("| Add a disk alarm | Ada | | 2026-12-31 |\n", [_issue(7, step.want.body, "closed")])[1] == []
    )


def test_a_linked_row_whose_text_changed_gets_one_comment_and_no_new_issue() -> None:
    row = _table("| Add a disk alarm | Ada | | |\n").rows[0]
    body = action_body(_entry("i7"), DOC_ID, "COE i7", row)
    filed = _issue(7, body)
    _, [step] = _plan("| Add a disk alarm at 80% | Ada | #7 | |\n", [filed])
    assert step.act is Act.COMMENT and step.issue == filed
    assert step.want.repeat is not None and "at 80%" in step.want.repeat.text
    said = step.want.repeat.unsaid(None, [step.want.repeat.text])
    assert said is None  # once said, never again
    # unchanged since it was filed, or an issue a person filed: nothing to do
    assert _plan("| Add a disk alarm | Ada | #7 | |\n", [filed])[1] == []
    assert _plan("| Anything | Ada | #9 | |\n", [filed, _issue(9, "filed by hand")])[1] == []


def test_the_cap_holds_the_rest_for_a_later_run() -> None:
    rows = "".join(f"| Action number {n} | Ada | | |\n" for n in range(3))
    _, steps = _plan(rows, [], cap=2)
    assert [s.act for s in steps] == [Act.CREATE, Act.CREATE, Act.HOLD]


def test_a_row_with_an_owner_and_no_action_is_a_problem_not_an_issue() -> None:
    table, steps = _plan("| | Ada | | |\n", [])
    assert steps == [] and table.problems and "COE i7" in str(table.problems[0])


def test_the_write_back_links_each_filed_row_in_its_issue_cell_and_only_those() -> None:
    from oncall.coe_action_filing import links_to_write
    from oncall.coe_actions import ActionRow, ActionTable, IssueLink, action_fingerprint
    from oncall.coe_doc import CellLink
    from oncall.models import IssueRef

    def row(action: str, cell: int | None, issue: IssueLink | None = None) -> ActionRow:
        return ActionRow(
            row=1, action=action, fingerprint=action_fingerprint(action), issue_cell=cell, issue=issue
        )

    def ref(n: int) -> IssueRef:
        return IssueRef(
            number=n, title="t", body="", state="open", html_url=f"https://github.com/acme/ops/issues/{n}"
        )

    table = ActionTable(
        rows=(
            row("Page on lag", 120),
            row("Already linked", 150, IssueLink(number=3)),
            row("Not filed yet (over the cap)", 180),
            row("In a text table", None),
        )
    )
    filed = {
        f"doc1:{action_fingerprint(a)}": ref(n)
        for a, n in (("Page on lag", 7), ("In a text table", 8), ("Already linked", 3))
    }
    back = links_to_write("doc1", "rev-9", table, filed, "acme/ops")
    assert back.links == (CellLink(index=120, text="acme/ops#7", url="https://github.com/acme/ops/issues/7"),)
    assert back.unwritable == ("In a text table",) and back.revision_id == "rev-9"
    # another document's issue with the same words is not this row's
    assert links_to_write("doc2", "rev-1", table, filed, "acme/ops").links == ()
