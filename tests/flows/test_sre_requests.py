"""sre-requests end to end: Prefect test server, the Slack API fake through slack_sdk, the
GitHub fake through PyGithub. Few runs (each costs about a second of CI): a sweep and the event
for the same message after it, a dry-run sweep, and a ticket whose first run dies after its writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from flows.sre_requests import sre_requests
from oncall.sandbox.server import Sandbox
from oncall.sandbox.slack_api_fake import SlackApiState
from oncall.sre_tickets import RequestMarker, request_key

GROUP, HANDLE = "S0TIXTEST", "sre-tickets-test"  # its own handle: the seed may have an @sre
ASKER, HELPER = "U0TIXASKER", "U0TIXHELPER"
_n = count(1)


@dataclass
class Setup:
    sandbox: Sandbox
    api: SlackApiState
    channel: str
    repo: str

    def ask(self, text: str, *, ticket: bool = True) -> str:
        reactions = [{"name": "ticket", "users": [ASKER]}] if ticket else None
        return str(self.api.add_message(self.channel, text, user=ASKER, reactions=reactions)["ts"])

    def issues(self, ts: str) -> list[dict[str, Any]]:
        key = request_key(self.channel, ts)
        return [
            i
            for i in self.sandbox.state.github.repos[self.repo].issues
            if (m := RequestMarker.first(i["body"])) and m.key == key
        ]

    def bot_replies(self, ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.api.messages[self.channel]
            if m.get("thread_ts") == ts and m["ts"] != ts and m["user"] == self.api.bot_user
        ]

    def done_by(self, ts: str) -> list[str]:
        message = self.api.find(self.channel, ts)
        assert message is not None
        return [
            u for r in message.get("reactions", []) if r["name"] == "white_check_mark" for u in r["users"]
        ]


@pytest.fixture
def setup(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Setup]:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    n = next(_n)
    api = sandbox.state.slack_api
    channel, repo = f"C0TIX{n:04d}", f"acme/sre-requests-{n}"
    api.add_channel(channel, f"sre-help-{n}")
    if not any(g["id"] == GROUP for g in api.usergroups):
        api.add_usergroup(GROUP, HANDLE, [HELPER])
    sandbox.state.github.repo(repo)
    for key, value in {
        "ONCALL_SLACK_BOT_TOKEN": api.token,
        "ONCALL_SLACK_API_URL": sandbox.slack_api_url,
        "ONCALL_SRE_CHANNELS": json.dumps([channel]),
        "ONCALL_SRE_GROUP": HANDLE,
        "ONCALL_SRE_REQUEST_REPO": repo,
        "ONCALL_GITHUB_WRITE_INTERVAL": "0",
        "ONCALL_HTTP_BACKOFF_SECONDS": "0.01",
        "ONCALL_OUT_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    yield Setup(sandbox, api, channel, repo)


def _writes(s: Setup) -> tuple[int, int, int]:
    return (
        s.sandbox.app.count("github", "POST"),
        s.api.calls["chat.postMessage"],
        s.api.calls["reactions.add"],
    )


def test_the_sweep_files_once_and_the_event_and_a_dry_run_after_it_write_nothing(setup: Setup) -> None:
    s = setup
    ts = s.ask(f"<!subteam^{GROUP}|@{HANDLE}> the deploy is stuck at <!channel> *45%*")
    s.api.add_message(s.channel, "looking", user=HELPER, thread_ts=ts)
    untouched = s.ask(f"<!subteam^{GROUP}> a question nobody ticketed", ticket=False)
    s.ask("a ticket reaction on chatter that asks nobody")

    swept = sre_requests()
    assert swept["tickets"] == 1 and (swept["filed"], swept["replied"], swept["reacted"]) == (1, 1, 1)
    [issue] = s.issues(ts)
    assert issue["title"].startswith("SRE request: @") and "sre-request" in {
        lb["name"] for lb in issue["labels"]
    }
    assert "looking" in issue["body"]  # the replies so far
    assert "<!channel>" not in issue["body"] and "@\u200bchannel" in issue["body"]
    [said] = s.bot_replies(ts)
    assert (
        said["text"].startswith("Filed as <http") and f"/{s.repo}/issues/{issue['number']}|" in said["text"]
    )
    assert s.done_by(ts) == [s.api.bot_user]
    assert s.issues(untouched) == [] and s.bot_replies(untouched) == []
    assert len(s.sandbox.state.github.repos[s.repo].issues) == 1

    before = _writes(s)
    event = sre_requests(channel=s.channel, ts=ts)  # the relay's event, after the sweep handled it
    assert event["done"] == 1 and event["filed"] == event["replied"] == event["reacted"] == 0
    later = s.ask(f"<!subteam^{GROUP}> another one")
    dry = sre_requests(dry_run=True)  # the sweep again: the done one is left, the new one previewed
    assert dry["tickets"] == 1 and (dry["filed"], dry["replied"], dry["reacted"]) == (1, 1, 1)
    assert _writes(s) == before and s.issues(later) == []


def test_runs_that_die_after_each_write_leave_one_issue_one_reply_one_reaction(setup: Setup) -> None:
    s = setup
    ts = s.ask(f"<!subteam^{GROUP}> prod is down, pls help")
    # GitHub files the issue and its answer is lost (the run finds it by its marker); then Slack
    # posts the reply and its answer is lost: the run dies after the reply, before the reaction.
    s.sandbox.script(f"/github/repos/{s.repo}/issues", 502, method="POST", after=True)
    s.sandbox.script("/slack-api/chat.postMessage", 502, after=True)
    first = sre_requests(channel=s.channel, ts=ts, return_state=True)
    assert first.is_failed()
    assert len(s.issues(ts)) == 1 and len(s.bot_replies(ts)) == 1 and s.done_by(ts) == []

    rerun = sre_requests(channel=s.channel, ts=ts)
    assert (rerun["filed"], rerun["replied"], rerun["reacted"]) == (0, 0, 1)
    [issue] = s.issues(ts)
    [said] = s.bot_replies(ts)
    assert f"/{s.repo}/issues/{issue['number']}|" in said["text"] and s.done_by(ts) == [s.api.bot_user]
    assert len(s.sandbox.state.github.repos[s.repo].issues) == 1


def test_the_event_and_a_sweep_at_once_file_one_issue_one_reply_one_reaction(setup: Setup) -> None:
    """Slack's event and the sweep start together (every GitHub and Slack answer slowed): the
    lock per message lets one of them do the writes and the other find them done."""
    import threading

    s = setup
    ts = s.ask(f"<!subteam^{GROUP}> the certificate on lms expires tonight")
    s.sandbox.faults("github", latency_ms=30)
    s.sandbox.faults("slack-api", latency_ms=30)
    results: list[dict[str, int]] = []
    runs = [
        threading.Thread(target=lambda: results.append(sre_requests(channel=s.channel, ts=ts))),
        threading.Thread(target=lambda: results.append(sre_requests())),
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert len(results) == 2
    assert sum(r["filed"] for r in results) == 1 and sum(r["replied"] for r in results) == 1
    assert sum(r["reacted"] for r in results) == 1
    assert len(s.issues(ts)) == 1 and len(s.bot_replies(ts)) == 1 and s.done_by(ts) == [s.api.bot_user]
