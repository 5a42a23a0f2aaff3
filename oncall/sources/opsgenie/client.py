"""OpsGenie REST (alerts v2, incidents v1, incident timelines, schedules) as an AlertSource.

OpsGenie's quirks stay here: `GenieKey` auth, the Lucene-like query, the 100-item page and
the offset+limit <= 20,000 cap. A window holding more than the cap is split by creation time
(counted first with `/v2/alerts/count`) so every alert is fetched; pages of all sub-windows
are fetched concurrently within a bounded pool. OpsGenie's API stops on 2027-04-05.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import parse_qs, urlsplit

from oncall.clients.http import ApiClient
from oncall.clients.records import attempt, iso, keep_good, parse_record, parse_records, require_list
from oncall.clock import epoch_ms
from oncall.errors import InputError, MalformedError
from oncall.models import (
    Alert,
    AlertQuery,
    Incident,
    OnCall,
    Schedule,
    TimelineEntry,
    TimeWindow,
)
from oncall.sources.base import HttpOptions, SourceClient, concurrency, connect, from_settings
from oncall.sources.genie import alert_from_raw, schedule_from_raw
from oncall.sources.genie import build_query as build_query  # its home is genie: JSM reads it too
from oncall.sources.opsgenie.records import incident_from_raw, on_call_people
from oncall.sources.paging import EPOCH, fetch_by_offset, whole_window

if TYPE_CHECKING:
    from oncall.settings import Settings

BASE_URLS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
PAGE = 100
OFFSET_CAP = 19_900  # OpsGenie answers 422 "Sum of offset and limit should be lower than 20000"
SYSTEM = "OpsGenie"
_RESOLVING = ("IncidentResolved", "IncidentClosed")


class OpsGenieSource(SourceClient):
    """AlertSource over OpsGenie. `base_url` overrides `region` (the sandbox uses it)."""

    name = "opsgenie"

    def __init__(
        self,
        api_key: str,
        *,
        region: str = "us",
        base_url: str | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        if region not in BASE_URLS and base_url is None:
            raise InputError(f"ONCALL_OPSGENIE_REGION {region!r} must be 'us' or 'eu'")
        base = base_url or BASE_URLS[region]
        self.concurrency = concurrency(http)
        self.web_base = "https://app.opsgenie.com" if region == "us" else "https://app.eu.opsgenie.com"
        # An incident's timeline as read in this client's run: OpsGenie keeps the resolve time
        # there, so `get_incident` reads it, and coe-prep then quotes the same timeline.
        self._timelines: dict[str, list[TimelineEntry]] = {}
        self.api = connect(
            self.name, SYSTEM, base, {"headers": {"Authorization": f"GenieKey {api_key}"}}, http
        )

    def _clients(self) -> list[ApiClient]:
        return [self.api]

    # -- alerts -----------------------------------------------------------------------------

    def count_alerts(self, query: str) -> int:
        body = self.api.get_json("/v2/alerts/count", params={"query": query}, what="alert count")
        try:
            return int(body["data"]["count"])
        except (KeyError, TypeError, ValueError):
            raise MalformedError(SYSTEM, "alert count: response has no data.count") from None

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        alerts = fetch_by_offset(
            lambda w: self.count_alerts(build_query(query, w)),
            lambda w, offset: self._page(query, w, offset),
            lambda: whole_window(query),
            key=lambda a: a.id,
            cap=OFFSET_CAP,
            size=PAGE,
            concurrency=self.concurrency,
            system=SYSTEM,
        )
        return sorted(alerts, key=lambda a: (a.created_at, a.id))

    def _page(self, query: AlertQuery, window: TimeWindow | None, offset: int) -> list[Alert]:
        params = {
            "query": build_query(query, window),
            "offset": offset,
            "limit": PAGE,
            "sort": "createdAt",
            "order": "asc",
        }
        what = f"alerts page offset={offset}"
        body = self.api.get_json("/v2/alerts", params=params, what=what)
        raws = require_list(SYSTEM, body, "data", what)
        return parse_records(SYSTEM, "alert", raws, lambda r: alert_from_raw(r, self.web_base), f"({what})")

    def get_alert(self, alert_id: str) -> Alert:
        """By id, or by the tinyId the hand-off shows (`1101`, `#1101`), as for incidents."""
        ref = alert_id.strip().removeprefix("#")
        kind = "tiny" if ref.isdigit() else "id"
        body = self.api.get_json(f"/v2/alerts/{ref}", params={"identifierType": kind}, what=f"alert {ref}")
        return parse_record(SYSTEM, "alert", body.get("data"), lambda r: alert_from_raw(r, self.web_base))

    def _cursor(self, path: str, what: str) -> Iterator[dict[str, Any]]:
        """Alert logs and notes page by a string cursor taken from the last item."""
        offset: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "order": "asc", "direction": "next"}
            if offset:
                params["offset"] = offset
            data = require_list(SYSTEM, self.api.get_json(path, params=params, what=what), "data", what)
            yield from data
            if len(data) < 100 or not data[-1].get("offset"):
                return
            if data[-1]["offset"] == offset:
                raise MalformedError(SYSTEM, f"{what}: the cursor {offset!r} does not move; stopped")
            offset = data[-1]["offset"]

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        entries = [
            parse_record(
                SYSTEM,
                "alert log",
                raw,
                lambda r: TimelineEntry(
                    at=iso(r["createdAt"]),
                    origin="alert-log",
                    kind=r.get("type") or "log",
                    text=r["log"],
                    actor=r.get("owner") or None,
                    ref=alert_id,
                ),
            )
            for raw in self._cursor(f"/v2/alerts/{alert_id}/logs", f"logs of alert {alert_id}")
        ]
        entries += [
            parse_record(
                SYSTEM,
                "alert note",
                raw,
                lambda r: TimelineEntry(
                    at=iso(r["createdAt"]),
                    origin="alert-note",
                    kind="note",
                    text=r["note"],
                    actor=r.get("owner") or None,
                    ref=alert_id,
                ),
            )
            for raw in self._cursor(f"/v2/alerts/{alert_id}/notes", f"notes of alert {alert_id}")
        ]
        return sorted(entries, key=lambda e: e.at)

    # -- incidents --------------------------------------------------------------------------

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        return self._incidents("", window)

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        query = f"status:(resolved OR closed) AND updatedAt>={epoch_ms(window.start)} AND updatedAt<{epoch_ms(window.end)}"
        found = self._incidents(query, TimeWindow(start=EPOCH, end=window.end))
        return [i for i in found if i.resolved_at is None or i.resolved_at < window.end]

    def _incidents(self, query: str, created: TimeWindow) -> list[Incident]:
        """Incidents matching `query` created in `created`, split by creation time past the offset cap."""

        def restricted(window: TimeWindow | None) -> str:
            w = window or created
            bounds = f"createdAt>={epoch_ms(w.start)} AND createdAt<{epoch_ms(w.end)}"
            return f"{query} AND {bounds}" if query else bounds

        raws = fetch_by_offset(
            lambda w: self._count_incidents(restricted(w)),
            lambda w, offset: self._incident_page(restricted(w), offset),
            lambda: created,
            cap=OFFSET_CAP,
            size=PAGE,
            concurrency=self.concurrency,
            system=SYSTEM,
        )
        raws.sort(key=lambda r: (str(r.get("createdAt")), str(r.get("id"))))
        with ThreadPoolExecutor(self.concurrency) as pool:
            done = list(pool.map(lambda r: attempt(self._complete_incident, r), raws))
        return keep_good(SYSTEM, "incident", done)

    def _incident_page(self, query: str, offset: int) -> list[dict[str, Any]]:
        params = {"query": query, "offset": offset, "limit": PAGE, "sort": "createdAt", "order": "asc"}
        what = f"incidents page offset={offset}"
        body = self.api.get_json("/v1/incidents/", params=params, what=what)
        return [r for r in require_list(SYSTEM, body, "data", what) if isinstance(r, dict)]

    def _count_incidents(self, query: str) -> int:
        """OpsGenie counts no incidents; a one-item page's `paging.last` link holds the last offset."""
        params = {"query": query, "offset": 0, "limit": 1, "sort": "createdAt", "order": "asc"}
        body = self.api.get_json("/v1/incidents/", params=params, what="incident count")
        data = require_list(SYSTEM, body, "data", "incident count")
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        offsets = parse_qs(urlsplit(str(paging.get("last") or "")).query).get("offset") or []
        if offsets and offsets[0].isdigit():
            return int(offsets[0]) + 1
        if not paging.get("next"):
            return len(data)  # no page after this one
        raise MalformedError(SYSTEM, "incident count: paging has a next link but no last link with an offset")

    def _complete_incident(self, raw: dict[str, Any]) -> Incident:
        """OpsGenie has no resolve time on the incident; it is read off the timeline."""
        resolved_at = None
        if isinstance(raw, dict) and raw.get("status") in ("resolved", "closed") and raw.get("id"):
            ends = [e.at for e in self.incident_timeline(str(raw["id"])) if e.kind in _RESOLVING]
            resolved_at = min(ends) if ends else None
        return parse_record(SYSTEM, "incident", raw, lambda r: incident_from_raw(r, resolved_at))

    def get_incident(self, incident_id: str) -> Incident:
        """By id, or by the tinyId the hand-off and OpsGenie's UI show (`101` or `#101`): ids are
        UUIDs, so a number is always a tinyId, asked for with `identifierType=tiny`."""
        ref = incident_id.strip().removeprefix("#")
        kind = "tiny" if ref.isdigit() else "id"
        body = self.api.get_json(
            f"/v1/incidents/{ref}", params={"identifierType": kind}, what=f"incident {ref}"
        )
        return self._complete_incident(body.get("data"))

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        if incident_id not in self._timelines:
            self._timelines[incident_id] = self._read_incident_timeline(incident_id)
        return list(self._timelines[incident_id])

    def _read_incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        what = f"timeline of incident {incident_id}"
        out: list[TimelineEntry] = []
        offset: str | None = None
        while True:
            params: dict[str, Any] = {"group": "custom,incident", "limit": 20, "order": "asc"}
            if offset:
                params["offset"] = offset
            body = self.api.get_json(
                f"/v2/incident-timelines/{incident_id}/entries", params=params, what=what
            )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise MalformedError(SYSTEM, f"{what}: response has no data object")
            out += [
                parse_record(
                    SYSTEM,
                    "timeline entry",
                    raw,
                    lambda r: TimelineEntry(
                        at=iso(r["eventTime"]),
                        origin="incident",
                        kind=r.get("type") or r.get("group", "entry"),
                        text=(r.get("description") or {}).get("content")
                        or r.get("title")
                        or r.get("type", ""),
                        actor=(r.get("actor") or {}).get("name"),
                        ref=incident_id,
                    ),
                )
                for raw in require_list(SYSTEM, data, "entries", what)
                if not raw.get("hidden")
            ]
            if data.get("nextOffset") and data.get("nextOffset") == offset:
                raise MalformedError(SYSTEM, f"{what}: nextOffset {offset!r} does not move; stopped")
            offset = data.get("nextOffset")
            if not offset:
                return sorted(out, key=lambda e: e.at)

    # -- schedules --------------------------------------------------------------------------

    def list_schedules(self) -> list[Schedule]:
        body = self.api.get_json("/v2/schedules", params={"expand": "rotation"}, what="schedule list")
        return [
            parse_record(SYSTEM, "schedule", r, schedule_from_raw)
            for r in require_list(SYSTEM, body, "data", "schedules")
        ]

    def get_schedule(self, name: str) -> Schedule:
        body = self.api.get_json(
            f"/v2/schedules/{name}", params={"identifierType": "name"}, what=f"schedule {name!r}"
        )
        return parse_record(SYSTEM, "schedule", body.get("data"), schedule_from_raw)

    def _who(self, path: str, key: str, schedule: str, at: datetime) -> OnCall:
        params = {
            "scheduleIdentifierType": "name",
            "flat": "false",
            "date": at.astimezone(UTC).isoformat(),
        }
        body = self.api.get_json(
            f"/v2/schedules/{schedule}/{path}",
            params=params,
            what=f"{path} of schedule {schedule!r}",
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise MalformedError(SYSTEM, f"{path} of schedule {schedule!r}: response has no data object")
        participants = data.get(key) or []
        forwarded = [
            p["forwardedFrom"] for p in participants if isinstance(p, dict) and p.get("forwardedFrom")
        ]
        return OnCall(
            schedule=schedule,
            at=at,
            people=tuple(on_call_people(participants)),
            forwarded_from=tuple(on_call_people(forwarded)),
        )

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        return self._who("on-calls", "onCallParticipants", schedule, at)

    def next_on_call(self, schedule: str, at: datetime) -> OnCall:
        return self._who("next-on-calls", "nextOnCallRecipients", schedule, at)

    def check(self) -> str:
        schedules = self.list_schedules()
        return f"OpsGenie at {self.api.http.base_url}: key accepted, {len(schedules)} schedule(s) visible"


def build(settings: Settings, http: HttpOptions) -> OpsGenieSource:
    """The registry's `build` for OpsGenie: the key, `region` and `base_url` from the settings."""
    return from_settings("opsgenie", OpsGenieSource, settings, http)
