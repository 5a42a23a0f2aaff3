"""The alert-source interface: the only way flows read alerts, incidents and on-call data.

OpsGenie is one implementation; Jira Service Management Operations and Rootly are others.
Each keeps its vendor's quirks (query syntax, paging caps, field names) inside its module
and returns the shared models. What a source cannot provide comes back as `None`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from oncall.errors import ConfigError
from oncall.models import Alert, AlertQuery, Incident, OnCall, Schedule, TimelineEntry, TimeWindow
from oncall.settings import Settings


@runtime_checkable
class AlertSource(Protocol):
    name: str

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        """Every alert matching `query`, sorted by creation time, however many there are."""
        ...

    def get_alert(self, alert_id: str) -> Alert: ...

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        """The alert's log lines and notes, oldest first."""
        ...

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        """Incidents created in `window`, with `resolved_at` filled where the source knows it."""
        ...

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        """Incidents resolved or closed (last changed) within `window`: what incident-watch looks for."""
        ...

    def get_incident(self, incident_id: str) -> Incident: ...

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]: ...

    def get_schedule(self, name: str) -> Schedule: ...

    def list_schedules(self) -> list[Schedule]: ...

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        """Who is on call at `at`, overrides applied."""
        ...

    def next_on_call(self, schedule: str, at: datetime) -> OnCall: ...

    def check(self) -> str:
        """One cheap authenticated call; returns a line for `oncall doctor`, raises on failure."""
        ...

    def close(self) -> None: ...


SOURCES = ("opsgenie", "jsm", "rootly")

# The secret setting that holds each source's credential.
SOURCE_CREDENTIAL = {"opsgenie": "opsgenie_api_key", "jsm": "jsm_api_token", "rootly": "rootly_api_token"}

# What each source does not record at all, and why; reports print these instead of a made-up value.
SOURCE_LACKS: dict[str, dict[str, str]] = {
    "opsgenie": {},
    "jsm": {},
    "rootly": {
        "priority": "Rootly alerts carry no priority",
        "dedup count": "Rootly folds repeats into one alert without counting them; each alert counts once",
    },
}


def build_source(settings: Settings, **client_options: Any) -> AlertSource:
    """The configured source. `client_options` (transport, sleep) are the test seam."""
    common: dict[str, Any] = {
        "timeout": settings.http_timeout_seconds,
        "concurrency": settings.max_concurrency,
        "retry": settings.retry,
        **client_options,
    }
    if settings.source == "opsgenie":
        from oncall.sources.opsgenie.client import OpsGenieSource

        return OpsGenieSource(
            settings.require(SOURCE_CREDENTIAL["opsgenie"]),
            region=settings.opsgenie_region,
            base_url=settings.opsgenie_base_url,
            **common,
        )
    if settings.source == "jsm":
        from oncall.sources.jsm.client import JsmSource

        site = settings.jsm_site_url
        if not site or not settings.jsm_email:
            raise ConfigError(
                "ONCALL_SOURCE is jsm: set ONCALL_JSM_SITE_URL (https://YOURSITE.atlassian.net) and ONCALL_JSM_EMAIL"
            )
        return JsmSource(
            settings.jsm_email,
            settings.require(SOURCE_CREDENTIAL["jsm"]),
            site_url=site,
            cloud_id=settings.jsm_cloud_id,
            api_url=settings.jsm_api_url,
            incident_project=settings.jsm_incident_project,
            **common,
        )
    if settings.source == "rootly":
        from oncall.sources.rootly.client import RootlySource

        return RootlySource(
            settings.require(SOURCE_CREDENTIAL["rootly"]),
            base_url=settings.rootly_base_url,
            **common,
        )
    raise ConfigError(f"ONCALL_SOURCE {settings.source!r} is not one of: opsgenie, jsm, rootly")
