"""Tasks for coe-prep: gather the incident's story, write the document once, track it once.

The document is known by its id once an answer named it (kept in a Prefect Variable per
incident), and otherwise found by the incident id stored in its Drive `appProperties`; the sheet
row by the id in column A before any append. With the per-incident lock in the flow, retries,
reruns and concurrent triggers end with one document and one row.

Drive search can lag behind a new file, and a copy of a Google Doc cannot carry an id of our own
(Drive refuses generated ids for Docs Editors formats), so a copy whose answer was lost cannot be
settled at once. The attempt is recorded before the copy is sent; until
ONCALL_COE_COPY_SETTLE_SECONDS have passed, a rerun that cannot find the copy fails instead of
copying again, and after that a copy search still cannot see was never made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.variables import Variable
from pydantic import BaseModel, ConfigDict, ValidationError

from oncall.clients.google import DriveFile, GoogleWorkspace
from oncall.clock import now
from oncall.coe import PLACEHOLDER, check_template, incident_from_alert
from oncall.errors import (
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    OutsideError,
    UnavailableError,
    UncertainError,
)
from oncall.models import Incident, TimelineEntry, stand_in_id, stood_in_by
from oncall.settings import Settings
from oncall.tracker import DOC_COLUMN, KEY_COLUMN, TRACKER_FORMATS, Cell, Merge, merge
from tasks.clients import clients
from tasks.delivery import artifact_key
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


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_incident(settings: Settings, incident_id: str) -> Incident:
    """The incident, or for `alert-<id>` the closed alert standing in for one."""
    with clients(settings) as run:
        source = run.source()
        if (alert_id := stood_in_by(incident_id)) is not None:
            return incident_from_alert(source.get_alert(alert_id))
        return source.get_incident(incident_id)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_timelines(settings: Settings, incident: Incident, alert_ids: list[str]) -> list[TimelineEntry]:
    """The incident's log, and the logs and notes of its related alerts (the first 20)."""
    with clients(settings) as run:
        source = run.source()
        entries = [] if stood_in_by(incident.id) is not None else source.incident_timeline(incident.id)
        with ThreadPoolExecutor(settings.max_concurrency) as pool:
            for part in pool.map(source.alert_timeline, alert_ids[:MAX_ALERT_TIMELINES]):
                entries += part
    get_run_logger().info(
        "Timeline of %s: %d entries from %d alerts", incident.id, len(entries), len(alert_ids)
    )
    return entries


def _fill_known(
    gw: GoogleWorkspace,
    doc_id: str,
    text: str,
    values: dict[str, str],
    tables: Mapping[str, Sequence[Sequence[str]]],
) -> tuple[str, list[str]]:
    """Replace every known placeholder present in `text` (a placeholder of `tables` standing alone
    in its paragraph becomes a native table); returns the text now in the document and the
    unknown ones."""
    present = PLACEHOLDER.findall(text)
    todo = {name: values[name] for name in dict.fromkeys(present) if name in values}
    unknown = sorted({name for name in present if name not in values})
    if not todo:
        return text, unknown
    try:
        changed = gw.fill(doc_id, todo, {k: v for k, v in tables.items() if k in todo})
    except ConflictError:  # edited since the table's read, or a lost answer's resend: read again
        changed = {}
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


class CopyRecord(BaseModel):
    """What is known of an incident's COE copy beyond what Drive search shows right now."""

    model_config = ConfigDict(frozen=True)

    incident: str
    doc: str | None = None  # the copy's id, once an answer named it
    copy_sent_at: datetime | None = None  # a copy was sent and no answer has named it yet


def copy_record_name(incident_id: str) -> str:
    """The Prefect Variable holding the record; the digest keeps ids that differ in case apart."""
    digest = hashlib.sha256(incident_id.encode()).hexdigest()[:10]
    return f"{artifact_key('oncall-coe-doc', incident_id)[:80]}-{digest}"


def _read_record(incident_id: str) -> CopyRecord:
    try:
        record = CopyRecord.model_validate(Variable.get(copy_record_name(incident_id), default=None))
    except ValidationError:
        return CopyRecord(incident=incident_id)
    return record if record.incident == incident_id else CopyRecord(incident=incident_id)


def _write_record(record: CopyRecord) -> None:
    Variable.set(copy_record_name(record.incident), record.model_dump(mode="json"), overwrite=True)


def _known_copy(gw: GoogleWorkspace, record: CopyRecord) -> DriveFile | None:
    """The recorded copy, read by id (a read sees a file at once), unless it is gone or in the trash."""
    if record.doc is None:
        return None
    try:
        found = gw.get_file(record.doc)
    except NotFoundError:
        return None
    return None if found.trashed else found


