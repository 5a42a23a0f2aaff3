"""coe-review: the review meeting's agenda, each COE's completeness, nudges, and the tracker's status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger

from oncall import clock
from oncall.clients.github import PullRef
from oncall.clients.google import DocumentRead
from oncall.coe_action_filing import ActionMarker, links_to_write, plan_actions
from oncall.coe_actions import ActionTable, read_actions
from oncall.coe_doc import Block
from oncall.coe_markdown import safe_id
from oncall.coe_review import (
    Agenda,
    CoeEntry,
    Nudge,
    StatusChange,
    build_agenda,
    default_template_blocks,
    done_key,
    done_ready,
    meeting_clock,
    next_meeting,
    plan_nudges,
    plan_status,
    read_entries,
    to_read,
    to_read_pulls,
)
from oncall.coe_review_render import render_agenda_markdown, render_agenda_slack, render_done, render_nudge
from oncall.coe_sections import Completeness, completeness
from oncall.errors import InputError
from oncall.filing import Act, Filing, index_issues
from oncall.models import IssueRef, priority_rank
from oncall.settings import Settings
from tasks.clients import run_clients
from tasks.coe_markdown import CoeFile, coe_pulls, file_entry, read_coe_files, write_file_links
from tasks.coe_review import (
    action_issues,
    actions_repo,
    agenda_key,
    closed_links,
    last_written,
    read_documents,
    read_template,
    read_tracker,
    write_links,
    write_status,
)
from tasks.config import resolve_settings
from tasks.delivery import post_once, publish_markdown, write_output
from tasks.github import apply_filing
from tasks.locks import exclusive

TOPIC = "coe-review"


@flow(name="coe-review")
def coe_review(
    meeting: str = "next",
    dry_run: bool = False,
    deliver: list[Literal["artifact", "file", "slack"]] = ["artifact", "slack"],  # noqa: B006 - Prefect parameters must be JSON defaults
) -> dict[str, int | str]:
    """The agenda of the COE review meeting, and what it asks of each COE.

    Reads every COE in the tracker that is not Done, and each one's document (for a COE kept as
    markdown, its pull request's file; with no tracker, every COE pull request, whose state is
    then the status); says which sections still hold only the template's prompts; publishes the
    agenda (by priority, then oldest first, with the presenter and the document) as an artifact
    and to Slack; nudges the
    incomplete COEs older than ONCALL_COE_NUDGE_DAYS once per meeting; and moves the tracker's
    Status from Draft to In review (and to Done once the COE is written and its action issues
    are closed). The flow owns the Status column only, and never overwrites a person's value.

    Args:
        meeting: 'next' (the next meeting on the ONCALL_COE_REVIEW_* cadence) or a date or ISO time in the team's zone
        dry_run: Show the agenda and the planned writes; post nothing, write nothing
        deliver: artifact, file (coe-agenda.md under ONCALL_OUT_DIR), and slack
    """
    log = get_run_logger()
    settings = resolve_settings()
    tz = settings.team_timezone
    when = _meeting(settings, meeting)
    with run_clients(settings), exclusive("coe-review", settings.coe_sheet_id or ""):
        # Gather: one sheet read, the template, one read per open COE's document, one listing of
        # the action issues.
        entries, pulls = _entries(settings)
        template = read_template.submit(settings) if to_read(entries) else None
        listed = action_issues.submit(settings)
        docs, files, unreadable = _read_coes(settings, entries, pulls)
        entries = [file_entry(e, files[e.incident_id]) if e.incident_id in files else e for e in entries]
        reference = _references(template, files)

        # Decide
        read: dict[str, Completeness] = {}
        tables: dict[str, ActionTable] = {}
        problems: dict[str, list[str]] = {k: [v] for k, v in unreadable.items()}
        for incident_id, doc in docs.items():
            read[incident_id] = completeness(reference(incident_id), doc.blocks)
            tables[incident_id] = read_actions(doc.blocks, reference(incident_id), doc.title or incident_id)
            problems.setdefault(incident_id, []).extend(str(p) for p in tables[incident_id].problems)
        agenda = build_agenda(entries, read, problems, when)
        nudges = plan_nudges(agenda, timedelta(days=settings.coe_nudge_days), settings.slack_member_ids)
        repo, issues = actions_repo(settings), listed.result()
        closed = closed_links(issues, repo)
        recorded = last_written()
        on_agenda = {i.entry.incident_id for i in agenda.items}
        changes = [
            change
            for e in entries
            if (
                change := plan_status(
                    e,
                    on_agenda=e.incident_id in on_agenda,
                    ready=e.incident_id in tables
                    and done_ready(read.get(e.incident_id), tables[e.incident_id], closed),
                    last_written=recorded.get(e.incident_id),
                )
            )
            is not None
        ]
        filings = _plan_filings(settings, repo, issues, entries, docs, tables)
        log.info(
            "%d COE(s) in the tracker, %d on the agenda of %s; %d nudge(s), %d status change(s), "
            "%d corrective-action filing(s) planned",
            len(entries),
            len(agenda.items),
            clock.fmt_local(when, tz),
            len(nudges),
            len(changes),
            len(filings),
        )
        report = render_agenda_markdown(agenda, tz)
        if dry_run:
            for change in changes:
                log.info(
                    "Dry run: would set %s's status %r -> %r", change.incident_id, change.before, change.after
                )
            for nudge in nudges:
                log.info("Dry run: would nudge about %s", nudge.incident_id)
            for f in filings:
                log.info("Dry run: would %s %r (%s)", f.act.value, f.want.title, f.reason)
            return _counts(agenda, nudges=len(nudges), changes=len(changes), done=0, filed=0) | {
                "agenda": report
            }

        # Apply: the action issues, the statuses, then what people read
        filed, known = _file(settings, repo, filings, issues)
        _link_back(settings, repo, known, docs, tables, files)
        for change in changes:
            write_status(settings, change)
        if "artifact" in deliver:
            publish_markdown(
                report, agenda_key(when.date().isoformat()), f"COE review {clock.fmt_local(when, tz)}"
            )
        if "file" in deliver:
            write_output(settings.out_dir, "coe-agenda.md", report)
        done = [c for c in changes if c.after == "Done"]
        if "slack" in deliver:
            _post(settings, agenda, nudges, done, tz)
    return _counts(agenda, nudges=len(nudges), changes=len(changes), done=len(done), filed=filed)


def _entries(settings: Settings) -> tuple[list[CoeEntry], dict[str, PullRef]]:
    """Every COE: the tracker's rows, or, for COEs kept as markdown without a tracker, the
    pull requests from coe-prep's branches (their state is the status, which the flow never
    writes), each with its pull request, by incident id."""
    if settings.coe_target == "markdown" and not settings.coe_sheet_id:
        return coe_pulls(settings)
    return read_entries(read_tracker(settings), settings.team_timezone), {}


def _read_coes(
    settings: Settings, entries: list[CoeEntry], pulls: dict[str, PullRef]
) -> tuple[dict[str, DocumentRead], dict[str, CoeFile], dict[str, str]]:
    """Each open COE read once, by incident id: Docs COEs as documents, markdown COEs as their
    files (read as documents too, so completeness and the actions table read both alike); and
    for those that cannot be read, what to fix."""
    wanted = to_read(entries)
    docs, unreadable = read_documents(settings, wanted) if wanted else ({}, {})
    files, missing = read_coe_files(settings, to_read_pulls(entries), pulls)
    return {**docs, **{k: f.document() for k, f in files.items()}}, files, {**unreadable, **missing}


def _references(
    template: PrefectFuture[tuple[Block, ...]] | None, files: dict[str, CoeFile]
) -> Callable[[str], tuple[Block, ...]]:
    """What each COE is judged against, by incident id: a Doc against the team's template (read
    only when a Doc is read), a markdown file against the default template it was filled from."""
    default = default_template_blocks()
    docs = template.result() if template is not None else default
    return lambda incident_id: default if incident_id in files else docs


def _meeting(settings: Settings, meeting: str) -> datetime:
    """The meeting this agenda is for: the next on the cadence, or the one given."""
    tz = settings.team_timezone
    hour, minute = meeting_clock(settings.coe_review_at)
    text = (meeting or "next").strip()
    if text.casefold() == "next":
        return next_meeting(
            clock.now() - timedelta(hours=1),  # a run at the meeting's own hour is for that meeting
            settings.coe_review_anchor,
            settings.coe_review_every_weeks,
            hour,
            minute,
            tz,
        )
    if len(text) == 10:  # a date: that day's meeting time
        text = f"{text}T{hour:02d}:{minute:02d}"
    try:
        return clock.parse_instant(text, tz)
    except InputError:
        raise InputError(
            f"meeting {meeting!r} is neither 'next' nor a date or ISO time such as 2026-12-10"
        ) from None


def _post(settings: Settings, agenda: Agenda, nudges: list[Nudge], done: list[StatusChange], tz: str) -> None:
    """The agenda once per meeting, each nudge once per COE per meeting, each Done once per COE."""
    log = get_run_logger()
    if settings.slack_webhook_url is None:
        log.info("ONCALL_SLACK_WEBHOOK_URL not set: the agenda is not posted")
        return
    day = agenda.meeting.date().isoformat()
    with exclusive(TOPIC, "slack"):
        post_once(settings, render_agenda_slack(agenda, tz), TOPIC, f"coe-review agenda {day}")
        items = {i.entry.incident_id: i for i in agenda.items}
        for nudge in nudges:
            post_once(
                settings, render_nudge(nudge, items[nudge.incident_id], agenda.meeting, tz), TOPIC, nudge.key
            )
        for change in done:
            entry = items[change.incident_id].entry
            post_once(settings, render_done(entry), TOPIC, done_key(change.incident_id))


def _plan_filings(
    settings: Settings,
    repo: str | None,
    issues: list[IssueRef],
    entries: list[CoeEntry],
    docs: dict[str, DocumentRead],
    tables: dict[str, ActionTable],
) -> list[Filing]:
    """Every COE's action steps, most urgent COE first, within one cap for the run."""
    if repo is None:
        return []
    found, by_number = index_issues(issues, ActionMarker), {i.number: i for i in issues}
    steps: list[Filing] = []
    for e in sorted(entries, key=lambda e: priority_rank(e.priority)):
        doc = docs.get(e.incident_id)
        if doc is None:
            continue
        budget = settings.max_issues - sum(s.act is Act.CREATE for s in steps)
        steps += plan_actions(
            e,
            doc.id,
            doc.title,
            tables[e.incident_id],
            found,
            by_number,
            settings.coe_action_label,
            repo,
            cap=budget,
        )
    held = [s for s in steps if s.act is Act.HOLD]
    if held:
        get_run_logger().info(
            "Not filing %d corrective action(s), over the cap of %d (ONCALL_MAX_ISSUES); a later run files them",
            len(held),
            settings.max_issues,
        )
    return [s for s in steps if s.act in (Act.CREATE, Act.COMMENT)]


