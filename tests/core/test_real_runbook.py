"""The real runbook keeps every answer it gave before issue 16.

tests/fixtures/golden/mitodl-answers-153231f.json records, for the real mitodl runbook and
real alert names, which entry (title and line) covered each title and each title's kind, as
the reader answered at 153231f. Every covered title stays covered by the same entry. A title
that was not covered may become covered, and a kind may change, only where listed below with
the reason the new answer is right.

The entries come from today's parser and, side by side, from the pre-issue-16 parser
(bench/baseline_reader.py), so a change in matching is told apart from a change in parsing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bench import baseline_reader
from oncall.coverage import Matcher
from oncall.kinds import alert_kind
from oncall.runbook import Runbook, RunbookEntry, parse_runbook
from tests.factories import FIXTURES

REAL = FIXTURES / "real" / "mitodl-oncall-runbook.md"
GOLDEN: dict[str, Any] = json.loads((FIXTURES / "golden" / "mitodl-answers-153231f.json").read_text())
ANSWERS: list[dict[str, Any]] = GOLDEN["answers"]

ONLY_ENTRY = "the runbook's only entry for this alert name; a bare alertname (Rootly) carries no label to contradict it"
NEWLY_COVERED: dict[str, tuple[str, int, str]] = {
    "InvalidAccessKeyNonProd": ("InvalidAccessKeyNonProd qa (odl-open-discussions warning)", 45, ONLY_ENTRY),
    "InvalidAccessKeyProduction": (
        "[Prometheus]: [FIRING:1] InvalidAccessKeyProduction apps-production (odl-video-service critical)",
        197,
        ONLY_ENTRY,
    ),
    "AlternateInvalidAccessKeyProduction": (
        "[Prometheus]: [FIRING:1] AlternateInvalidAccessKeyProduction production (bootcamp-ecommerce critical)",
        264,
        ONLY_ENTRY,
    ),
}
NAME_NOT_ID = (
    "an alert name with digits is a name, not an id (it was `<id>`, one kind with every other such name)"
)
NEW_KINDS: dict[str, tuple[str, str]] = {
    name: (name, NAME_NOT_ID)
    for name in (
        "OCWStudio3PlayErrorDetectedProd",
        "OCWStudio3PlayErrorDetectedNonProd",
        "APISIXEdge5xxRateFast",
        "MitxOnline500Errors",
    )
}


def _baseline_parse(text: str) -> Runbook:
    old = baseline_reader.parse_runbook(text, source="mitodl")
    entries = tuple(
        RunbookEntry(
            title=e.title,
            product=e.product,
            line=e.line,
            anchor=e.anchor,
            has_diagnosis=e.has_diagnosis,
            has_mitigation=e.has_mitigation,
            stub=e.stub,
        )
        for e in old.entries
    )
    return Runbook(source="mitodl", entries=entries, products=old.products)


PARSERS: dict[str, Callable[[str], Runbook]] = {
    "today's parser": lambda text: parse_runbook(text, source="mitodl"),
    "pre-issue-16 parser": _baseline_parse,
}


@pytest.fixture(scope="module", params=list(PARSERS))
def matcher(request: pytest.FixtureRequest) -> Matcher:
    return Matcher(PARSERS[request.param](REAL.read_text()))


def _answer(matcher: Matcher, title: str) -> tuple[str, int] | None:
    match = matcher.match(title)
    return (match.entry.title, match.entry.line) if match else None


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a["entry"]], ids=lambda a: a["title"][:60])
def test_every_covered_title_stays_covered_by_the_same_entry(
    matcher: Matcher, answer: dict[str, Any]
) -> None:
    assert _answer(matcher, answer["title"]) == (answer["entry"], answer["line"])


@pytest.mark.parametrize("answer", [a for a in ANSWERS if not a["entry"]], ids=lambda a: a["title"][:60])
def test_an_uncovered_title_stays_uncovered_unless_the_new_answer_is_listed(
    matcher: Matcher, answer: dict[str, Any]
) -> None:
    expected = NEWLY_COVERED.get(answer["title"])
    assert _answer(matcher, answer["title"]) == (expected[:2] if expected else None)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a["title"][:60])
def test_every_kind_stays_unless_the_new_kind_is_listed(answer: dict[str, Any]) -> None:
    expected = NEW_KINDS.get(answer["title"], (answer["kind"], ""))[0]
    assert alert_kind(answer["title"]) == expected


def test_the_listed_changes_are_changes() -> None:
    """Each listed exception differs from the recorded answer, so none of them hides a regression."""
    recorded = {a["title"]: a for a in ANSWERS}
    for title in NEWLY_COVERED:
        assert recorded[title]["entry"] is None
    for title, (kind, _) in NEW_KINDS.items():
        assert recorded[title]["kind"] != kind


def test_todays_parser_finds_the_recorded_entries() -> None:
    book = parse_runbook(REAL.read_text(), source="mitodl")
    found = [(e.title, e.line, e.anchor, e.product) for e in book.entries]
    assert found == [(e["title"], e["line"], e["anchor"], e["product"]) for e in GOLDEN["entries"]]
