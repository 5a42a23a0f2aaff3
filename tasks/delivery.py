"""Tasks that deliver results: Prefect artifacts, Slack, and files under the output folder."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.variables import Variable

from oncall.clients.slack import SlackWebhook
from oncall.settings import Settings


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
    hook = SlackWebhook(settings.require("slack_webhook_url"), timeout=settings.http_timeout_seconds)
    try:
        hook.post(payload)
    finally:
        hook.close()
    get_run_logger().info("Posted to Slack: %d blocks", len(payload.get("blocks", [])))


def post_once(
    settings: Settings, payload: dict[str, Any], topic: str, key: str, *, repost: bool = False
) -> str | None:
    """Post the Slack message `key` about `topic` (a schedule's hand-offs, one incident's COE)
    unless it was posted before; returns when it was, or None when it is posted now.

    Slack's webhooks take no idempotency key, so the record is ours: a Prefect Variable per
    topic holding its newest 20 posts, read once and written after the post. The caller holds
    its lock for the topic around this. A crash between the post and the record can still post
    twice.
    """
    name = artifact_key("oncall-slack-posted", topic)
    record = Variable.get(name, default=None)
    posts: dict[str, Any] = dict(record) if isinstance(record, dict) else {}
    if posts.get(key) and not repost:
        return str(posts[key])
    post_to_slack(settings, payload)
    posts[key] = datetime.now(UTC).isoformat(timespec="seconds")
    Variable.set(name, dict(sorted(posts.items(), key=lambda kv: str(kv[1]))[-20:]), overwrite=True)
    return None


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