def _by_marker(issues: list[IssueRef]) -> dict[str, IssueRef]:
    """The action issues by their marker's key: how the write-back finds each row's issue."""
    return {k: f.issue for k, f in index_issues(issues, ActionMarker).items()}


def _file(
    settings: Settings, repo: str | None, filings: list[Filing], listed: list[IssueRef]
) -> tuple[int, dict[str, IssueRef]]:
    """Each step once, under the repository's lock: a run that held it before us has filed all
    it will, and its issues are found again by their markers. Returns how many steps were taken,
    and every action issue by its marker's key (those listed, found under the lock, and made
    now): what the write-back links."""
    known = _by_marker(listed)
    if repo is None or not filings:
        return 0, known
    with exclusive("coe-actions", repo):
        fresh = _by_marker(action_issues(settings))
        known.update(fresh)
        done = 0
        for f in filings:
            if f.act is Act.CREATE and f.want.key in fresh:
                continue  # filed since we listed (a concurrent run)
            issue = apply_filing(settings, repo, f)
            done += 1
            if f.act is Act.CREATE:
                known[f.want.key] = issue
    return done, known


def _link_back(
    settings: Settings,
    repo: str | None,
    known: dict[str, IssueRef],
    docs: dict[str, DocumentRead],
    tables: dict[str, ActionTable],
    files: dict[str, CoeFile],
    *,
    dry_run: bool = False,
) -> int:
    """Each filed action's link, written into its row's issue cell: one locked update per
    document, at the revision the run read (a person's edit since then wins; the next run links);
    for a markdown COE, one commit on its pull request's branch from the blob read."""
    if repo is None:
        return 0
    log = get_run_logger()
    written = 0
    for incident_id, doc in docs.items():
        back = links_to_write(doc.id, doc.revision_id, tables[incident_id], known, repo)
        for action in back.unwritable:
            log.warning(
                "COE %s: the corrective-actions table %s, so the issue of %r cannot be linked in it: "
                "link it by hand, or %s",
                doc.title or incident_id,
                "is not a pipe table whose rows read back"
                if incident_id in files
                else "is text, not a Docs table",
                action,
                "restore the table's rows as the template has them"
                if incident_id in files
                else "make the table a real one (Insert > Table)",
            )
        if not back.links:
            continue
        if dry_run:
            log.info("Dry run: would link %d issue(s) in COE %s", len(back.links), doc.title or incident_id)
            continue
        file = files.get(incident_id)
        written += write_links(settings, back) if file is None else write_file_links(settings, file, back)
    return written


