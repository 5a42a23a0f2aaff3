"""A lone surrogate in vendor JSON (`"\\ud800"`, valid JSON that some vendors' encoders write)
becomes U+FFFD where the answer is decoded, so no model, artifact, fingerprint or document
ever holds text that is not valid UTF-8."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

import httpx
import pytest

from oncall.clients.http import ApiClient
from oncall.coe import coe_values
from oncall.gaps import fingerprint
from oncall.handoff import summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.kinds import alert_kind
from oncall.models import Alert, AlertQuery, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR, seed_sources, seed_week
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.week import Week
from oncall.settings import Settings
from oncall.sources import SOURCE_NAMES, AlertSource, build_source
from tests.conftest import FakeSleep
from tests.factories import alert, coe_facts, context, incident, on_call

LONE = "\ud800"
WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


def _valid(text: str | None) -> bool:
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _source(sandbox: Sandbox, name: str, sleep: FakeSleep) -> AlertSource:
    env = sandbox.source_env(name)
    settings = Settings(**{k.removeprefix("ONCALL_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    return build_source(settings, sleep=sleep)


def _hostile_week() -> Week:
    """The seeded week with its last alert's title and description, and its last incident's
    title, holding a lone surrogate: every source's fake serves them in its own shapes."""
    week = seed_week(DEFAULT_ANCHOR)
    target = copy.deepcopy(week.alerts[-1])
    target["message"] = f"Disk full {LONE} on db-1"
    target["description"] = f"see {LONE}runbook"
    week.set_alerts([*week.alerts[:-1], target])
    week.incidents[-1] = {**week.incidents[-1], "message": f"Checkout down {LONE}"}
    return week


POISONED = _hostile_week()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A sandbox of this module's own: the poisoned records never meet another test."""
    state = SandboxState()
    seed_sources(state, POISONED)
    with Sandbox(state) as sb:
        yield sb


@pytest.fixture(params=SOURCE_NAMES)
def source_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_lone_surrogate_in_an_alert_reaches_models_as_fffd(
    sandbox: Sandbox, source_name: str, fake_sleep: FakeSleep
) -> None:
    alert_id = POISONED.alerts[-1]["id"]
    with closing(_source(sandbox, source_name, fake_sleep)) as src:
        listed = [a for a in src.fetch_alerts(AlertQuery(created=WEEK)) if a.id == alert_id]
        one = src.get_alert(alert_id)
    assert len(listed) == 1
    for got in (listed[0], one):
        assert got.message == "Disk full \ufffd on db-1"
        assert _valid(got.description)
    assert one.description == "see \ufffdrunbook"


def test_a_lone_surrogate_in_an_incident_title_reaches_models_as_fffd(
    sandbox: Sandbox, source_name: str, fake_sleep: FakeSleep
) -> None:
    with closing(_source(sandbox, source_name, fake_sleep)) as src:
        found = src.fetch_incidents(TimeWindow(start=WEEK.start - timedelta(days=60), end=WEEK.end))
    titles = [i.message for i in found if "Checkout down" in i.message]
    assert titles == ["Checkout down \ufffd"], (source_name, [i.message for i in found][-3:])


def _decoded(body: bytes) -> Any:
    """What the shared HTTP stage decodes from `body` (a MockTransport answer)."""
    client = ApiClient(
        system="Test",
        base_url="http://vendor.test",
        credential_setting="TEST_KEY",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)),
    )
    with client:
        return client.get_json("/x", what="a page")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"m": "a\\ud800b"}', {"m": "a\ufffdb"}),
        (b'{"m": "a\\uDFFFb"}', {"m": "a\ufffdb"}),
        (b'{"m": "\\ud83d\\ude00"}', {"m": "\U0001f600"}),  # a pair stays the character it is
        (b'{"m": "x\\\\ud800"}', {"m": "x\\ud800"}),  # an escaped backslash, no surrogate
        (b'{"\\ud800": ["\\udc00", {"k": "\\ud800"}]}', {"\ufffd": ["\ufffd", {"k": "\ufffd"}]}),
        ('{"m": "raw \ud800 bytes"}'.encode("utf-8", "surrogatepass"), {"m": "raw \ufffd bytes"}),
    ],
    ids=["high", "low-upper-case", "pair", "escaped-backslash", "keys-and-nesting", "raw-cesu-bytes"],
)
def test_the_http_stage_decodes_every_lone_surrogate_to_fffd(body: bytes, expected: Any) -> None:
    assert _decoded(body) == expected


def _alert_from_vendor(title: str, description: str) -> Alert:
    """An OpsGenie-shaped alert (JSM's too) as the shared stage decodes it from a vendor's escaped JSON."""
    from oncall.sources.genie import alert_from_raw

    raw = {
        "id": "a-1",
        "tinyId": "7",
        "message": title,
        "description": description,
        "status": "open",
        "priority": "P1",
        "createdAt": "2026-11-20T10:00:00Z",
        "count": 3,
    }
    return alert_from_raw(_decoded(json.dumps({"data": raw}).encode())["data"])


def test_renderers_meet_only_valid_text_from_a_hostile_alert() -> None:
    hostile = _alert_from_vendor(f"Queue {LONE} stuck", f"desc {LONE}")
    title = _decoded(json.dumps({"t": f"Checkout {LONE} down"}).encode())["t"]
    inc = incident(message=title)
    summary = summarize_shift(context(), [hostile, alert()], [], [inc], on_call("dana"), on_call("alice"))
    markdown = render_markdown(summary)  # a Prefect artifact is sent as UTF-8 JSON
    json.dumps({"markdown": markdown}, ensure_ascii=False).encode("utf-8")
    json.dumps(render_slack(summary), ensure_ascii=False).encode("utf-8")
    assert "Queue \ufffd stuck" in markdown
    assert len(fingerprint(alert_kind(hostile.message))) > 0  # hashes the kind's UTF-8 bytes
    values = coe_values(coe_facts(inc, related=[hostile]))
    json.dumps({"requests": list(values.values())}, ensure_ascii=False).encode("utf-8")  # the Docs body
    assert values["incident.title"] == "Checkout \ufffd down"
