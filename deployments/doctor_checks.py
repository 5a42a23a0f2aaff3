"""The checks behind `oncall doctor`, one function per system: each makes the cheap reads a run
would make first and returns one `Check` per thing a run needs, with the fix when it is not there.

A setting left unset is a warning naming what it turns off, unless the configured source needs it.
Nothing here writes anywhere: push access is read from the repository's `permissions`, the
Slack webhook gets a payload it refuses, the Drive folder's writability is its `canAddChildren`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from oncall.errors import OncallError
from oncall.settings import Settings
from oncall.wiring import Clients

if TYPE_CHECKING:
    from oncall.clients.github import GitHubClient
    from oncall.clients.google import GoogleWorkspace


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Check(BaseModel):
    """One line of the report: what was checked, how it went, and what to do about it."""

    model_config = ConfigDict(frozen=True)

    name: str  # e.g. "github.access"
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name=name, status=Status.OK, detail=detail)


def warn(name: str, detail: str, fix: str = "") -> Check:
    return Check(name=name, status=Status.WARN, detail=detail, fix=fix)


def fail(name: str, detail: str, fix: str = "") -> Check:
    return Check(name=name, status=Status.FAIL, detail=detail, fix=fix)


class _Failed(Exception):
    def __init__(self, check: Check) -> None:
        self.check = check


@contextmanager
def _clients(settings: Settings, given: Clients | None) -> Iterator[Clients]:
    """The doctor run's clients (`collect` makes one set for every check), or, for a check
    called alone, a set of its own, closed when it ends."""
    if given is not None:
        yield given
        return
    with Clients(settings) as own:
        yield own


@contextmanager
def _failing_as(name: str, fix: str = "") -> Iterator[None]:
    """An OncallError inside becomes a failed check named `name` (its text is already scrubbed)."""
    try:
        yield
    except OncallError as exc:
        raise _Failed(fail(name, " ".join(str(exc).split()), fix)) from None


def _run(out: list[Check], name: str, body: Callable[[], Check | list[Check]], fix: str = "") -> bool:
    """Runs one check into `out`; False when it failed (later checks that need it are skipped)."""
    try:
        with _failing_as(name, fix):
            got = body()
    except _Failed as failed:
        out.append(failed.check)
        return False
    got = got if isinstance(got, list) else [got]
    out.extend(got)
    return all(c.status != Status.FAIL for c in got)


# -- Settings that only need parsing -----------------------------------------------------------


def settings_checks(settings: Settings) -> list[Check]:
    """The team's zone, business hours, escalation and hand-off cron parse as the flows read them."""
    from oncall.clock import BusinessHours, zone

    out: list[Check] = []
    _run(
        out,
        "settings.team_timezone",
        lambda: (zone(settings.team_timezone), ok("settings.team_timezone", settings.team_timezone))[1],
        "set ONCALL_TEAM_TIMEZONE to an IANA zone such as Europe/Berlin",
    )
    _run(
        out,
        "settings.business_hours",
        lambda: (
            BusinessHours.parse(settings.business_hours),
            ok("settings.business_hours", settings.business_hours),
        )[1],
        "set ONCALL_BUSINESS_HOURS like 'Mon-Fri 09:00-17:00'",
    )
    out.append(
        ok(
            "settings.escalation_minutes",
            f"unacknowledged for {settings.escalation_minutes} min counts as escalated",
        )
    )
    cron = getattr(settings, "handoff_cron", None)
    if isinstance(cron, str):
        out.append(_cron_check(cron))
    return out


def _cron_check(cron: str) -> Check:
    from cronsim import CronSim, CronSimError

    from oncall.clock import now

    try:
        CronSim(cron, now())
    except CronSimError as exc:
        return fail(
            "settings.handoff_cron", f"{cron!r} is not a cron expression: {exc}", "set ONCALL_HANDOFF_CRON"
        )
    return ok("settings.handoff_cron", f"weekly hand-off at {cron!r} in the team's zone")


# -- The alert source --------------------------------------------------------------------------


