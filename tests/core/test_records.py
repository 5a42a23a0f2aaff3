"""Reading vendor answers: a wrong shape names the read, and after a write says it may have
happened; the alerts read share what equal alerts hold alike, and read exactly as pydantic
builds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall.clients.records import answer_shape
from oncall.errors import MalformedError, UncertainError
from oncall.models import Alert
from oncall.sources.genie import alert_from_raw
from oncall.sources.pagerduty.records import Priorities, alert_from_incident
from oncall.sources.rootly.records import alert_from_resource

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_wrong_shape_after_a_read_is_malformed() -> None:
    answer: dict[str, Any] = {}
    with (
        pytest.raises(MalformedError, match=r"X: reading y: the answer is not in the shape X sends"),
        answer_shape("X", "reading y"),
    ):
        answer["id"]


def test_a_wrong_shape_after_a_write_is_uncertain() -> None:
    """The write reached the vendor, so its caller must treat it as maybe done (UncertainError),
    the same as a lost answer; an UnavailableError would read as 'certainly not done'."""
    with (
        pytest.raises(UncertainError, match=r"the write may have happened"),
        answer_shape("X", "creating y", write=True),
    ):
        [][0]


def _values(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": f"a-{n}",
        "message": f"Disk full on host-{n}",
        "status": "closed",
        "created_at": AT - timedelta(minutes=n),
        "tags": ["disk", "prod"],
        "responders": [{"type": "team", "id": "t-1", "name": "SRE"}],
        **kw,
    }


def test_a_lean_alert_reads_exactly_as_pydantic_builds_it() -> None:
    values = _values(1, priority="P2", ack_after=60.0, details={"host": "host-1"})
    lean, plain = Alert.lean(**values), Alert(**values)
    assert lean == plain and hash(Alert.lean(**_values(3))) == hash(Alert(**_values(3)))
    assert lean.model_dump() == plain.model_dump()
    assert lean.model_dump(exclude_unset=True) == plain.model_dump(exclude_unset=True)
    assert lean.model_fields_set == plain.model_fields_set == set(values)
    with pytest.raises(ValueError, match="created_at"):
        Alert.lean(**_values(2, created_at="2026-11-24T15:00:00"))  # validated as strictly: no zone


def test_lean_alerts_given_the_same_fields_share_one_fields_set_and_equal_tuples() -> None:
    a, b = Alert.lean(**_values(1)), Alert.lean(**_values(2))
    assert a.model_fields_set is b.model_fields_set
    assert a.tags is b.tags and a.responders is b.responders
    other = Alert.lean(**_values(3, tags=["db"], responders=[{"type": "team", "id": "t-2"}], owner="ann"))
    assert other.model_fields_set is not a.model_fields_set and "owner" in other.model_fields_set
    assert "owner" not in a.model_fields_set
    assert other.tags == ("db",) and other.responders[0].id == "t-2" and a.responders[0].id == "t-1"
    assert Alert(**_values(4)).model_fields_set is not a.model_fields_set  # plain construction unchanged


def test_lean_alerts_share_equal_values_of_the_fields_a_window_repeats() -> None:
    def fresh(text: str) -> str:
        return "".join(list(text))  # an equal string that is not the same object, as JSON reads it

    a = Alert.lean(**_values(1, owner=fresh("ann@x"), source=fresh("Grafana"), status=fresh("closed")))
    b = Alert.lean(**_values(2, owner=fresh("ann@x"), source=fresh("Grafana"), status=fresh("closed")))
    assert a.owner is b.owner and a.source is b.source and a.status is b.status
    c = Alert.lean(**_values(3, owner=fresh("bob@x"), source=fresh("Grafana")))
    assert c.owner == "bob@x" and a.owner == "ann@x" and c.source is a.source
    assert a.message == "Disk full on host-1" and b.message == "Disk full on host-2"


def test_a_copy_of_a_lean_alert_keeps_a_fields_set_of_its_own() -> None:
    a, b = Alert.lean(**_values(1)), Alert.lean(**_values(2))
    copy = a.model_copy(update={"owner": "ann"})
    assert copy.owner == "ann" and "owner" in copy.model_fields_set
    assert "owner" not in a.model_fields_set and a.model_fields_set is b.model_fields_set
    assert a.owner is None


def _genie(n: int) -> Alert:
    return alert_from_raw(
        {
            "id": f"g-{n}",
            "message": "Disk full",
            "status": "open",
            "createdAt": "2026-11-24T15:00:00Z",
            "tags": ["disk"],
            "responders": [{"type": "team", "id": "t-1", "name": "SRE"}],
        }
    )


def _rootly(n: int) -> Alert:
    attrs = {"summary": "Disk full", "status": "triggered", "created_at": "2026-11-24T15:00:00Z"}
    return alert_from_resource({"id": f"r-{n}", "type": "alerts", "attributes": attrs})


def _pagerduty(n: int) -> Alert:
    raw = {
        "id": f"P{n}",
        "title": "Disk full",
        "status": "triggered",
        "created_at": "2026-11-24T15:00:00Z",
        "teams": [{"id": "T1", "summary": "SRE"}],
    }
    return alert_from_incident(raw, Priorities.from_list([]), lambda _: None)


@pytest.mark.parametrize("parse", [_genie, _rootly, _pagerduty], ids=["genie", "rootly", "pagerduty"])
def test_every_source_reads_alerts_that_share_what_equal_alerts_hold(parse: Callable[[int], Alert]) -> None:
    a, b = parse(1), parse(2)
    assert a.id != b.id and a.model_fields_set is b.model_fields_set
    assert a.tags is b.tags and a.responders is b.responders
