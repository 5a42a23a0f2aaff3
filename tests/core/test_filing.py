"""The filing lifecycle on its own, with a flow that is not runbook-gaps: a COE's corrective
action, known by its document id and a fingerprint of the row's action text."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from oncall.errors import UnavailableError
from oncall.filing import Act, Marker, Planner, Update, Wanted, index_issues, plan
from oncall.gaps import GapMarker, fingerprint
from oncall.models import IssueRef
from tests.factories import START

if TYPE_CHECKING:
    from oncall.clients.github import GitHubClient


class ActionMarker(Marker):
    namespace: ClassVar[str] = "oncall-flows:coe-action"
    doc: str
    fp: str

    @property
    def key(self) -> str:
        return f"{self.doc}/{self.fp}"


def _marker(doc: str = "doc-1", action: str = "Add a disk alert") -> ActionMarker:
    return ActionMarker(doc=doc, fp=fingerprint(action))


def _wanted(marker: ActionMarker, edited: bool = False) -> Wanted:
    """A row's issue; an edited row has something to say on the issue filed for it."""
    repeat = Update(
        text=f"{marker.encode(update=True)}\nThe action was edited.", tag=marker.encode(update=True)
    )
    return Wanted(
        key=marker.key,
        marker=ActionMarker,
        name=marker.fp,
        title="Corrective action: add a disk alert",
        body=f"{marker.encode()}\nFrom the COE.",
        labels=("coe-action",),
        repeat=repeat if edited else None,
        reasons={
            Act.CREATE: "row has no issue",
            Act.COMMENT: "row edited",
            Act.REOPEN: "row edited after done",
        },
    )


def _issue(number: int, body: str, state: str = "open", reason: str | None = None) -> IssueRef:
    return IssueRef(
        number=number,
        title="t",
        body=body,
        state=state,
        state_reason=reason,
        html_url=f"https://github.com/o/r/issues/{number}",
    )


def test_a_row_without_an_issue_is_created_and_the_cap_holds_the_rest_in_order() -> None:
    wanted = [_wanted(_marker(action=f"Action {i}")) for i in range(3)]
    steps = plan(wanted, {}, cap=2)
    assert [s.act for s in steps] == [Act.CREATE, Act.CREATE, Act.HOLD]
    assert [s.want for s in steps] == wanted
    assert steps[0].reason == "row has no issue" and steps[2].reason == "over the cap of 2"
    assert all(s.issue is None for s in steps)
    assert [s.act for s in plan(wanted, {}, cap=0)] == [Act.HOLD] * 3


def test_an_open_issue_gets_a_comment_only_with_news_and_the_comment_is_said_once() -> None:
    marker = _marker()
    found = index_issues([_issue(4, f"{marker.encode()}\nbody")], ActionMarker)
    assert plan([_wanted(marker)], found, cap=5) == []  # nothing new: no write at all
    [step] = plan([_wanted(marker, edited=True)], found, cap=0)  # a comment is not capped
    assert step.act is Act.COMMENT and step.issue == found[marker.key].issue and step.reason == "row edited"
    assert step.want.repeat is not None
    said = step.want.repeat.unsaid(marker, ["unrelated"])
    assert said is not None and said.comment.startswith(marker.encode(update=True))
    assert step.want.repeat.unsaid(marker, ["unrelated", said.comment]) is None  # a rerun says nothing twice


def test_a_closed_completed_issue_is_reopened_within_the_cap() -> None:
    marker = _marker()
    found = index_issues([_issue(4, marker.encode(), state="closed", reason="completed")], ActionMarker)
    assert plan([_wanted(marker)], found, cap=5) == []  # closed and nothing new: it stays closed
    [step] = plan([_wanted(marker, edited=True)], found, cap=5)
    assert step.act is Act.REOPEN and step.reason == "row edited after done" and step.issue is not None
    [held] = plan([_wanted(marker, edited=True)], found, cap=0)
    assert held.act is Act.HOLD and held.issue == step.issue


def test_a_closed_not_planned_issue_is_left_alone_even_with_news() -> None:
    marker = _marker()
    found = index_issues([_issue(4, marker.encode(), state="closed", reason="not_planned")], ActionMarker)
    [step] = plan([_wanted(marker, edited=True)], found, cap=5)
    assert step.act is Act.LEAVE and step.reason == "closed as not planned"


def test_reopening_and_creating_share_one_cap_per_run() -> None:
    done, new = _marker(action="done"), _marker(action="new")
    found = index_issues([_issue(2, done.encode(), state="closed", reason="completed")], ActionMarker)
    planner = Planner(1)
    first = planner.step(_wanted(done, edited=True), found[done.key].issue)
    second = planner.step(_wanted(new), None)
    assert first is not None and first.act is Act.REOPEN
    assert second is not None and second.act is Act.HOLD


def test_the_marker_is_found_in_a_body_a_person_edited_and_moves_without_touching_their_text() -> None:
    marker = _marker()
    edited = (
        f"## Notes from Dana\n\nWe chose the *cheaper* fix.\n\n{marker.encode()}\n\n- [x] done <b>soon</b>\n"
    )
    issue = _issue(9, edited)
    found = index_issues([issue], ActionMarker)
    assert found[marker.key].marker == marker and found[marker.key].issue.number == 9
    assert ActionMarker.holds(edited, marker.key)
    moved = _marker(action="Add a disk alert and page").put(edited)
    assert moved.replace(_marker(action="Add a disk alert and page").encode(), marker.encode()) == edited
    assert not ActionMarker.holds(edited.replace(marker.encode(), "(marker deleted)"), marker.key)