def source_checks(settings: Settings, clients: Clients | None = None) -> list[Check]:
    """Credentials, then the schedule by name; when it is missing, the schedules that exist."""
    from oncall.sources import source_spec

    out: list[Check] = []
    with _clients(settings, clients) as run:
        try:
            source = run.source()
        except OncallError as exc:
            return [fail("source.credentials", " ".join(str(exc).split()))]
        if not _run(out, "source.credentials", lambda: ok("source.credentials", source.check())):
            return out

        def schedule() -> Check:
            found = source.list_schedules()
            names = [s.name for s in found]
            match = next((s for s in found if s.name == settings.schedule), None)
            if match is None:
                near = [n for n in names if n.casefold() == settings.schedule.casefold()]
                listed = ", ".join(repr(n) for n in names) or "none"
                return fail(
                    "source.schedule",
                    f"schedule {settings.schedule!r} is not in {source_spec(settings.source).title}; it has: {listed}",
                    f"set ONCALL_SCHEDULE to {near[0]!r} (names are case-sensitive)"
                    if near
                    else "set ONCALL_SCHEDULE to one of those names",
                )
            turns = f", {len(match.rotations)} rotation(s)" if match.rotations else ""
            off = "" if match.enabled else " (disabled at the source)"
            line = f"schedule {match.name!r} exists (zone {match.timezone}{turns}){off}"
            return (warn if off else ok)("source.schedule", line)

        _run(out, "source.schedule", schedule)
    return out


# -- GitHub ------------------------------------------------------------------------------------

GITHUB_ACCESS_FIX = "give the token's account Write (or at least Triage) access to {repo}"


def github_checks(settings: Settings, clients: Clients | None = None) -> list[Check]:
    """The gap repository with the token's role, the label, and the runbook with its layout."""
    from oncall.runbook import RunbookSource

    runbook = None
    if settings.runbook:
        try:
            runbook = RunbookSource.parse(settings.runbook)
        except OncallError as exc:
            return [fail("github.runbook", " ".join(str(exc).split()), "fix ONCALL_RUNBOOK")]
    out: list[Check] = []
    if settings.github_token is None or not settings.github_token.get_secret_value():
        out.append(
            warn(
                "github.token",
                "ONCALL_GITHUB_TOKEN is not set: runbook-gaps cannot file issues"
                + (" or read the runbook" if runbook and runbook.repo else ""),
                "set ONCALL_GITHUB_TOKEN (or the Secret block 'oncall-github-token')",
            )
        )
        if runbook and not runbook.repo:
            out.append(_runbook_check(settings, None))
        return out
    with _clients(settings, clients) as run:
        gh = run.github()
        if settings.github_repo:
            out += _repo_checks(settings, gh, settings.github_repo)
        else:
            out.append(
                warn(
                    "github.repo",
                    "ONCALL_GITHUB_REPO is not set: runbook-gaps reports gaps but files no issues",
                    "set ONCALL_GITHUB_REPO to owner/name",
                )
            )
        if runbook is None:
            out.append(
                warn(
                    "github.runbook",
                    "ONCALL_RUNBOOK is not set: runbook-gaps has no runbook to compare alerts with",
                    "set ONCALL_RUNBOOK to owner/repo:path@ref or a local path",
                )
            )
        else:
            out.append(_runbook_check(settings, gh))
            if settings.open_pr and runbook.repo:
                out.append(_pull_request_access(gh, runbook.repo))
    return out


def _repo_checks(settings: Settings, gh: GitHubClient, repo: str) -> list[Check]:
    out: list[Check] = []
    fix = "check ONCALL_GITHUB_REPO and that the token's account can see the repository"
    try:
        with _failing_as("github.repo", fix):
            access = gh.access(repo)
    except _Failed as failed:
        return [failed.check]
    if access.archived or not access.has_issues:
        why = "is archived" if access.archived else "has issues turned off"
        out.append(
            fail(
                "github.repo",
                f"{access.full_name} {why}",
                "pick another ONCALL_GITHUB_REPO or turn issues on",
            )
        )
        return out
    out.append(ok("github.repo", f"{access.full_name} reachable"))
    role = access.role
    label = settings.gap_label
    if role is None:
        out.append(
            warn(
                "github.access",
                f"GitHub did not say the token's role on {access.full_name} (a GitHub App token?); "
                "the app needs Issues read and write",
                "check the app's Issues permission; the first run stops if GitHub drops the label",
            )
        )
    elif role in ("admin", "maintain", "write"):
        out.append(ok("github.access", f"{role} access: can create issues and set labels"))
    elif role == "triage":
        out.append(
            ok(
                "github.access",
                "triage access: can create issues; GitHub drops their labels, so each run adds "
                f"{label!r} after filing (Write access keeps them at once)",
            )
        )
    else:
        out.append(
            fail(
                "github.access",
                f"{role} access to {access.full_name}: GitHub would file issues without the label "
                f"{label!r} and refuse to add it (403)",
                GITHUB_ACCESS_FIX.format(repo=access.full_name),
            )
        )
    out.append(_label_check(gh, access.full_name, label, role))
    return out