def _counts(agenda: Agenda, *, nudges: int, changes: int, done: int, filed: int) -> dict[str, int | str]:
    return {
        "meeting": agenda.meeting.isoformat(),
        "on_agenda": len(agenda.items),
        "incomplete": sum(
            1 for i in agenda.items if i.completeness is not None and not i.completeness.complete
        ),
        "unreadable": sum(1 for i in agenda.items if i.completeness is None),
        "nudges": nudges,
        "status_changes": changes,
        "done": done,
        "actions_filed": filed,
    }


@flow(name="coe-actions")
def coe_actions(incident_id: str, dry_run: bool = False) -> dict[str, int | str]:
    """File one COE's corrective actions as GitHub issues now, without waiting for the meeting.

    Reads the COE's row in the tracker, its document and the action issues already filed; each
    row with an action and no issue becomes one issue (labelled ONCALL_COE_ACTION_LABEL), and a
    row edited since its issue was filed gets one comment there. Reruns file nothing twice.

    Args:
        incident_id: The incident whose COE it is, as in the tracker's Incident ID column
        dry_run: Show what would be filed; file nothing
    """
    log = get_run_logger()
    settings = resolve_settings()
    with run_clients(settings):
        every, pulls = _entries(settings)
        entries = [
            e
            for e in every
            if e.incident_id == incident_id or (not e.tracked and e.incident_id == safe_id(incident_id))
        ]
        if not entries:
            where = (
                "in the tracker (its Incident ID column)"
                if settings.coe_sheet_id or settings.coe_target != "markdown"
                else "among the COE pull requests (open, or merged)"
            )
            raise InputError(f"no COE for {incident_id!r} {where}")
        template = read_template.submit(settings) if to_read(entries) else None
        listed = action_issues.submit(settings)
        docs, files, unreadable = _read_coes(settings, entries, pulls)
        key = entries[0].incident_id  # the tracker's id, or without one the branch's
        if key not in docs:
            problem = unreadable.get(key) or f"the COE of {incident_id} is Done, or its row links no document"
            raise InputError(problem)
        doc = docs[key]
        table = read_actions(doc.blocks, _references(template, files)(key), doc.title or incident_id)
        for found in table.problems:
            log.warning("%s", found)
        repo, issues = actions_repo(settings), listed.result()
        filings = _plan_filings(settings, repo, issues, entries, docs, {key: table})
        log.info(
            "COE %s: %d corrective action(s), %d to file or comment on",
            incident_id,
            len(table.rows),
            len(filings),
        )
        if dry_run:
            for f in filings:
                log.info("Dry run: would %s %r (%s)", f.act.value, f.want.title, f.reason)
            filed, linked = 0, 0
            _link_back(settings, repo, _by_marker(issues), docs, {key: table}, files, dry_run=True)
        else:
            filed, known = _file(settings, repo, filings, issues)
            linked = _link_back(settings, repo, known, docs, {key: table}, files)
    return {
        "incident": incident_id,
        "actions": len(table.rows),
        "planned": len(filings),
        "filed": filed,
        "linked": linked,
    }
