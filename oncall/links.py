"""Runbook links on alerts: where an alert says its runbook is, and whether that place exists.

Alerts routed from Prometheus carry a `runbook_url` annotation. When an alert has one, the
link decides coverage instead of heading matching: a link into the runbook's own repository
is checked against the files and heading anchors read from it; any other link is checked
over the network (tasks/links.py), where only a 404 or 410 makes it broken.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from oncall.runbook import RunbookEntry


class LinkStatus(StrEnum):
    OK = "ok"  # the file and anchor exist, or the page answered
    BROKEN = "broken"  # the file or anchor does not exist, or the page answered 404 or 410
    UNVERIFIED = "unverified"  # an auth wall, a login redirect, a timeout, an address never fetched


class LinkCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    status: LinkStatus
    reason: str  # one line for people: what was found, or what does not exist
    entry: RunbookEntry | None = None  # the runbook entry the link points at, when it is one
