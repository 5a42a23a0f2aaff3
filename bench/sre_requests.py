"""Reading a shift's @SRE requests from the Slack Web API fake, with 50 ms added to every call.

The scenario (issue 21's budget): one 12-hour shift in 3 channels of 5,000 top-level messages
each; every 100th asks @sre, and two in three of those requests have a thread of 1 to 3
replies. Each channel also holds a request from before the shift, which neither contender may
count.

Ours: `tasks.slack_requests.read_requests` (its `.fn`, no Prefect server), the read the hand-off
and the sweep use: conversations.history in pages of 200 (`oncall.clients.slack_api.PAGE`,
Slack's recommended size), one conversations.replies per request whose thread has replies.
Budget: ceil(5,000 / 200) history pages per channel, one replies call per request thread with
replies, and no more; the read's fixed calls beside it are usergroups.list twice (the group by
its handle, then its members) and one chat.getPermalink for the whole read (the pattern of the
rest). The on-call engineer is named in ONCALL_SLACK_MEMBER_IDS, so no users.list.

Sequential baseline: what a plain script does with the official client, `slack_sdk.WebClient`:
the channels one after another, conversations.history at the documented default page size
(no `limit`: 100), then conversations.replies for each request with replies, one at a time;
the same pure core (`oncall.sre_requests`) decides what is a request, so both find the same
ones. Ours is sequential too (one call at a time): the difference is the calls it makes.

Calls are counted by method in the fake (`SlackApiState.calls`). The sandbox is served from a
thread of this process, so the fake's work shares the interpreter with the contender; the
injected latency is an asyncio sleep and holds no lock.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.logging import disable_run_logger
from slack_sdk import WebClient

from oncall.clients.slack_api import PAGE
from oncall.models import TimeWindow
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.slack_api_fake import SlackApiState
from oncall.settings import Settings, load_settings
from oncall.sre_requests import is_request, message_from_api
from tasks.slack_requests import read_requests

LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
CHANNELS = ("C0BENCHA", "C0BENCHB", "C0BENCHC")
PER_CHANNEL = 5_000
EVERY = 100  # one message in this many asks @sre
TOKEN = "xoxb-bench-sre-requests"
SRE, MEMBER, ONCALL, ASKER = "S0BENCHSRE", "U0BENCHSRE", "U0BENCHONC", "U0BENCHASK"
START = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
WINDOW = TimeWindow(start=START, end=START + timedelta(hours=12))
DEFAULT_PAGE = 100  # conversations.history's documented default `limit`


def _message(ts: str, text: str, user: str = ASKER, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": user, "text": text, **extra}


def scenario() -> tuple[SlackApiState, int, int]:
    """The fake's workspace: (state, requests in the shift, request threads with replies)."""
    api = SlackApiState(token=TOKEN)
    api.add_usergroup(SRE, "sre", [MEMBER])
    api.add_user(ONCALL, "oncall", "oncall@example.com")
    step = WINDOW.length.total_seconds() / PER_CHANNEL
    requests = threads = 0
    for c, channel in enumerate(CHANNELS):
        api.add_channel(channel, channel.lower())
        before = f"{WINDOW.start.timestamp() - 600:.6f}"
        rows = [_message(before, f"<!subteam^{SRE}> before the shift")]
        for n in range(PER_CHANNEL):
            at = WINDOW.start.timestamp() + step * n + c * 0.001
            ts = f"{at:.6f}"
            if n % EVERY:
                rows.append(_message(ts, f"chatter {n} in {channel}"))
                continue
            requests += 1
            parent = _message(ts, f"<!subteam^{SRE}|@sre> can someone look at {n}?")
            turn = (n // EVERY) % 3
            if turn == 0:  # nobody replied in a thread
                rows.append(parent)
                continue
            replies = [
                _message(f"{at + 1 + r:.6f}", f"reply {r}", (MEMBER, ASKER, ONCALL)[r], thread_ts=ts)
                for r in range(1 + n % 3)
            ]
            parent |= {"thread_ts": ts, "reply_count": len(replies)}
            threads += 1
            rows += [parent, *replies]
        api.messages[channel] = sorted(rows, key=lambda m: float(m["ts"]))
    return api, requests, threads


def _settings(sb: Sandbox) -> Settings:
    return load_settings(
        layers=[],
        slack_bot_token=TOKEN,
        slack_api_url=sb.slack_api_url,
        sre_channels=list(CHANNELS),
        slack_member_ids={"Olive Oncall": ONCALL},
    )


def _ours(sb: Sandbox) -> int:
    with disable_run_logger():
        found = read_requests.fn(_settings(sb), WINDOW, oncall="Olive Oncall")
    assert found is not None and not found.skipped
    return len(found.threads)


def _sequential(sb: Sandbox) -> int:
    """A plain WebClient loop: history at the default page size, then each thread with replies."""
    client = WebClient(token=TOKEN, base_url=sb.slack_api_url)
    groups = client.usergroups_list()["usergroups"]
    group = next(g["id"] for g in groups if g["handle"] == "sre")
    found = 0
    for channel in CHANNELS:
        cursor: str | None = None
        raw: list[dict[str, Any]] = []
        while True:
            page = client.conversations_history(
                channel=channel,
                oldest=f"{WINDOW.start.timestamp():.6f}",
                latest=f"{WINDOW.end.timestamp():.6f}",
                inclusive=True,
                cursor=cursor,
            )
            raw += page["messages"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        for m in raw:
            message = message_from_api(channel, m)
            if message is None or not is_request(message, group):
                continue
            found += 1
            if message.reply_count:
                client.conversations_replies(channel=channel, ts=message.ts)
    return found


CONTENDERS: list[tuple[str, Callable[[Sandbox], int]]] = [
    (f"sequential baseline: plain WebClient, history at the default page size ({DEFAULT_PAGE})", _sequential),
    (f"ours: tasks.slack_requests.read_requests (pages of {PAGE})", _ours),
]


def run() -> list[dict[str, Any]]:
    api, requests, threads = scenario()
    rows = []
    with Sandbox(SandboxState(slack_api=api)) as sb:
        sb.faults("slack-api", latency_ms=LATENCY_MS)
        for name, work in CONTENDERS:
            api.forget_calls()
            t0, c0 = time.perf_counter(), time.process_time()
            found = work(sb)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert found == requests, f"{name} found {found} requests, not {requests}"
            rows.append(
                {
                    "contender": name,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "found": found,
                    "calls": dict(api.calls),
                    "requests": requests,
                    "threads": threads,
                }
            )
    return rows


def budget(threads: int) -> dict[str, int]:
    """Issue 21's budget for the read, and the read's fixed calls beside it."""
    return {
        "conversations.history": len(CHANNELS) * math.ceil(PER_CHANNEL / PAGE),
        "conversations.replies": threads,
        "usergroups.list": 2,
        "chat.getPermalink": 1,
    }


def report(rows: list[dict[str, Any]]) -> str:
    seq, ours = rows[0], rows[-1]
    want = budget(ours["threads"])
    methods = sorted({m for r in rows for m in r["calls"]} | set(want))
    lines = [
        f"## @SRE requests: one 12-hour shift, {len(CHANNELS)} channels x {PER_CHANNEL:,} messages, "
        f"{ours['requests']} requests ({ours['threads']} with a thread), {LATENCY_MS:.0f} ms per call",
        "",
        "| contender | wall | CPU | requests found | " + " | ".join(methods) + " | all calls |",
        "|---|---|---|---|" + "---|" * len(methods) + "---|",
    ]
    for r in rows:
        counts = " | ".join(str(r["calls"].get(m, 0)) for m in methods)
        lines.append(
            f"| {r['contender']} | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s | {r['found']} | {counts} "
            f"| {sum(r['calls'].values())} |"
        )
    lines.append(
        "| budget (issue 21; usergroups.list and chat.getPermalink: the read's fixed calls) | | | "
        f"{ours['requests']} | "
        + " | ".join(str(want.get(m, 0)) for m in methods)
        + f" | {sum(want.values())} |"
    )
    history, replies = (
        ours["calls"].get("conversations.history", 0),
        ours["calls"].get("conversations.replies", 0),
    )
    extra = {m: n for m, n in ours["calls"].items() if m not in want or n > want[m]}
    met = history == want["conversations.history"] and replies == want["conversations.replies"] and not extra
    lines += [
        "",
        f"- budget: conversations.history {history} (ceil({PER_CHANNEL:,} / {PAGE}) x {len(CHANNELS)} = "
        f"{want['conversations.history']}), conversations.replies {replies} (one per request thread with "
        f"replies: {want['conversations.replies']}), "
        + (
            f"nothing more: {'met' if met else 'NOT met'}"
            if not extra
            else f"more than budgeted: {extra} (NOT met)"
        ),
        f"- ours {ours['wall_s']:.2f} s against the baseline's {seq['wall_s']:.2f} s "
        f"({seq['wall_s'] / ours['wall_s']:.1f}x), {sum(ours['calls'].values())} calls against "
        f"{sum(seq['calls'].values())}: both make one call at a time, so the time is the calls",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