def _label_check(gh: GitHubClient, repo: str, label: str, role: str | None) -> Check:
    try:
        with _failing_as("github.label"):
            exists = gh.has_label(repo, label)
    except _Failed as failed:
        return failed.check
    if exists:
        return ok("github.label", f"label {label!r} exists")
    if role in ("admin", "maintain", "write", None):
        return ok(
            "github.label", f"label {label!r} does not exist yet; GitHub creates it with the first issue"
        )
    return warn(
        "github.label",
        f"label {label!r} does not exist, and {role} access cannot create it",
        f"create the label {label!r} in {repo} (Issues → Labels), or grant Write access",
    )


def _pull_request_access(gh: GitHubClient, repo: str) -> Check:
    try:
        with _failing_as("github.pull_requests"):
            access = gh.access(repo)
    except _Failed as failed:
        return failed.check
    if access.role in ("admin", "maintain", "write", None):
        return ok("github.pull_requests", f"ONCALL_OPEN_PR: can push branches to {access.full_name}")
    return fail(
        "github.pull_requests",
        f"ONCALL_OPEN_PR is on, and the token has {access.role} access to {access.full_name}: "
        "branches and pull requests need Write",
        f"grant Write (Contents and Pull requests) on {access.full_name}, or unset ONCALL_OPEN_PR",
    )


def _runbook_check(settings: Settings, gh: GitHubClient | None) -> Check:
    """The runbook read exactly as runbook-gaps reads it (`oncall runbook check`'s reader)."""
    from oncall.clients.runbook_files import read_runbook, web_base
    from oncall.runbook import RunbookSource

    assert settings.runbook
    source = RunbookSource.parse(settings.runbook)
    client = gh
    try:
        with _failing_as("github.runbook", "fix ONCALL_RUNBOOK, or the file it names"):
            book = read_runbook(
                source,
                github=None if client is None else (lambda: client),
                web_base=web_base(settings.github_base_url),
                setting="ONCALL_RUNBOOK",
            )
    except _Failed as failed:
        return failed.check
    return ok(
        "github.runbook",
        f"runbook {source} readable: {book.layout.value} layout, {len(book.entries)} entries "
        f"under {len(book.products)} product(s)",
    )


# -- Google ------------------------------------------------------------------------------------


def google_checks(settings: Settings, clients: Clients | None = None) -> list[Check]:
    """The key's token exchange, the template (a Doc, with its placeholders), the folder on a
    Shared Drive the account can write, and the tracker tab with coe-prep's header."""
    if settings.google_service_account is None or not settings.google_service_account.get_secret_value():
        return [
            warn(
                "google.credentials",
                "ONCALL_GOOGLE_SERVICE_ACCOUNT is not set: coe-prep cannot make COE documents",
                "set ONCALL_GOOGLE_SERVICE_ACCOUNT (or the Secret block 'oncall-google-service-account') "
                "to the service account's key file",
            )
        ]
    out: list[Check] = []
    fix = "set ONCALL_GOOGLE_SERVICE_ACCOUNT to a current key of the service account"
    with _clients(settings, clients) as run:
        try:
            with _failing_as("google.credentials", fix):
                gw = run.google()
        except _Failed as failed:
            return [failed.check]
        if not _run(
            out,
            "google.credentials",
            lambda: ok("google.credentials", f"token exchange works for {gw.check_token()}"),
            fix,
        ):
            return out
        steps: tuple[tuple[str, Callable[[Settings, GoogleWorkspace], Check]], ...] = (
            ("coe_template_id", _template_check),
            ("coe_folder_id", _folder_check),
            ("coe_sheet_id", _sheet_check),
        )
        for setting, check in steps:
            value = getattr(settings, setting)
            if not value:
                out.append(_unset(setting))
            else:
                _run(
                    out,
                    f"google.{setting.removeprefix('coe_').removesuffix('_id')}",
                    partial(check, settings, gw),
                )
    return out


_UNSET = {
    "coe_template_id": ("google.template", "coe-prep has no template to copy"),
    "coe_folder_id": ("google.folder", "coe-prep has nowhere to put COE documents"),
    "coe_sheet_id": ("google.sheet", "coe-prep keeps no tracker row"),
}


def _unset(setting: str) -> Check:
    name, what = _UNSET[setting]
    return warn(name, f"ONCALL_{setting.upper()} is not set: {what}", f"set ONCALL_{setting.upper()}")


