"""Jira Service Management Operations (OpsGenie's successor) as an AlertSource.

Two hosts, one Basic credential (Atlassian account email + API token):
- the Operations API at `{api_url}/jsm/ops/api/{cloudId}/v1`: alerts (OpsGenie's record shape
  and query syntax, `offset`/`size` paging under 20,000, `values`/`count`/`links.next`),
  alert logs and notes, schedules and on-calls. People there are Atlassian account ids.
- the Jira site (`{site}/rest/api/3`): account ids become names and emails (`user/bulk`,
  cached for the life of the source), and incidents, which in JSM are Jira work items of
  type "[System] Incident", are read with JQL and their changelog. JSM's separate Incidents
  API needs OAuth and Premium; JQL on the site works with the same token on any plan.

`cloudId` is read from the site's `/_edge/tenant_info` when not configured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from oncall.clients.http import ApiClient
from oncall.clients.records import iso, parse_record, parse_records, require_list
from oncall.errors import ConfigError, MalformedError, NotAvailableError, RejectedError
from oncall.models import (
    Alert,
    AlertQuery,
    Incident,
    OnCall,
    Person,
    Priority,
    Schedule,
    TimelineEntry,
    TimeWindow,
)
from oncall.sources import config, source_spec
from oncall.sources.base import HttpOptions, SourceClient, concurrency, connect, named
from oncall.sources.genie import alert_from_raw, build_query, schedule_from_raw
from oncall.sources.jsm import JsmConfig
from oncall.sources.paging import every_page

if TYPE_CHECKING:
    from oncall.settings import Settings

SYSTEM = "JSM"
PAGE = 100
OFFSET_CAP = 19_900  # offset + size must stay under 20,000, as on OpsGenie
USERS_PER_CALL = 50
INCIDENT_TYPE = "[System] Incident"
JIRA_PRIORITY = {
    "Highest": Priority.P1,
    "High": Priority.P2,
    "Medium": Priority.P3,
    "Low": Priority.P4,
    "Lowest": Priority.P5,
}
INCIDENT_FIELDS = "summary,status,priority,created,updated,resolutiondate,assignee,labels,components"


def _jql_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y/%m/%d %H:%M")


class JsmSource(SourceClient):
    """AlertSource over JSM Operations plus the Jira site for people and incidents."""

    name = "jsm"

    def __init__(
        self,
        email: str,
        api_token: str,
        *,
        site_url: str,
        cloud_id: str | None = None,
        api_url: str = "https://api.atlassian.com",
        incident_project: str | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        self.concurrency = concurrency(http)
        self.site_url = site_url.rstrip("/")
        self.incident_project = incident_project
        self._http = http
        self._auth = httpx.BasicAuth(email, api_token)
        self.site = self._connect(self.site_url)
        self._api_url = api_url.rstrip("/")
        self._cloud_id = cloud_id
        self._ops: ApiClient | None = None
        self._people: dict[str, Person] = {}
        self._unknown: set[str] = set()
        self._schedule_list: list[dict[str, Any]] | None = None
        self._lock = Lock()

    def _connect(self, base_url: str) -> ApiClient:
        """Both hosts take the same Basic credential and HTTP options."""
        return connect(
            self.name,
            SYSTEM,
            base_url,
            {"auth": self._auth},
            self._http,
            credential_setting=f"ONCALL_JSM_EMAIL and {source_spec(self.name).credential_hint}",
        )

    def _clients(self) -> list[ApiClient]:
        return [self.site, *([self._ops] if self._ops is not None else [])]

    @property
    def cloud_id(self) -> str:
        if self._cloud_id is None:
            body = self.site.get_json("/_edge/tenant_info", what="the site's cloud id")
            if not isinstance(body, dict) or not body.get("cloudId"):
                raise MalformedError(SYSTEM, f"{self.site_url}/_edge/tenant_info has no cloudId")
            self._cloud_id = str(body["cloudId"])
        return self._cloud_id

    @property
    def ops(self) -> ApiClient:
        with self._lock:
            if self._ops is None:
                base = f"{self._api_url}/jsm/ops/api/{self.cloud_id}"
                self._ops = self._connect(base)
            return self._ops

    # -- people -----------------------------------------------------------------------------

    def people(self, account_ids: set[str]) -> dict[str, Person]:
        """Account ids as people (email where the profile shows it, else display name), cached."""
        missing = sorted(a for a in account_ids if a and a not in self._people and a not in self._unknown)
        batches = [missing[i : i + USERS_PER_CALL] for i in range(0, len(missing), USERS_PER_CALL)]

        def fetch(batch: list[str]) -> list[Any]:
            params = [("accountId", a) for a in batch] + [("maxResults", str(len(batch)))]
            body = self.site.get_json("/rest/api/3/user/bulk", params=params, what="Atlassian users")  # type: ignore[arg-type]
            return require_list(SYSTEM, body, "values", "Atlassian users")

        with ThreadPoolExecutor(self.concurrency) as pool:
            for found in pool.map(fetch, batches):
                for u in found:
                    if isinstance(u, dict) and u.get("accountId"):
                        name = u.get("emailAddress") or u.get("displayName") or u["accountId"]
                        self._people[u["accountId"]] = Person(id=u["accountId"], name=str(name))
        self._unknown.update(a for a in missing if a not in self._people)  # "System", integrations
        return {a: self._people[a] for a in account_ids if a in self._people}

    def _name(self, people: dict[str, Person], account_id: Any) -> Any:
        return people[account_id].name if account_id in people else account_id

    def _named_alert(self, raw: dict[str, Any], people: dict[str, Person]) -> Alert:
        report = dict(raw.get("report") or {})
        for key in ("acknowledgedBy", "closedBy"):
            if key in report:
                report[key] = self._name(people, report[key])
        raw = {**raw, "owner": self._name(people, raw.get("owner")), "report": report}
        return alert_from_raw(raw, f"{self.site_url}/jira/ops/alerts")

    @staticmethod
    def _account_ids(raws: list[dict[str, Any]]) -> set[str]:
        ids: set[str] = set()
        for r in raws:
            report = r.get("report") or {}
            ids.update(
                str(x) for x in (r.get("owner"), report.get("acknowledgedBy"), report.get("closedBy")) if x
            )
        return ids

    # -- alerts -----------------------------------------------------------------------------

    def _alert_page(self, query: str, offset: int, size: int = PAGE) -> dict[str, Any]:
        params = {"query": query, "offset": offset, "size": size, "sort": "createdAt", "order": "asc"}
        body = self.ops.get_json("/v1/alerts", params=params, what=f"alerts page offset={offset}")
        if not isinstance(body, dict):
            raise MalformedError(SYSTEM, f"alerts page offset={offset}: the response is not an object")
        return body

    @staticmethod
    def _count(body: dict[str, Any]) -> int:
        try:
            return int(body["count"])
        except (KeyError, TypeError, ValueError):
            raise MalformedError(SYSTEM, "alerts page: response has no count") from None

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        bodies = every_page(
            query,
            lambda w, i, size: self._alert_page(build_query(query, w), i * size, size),
            self._count,
            cap=OFFSET_CAP - PAGE,
            size=PAGE,
            concurrency=self.concurrency,
            system=SYSTEM,
        )
        raws = [r for b in bodies for r in require_list(SYSTEM, b, "values", "alerts") if isinstance(r, dict)]
        people = self.people(self._account_ids(raws))
        by_id = {
            a.id: a for a in parse_records(SYSTEM, "alert", raws, lambda r: self._named_alert(r, people))
        }
        return sorted(by_id.values(), key=lambda a: (a.created_at, a.id))

    def get_alert(self, alert_id: str) -> Alert:
        body = self.ops.get_json(f"/v1/alerts/{alert_id}", what=f"alert {alert_id}")
        raw = body if isinstance(body, dict) else {}
        people = self.people(self._account_ids([raw]))
        return parse_record(SYSTEM, "alert", raw, lambda r: self._named_alert(r, people))

    def _linked(self, path: str, what: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Follow `links.next` (a path on the Operations API, carrying the parameters) until it is absent."""
        query: dict[str, Any] | None = {**(params or {}), "size": PAGE}
        seen: set[str] = set()
        while True:
            body = self.ops.get_json(path, params=query, what=what)
            yield from require_list(SYSTEM, body, "values", what)
            nxt = (body.get("links") or {}).get("next")
            if not nxt:
                return
            if not str(nxt).startswith("/v1/"):
                raise MalformedError(SYSTEM, f"{what}: links.next {str(nxt)[:80]!r} is not an API path")
            if nxt in seen:
                raise MalformedError(SYSTEM, f"{what}: links.next {str(nxt)[:80]!r} came back again; stopped")
            seen.add(str(nxt))
            path, query = str(nxt), None

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        logs = list(self._linked(f"/v1/alerts/{alert_id}/logs", f"logs of alert {alert_id}"))
        notes = list(self._linked(f"/v1/alerts/{alert_id}/notes", f"notes of alert {alert_id}"))
        people = self.people(
            {str(r.get("owner")) for r in logs + notes if isinstance(r, dict) and r.get("owner")}
        )

        def entry(r: dict[str, Any], origin: str) -> TimelineEntry:
            at = iso(r["createdAt"])
            assert at is not None
            return TimelineEntry(
                at=at,
                origin=origin,
                kind="note" if origin == "alert-note" else r.get("type") or "log",
                text=r["note"] if origin == "alert-note" else r["log"],
                actor=self._name(people, r.get("owner")) or None,
                ref=alert_id,
            )

        entries = [parse_record(SYSTEM, "alert log", r, lambda r: entry(r, "alert-log")) for r in logs]
        entries += [parse_record(SYSTEM, "alert note", r, lambda r: entry(r, "alert-note")) for r in notes]
        return sorted(entries, key=lambda e: e.at)

    # -- incidents (Jira work items) --------------------------------------------------------

    def _jql(self, clauses: list[str]) -> list[dict[str, Any]]:
        if not self.incident_project:
            raise NotAvailableError(
                SYSTEM,
                "no incident project is configured: set ONCALL_JSM_INCIDENT_PROJECT to the key of "
                "the Jira project that holds incidents",
            )
        jql = " AND ".join(
            [f'project = "{self.incident_project}"', f'issuetype = "{INCIDENT_TYPE}"', *clauses]
        )
        params: dict[str, Any] = {
            "jql": f"{jql} ORDER BY created ASC",
            "fields": INCIDENT_FIELDS,
            "maxResults": PAGE,
        }
        issues: list[dict[str, Any]] = []
        while True:
            try:
                body = self.site.get_json("/rest/api/3/search/jql", params=params, what="incident search")
            except RejectedError as exc:
                if exc.status == 400:
                    raise NotAvailableError(
                        SYSTEM,
                        f"incidents are not available from JSM project {self.incident_project!r}: {exc}; "
                        "incident management must be enabled on that project (ONCALL_JSM_INCIDENT_PROJECT)",
                        status=400,
                    ) from None
                raise
            issues += require_list(SYSTEM, body, "issues", "incident search")
            token = body.get("nextPageToken")
            if body.get("isLast", True) or not token:
                return issues
            if token == params.get("nextPageToken"):
                raise MalformedError(
                    SYSTEM, f"incident search: nextPageToken {str(token)[:40]!r} repeats; stopped"
                )
            params = {**params, "nextPageToken": token}

    def _incident(self, raw: dict[str, Any]) -> Incident:
        f = raw["fields"]
        status = f.get("status") or {}
        done = (status.get("statusCategory") or {}).get("key") == "done"
        assignee = f.get("assignee") or {}
        key = raw["key"]
        created = iso(f["created"])
        assert created is not None
        return Incident(
            id=key,
            tiny_id=key.rsplit("-", 1)[-1],
            message=f["summary"],
            status=("closed" if str(status.get("name", "")).lower() == "closed" else "resolved")
            if done
            else "open",
            priority=JIRA_PRIORITY.get(str((f.get("priority") or {}).get("name"))),
            tags=tuple(f.get("labels") or ()),
            created_at=created,
            updated_at=iso(f.get("updated")),
            resolved_at=iso(f.get("resolutiondate")) if done else None,
            owner=assignee.get("emailAddress") or assignee.get("displayName"),
            impacted_services=tuple(c["name"] for c in f.get("components") or () if c.get("name")),
            url=f"{self.site_url}/browse/{key}",
        )

    def _incidents(self, clauses: list[str], keep: Callable[[Incident], bool]) -> list[Incident]:
        found = parse_records(SYSTEM, "incident", self._jql(clauses), self._incident)
        return [i for i in found if keep(i)]

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        # JQL compares minutes in the token owner's zone: ask a day wider, then cut exactly.
        wide = [
            f'created >= "{_jql_time(window.start - timedelta(days=1))}"',
            f'created < "{_jql_time(window.end + timedelta(days=1))}"',
        ]
        return self._incidents(wide, lambda i: window.contains(i.created_at))

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        wide = [
            f'resolved >= "{_jql_time(window.start - timedelta(days=1))}"',
            f'resolved < "{_jql_time(window.end + timedelta(days=1))}"',
        ]
        return self._incidents(wide, lambda i: i.resolved_at is not None and window.contains(i.resolved_at))

    def get_incident(self, incident_id: str) -> Incident:
        """By work-item key (`INC-101`), or by the number the hand-off shows (`101`, `#101`),
        read as a key in the incident project: Jira takes a bare number for its internal
        issue id, which would name some other work item."""
        key = incident_id.strip().removeprefix("#")
        if key.isdigit():
            if not self.incident_project:
                raise ConfigError(
                    f"incident {key}: a number is a work item of the incident project; set "
                    f"ONCALL_JSM_INCIDENT_PROJECT, or give the whole key (PROJECT-{key})"
                )
            key = f"{self.incident_project}-{key}"
        body = self.site.get_json(
            f"/rest/api/3/issue/{key}",
            params={"fields": INCIDENT_FIELDS},
            what=f"incident {key}",
        )
        return parse_record(SYSTEM, "incident", body, self._incident)

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        """The work item's creation and every field change (status, priority, timeline notes)."""
        incident = self.get_incident(incident_id)
        out = [
            TimelineEntry(
                at=incident.created_at,
                origin="incident",
                kind="created",
                text=f"Incident created: {incident.message}",
                actor=incident.owner,
                ref=incident_id,
            )
        ]
        start = 0
        while True:
            what = f"changelog of incident {incident_id}"
            body = self.site.get_json(
                f"/rest/api/3/issue/{incident_id}/changelog",
                params={"startAt": start, "maxResults": PAGE},
                what=what,
            )
            histories = require_list(SYSTEM, body, "values", what)
            out += [
                e
                for h in histories
                for e in parse_record(SYSTEM, "changelog entry", h, lambda r: self._changes(r, incident_id))
            ]
            start += len(histories)
            if body.get("isLast", True) or not histories:
                return sorted(out, key=lambda e: e.at)

    def _changes(self, history: dict[str, Any], incident_id: str) -> list[TimelineEntry]:
        at = iso(history["created"])
        assert at is not None
        author = history.get("author") or {}
        return [
            TimelineEntry(
                at=at,
                origin="incident",
                kind=str(item["field"]),
                text=item.get("toString") or "",
                actor=author.get("emailAddress") or author.get("displayName"),
                ref=incident_id,
            )
            for item in history.get("items") or ()
        ]

    # -- schedules --------------------------------------------------------------------------

    def list_schedules(self) -> list[Schedule]:
        return [parse_record(SYSTEM, "schedule", r, schedule_from_raw) for r in self._schedules()]

    def _schedules(self) -> list[dict[str, Any]]:
        """The schedules with their rotations, read once per source: a hand-off asks three times."""
        if self._schedule_list is None:
            raws = self._linked("/v1/schedules", "schedules", {"expand": "rotation"})
            self._schedule_list = [r for r in raws if isinstance(r, dict)]
        return self._schedule_list

    def _schedule_raw(self, name: str) -> dict[str, Any]:
        return named(SYSTEM, self._schedules(), name, lambda r: r.get("name"))

    def get_schedule(self, name: str) -> Schedule:
        return parse_record(SYSTEM, "schedule", self._schedule_raw(name), schedule_from_raw)

    def _who(self, path: str, key: str, schedule: str, at: datetime) -> OnCall:
        sid = self._schedule_raw(schedule)["id"]
        what = f"{path} of schedule {schedule!r}"
        params = {"flat": "false", "date": at.astimezone(UTC).isoformat()}
        body = self.ops.get_json(f"/v1/schedules/{sid}/{path}", params=params, what=what)
        if not isinstance(body, dict):
            raise MalformedError(SYSTEM, f"{what}: the response is not an object")

        def users(participants: Any) -> Iterator[str]:
            for p in participants or ():
                if isinstance(p, dict) and p.get("type") == "user" and p.get("id"):
                    yield str(p["id"])
                if isinstance(p, dict):
                    yield from users(p.get("onCallParticipants"))

        on = list(dict.fromkeys(users(body.get(key))))
        forwarded = [
            p["forwardedFrom"] for p in body.get(key) or () if isinstance(p, dict) and p.get("forwardedFrom")
        ]
        fwd = list(dict.fromkeys(users(forwarded)))
        people = self.people(set(on + fwd))
        return OnCall(
            schedule=schedule,
            at=at,
            people=tuple(people.get(a) or Person(id=a, name=a) for a in on),
            forwarded_from=tuple(people.get(a) or Person(id=a, name=a) for a in fwd),
        )

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        return self._who("on-calls", "onCallParticipants", schedule, at)

    def next_on_call(self, schedule: str, at: datetime) -> OnCall:
        return self._who("next-on-calls", "nextOnCallParticipants", schedule, at)

    def check(self) -> str:
        me = self.site.get_json("/rest/api/3/myself", what="the token's account")
        who = me.get("emailAddress") or me.get("displayName") if isinstance(me, dict) else "?"
        schedules = self.list_schedules()
        return (
            f"JSM Operations (cloud {self.cloud_id}) and {self.site_url}: token accepted for {who}, "
            f"{len(schedules)} schedule(s) visible"
        )


def build(settings: Settings, http: HttpOptions) -> JsmSource:
    """The client the settings describe: the registry's `build` for JSM."""
    own = config(settings, JsmConfig)
    if not own.jsm_site_url or not own.jsm_email:
        raise ConfigError(
            "ONCALL_SOURCE is jsm: set ONCALL_JSM_SITE_URL (https://YOURSITE.atlassian.net) and ONCALL_JSM_EMAIL"
        )
    return JsmSource(
        own.jsm_email,
        settings.require("jsm_api_token"),
        site_url=own.jsm_site_url,
        cloud_id=own.jsm_cloud_id,
        api_url=own.jsm_api_url,
        incident_project=own.jsm_incident_project,
        **http,
    )
