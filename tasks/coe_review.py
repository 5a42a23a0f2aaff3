"""Tasks for coe-review: one read of the tracker, one read of each open COE's document, one
listing of the action issues, and the status writes.

The budget is the issue's: 1 sheet read, plus 1 document read per COE that is not Done (plus
the template, when the team's own template is a Doc), plus the Slack posts. A COE marked Done
costs nothing. A document that cannot be read is a problem on the agenda, never a failed run.

The flow owns the tracker's Status column only, and only its own values: what it last wrote
is recorded (a Prefect Variable), so a value a person typed, even one of the flow's own words,
is told apart and left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.variables import Variable

from oncall.clients.google import DocumentRead
from oncall.coe_action_filing import LinkBack
from oncall.coe_actions import IssueLink
from oncall.coe_doc import Block
from oncall.coe_review import CoeEntry, StatusChange, default_template_blocks, document_problem, read_entries
from oncall.coe_sections import Completeness, completeness
from oncall.errors import ConfigError, ConflictError, OutsideError
from oncall.handoff_coe import CoeNotes, incident_coes, open_actions, to_read_for
from oncall.models import Incident, IssueRef
from oncall.settings import Settings
from tasks.clients import clients
from tasks.delivery import artifact_key
from tasks.retry import outage_only

STATUS_RECORD = "oncall-coe-review-status"  # incident id -> the status the flow last wrote


def tracker_sheet(settings: Settings) -> str:
    if not settings.coe_sheet_id:
        raise ConfigError("ONCALL_COE_SHEET_ID is not set: coe-review reads the COEs from the tracker sheet")
    return settings.coe_sheet_id


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def read_tracker(settings: Settings) -> list[list[object]]:
    """Every row of the tracker, in one read."""
    with clients(settings) as run:
        return run.google().tracker_values(tracker_sheet(settings), settings.coe_sheet_tab)


@task(cache_policy=NO_CACHE)
def read_template(settings: Settings) -> tuple[Block, ...]:
    """The reference for completeness: the team's template Doc when one is set, else the default."""
    if not settings.coe_template_id:
        return default_template_blocks()
    with clients(settings) as run:
        return run.google().template_blocks(settings.coe_template_id)


@task(cache_policy=NO_CACHE)
def read_documents(
    settings: Settings, entries: list[CoeEntry]
) -> tuple[dict[str, DocumentRead], dict[str, str]]:
    """Each entry's document, read once, at most `max_concurrency` at a time; by incident id,
    the documents read and, for the others, what to fix."""
    read: dict[str, DocumentRead] = {}
    problems: dict[str, str] = {}
    with clients(settings) as run:
        gw = run.google()

        def one(entry: CoeEntry) -> tuple[CoeEntry, DocumentRead | OutsideError]:
            assert entry.doc_id is not None
            try:
                return entry, gw.read_document(entry.doc_id)
            except OutsideError as exc:  # deleted, unshared, not a Doc, or down: the others go on
                return entry, exc

        with ThreadPoolExecutor(max(1, min(settings.max_concurrency, len(entries)))) as pool:
            for entry, got in pool.map(one, entries):
                if isinstance(got, DocumentRead):
                    read[entry.incident_id] = got
                else:
                    problems[entry.incident_id] = document_problem(entry, got.status, gw.email)
    log = get_run_logger()
    for problem in problems.values():
        log.warning("%s", problem)
    log.info("Read %d COE document(s); %d could not be read", len(read), len(problems))
    return read, problems


def actions_repo(settings: Settings) -> str | None:
    """Where corrective actions are filed; None without a repository or a token to file with."""
    repo = settings.coe_actions_repo or settings.github_repo
    return repo if repo and settings.github_token is not None else None


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def action_issues(settings: Settings) -> list[IssueRef]:
    """Every issue labelled as a corrective action, open and closed, in one listing (every
    COE's at once): how filed rows are found again, and which actions are done."""
    repo = actions_repo(settings)
    if repo is None:
        get_run_logger().info(
            "No GitHub repository or token for corrective actions (ONCALL_COE_ACTIONS_REPO or "
            "ONCALL_GITHUB_REPO, and ONCALL_GITHUB_TOKEN): actions are not filed, and no COE is found Done"
        )
        return []
    with clients(settings) as run:
        return run.github().list_issues(repo, settings.coe_action_label)