def _template_check(settings: Settings, gw: GoogleWorkspace) -> Check:
    from oncall.clients.google import DOC_MIME
    from oncall.coe import check_template

    assert settings.coe_template_id
    template = settings.coe_template_id
    fix = f"share the template with {gw.email}, or fix ONCALL_COE_TEMPLATE_ID"
    with _failing_as("google.template", fix):
        meta = gw.get_file(template)
    if meta.mimeType != DOC_MIME:
        return fail(
            "google.template",
            f"{template} ({meta.name}) is a {meta.mimeType}, not a Google Doc",
            "set ONCALL_COE_TEMPLATE_ID to a Google Docs document (File → Save as Google Docs)",
        )
    with _failing_as("google.template", fix):
        found = check_template(gw.document_text(template))
    if found.missing_required:
        return fail(
            "google.template",
            f"template {meta.name!r} lacks the required placeholders {', '.join(found.missing_required)}",
            "add them to the template (`oncall coe placeholders` lists them)",
        )
    if found.unknown:
        return fail(
            "google.template",
            f"template {meta.name!r} has placeholders coe-prep does not fill: {', '.join(found.unknown)}",
            "rename or remove them (`oncall coe placeholders` lists the known ones)",
        )
    lacks = f"; lacks {len(found.missing)} optional" if found.missing else ""
    return ok(
        "google.template",
        f"template {meta.name!r} is a Google Doc using {len(found.used)} placeholders{lacks}",
    )


def _folder_check(settings: Settings, gw: GoogleWorkspace) -> Check:
    from oncall.clients.google import FOLDER_MIME

    assert settings.coe_folder_id
    folder_id = settings.coe_folder_id
    with _failing_as(
        "google.folder", f"share the folder's Shared Drive with {gw.email}, or fix ONCALL_COE_FOLDER_ID"
    ):
        folder = gw.folder(folder_id)
    if folder.mimeType != FOLDER_MIME or folder.trashed:
        what = "in the trash" if folder.trashed else f"a {folder.mimeType}, not a folder"
        return fail(
            "google.folder", f"{folder_id} ({folder.name}) is {what}", "set ONCALL_COE_FOLDER_ID to a folder"
        )
    if folder.driveId is None:
        return fail(
            "google.folder",
            f"folder {folder.name!r} is in a My Drive, not on a Shared Drive: a service account has "
            "no storage quota, so Drive refuses its copies there",
            "move the folder to a Shared Drive (or pick one there) and set ONCALL_COE_FOLDER_ID",
        )
    if not folder.can_add:
        return fail(
            "google.folder",
            f"{gw.email} cannot add files to folder {folder.name!r}",
            f"add {gw.email} to the Shared Drive as Content manager",
        )
    return ok("google.folder", f"folder {folder.name!r} is on Shared Drive {folder.driveId}, writable")


def _sheet_check(settings: Settings, gw: GoogleWorkspace) -> Check:
    from oncall.tracker import TRACKER_HEADER, header_mismatches

    assert settings.coe_sheet_id
    sheet, tab = settings.coe_sheet_id, settings.coe_sheet_tab
    with _failing_as(
        "google.sheet", f"share the sheet with {gw.email} as editor, or fix ONCALL_COE_SHEET_ID"
    ):
        header = gw.sheet_header(sheet, tab)
        if header is None:
            tabs = gw.sheet_tabs(sheet)
            return fail(
                "google.sheet",
                f"the sheet has no tab {tab!r}; it has: {', '.join(repr(t) for t in tabs) or 'none'}",
                "set ONCALL_COE_SHEET_TAB to one of them, or add the tab",
            )
    expected = list(TRACKER_HEADER)
    if not header:
        return warn(
            "google.sheet",
            f"tab {tab!r} has no header row; coe-prep's first row would land on row 1",
            f"put the header in row 1: {' | '.join(expected)}",
        )
    if wrong := header_mismatches(header):
        return fail(
            "google.sheet",
            f"tab {tab!r} has another header than coe-prep writes: {'; '.join(wrong)}",
            f"make row 1 read: {' | '.join(expected)}",
        )
    return ok("google.sheet", f"tab {tab!r} has coe-prep's header ({len(expected)} columns)")


# -- Slack -------------------------------------------------------------------------------------


def slack_checks(settings: Settings, clients: Clients | None = None) -> list[Check]:
    if settings.slack_webhook_url is None or not settings.slack_webhook_url.get_secret_value():
        return [
            warn(
                "slack.webhook",
                "ONCALL_SLACK_WEBHOOK_URL is not set: hand-offs and COE notices are not posted to Slack",
                "set ONCALL_SLACK_WEBHOOK_URL (or the Secret block 'oncall-slack-webhook-url')",
            )
        ]
    out: list[Check] = []
    with _clients(settings, clients) as run:
        _run(
            out,
            "slack.webhook",
            lambda: ok("slack.webhook", run.slack().check()),
            "set ONCALL_SLACK_WEBHOOK_URL to the channel's current incoming webhook",
        )
    return out
