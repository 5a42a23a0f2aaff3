"""The demo's seeded @SRE requests and hand-filed operational-safety issues, read back through
the real core (and once over HTTP with the real clients): each request is in the state the seed
says it made, and the digest sees the issues as people's own, of different ages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest

from oncall.advocacy import DigestMarker, digest
from oncall.clients.github import GitHubClient
from oncall.clients.slack_api import SlackApi
from oncall.models import IssueRef
from oncall.ops_filing import FindingMarker
from oncall.sandbox.ops_seed import ISSUES, LABEL, seed_ops_issues
from oncall.sandbox.seed import DEFAULT_ANCHOR, SCHEDULE, USERS, ZONE, seed_state, seed_week
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.sre_seed import (
    REQUEST_LABEL,
    REQUESTS,
    SRE_CHANNELS,
    SreSeed,
    seed_sre_requests,
    sre_env,
)
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.settings import Settings, load_settings
from oncall.sre_requests import (
    RequestState,
    SreRequest,
    classify,
    has_ticket_reaction,
    is_done,
    is_request,
    message_from_api,
    requests_markdown,
    summarize_requests,
)

ACKS = Settings.model_fields["sre_ack_reactions"].get_default(call_default_factory=True)
TICKET = Settings.model_fields["sre_ticket_reaction"].default
DONE = Settings.model_fields["sre_done_reaction"].default
START = DEFAULT_ANCHOR - timedelta(hours=24)

Raw = list[dict[str, Any]]


@pytest.fixture(scope="module")
def seeded() -> tuple[SandboxState, SreSeed, list[int]]:
    state = seed_state(DEFAULT_ANCHOR)
    sre = seed_sre_requests(state, DEFAULT_ANCHOR)
    ops = seed_ops_issues(state, DEFAULT_ANCHOR)
    return state, sre, ops


@pytest.fixture(scope="module")
def sandbox(seeded: tuple[SandboxState, SreSeed, list[int]]) -> Iterator[Sandbox]:
    with Sandbox(seeded[0]) as sb:
        yield sb


def _on_call_email() -> str:
    """The primary on call at the shift's end, read from the seeded schedule's turns."""
    at = (DEFAULT_ANCHOR - timedelta(minutes=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    turns = seed_week(DEFAULT_ANCHOR).turns[SCHEDULE["id"]]
    live = [t for t in turns if t.start <= at < t.end]
    return ([t for t in live if t.override] or live)[0].user["name"]


def _requests(
    history: Mapping[str, Raw],
    thread: Callable[[str, str], Raw],
    group: str,
    responders: set[str],
    github_host: str,
) -> dict[str, SreRequest]:
    """Every request in the window, by ts, as the flow would find and judge them."""
    out: dict[str, SreRequest] = {}
    for channel, raws in history.items():
        for raw in raws:
            message = message_from_api(channel, raw)
            if message is None or not (START <= message.at < DEFAULT_ANCHOR):
                continue
            if not is_request(message, group):
                continue
            replies = [m for r in thread(channel, message.ts) if (m := message_from_api(channel, r))]
            out[message.ts] = classify(
                message, replies, responders=responders, ack_reactions=ACKS, github_host=github_host
            )
    return out


def _in_memory(state: SandboxState, sre: SreSeed) -> dict[str, SreRequest]:
    api = state.slack_api
    top = {c: [m for m in api.messages[c] if m.get("thread_ts", m["ts"]) == m["ts"]] for c in sre.channels}
    group = next(g for g in api.usergroups if g["handle"] == "sre")
    engineer = next(u["id"] for u in api.users.values() if u["profile"].get("email") == _on_call_email())

    def thread(channel: str, ts: str) -> Raw:
        return [m for m in api.messages[channel] if m.get("thread_ts") == ts]

    return _requests(top, thread, group["id"], {*group["users"], engineer}, sre.github_host)


def _by_key(sre: SreSeed, found: Mapping[str, SreRequest]) -> dict[str, SreRequest]:
    return {r.key: found[r.ts] for r in sre.requests}


def test_every_request_is_in_the_state_the_seed_declares(
    seeded: tuple[SandboxState, SreSeed, list[int]],
) -> None:
    state, sre, _ = seeded
    found = _in_memory(state, sre)
    assert sorted(found) == sorted(r.ts for r in sre.requests)  # chatter, bot posts, thread replies: none
    assert len(found) == len(REQUESTS) == 10
    assert {r.key: found[r.ts].state for r in sre.requests} == {s.key: s.intended for s in REQUESTS}
    counts = Counter(r.state for r in found.values())
    assert counts == Counter(sre.intended())
    assert all(counts[s] for s in RequestState)  # every state the hand-off tells apart is there
    assert {r.message.channel for r in found.values()} == set(SRE_CHANNELS)
    report = summarize_requests(found.values(), DEFAULT_ANCHOR)
    assert report.counts == sre.intended()


def test_chatter_surrounds_the_requests(seeded: tuple[SandboxState, SreSeed, list[int]]) -> None:
    state, sre, _ = seeded
    requests = {r.ts for r in sre.requests}
    others = [
        m
        for c in sre.channels
        for m in state.slack_api.messages[c]
        if m["ts"] not in requests and m.get("thread_ts", m["ts"]) == m["ts"]
    ]
    assert len(others) >= 20
    assert all(START <= datetime.fromtimestamp(float(m["ts"]), UTC) < DEFAULT_ANCHOR for m in others)
    # The group is named without a request: a bot's post, a reply in a thread.
    named = [m for c in sre.channels for m in state.slack_api.messages[c] if sre.group_id in m["text"]]
    assert any(m.get("subtype") == "bot_message" for m in named)
    assert any(m.get("thread_ts") not in (None, m["ts"]) for m in named)


def _minutes(after: timedelta | None) -> float | None:
    """To the second: a seeded ts keeps a counter in its microseconds."""
    return None if after is None else round(after.total_seconds()) / 60


def test_who_answered_how_fast_and_the_on_call_engineer(
    seeded: tuple[SandboxState, SreSeed, list[int]],
) -> None:
    state, sre, _ = seeded
    found = _by_key(sre, _in_memory(state, sre))
    engineer = state.slack_api.users[sre.on_call]
    assert engineer["profile"]["email"] == _on_call_email()
    assert engineer["profile"]["email"] in {u["name"] for u in USERS}
    assert sre.on_call not in sre.group_members  # they count only as the on-call engineer
    assert found["rds-access"].answered_by == sre.on_call
    assert found["deploy-stuck"].answered_by in sre.group_members
    assert _minutes(found["deploy-stuck"].answered_after) == 12
    assert _minutes(found["dns-record"].answered_after) == 3
    # The requester bumping their own request does not answer it.
    bumped = found["vault-approle"]
    thread = [
        m for m in state.slack_api.messages[bumped.message.channel] if m.get("thread_ts") == bumped.message.ts
    ]
    assert len(thread) >= 2 and {m["user"] for m in thread} == {bumped.requester}
    assert bumped.state is RequestState.UNANSWERED
    overnight = pendulum.instance(found["xqueue-overnight"].message.at).in_timezone(ZONE)
    assert (overnight.hour, overnight.minute) == (2, 30)
    assert found["xqueue-overnight"].state is RequestState.UNANSWERED


def test_the_ticket_request_waits_for_the_demo(seeded: tuple[SandboxState, SreSeed, list[int]]) -> None:
    state, sre, _ = seeded
    raw = state.slack_api.find(sre.ticket_channel, sre.ticket_ts)
    message = message_from_api(sre.ticket_channel, raw)
    assert message is not None
    assert has_ticket_reaction(message, TICKET)
    assert not is_done(message, DONE, sre.bot_user)
    tickets = [
        m
        for c in sre.channels
        for r in state.slack_api.messages[c]
        if (m := message_from_api(c, r)) is not None and has_ticket_reaction(m, TICKET)
    ]
    assert [m.ts for m in tickets] == [sre.ticket_ts]


def test_the_tracked_request_links_a_hand_filed_issue(
    seeded: tuple[SandboxState, SreSeed, list[int]],
) -> None:
    state, sre, _ = seeded
    tracked = _by_key(sre, _in_memory(state, sre))["learn-ai-bucket"]
    assert tracked.state is RequestState.TRACKED
    assert tracked.issue_url is not None
    assert tracked.issue_url.endswith(f"/{state.runbook_repo}/issues/{sre.tracked_issue}")
    issue = state.github.repo(state.runbook_repo).issues[sre.tracked_issue - 1]
    assert issue["number"] == sre.tracked_issue
    assert [lb["name"] for lb in issue["labels"]] == [REQUEST_LABEL]
    assert "<!--" not in issue["body"]
    # The link is seen only on the host the seed names: a github.com link it is not.
    message = tracked.message
    thread = [
        m
        for r in state.slack_api.messages[message.channel]
        if r.get("thread_ts") == message.ts and (m := message_from_api(message.channel, r))
    ]
    elsewhere = classify(message, thread, responders=set(sre.group_members), ack_reactions=ACKS)
    assert elsewhere.state is RequestState.ANSWERED
    here = classify(
        message, thread, responders=set(sre.group_members), ack_reactions=ACKS, github_host=sre.github_host
    )
    assert here.issue_url == tracked.issue_url


def test_the_hostile_request_renders_harmless(seeded: tuple[SandboxState, SreSeed, list[int]]) -> None:
    state, sre, _ = seeded
    hostile = _by_key(sre, _in_memory(state, sre))["hostile"]
    raw = hostile.message.text
    assert "<!channel>" in raw and "&lt;script&gt;" in raw and len(raw) > 3000
    assert "<script>" in hostile.first_line  # as a person saw it: the renderer must escape it
    section = "\n".join(requests_markdown(summarize_requests([hostile], DEFAULT_ANCHOR)))
    assert re.search(r"(?<!\\)<", section) is None  # no tag can open: every < is escaped
    assert "@channel" in section and "<!channel>" not in section
    assert len(section) < 2000


def test_the_seed_reads_over_http_with_the_real_client(
    seeded: tuple[SandboxState, SreSeed, list[int]], sandbox: Sandbox
) -> None:
    state, sre, _ = seeded
    client = SlackApi(state.slack_api.token, sandbox.slack_api_url, timeout=5, retries=1)
    group = client.group_id("sre")
    assert group == sre.group_id
    assert group is not None
    engineer = client.user_by_email(_on_call_email())
    assert engineer is not None and engineer["id"] == sre.on_call
    responders = {*client.group_members(group), engineer["id"]}
    history = {c: client.history(c, START.timestamp(), DEFAULT_ANCHOR.timestamp()) for c in sre.channels}
    found = _requests(history, client.replies, group, responders, sre.github_host)
    assert Counter(r.state for r in found.values()) == Counter(sre.intended())
    assert found == _in_memory(state, sre)


def test_sre_env_is_what_settings_read(
    seeded: tuple[SandboxState, SreSeed, list[int]], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sre_env(sandbox).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.sre_channels == list(SRE_CHANNELS)
    assert settings.sre_group == "sre"
    assert settings.slack_api_url == sandbox.slack_api_url
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == seeded[0].slack_api.token


def _issues(sandbox: Sandbox, state: SandboxState) -> list[IssueRef]:
    with GitHubClient(state.github.token, base_url=sandbox.github_url, write_interval=0, timeout=5) as gh:
        return gh.list_issues(state.runbook_repo, LABEL)


def test_hand_filed_issues_carry_the_label_and_no_marker(
    seeded: tuple[SandboxState, SreSeed, list[int]], sandbox: Sandbox
) -> None:
    state, _, numbers = seeded
    issues = _issues(sandbox, state)
    assert sorted(i.number for i in issues) == sorted(numbers)
    assert len(issues) == len(ISSUES) == 3
    for issue in issues:
        assert LABEL in issue.labels
        assert FindingMarker.first(issue.body) is None
        assert DigestMarker.read(issue.body) == []
        assert "oncall-flows:" not in issue.body
    assert Counter(i.state for i in issues) == {"open": 2, "closed": 1}


def test_the_digest_shows_ages_idle_days_and_the_week_closed(
    seeded: tuple[SandboxState, SreSeed, list[int]], sandbox: Sandbox
) -> None:
    state, _, _ = seeded
    issues = _issues(sandbox, state)
    week_start = DEFAULT_ANCHOR - timedelta(days=7)
    counted: list[str] = []

    def pages_since(fp: str, since: datetime) -> int:
        counted.append(fp)
        return 0

    d = digest(
        [i for i in issues if i.state == "open"],
        [i for i in issues if i.state == "closed"],
        now=DEFAULT_ANCHOR,
        week_start=week_start,
        pages_since=pages_since,
    )
    assert counted == []  # filed by hand: no finding, no pages counted
    assert [r.pages for r in d.rows] == [None, None]
    ages = [r.age_days for r in d.rows if r.age_days is not None]
    assert len(ages) == 2 and ages[0] > ages[1]  # oldest first, ages differ
    assert [(r.age_days, r.idle_days) for r in d.rows] == [
        (int(s.age_days), int(s.idle_days)) for s in sorted(ISSUES[:2], key=lambda s: -s.age_days)
    ]
    assert all(
        r.idle_days is not None and r.age_days is not None and r.idle_days <= r.age_days for r in d.rows
    )
    assert not any(r.new for r in d.rows)
    assert [i.title for i in d.closed] == [s.title for s in ISSUES if s.closed_days is not None]


def test_the_tracked_link_is_the_issue_page_the_fake_serves(
    seeded: tuple[SandboxState, SreSeed, list[int]], sandbox: Sandbox
) -> None:
    state, sre, _ = seeded
    tracked = _by_key(sre, _in_memory(state, sre))["learn-ai-bucket"]
    with GitHubClient(state.github.token, base_url=sandbox.github_url, write_interval=0, timeout=5) as gh:
        served = gh.list_issues(state.runbook_repo, REQUEST_LABEL)
    assert [i.number for i in served] == [sre.tracked_issue]
    # The demo's offline pages put the sandbox's host back to sandbox.invalid, as the seed links it.
    assert served[0].html_url.replace(sandbox.url, SANDBOX_WEB) == tracked.issue_url
