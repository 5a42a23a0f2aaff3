"""`get_incident` takes what a person has in hand: the id, or the number the hand-off shows
(OpsGenie's tinyId, a JSM work-item key or its number, Rootly's sequential id), against every
registered source's fake. How each vendor is asked is in its own tests (tests/sources/<name>/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta

import pytest

from oncall.errors import NotFoundError
from oncall.models import TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sources import SOURCE_NAMES, AlertSource, source_spec
from tests.sources.helpers import source_from_env

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


@pytest.fixture(params=SOURCE_NAMES)
def each(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[AlertSource]:
    with closing(source_from_env(sandbox, monkeypatch, request.param)) as source:
        yield source


def test_the_number_the_hand_off_shows_finds_the_same_incident_as_its_id(each: AlertSource) -> None:
    number = source_spec(each.name).fake.long_incident_number  # "101", tinyId 101 in the seeded week
    listed = {i.tiny_id: i for i in each.fetch_incidents(WEEK)}
    first = listed[number]
    for ref in (number, f"#{number}", first.id):
        found = each.get_incident(ref)
        assert (found.id, found.tiny_id, found.message) == (first.id, number, first.message), ref


def test_an_unknown_number_is_not_found_and_names_it(each: AlertSource) -> None:
    with pytest.raises(NotFoundError, match="9999"):
        each.get_incident("9999")