def test_duplicates_resolve_to_the_lowest_open_issue_and_other_flows_markers_are_not_ours() -> None:
    marker = _marker()
    gap = GapMarker(fp=fingerprint("x"), kind="x", sample="x", last=START)
    found = index_issues(
        [
            _issue(12, marker.encode()),
            _issue(3, marker.encode(), state="closed", reason="completed"),
            _issue(8, marker.encode()),
            _issue(5, gap.encode()),  # a runbook-gap issue: another namespace
            _issue(6, "<!-- oncall-flows:coe-action bm90IGpzb24= -->"),  # unreadable: ignored
        ],
        ActionMarker,
    )
    assert list(found) == [marker.key] and found[marker.key].issue.number == 8
    assert index_issues([_issue(5, gap.encode())], GapMarker)[gap.fp].issue.number == 5


@dataclass(frozen=True)
class _Light:
    """A flow may plan with its own light want and render the texts only for what it writes."""

    key: str
    news: bool

    def reason(self, act: Act) -> str:
        return f"{act.value} {self.key}"


def test_any_want_with_a_key_news_and_reasons_plans_the_same_way() -> None:
    found = index_issues([_issue(1, _marker().encode())], ActionMarker)
    steps = plan([_Light(_marker().key, True), _Light("other", False)], found, cap=1)
    assert [(s.act, s.reason) for s in steps] == [
        (Act.COMMENT, f"comment {_marker().key}"),
        (Act.CREATE, "create other"),
    ]


# A gap issue's marker as issues filed before this module existed carry it.
FILED = (
    "<!-- oncall-flows:runbook-gap eyJmcCI6IjAxMjM0NTY3ODlhYmNkZWYiLCJraW5kIjoiRGlza1VzYWdlV2FybmluZyBlZHhhcHAiLCJzYW1wbGUi"
    "OiJbRklSSU5HOjFdIERpc2tVc2FnZVdhcm5pbmciLCJsYXN0IjoiMjAyNi0xMS0xN1QxNTowMDowMFoifQ== -->"
)


def test_markers_already_in_peoples_issues_are_read_and_written_back_unchanged() -> None:
    [(is_update, marker)] = GapMarker.read(f"Edited by a person.\n{FILED}\nMore notes.")
    assert not is_update and marker.key == "0123456789abcdef" and marker.kind == "DiskUsageWarning edxapp"
    assert marker.last == START
    assert marker.encode() == FILED
    assert marker.encode(update=True) == FILED.replace("runbook-gap ", "runbook-gap-update ", 1)
    data = FILED.split(" ")[2]
    assert json.loads(base64.urlsafe_b64decode(data))["sample"] == "[FIRING:1] DiskUsageWarning"
    assert GapMarker.first(f"x {marker.encode(update=True)} {FILED}") == marker


# The applier, with no gap in sight: a stub GitHub that can lose the answer to a create.


class _GitHub:
    """The few calls the applier makes, over a dict of issues; `lose_next_create` files the
    issue and then fails to answer, as GitHub does under load."""

    def __init__(self) -> None:
        self.issues: dict[int, IssueRef] = {}
        self.notes: dict[int, list[str]] = {}
        self.lose_next_create = False

    def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> IssueRef:
        n = len(self.issues) + 1
        self.issues[n] = _issue(n, body).model_copy(update={"title": title, "labels": tuple(labels)})
        self.notes[n] = []
        if self.lose_next_create:
            self.lose_next_create = False
            raise UnavailableError("GitHub", "502 after the write")
        return self.issues[n]

    def list_issues(
        self, repo: str, label: str | None = None, *, creator: str | None = None
    ) -> list[IssueRef]:
        return [i for i in self.issues.values() if label in i.labels]

    def login(self) -> str | None:
        return None

    def issue(self, repo: str, number: int) -> IssueRef:
        return self.issues[number]

    def comments(self, repo: str, number: int) -> list[str]:
        return list(self.notes[number])

    def comment(self, repo: str, number: int, body: str) -> None:
        self.notes[number].append(body)

    def edit(self, repo: str, number: int, **fields: str) -> IssueRef:
        self.issues[number] = self.issues[number].model_copy(update=fields)
        return self.issues[number]


def test_the_applier_files_a_coe_action_once_through_a_lost_answer_and_comments_once() -> None:
    from tasks import github as applier

    gh = _GitHub()
    client = cast("GitHubClient", gh)
    marker = _marker()
    gh.lose_next_create = True
    [create] = plan([_wanted(marker)], index_issues(gh.issues.values(), ActionMarker), cap=5)
    filed = applier._create(client, "o/r", create.want)
    assert list(gh.issues) == [1] and filed.number == 1  # found by its marker, not filed again
    assert filed.labels == ("coe-action",)

    found = index_issues(gh.list_issues("o/r", "coe-action"), ActionMarker)
    [comment] = plan([_wanted(marker, edited=True)], found, cap=5)
    assert comment.act is Act.COMMENT and comment.issue is not None
    applier._say_again(client, "o/r", comment.issue, comment.want)
    applier._say_again(client, "o/r", comment.issue, comment.want)  # a rerun of the same step
    assert len(gh.notes[1]) == 1 and "The action was edited." in gh.notes[1][0]
    assert gh.issues[1].body == create.want.body  # the default update leaves the body as it is
