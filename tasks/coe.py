"""Tasks for coe-prep: gather the incident's story, write the document once, track it once.

The document is found by the incident id stored in its Drive `appProperties` before any copy,
the sheet row by the id in column A before any append; with the per-incident lock in the flow,
retries, reruns and concurrent triggers end with one document and one row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from pydantic import BaseModel, ConfigDict

from oncall.clients.google import GoogleWorkspace, load_key
from oncall.coe import PLACEHOLDER, check_template, incident_from_alert
from oncall.errors import ConfigError, InputError, OutsideError, UnavailableError
from oncall.models import Incident, TimelineEntry
from oncall.settings import Settings
from oncall.sources import build_source
from tasks.retry import outage_only

MAX_ALERT_TIMELINES = 20


class CoeDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    link: str
    created: bool  # made by this run
    text: str  # the filled document, as read back or as written
    unknown: list[str] = []  # placeholders the flow does not fill


def workspace(settings: Settings) -> GoogleWorkspace:
    return GoogleWorkspace(
        load_key(settings.require("google_service_account")),
        base_url=settings.google_base_url,
        timeout=settings.http_timeout_seconds,
        retry=settings.retry,
    )


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_incident(settings: Settings, incident_id: str) -> Incident:
    """The incident, or for `alert-<id>` the closed alert standing in for one."""
    with closing(build_source(settings)) as source:
        if incident_id.startswith("alert-"):
            return incident_from_alert(source.get_alert(incident_id.removeprefix("alert-")))
        return source.get_incident(incident_id)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_timelines(settings: Settings, incident: Incident, alert_ids: list[str]) -> list[TimelineEntry]:
    """The incident's log, and the logs and notes of its related alerts (the first 20)."""
    with closing(build_source(settings)) as source:
        entries = [] if incident.id.startswith("alert-") else source.incident_timeline(incident.id)
        with ThreadPoolExecutor(settings.max_concurrency) as pool:
            for part in pool.map(source.alert_timeline, alert_ids[:MAX_ALERT_TIMELINES]):
                entries += part
    get_run_logger().info(
        "Timeline of %s: %d entries from %d alerts", incident.id, len(entries), len(alert_ids)
    )
    return entries


def _fill_known(gw: GoogleWorkspace, doc_id: str, text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Replace every known placeholder present in `text`; returns the text now in the document and the unknown ones."""
    present = PLACEHOLDER.findall(text)
    todo = {name: values[name] for name in dict.fromkeys(present) if name in values}
    unknown = sorted({name for name in present if name not in values})
    if not todo:
        return text, unknown
    changed = gw.replace_all(doc_id, todo)
    expected = {name: present.count(name) for name in todo}
    if any(changed.get(name, 0) != n for name, n in expected.items()):
        text = gw.document_text(doc_id)  # the replies disagree with what we read: believe the document
        left = sorted({n for n in PLACEHOLDER.findall(text) if n in values})
        if left:
            raise OutsideError(
                "Google", f"document {doc_id} still has {', '.join(left)} after filling; rerun coe-prep"
            )
        return text, unknown
    filled = PLACEHOLDER.sub(lambda m: todo.get(m.group(1), m.group(0)), text)
    return filled, unknown


@task(cache_policy=NO_CACHE)
def prepare_coe_document(
    settings: Settings, incident_id: str, name: str, values: dict[str, str], template_id: str, folder_id: str
) -> CoeDocument:
    """Find the incident's COE or copy the template; fill every placeholder; say what could not be filled."""
    log = get_run_logger()
    with workspace(settings) as gw:
        found = gw.find_coe(incident_id)
        created = found is None
        if found is None:
            try:
                doc = gw.copy_template(template_id, folder_id, name, incident_id)
            except UnavailableError:
                # Drive may have made the copy before the answer was lost: look for it by the incident id.
                found = gw.find_coe(incident_id)
                if found is None:
                    raise
                created, doc = False, found
        else:
            doc = found
        text = gw.document_text(doc.id)
        if created:
            check = check_template(text)
            if check.missing_required:
                log.warning(
                    "Template %s lacks %s; the COE will miss them",
                    template_id,
                    ", ".join(check.missing_required),
                )
        text, unknown = _fill_known(gw, doc.id, text, values)
    log.info("%s COE %s for %s", "Created" if created else "Found", doc.link, incident_id)
    return CoeDocument(id=doc.id, name=doc.name, link=doc.link, created=created, text=text, unknown=unknown)


@task(cache_policy=NO_CACHE)
def find_tracker_row(settings: Settings, incident_id: str) -> tuple[int | None, list[str]]:
    """The incident's row number in the COE tracker and its values, if it has one."""
    sheet = settings.coe_sheet_id
    if not sheet:
        raise ConfigError("ONCALL_COE_SHEET_ID is not set: the COE tracker sheet id")
    with workspace(settings) as gw:
        return gw.find_row(sheet, settings.coe_sheet_tab, incident_id)


OWNED = 7  # columns A-G are the flow's; status and review date belong to people once written


@task(cache_policy=NO_CACHE)
def track_coe(settings: Settings, row: list[str], found: tuple[int | None, list[str]]) -> str:
    """Append the incident's row, or refresh the flow's own columns of the row that exists."""
    assert settings.coe_sheet_id
    number, current = found
    with workspace(settings) as gw:
        if number is None:
            gw.append_row(settings.coe_sheet_id, settings.coe_sheet_tab, row)
            outcome = "added"
        elif current[:OWNED] != row[:OWNED]:
            kept = (current + [""] * len(row))[OWNED : len(row)]
            gw.update_row(settings.coe_sheet_id, settings.coe_sheet_tab, number, row[:OWNED] + kept)
            outcome = "updated"
        else:
            outcome = "unchanged"
    get_run_logger().info("COE tracker row for %s: %s", row[0], outcome)
    return outcome


def require_input(incident_id: str | None, alert_id: str | None) -> str:
    if bool(incident_id) == bool(alert_id):
        raise InputError("give exactly one of incident_id or alert_id")
    return incident_id or f"alert-{alert_id}"