def closed_links(issues: list[IssueRef], repo: str | None) -> list[IssueLink]:
    return [IssueLink(number=i.number, repo=repo, url=i.html_url) for i in issues if i.state == "closed"]


def last_written() -> dict[str, str]:
    value: object = Variable.get(STATUS_RECORD, default={})
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


@task(cache_policy=NO_CACHE)
def write_status(settings: Settings, change: StatusChange) -> None:
    """One Status cell. The value is recorded before the write, so a run that dies after writing
    still knows the cell holds its own value (a cell written twice holds the same value)."""
    record = last_written()
    record[change.incident_id] = change.after
    Variable.set(STATUS_RECORD, record, overwrite=True)
    with clients(settings) as run:
        run.google().write_cell(
            tracker_sheet(settings), settings.coe_sheet_tab, change.row, change.column, change.after
        )
    get_run_logger().info(
        "COE tracker row %d (%s): status %r -> %r",
        change.row,
        change.incident_id,
        change.before,
        change.after,
    )


def linked(
    what: str, count: int, write: Callable[[], object], refused: Callable[[OutsideError], bool]
) -> int:
    """Carry out one write-back of `count` issue links into the COE `what`; how many were written.
    A write the lock `refused` (a person's edit since the read) or that failed writes nothing, and
    harms nothing: the issues are filed, and the next run finds them by their markers and links."""
    log = get_run_logger()
    try:
        write()
    except OutsideError as exc:
        if refused(exc):
            log.warning(
                "%s changed since it was read: its %d issue link(s) are written by the next run", what, count
            )
        else:
            log.warning(
                "%s: its %d issue link(s) could not be written (%s); the next run tries again",
                what,
                count,
                exc,
            )
        return 0
    log.info("Linked %d corrective-action issue(s) in %s", count, what)
    return count


@task(cache_policy=NO_CACHE)
def write_links(settings: Settings, back: LinkBack) -> int:
    """One COE's issue links in its corrective-actions table, in one update locked to the revision
    the run read (Docs refuses it, `ConflictError`, when a person edited the document since)."""
    with clients(settings) as run:
        gw = run.google()
        return linked(
            f"COE document {back.doc_id}",
            len(back.links),
            lambda: gw.link_cells(back.doc_id, back.revision_id, back.links),
            lambda exc: isinstance(exc, ConflictError),
        )


def agenda_key(meeting: str) -> str:
    return artifact_key("coe-review", meeting)


@task(cache_policy=NO_CACHE)
def read_coe_notes(settings: Settings, incidents: list[Incident], at: datetime) -> CoeNotes | None:
    """The hand-off's COE columns: the tracker (one read), the documents of the shift's incidents
    whose COE is not Done, and the open corrective actions (one listing). None without a tracker
    or a Google key; a read that fails is said under the table, and never fails the hand-off."""
    log = get_run_logger()
    if not settings.coe_sheet_id or settings.google_service_account is None:
        log.info("No COE tracker (ONCALL_COE_SHEET_ID and the Google key): the hand-off has no COE column")
        return None
    threshold = timedelta(minutes=settings.coe_threshold_minutes)
    with clients(settings) as run:
        gw = run.google()
        try:
            entries = read_entries(
                gw.tracker_values(settings.coe_sheet_id, settings.coe_sheet_tab), settings.team_timezone
            )
        except OutsideError as exc:
            log.warning("COE tracker unreadable; the hand-off shows no COE status: %s", exc)
            # no COE column claims what the tracker would have said
            return CoeNotes(incidents={}, problem=f"the tracker could not be read ({exc})")
        read: dict[str, Completeness] = {}
        unread: list[str] = []
        wanted = to_read_for(incidents, entries)
        if wanted:
            docs, problems = read_documents.fn(settings, wanted)
            template = gw.template_blocks(settings.coe_template_id)
            read = {k: completeness(template, d.blocks) for k, d in docs.items()}
            unread = list(problems.values())
        issues: list[IssueRef] = []
        repo = actions_repo(settings)
        if repo is not None:
            try:
                issues = run.github().list_issues(repo, settings.coe_action_label)
            except OutsideError as exc:
                log.warning("Corrective-action issues unreadable: %s", exc)
                unread.append(f"the corrective-action issues could not be listed ({exc})")
    return CoeNotes(
        incidents=incident_coes(incidents, entries, read, threshold),
        open_actions=open_actions(issues, at),
        problem="; ".join(unread) or None,
    )
