"""Tasks that deliver results: Prefect artifacts, Slack, and files under the output folder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.variables import Variable

from oncall import escape
from oncall.errors import OncallError, UncertainError
from oncall.settings import Settings
from tasks.clients import clients


def artifact_key(*parts: str) -> str:
    """Artifact keys allow only lowercase letters, digits and dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower())).strip("-")[:100]


@task(cache_policy=NO_CACHE)
def publish_markdown(markdown: str, key: str, description: str) -> None:
    """A markdown artifact under a stable key, so the UI shows its history."""
    create_markdown_artifact(markdown=markdown, key=key, description=description)
    get_run_logger().info("Published artifact %r (%d characters)", key, len(markdown))


@task(cache_policy=NO_CACHE)
def publish_table(rows: list[dict[str, str]], key: str, description: str) -> None:
    """A table artifact (one row per item) under a stable key."""
    create_table_artifact(table=rows, key=key, description=description)
    get_run_logger().info("Published table %r (%d rows)", key, len(rows))


@task(cache_policy=NO_CACHE, retries=0)
def post_to_slack(settings: Settings, payload: dict[str, Any]) -> None:
    """One Slack message. Not retried by Prefect: a retry after an unclear failure could post twice."""
    with clients(settings) as run:
        run.slack().post(payload)
    get_run_logger().info("Posted to Slack: %d blocks", len(payload.get("blocks", [])))


@dataclass(frozen=True)
class SlackRecord:
    """What our record says of one message: posted (Slack answered `ok`) at `at`, or only
    attempted then (the answer was lost, or the run died mid-post): it may be in the channel."""

    at: str
    confirmed: bool

    def __str__(self) -> str:
        if self.confirmed:
            return f"posted at {self.at}"
        return f"attempted at {self.at} with no clear answer from Slack; it may or may not be in the channel"


def post_once(
    settings: Settings,
    payload: dict[str, Any],
    topic: str,
    key: str,
    *,
    repost: bool = False,
    repost_hint: str | None = None,
) -> SlackRecord | None:
    """Post the Slack message `key` about `topic` (a schedule's hand-offs, one incident's COE)
    unless it was posted or attempted before; returns that earlier record, or None when the
    message is posted now. The caller holds its lock for the topic around this.

    Slack's webhooks take no idempotency key and cannot be asked what they posted, so the
    record is ours (a Prefect Variable per topic, its newest 20 messages), and the rule is
    at most once: the attempt is recorded before the post, and marked posted on Slack's `ok`.
    A certain failure (a refusal, no connection, a page that is not Slack's) forgets the
    attempt, so a rerun posts. A lost answer (UncertainError), or a run that died mid-post,
    leaves the attempt: no later run posts it again unless `repost`, and each says so in its
    log and in the artifact `slack-<topic>`. A message can then be missing, never doubled.
    """
    name = artifact_key("oncall-slack-posted", topic)
    hint = repost_hint or f"to post it anyway, delete {key!r} from the Prefect Variable {name!r}"
    posts = _read_posts(name)
    earlier = _record(posts.get(key))
    if earlier is not None and not repost:
        if not earlier.confirmed:
            _say_unconfirmed(topic, key, earlier, hint)
        return earlier
    attempt = datetime.now(UTC).isoformat(timespec="seconds")
    posts[key] = {"attempted": attempt}
    _write_posts(name, posts)
    try:
        post_to_slack(settings, payload)
    except UncertainError as exc:
        _say_unconfirmed(topic, key, SlackRecord(attempt, confirmed=False), hint)
        raise UncertainError(
            exc.system,
            f"{str(exc).removeprefix(f'{exc.system}: ')}. It is recorded as attempted, so no run will "
            f"post it again by itself; check the channel ({hint})",
            status=exc.status,
        ) from exc
    except OncallError:
        # Certainly not posted: a rerun may post (and an earlier confirmed post stays recorded).
        if earlier is None:
            del posts[key]
        else:
            posts[key] = earlier.at if earlier.confirmed else {"attempted": earlier.at}
        _write_posts(name, posts)
        raise
    posts[key] = attempt
    _write_posts(name, posts)
    return None


def _record(entry: Any) -> SlackRecord | None:
    """A record entry: a posted time (a string, as records have always held), or an attempt."""
    if isinstance(entry, str) and entry:
        return SlackRecord(entry, confirmed=True)
    if isinstance(entry, dict) and isinstance(entry.get("attempted"), str):
        return SlackRecord(entry["attempted"], confirmed=False)
    return None


def _read_posts(name: str) -> dict[str, Any]:
    record = Variable.get(name, default=None)
    return dict(record) if isinstance(record, dict) else {}


def _write_posts(name: str, posts: dict[str, Any]) -> None:
    """The newest 20 entries, posted or attempted."""

    def when(entry: Any) -> str:
        found = _record(entry)
        return found.at if found else ""

    newest = sorted(posts.items(), key=lambda kv: when(kv[1]))[-20:]
    Variable.set(name, dict(newest), overwrite=True)


def _say_unconfirmed(topic: str, key: str, record: SlackRecord, hint: str) -> None:
    """The log line and the run's artifact that say a message may be missing, and how to repost."""
    get_run_logger().warning(
        "Slack message %r about %s was %s; not posting it again by itself (%s)", key, topic, record, hint
    )
    publish_markdown(
        f"# Slack message not confirmed\n\n"
        f"The message about {escape.prefect_md(topic, 200)} ({escape.prefect_md(key, 300)}) was {escape.prefect_md(str(record))}. "
        "Slack's webhooks cannot be asked what they posted, so it is not posted again by itself: "
        f"a message may be missing, never doubled. Check the channel; {hint}.\n",
        artifact_key("slack", topic),
        f"Slack message about {topic} not confirmed",
    )


@task(cache_policy=NO_CACHE)
def write_output(directory: str, name: str, content: str | list[dict[str, Any]]) -> str:
    """A file under the output folder: text as is, a list of objects as JSON lines."""
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(
            "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in content), encoding="utf-8"
        )
    get_run_logger().info("Wrote %s", path)
    return str(path)