def _copy_once(
    gw: GoogleWorkspace, record: CopyRecord, settle: timedelta, copy: tuple[str, str, str]
) -> tuple[DriveFile, bool]:
    """Copy the template unless an earlier copy may still be hidden from search; (file, made now)."""
    incident_id = record.incident
    if record.copy_sent_at is not None and now() < record.copy_sent_at + settle:
        raise UncertainError(
            "Google",
            f"a copy of the COE template for {incident_id} was sent at {record.copy_sent_at:%Y-%m-%d %H:%M:%S} "
            "UTC and its answer was lost; Drive search does not show it yet, and coe-prep copies again "
            f"only after {record.copy_sent_at + settle:%H:%M:%S} UTC (ONCALL_COE_COPY_SETTLE_SECONDS); "
            "rerun then",
        )
    _write_record(CopyRecord(incident=incident_id, copy_sent_at=now()))  # before the copy is sent
    template_id, folder_id, name = copy
    try:
        return gw.copy_template(template_id, folder_id, name, incident_id), True
    except UnavailableError:
        # Drive may have made the copy: its answer was lost, or came back in no shape Drive
        # sends. Look for it by the incident id; unseen, the attempt stays recorded.
        found = gw.find_coe(incident_id)
        if found is None:
            raise
        return found, False
    except OutsideError:
        _write_record(CopyRecord(incident=incident_id))  # refused: nothing was made
        raise


@task(cache_policy=NO_CACHE)
def prepare_coe_document(
    settings: Settings,
    incident_id: str,
    name: str,
    values: dict[str, str],
    template_id: str,
    folder_id: str,
    tables: dict[str, list[tuple[str, ...]]] | None = None,
) -> CoeDocument:
    """Find the incident's COE or copy the template; fill every placeholder; say what could not be filled."""
    log = get_run_logger()
    with clients(settings) as run:
        gw = run.google()
        record = _read_record(incident_id)
        doc = _known_copy(gw, record) or gw.find_coe(incident_id)
        created = False
        if doc is None:
            settle = timedelta(seconds=settings.coe_copy_settle_seconds)
            doc, created = _copy_once(gw, record, settle, (template_id, folder_id, name))
        if record.doc != doc.id or record.copy_sent_at is not None:
            _write_record(CopyRecord(incident=incident_id, doc=doc.id))
        text = gw.document_text(doc.id)
        if created:
            check = check_template(text)
            if check.missing_required:
                log.warning(
                    "Template %s lacks %s; the COE will miss them",
                    template_id,
                    ", ".join(check.missing_required),
                )
        text, unknown = _fill_known(gw, doc.id, text, values, tables or {})
    log.info("%s COE %s for %s", "Created" if created else "Found", doc.link, incident_id)
    return CoeDocument(id=doc.id, name=doc.name, link=doc.link, created=created, text=text, unknown=unknown)


@task(cache_policy=NO_CACHE)
def find_tracker_row(settings: Settings, incident_id: str) -> tuple[int | None, list[str]]:
    """The incident's row number in the COE tracker and its values, if it has one."""
    sheet = settings.coe_sheet_id
    if not sheet:
        raise ConfigError("ONCALL_COE_SHEET_ID is not set: the COE tracker sheet id")
    with clients(settings) as run:
        gw = run.google()
        return gw.find_row(sheet, settings.coe_sheet_tab, incident_id)


@task(cache_policy=NO_CACHE)
def track_coe(settings: Settings, row: list[Cell], found: tuple[int | None, list[str]]) -> str:
    """Append the incident's row once. An existing row belongs to people: the flow writes only its
    document link, and only into an empty cell (a row someone added by hand). `row` is
    `oncall.tracker.tracker_row`: its dates and durations are numbers, written with their formats."""
    assert settings.coe_sheet_id
    number, current = found
    link = str(row[DOC_COLUMN])
    outcome = merge(number, current)
    with clients(settings) as run:
        gw = run.google()
        if outcome is Merge.ADD:
            gw.append_row(settings.coe_sheet_id, settings.coe_sheet_tab, row, TRACKER_FORMATS)
        elif outcome is Merge.LINK:
            assert number is not None
            gw.write_cell(settings.coe_sheet_id, settings.coe_sheet_tab, number, DOC_COLUMN, link)
        elif current[DOC_COLUMN] != link:
            get_run_logger().info(
                "COE tracker row %d links %s, not %s; left as people set it",
                number,
                current[DOC_COLUMN],
                link,
            )
    get_run_logger().info("COE tracker row for %s: %s", row[KEY_COLUMN], outcome.value)
    return outcome.value


def require_input(incident_id: str | None, alert_id: str | None) -> str:
    if bool(incident_id) == bool(alert_id):
        raise InputError("give exactly one of incident_id or alert_id")
    return incident_id or stand_in_id(str(alert_id))
