"""oncall.lowmem: off unless a process opts in; on, alerts share what equal alerts hold and
read exactly as before."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from oncall import lowmem
from oncall.models import Alert, Responder
from tests.processes import ROOT, clean_env

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _alert(n: int) -> Alert:
    return Alert(
        id=f"a-{n}",
        message=f"Disk full on host-{n}",
        status="closed",
        created_at=AT - timedelta(minutes=n),
        tags=("disk", "prod"),
        responders=(Responder(type="team", id="t-1", name="SRE"),),
    )


@pytest.fixture
def lean() -> Iterator[None]:
    lowmem.enable()
    try:
        yield
    finally:
        lowmem.disable()


def test_off_by_default_each_alert_keeps_the_fields_it_was_given() -> None:
    assert not lowmem.enabled
    a, b = _alert(1), _alert(2)
    assert a.model_fields_set == {"id", "message", "status", "created_at", "tags", "responders"}
    assert a.model_fields_set is not b.model_fields_set
    assert a.tags is not b.tags


@pytest.mark.usefixtures("lean")
def test_on_alerts_share_one_fields_set_and_equal_tuples_and_read_the_same() -> None:
    a, b = _alert(1), _alert(2)
    assert a.model_fields_set is b.model_fields_set == set(Alert.model_fields)
    assert a.tags is b.tags and a.responders is b.responders
    lowmem.disable()
    plain = _alert(1)
    assert a == plain and a.model_dump() == plain.model_dump()  # the values are untouched
    copy = a.model_copy(update={"status": "open"})
    assert copy.status == "open" and copy.model_fields_set is not a.model_fields_set
    assert a.status == "closed"


def test_the_environment_opts_a_process_in() -> None:
    code = "from oncall import lowmem; import oncall.models; print(lowmem.enabled)"
    for value, expected in (("1", "True"), ("", "False")):
        env = {**clean_env(), lowmem.ENV: value}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected
