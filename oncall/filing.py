"""One lifecycle for every issue a flow files: find it by its marker, create it, comment once,
reopen it, leave a "not planned" one alone, and never file more than the cap in one run.

Pure. A flow says which issues it wants (`Want`: a key, whether there is news, and why) and
hands over the issues found by their markers; `Planner` decides each step. The texts to write
(`Wanted`: title, body, labels, what to say again) travel with the step (`Filing`) to the
applier, which knows no flow: the marker is the only identity it trusts, since people edit
the rest. A flow's own marker subclasses `Marker`, so its hidden text stays exactly as it was.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from oncall.models import IssueRef


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Act(StrEnum):
    CREATE = "create"
    COMMENT = "comment"
    REOPEN = "reopen"
    CLOSE = "close"
    HOLD = "hold"  # over the per-run cap; filed by a later run
    LEAVE = "leave"  # closed as not planned: a person decided


@cache
def _marker_re(namespace: str) -> re.Pattern[str]:
    return re.compile(r"<!-- " + re.escape(namespace) + r"(?P<update>-update)? (?P<data>[A-Za-z0-9_=-]+) -->")


class Marker(_Frozen):
    """What an issue remembers, hidden in its body (and in each update comment): its key first.

    A subclass names its `namespace` and its `key`; the marker text is the namespace and the
    fields as base64 JSON, so markers already in people's issues keep being found."""

    namespace: ClassVar[str]

    @property
    def key(self) -> str:
        raise NotImplementedError

    def encode(self, update: bool = False) -> str:
        data = base64.urlsafe_b64encode(self.model_dump_json(exclude_none=True).encode()).decode()
        return f"<!-- {self.namespace}{'-update' if update else ''} {data} -->"

    @classmethod
    def read(cls, text: str) -> list[tuple[bool, Self]]:
        """Every marker of this kind in `text` as (is_update, marker); unreadable ones are ignored."""
        out = []
        for m in _marker_re(cls.namespace).finditer(text):
            try:
                raw = json.loads(base64.urlsafe_b64decode(m.group("data")))
                out.append((m.group("update") is not None, cls.model_validate(raw)))
            except (ValueError, ValidationError):
                continue
        return out

    @classmethod
    def first(cls, text: str) -> Self | None:
        """The body's own marker: the first that is not an update's."""
        return next((m for is_update, m in cls.read(text) if not is_update), None)

    @classmethod
    def holds(cls, text: str, key: str) -> bool:
        """Whether `text` still carries a (non-update) marker for `key`."""
        return any(not is_update and m.key == key for is_update, m in cls.read(text))

    def put(self, body: str) -> str:
        """`body` with its first marker replaced by this one (an update marker there is kept)."""
        return _marker_re(self.namespace).sub(
            lambda m: self.encode() if not m.group("update") else m.group(0), body, count=1
        )


M = TypeVar("M", bound=Marker)


class Found(_Frozen, Generic[M]):
    """An existing issue, known by its marker."""

    issue: IssueRef
    marker: M


def index_issues(issues: Iterable[IssueRef], marker: type[M]) -> dict[str, Found[M]]:
    """Issues by their marker's key. Of duplicates (a person copied one), the open, lowest-numbered wins."""
    found: dict[str, Found[M]] = {}
    for issue in sorted(issues, key=lambda i: (i.state != "open", i.number)):
        mine = marker.first(issue.body)
        if mine is not None and mine.key not in found:
            found[mine.key] = Found(issue=issue, marker=mine)
    return found


class Want(Protocol):
    """What the planner needs of an issue a flow wants: its key, whether there is something new
    to say on it since it last said, and the words for the log and the report."""

    @property
    def key(self) -> str: ...
    @property
    def news(self) -> bool: ...
    def reason(self, act: Act) -> str: ...


W = TypeVar("W", bound=Want)


@dataclass(frozen=True)
class Step(Generic[W]):
    """One planned write (or the reason for none: held, left)."""

    act: Act
    want: W
    reason: str
    issue: IssueRef | None = None


class Planner:
    """Decides, want by want, in the flow's order (most urgent first): the cap counts what this
    run files or reopens, so a later run picks up what is held."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.budget = cap

    def _capped(self, act: Act, want: W, issue: IssueRef | None) -> Step[W]:
        if self.budget > 0:
            self.budget -= 1
            return Step(act=act, want=want, reason=want.reason(act), issue=issue)
        return Step(act=Act.HOLD, want=want, reason=f"over the cap of {self.cap}", issue=issue)

    def step(self, want: W, existing: IssueRef | None) -> Step[W] | None:
        """The step for `want`, given the issue found by its marker; None when there is nothing to do."""
        if existing is None:
            return self._capped(Act.CREATE, want, None)
        if existing.state == "open":
            return (
                Step(act=Act.COMMENT, want=want, reason=want.reason(Act.COMMENT), issue=existing)
                if want.news
                else None
            )
        if existing.state_reason == "not_planned":
            return Step(act=Act.LEAVE, want=want, reason="closed as not planned", issue=existing)
        return self._capped(Act.REOPEN, want, existing) if want.news else None


def plan(wanted: Iterable[W], found: Mapping[str, Found[M]], *, cap: int) -> list[Step[W]]:
    """Every step for `wanted` (in order), against the issues found by marker."""
    planner = Planner(cap)
    steps = []
    for want in wanted:
        existing = found.get(want.key)
        step = planner.step(want, existing.issue if existing else None)
        if step is not None:
            steps.append(step)
    return steps


class Said(_Frozen):
    """A comment to post, and the marker the body moves to once it is posted (None: the body stays)."""

    comment: str
    marker: Marker | None = None


class Update(_Frozen):
    """Something to say on an existing issue, said once: given the issue's marker and its
    comments, what is still unsaid. A flow whose news accrues (alerts) narrows it to what no
    comment has reported yet; the default says its text unless a comment already carries its tag."""

    text: str = ""
    tag: str = ""

    def unsaid(self, marker: Marker | None, comments: Sequence[str]) -> Said | None:
        if self.tag and any(self.tag in c for c in comments):
            return None
        return Said(comment=self.text)


class Wanted(_Frozen):
    """An issue a flow wants, with its texts: the marker of `key` (in `body`) is its identity;
    `repeat` is what to say when it exists already and there is news."""

    key: str
    marker: type[Marker]  # how `body` (and the issue, once filed) carries `key`
    name: str  # what logs call it
    title: str
    body: str
    labels: tuple[str, ...] = ()
    repeat: Update | None = None
    reasons: Mapping[Act, str] = {}

    @property
    def news(self) -> bool:
        return self.repeat is not None

    def reason(self, act: Act) -> str:
        return self.reasons.get(act, act.value)


Filing = Step[Wanted]
