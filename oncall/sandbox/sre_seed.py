"""The seeded week's @SRE requests: two Slack channels where the team's developers ask the SRE
group for help during the 24 hours before the hand-off, as a real day leaves them.

Ten requests cover every state the hand-off tells apart, in Slack's own text (`<!subteam^…|@sre>`,
`<@U…>`, `<url|label>`, `&lt;` for a typed `<`): answered in the thread by a member of the group,
answered by the on-call engineer, answered within minutes, acknowledged only (👀), tracked by an
issue someone filed by hand and linked in the thread, and left for the next engineer: one
overnight at 02:30 New York time, one whose only 👀 is the requester's own, one whose requester
bumps it alone, and one hostile text (markup, HTML, `<!channel>`, thousands of characters) that
every renderer must make harmless. A second acknowledged one carries the `ticket` reaction,
which the demo turns into an issue. Around them, ordinary chatter, a thread reply and a bot post that name the group
without being requests, and a mention of another group.

Decisions:
- Slack's @sre group is kept by hand and lags the rotation: this shift's primary is not in it,
  so their answer counts only because they are on call, the case the issue names beside the
  group's members. The engineer is matched by email, so the team's Slack users carry the emails
  of the schedule's users (`seed.USERS`).
- Each request declares the state it was made to have (`REQUESTS`), so a test can read it back
  through the core and compare, rather than trust this module's arithmetic.
- Every link points at `sandbox.invalid` (`SANDBOX_WEB`), as the other seeded records do. The
  hand-filed issue's link has the fake GitHub's page shape (`<web>/<repo>/issues/<n>`, the web
  base `https://sandbox.invalid/github` unless the caller names the running sandbox's), so a
  caller gives `SreSeed.github_host` to `classify` to see it.
- Times are counted back from the anchor and `ts` values are built from them, so a run with the
  same anchor seeds the same messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pendulum

from oncall.sandbox.seed import USERS, ZONE, _on_call, _turns, full_name
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sre_requests import RequestState

DEVHELP, PLATFORM = "C0DEVHELP", "C0PLATFORM"
SRE_CHANNELS = (DEVHELP, PLATFORM)  # ONCALL_SRE_CHANNELS, as a JSON list (`sre_env`)
GROUP, HANDLE = "S0SRE", "sre"
OTHER_GROUP = "S0FRONTEND"
GITHUB_WEB = f"{SANDBOX_WEB}/github"  # where the fake GitHub's pages are, offline
REQUEST_LABEL = "sre-request"
SRE = f"<!subteam^{GROUP}|@{HANDLE}>"

# The team's Slack ids, by the schedule's user id.
TEAM_IDS = {u["id"]: "U0" + u["name"].split(".")[0].upper() for u in USERS}
# People who ask: developers on the products the team runs.
REQUESTERS = {
    "U0PRIYA": "priya.raman@example.edu",
    "U0MARCUS": "marcus.bell@example.edu",
    "U0SOFIA": "sofia.ortiz@example.edu",
    "U0TOMAS": "tomas.silva@example.edu",
}
PRIYA, MARCUS, SOFIA, TOMAS = REQUESTERS
ONCALL = "{oncall}"  # in a spec, the shift's on-call engineer (found from the schedule)
ALICE, BRUNO, CHEN, EMIL = (TEAM_IDS[i] for i in ("u-alice", "u-bruno", "u-chen", "u-emil"))


@dataclass(frozen=True)
class Reply:
    user: str
    after_min: float
    text: str


@dataclass(frozen=True)
class Spec:
    """One request as made: where, by whom, when (minutes before the anchor), and its thread."""

    key: str
    channel: str
    user: str
    before_min: float
    text: str
    intended: RequestState
    replies: tuple[Reply, ...] = ()
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()


HOSTILE = (
    f"{SRE} <!channel> <!here> # URGENT **prod is DOWN** &lt;script&gt;alert(1)&lt;/script&gt; "
    "&lt;img src=x onerror=alert(document.cookie)&gt; | col | col |\n|---|---|\n"
    "[click to fix](javascript:alert(1)) ![x](https://sandbox.invalid/x.png) "
    "<https://sandbox.invalid/phish|https://github.com/login> `rm -rf /` *bold* _it_ ~strike~ "
    "\u202eevil\u202c @everyone " + "please help now " * 250
)
_ISSUE_TITLE = "S3 bucket and IAM role for the learn-ai transcript ingest"

REQUESTS: tuple[Spec, ...] = (
    Spec(
        "deploy-stuck",
        DEVHELP,
        PRIYA,
        23 * 60 + 20,
        f"{SRE} the MITx Online staging deploy has been stuck on “waiting for ECS service stability” "
        f"for 40 min: <{SANDBOX_WEB}/concourse/teams/main/pipelines/mitxonline|pipeline>. Can someone look?",
        RequestState.ANSWERED,
        (
            Reply(
                ALICE,
                12,
                "Looking. The new task definition asks for more memory than the staging nodes have.",
            ),
            Reply(PRIYA, 15, "Ah, that was my change to the worker count 🙈 should I revert?"),
            Reply(ALICE, 21, f"No need, I bumped the node group; <@{PRIYA}> retry the deploy now."),
            Reply(PRIYA, 34, f"Green, thanks {SRE}!"),  # a reply naming the group is no request
        ),
    ),
    Spec(
        "rds-access",
        PLATFORM,
        MARCUS,
        22 * 60 + 45,
        f"{SRE} could I get read access to the xpro-production RDS replica for the quarterly enrollment report?",
        RequestState.ANSWERED,
        (
            Reply(ONCALL, 25, "Sure, I'll add you to the read-only role; you'll get a Vault path in a DM."),
            Reply(MARCUS, 31, "perfect, thank you"),
        ),
    ),
    Spec(
        "keycloak-502",
        DEVHELP,
        SOFIA,
        20 * 60 + 55,
        f"<!subteam^{GROUP}> Keycloak login on rc is returning 502 for me, anyone else seeing it?",
        RequestState.ACKNOWLEDGED,
        reactions=(("eyes", (CHEN,)), ("+1", (PRIYA,))),
    ),
    Spec(
        "learn-ai-bucket",
        PLATFORM,
        PRIYA,
        19 * 60 + 30,
        f"{SRE} we need a new S3 bucket and an IAM role for the learn-ai transcript ingest, details in "
        f"<{SANDBOX_WEB}/google/document/d/doc-learn-ai-ingest/edit|this doc>",
        RequestState.TRACKED,
        (Reply(BRUNO, 40, "Not a quick one: filed {issue}, we'll plan it at Thursday's planning."),),
    ),
    Spec(
        "ocw-publish",
        DEVHELP,
        MARCUS,
        17 * 60 + 40,
        f"{SRE} the nightly OCW course publish to the CDN has timed out every night since Friday: "
        f"<{SANDBOX_WEB}/sentry/organizations/mit-office-of-digital-learning/issues/4821/|Sentry>. "
        "Not urgent, but it needs someone to dig in.",
        RequestState.ACKNOWLEDGED,  # until the demo files its issue
        reactions=(("eyes", (EMIL,)), ("ticket", (EMIL,))),
    ),
    Spec(
        "dns-record",
        PLATFORM,
        SOFIA,
        15 * 60 + 10,
        f"{SRE} quick one: what's the TTL on the learn.mit.edu CNAME? planning a cutover",
        RequestState.ANSWERED,
        (Reply(CHEN, 3, "300 s. Ping us before the cutover and we'll watch the Pingdom checks."),),
    ),
    Spec(
        "xqueue-overnight",
        PLATFORM,
        TOMAS,
        0,  # replaced by 02:30 New York time below
        f"{SRE} mitx-production grading queue is backing up again, 300+ submissions waiting: "
        f"<{SANDBOX_WEB}/grafana/d/xqueue/xqueue-depth|dashboard>. Learners in Asia are mid-exam.",
        RequestState.UNANSWERED,
    ),
    Spec(
        "vault-approle",
        PLATFORM,
        SOFIA,
        2 * 60 + 15,
        f"{SRE} is there a runbook for rotating the Vault AppRole secret for edxapp? Ours expires Friday.",
        RequestState.UNANSWERED,
        (
            Reply(SOFIA, 50, "bump 🙏"),
            Reply(
                SOFIA,
                65,
                f"found <{SANDBOX_WEB}/docs/vault-approle|a doc> but it's from 2023, is it still right?",
            ),
        ),
    ),
    Spec(
        "pingdom-xpro",
        DEVHELP,
        PRIYA,
        55,
        f"{SRE} Pingdom says xPro LMS production is down but it loads fine for me, false alarm?",
        RequestState.UNANSWERED,
        reactions=(("eyes", (PRIYA,)), ("+1", (MARCUS,))),  # the requester's own 👀 is no acknowledgement
    ),
    Spec("hostile", DEVHELP, TOMAS, 25, HOSTILE, RequestState.UNANSWERED),
)

# Ordinary talk in the channels: (channel, user, minutes before the anchor, text, subtype).
CHATTER: tuple[tuple[str, str, float, str, str | None], ...] = (
    (DEVHELP, PRIYA, 23 * 60 + 50, "morning all ☕", None),
    (
        DEVHELP,
        MARCUS,
        23 * 60 + 5,
        "does anyone know why the mitxonline tests flake on `test_checkout`?",
        None,
    ),
    (DEVHELP, SOFIA, 22 * 60 + 58, f"<@{MARCUS}> it's the frozen clock fixture, rerun it", None),
    (
        PLATFORM,
        ALICE,
        22 * 60 + 30,
        "Reminder: Concourse workers are being recycled at noon, expect a short queue.",
        None,
    ),
    (DEVHELP, TOMAS, 21 * 60 + 40, "", "channel_join"),
    (DEVHELP, TOMAS, 21 * 60 + 39, "hi! I'm Tomás, new on the Residential team 👋", None),
    (
        PLATFORM,
        BRUNO,
        21 * 60 + 10,
        f"<!subteam^{OTHER_GROUP}|@frontend> the new design tokens are out, see the README",
        None,
    ),
    (DEVHELP, PRIYA, 20 * 60 + 15, f"lunch thread for the <#{PLATFORM}|platform> folks? 🍜", None),
    (
        PLATFORM,
        MARCUS,
        18 * 60 + 50,
        "PSA: the hubspot sync errors in Sentry are known, fix ships tomorrow",
        None,
    ),
    (DEVHELP, CHEN, 18 * 60 + 5, f"FYI staging Keycloak was restarted, <@{SOFIA}> try again", None),
    (
        PLATFORM,
        "",
        16 * 60 + 30,
        f"{SRE} Deploy of ocw-studio 1.84.0 to production finished ✅",
        "bot_message",
    ),  # an integration naming the group is no request
    (DEVHELP, SOFIA, 16 * 60 + 5, "has anyone tried the new pre-commit hook config?", None),
    (DEVHELP, MARCUS, 15 * 60 + 55, "yes, it's fast once the cache is warm", None),
    (PLATFORM, EMIL, 14 * 60 + 20, "Postgres minor upgrades for the qa databases are done.", None),
    (
        DEVHELP,
        PRIYA,
        12 * 60 + 40,
        f"shipping the <{SANDBOX_WEB}/changelog/mitxonline|MITx Online release notes> now",
        None,
    ),
    (PLATFORM, ALICE, 11 * 60, "heading out, see you tomorrow", None),
    (DEVHELP, TOMAS, 8 * 60 + 10, "is the residential grading sandbox shared or per-dev?", None),
    (DEVHELP, SOFIA, 3 * 60 + 20, "good morning", None),
    (PLATFORM, MARCUS, 90, "enrollment report is done, thanks again for the access", None),
    (DEVHELP, PRIYA, 40, "standup in 10", None),
    (PLATFORM, BRUNO, 10, "Hand-off in a few minutes, I'll post the summary.", None),
)


@dataclass(frozen=True)
class SeededRequest:
    key: str
    channel: str
    ts: str
    user: str
    intended: RequestState


@dataclass(frozen=True)
class SreSeed:
    """What the demo and the tests need to find the seeded requests again."""

    channels: tuple[str, ...]
    group_id: str
    group_members: tuple[str, ...]
    bot_user: str
    on_call: str  # the Slack id of the shift's on-call engineer (not in the group)
    ticket_channel: str
    ticket_ts: str  # the request with the ticket reaction
    tracked_issue: int  # the hand-filed issue in the runbook repository
    github_host: str  # for `classify`: the host (and path) its link is on, without the scheme
    requests: tuple[SeededRequest, ...] = field(default=())

    def intended(self) -> dict[RequestState, int]:
        return {s: sum(r.intended is s for r in self.requests) for s in RequestState}


def _ts(at: datetime, n: int) -> str:
    """A Slack `ts` for `at` to the second; `n` keeps it unique (and in order within a second)."""
    return f"{int(at.timestamp())}.{n:06d}"


def _overnight(anchor: datetime) -> datetime:
    """The last 02:30 New York time before the anchor."""
    local = pendulum.instance(anchor).in_timezone(ZONE)
    night = local.set(hour=2, minute=30, second=0, microsecond=0)
    if night >= local:
        night = night.subtract(days=1)
    return datetime.fromtimestamp(night.timestamp(), anchor.tzinfo)


def _on_call_engineer(anchor: datetime) -> dict[str, str]:
    """The primary on call at the end of the shift, by the seeded schedule."""
    return (_on_call(_turns(anchor), anchor - timedelta(minutes=1)) or [USERS[0]])[0]


def _users(state: SandboxState) -> None:
    api = state.slack_api
    for user in USERS:
        email = user["name"]
        api.add_user(TEAM_IDS[user["id"]], email.split("@")[0], email, full_name(email))
    for ident, email in REQUESTERS.items():
        api.add_user(ident, email.split("@")[0], email, full_name(email))
    bot = api.add_user(api.bot_user, "oncall-flows", "oncall-flows@example.edu", "oncall-flows")
    bot.update(is_bot=True, profile={"real_name": "oncall-flows", "display_name": "oncall-flows"})


def _tracked_issue(state: SandboxState, at: datetime) -> int:
    """The issue Bruno filed by hand (no marker), as GitHub keeps one, filed when he replied."""
    issue = state.github.new_issue(
        state.runbook_repo,
        _ISSUE_TITLE,
        "Asked in #platform by Priya Raman: the learn-ai transcript ingest needs its own bucket "
        "(versioned, 90-day lifecycle to Glacier) and a role the ingest task can assume.\n\n"
        "- [ ] bucket in Pulumi, production and qa\n- [ ] IAM role and policy\n- [ ] Vault path for the keys\n",
        [REQUEST_LABEL],
        creator="bruno-diaz",
    )
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    issue.update(created_at=stamp, updated_at=stamp)
    return int(issue["number"])


def seed_sre_requests(state: SandboxState, anchor: datetime, *, github_web: str = GITHUB_WEB) -> SreSeed:
    """The channels, users, @sre group and the day's requests and chatter in `state.slack_api`,
    and the one hand-filed issue a request links to in `state.github`, linked on `github_web`
    (a running sandbox's `github_url` makes the link open its page)."""
    api = state.slack_api
    engineer = TEAM_IDS[_on_call_engineer(anchor)["id"]]
    members = tuple(i for i in TEAM_IDS.values() if i != engineer)
    for ident, name in ((DEVHELP, "dev-help"), (PLATFORM, "platform")):
        api.add_channel(ident, name, members=[api.bot_user, *TEAM_IDS.values(), *REQUESTERS])
    _users(state)
    api.add_usergroup(GROUP, HANDLE, list(members), "SRE team")
    api.add_usergroup(OTHER_GROUP, "frontend", [PRIYA, SOFIA], "Frontend")

    n = 0
    for channel, user, before, text, subtype in CHATTER:
        n += 1
        at = anchor - timedelta(minutes=before)
        message = api.add_message(channel, text, user=user or None, ts=_ts(at, n), subtype=subtype)
        if subtype == "bot_message":  # an integration's post: a bot id and a name, no user
            message.pop("user")
            message.update(bot_id="B0DEPLOYS", username="concourse")

    seeded: list[SeededRequest] = []
    tracked = 0
    for spec in REQUESTS:
        n += 1
        at = (
            _overnight(anchor)
            if spec.key == "xqueue-overnight"
            else anchor - timedelta(minutes=spec.before_min)
        )
        ts = _ts(at, n)
        reactions = [
            {"name": name, "users": [engineer if u == ONCALL else u for u in users]}
            for name, users in spec.reactions
        ]
        api.add_message(spec.channel, spec.text, user=spec.user, ts=ts, reactions=reactions or None)
        for reply in spec.replies:
            n += 1
            when = at + timedelta(minutes=reply.after_min)
            text = reply.text
            if "{issue}" in text:
                tracked = _tracked_issue(state, when)
                url = f"{github_web.rstrip('/')}/{state.runbook_repo}/issues/{tracked}"
                text = text.replace("{issue}", f"<{url}|#{tracked}>")
            user = engineer if reply.user == ONCALL else reply.user
            api.add_message(spec.channel, text, user=user, ts=_ts(when, n), thread_ts=ts)
        seeded.append(SeededRequest(spec.key, spec.channel, ts, spec.user, spec.intended))

    ticket = next(r for r in seeded if r.key == "ocw-publish")
    return SreSeed(
        channels=SRE_CHANNELS,
        group_id=GROUP,
        group_members=members,
        bot_user=api.bot_user,
        on_call=engineer,
        ticket_channel=ticket.channel,
        ticket_ts=ticket.ts,
        tracked_issue=tracked,
        github_host=github_web.split("://", 1)[-1].rstrip("/"),
        requests=tuple(seeded),
    )


def sre_env(sandbox: Sandbox) -> dict[str, str]:
    """The settings that point @SRE requests at the sandbox's Slack Web API and its channels
    (a list setting is read from the environment as JSON)."""
    return {
        "ONCALL_SLACK_BOT_TOKEN": sandbox.state.slack_api.token,
        "ONCALL_SLACK_API_URL": sandbox.slack_api_url,
        "ONCALL_SRE_CHANNELS": json.dumps(list(SRE_CHANNELS)),
        "ONCALL_SRE_GROUP": HANDLE,
    }
