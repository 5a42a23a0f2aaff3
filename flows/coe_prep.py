"""coe-prep: the COE document for a long incident, copied, prefilled and tracked, exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow
from prefect.artifacts import create_link_artifact
from prefect.logging import get_run_logger

from oncall import escape
from oncall.clock import now
from oncall.coe import (
    TEMPLATE,
    CoeFacts,
    coe_title,
    coe_values,
    fill,
    needs_coe,
    related_alerts,
    timeline_table,
)
from oncall.coe_markdown import branch_name, coe_paths, postmortem_dir, postmortem_repo
from oncall.errors import ConfigError, InputError
from oncall.models import AlertQuery, TimeWindow, stood_in_by
from oncall.settings import Settings
from oncall.tracker import tracker_row
from tasks.alerts import fetch_alerts, fetch_on_call
from tasks.clients import run_clients
from tasks.coe import (
    CoeDocument,
    fetch_incident,
    fetch_timelines,
    find_tracker_row,
    prepare_coe_document,
    require_input,
    track_coe,
)
from tasks.coe_markdown import coe_markdown_text, open_coe_pull_request
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, post_once, publish_markdown
from tasks.locks import exclusive


def _values_table(values: dict[str, str]) -> str:
    rows = [
        f"| `{{{{{k}}}}}` | {escape.prefect_md(v.replace(chr(10), ' / '), 300)} |" for k, v in values.items()
    ]
    return "| placeholder | value |\n|---|---|\n" + "\n".join(rows)


@flow(name="coe-prep")
def coe_prep(
    incident_id: str | None = None,
    alert_id: str | None = None,
    threshold_minutes: int | None = None,
    template_doc_id: str | None = None,
    folder_id: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Copy the COE template for a long incident, fill in its data, and track it.

    Gathers times, duration, time to detect/acknowledge/resolve, responders, impacted services,
    related alerts and the merged timeline; copies the template into the COE folder, fills every
    placeholder, adds the incident to the tracking sheet, and tells the team in Slack. One
    document per incident, ever: reruns and concurrent triggers find the first one.

    With ONCALL_COE_TARGET=markdown the COE is instead a markdown file committed on the branch
    oncall-flows/coe/<incident> of ONCALL_COE_POSTMORTEM_REPO (else ONCALL_GITHUB_REPO), with a
    draft pull request for review; the tracking sheet links the pull request when it is set.

    Args:
        incident_id: The incident: its id in the alert source, or the number the hand-off shows (OpsGenie tinyId, JSM key or number, Rootly sequential id)
        alert_id: For teams without incidents: a closed P1/P2 alert id
        threshold_minutes: Shorter incidents get no COE; default ONCALL_COE_THRESHOLD_MINUTES (10)
        template_doc_id: Google Doc to copy; default ONCALL_COE_TEMPLATE_ID
        folder_id: Drive folder on a Shared Drive; default ONCALL_COE_FOLDER_ID
        force: Prepare a COE even under the threshold
        dry_run: Render the filled document as text; write nothing
    """
    log = get_run_logger()
    settings = resolve_settings()
    with run_clients(settings):  # one set of outside clients for the whole run
        ref = require_input(*_one_id(incident_id, alert_id))
        tz = settings.team_timezone
        if threshold_minutes is not None and threshold_minutes < 0:
            raise InputError(f"threshold_minutes {threshold_minutes} is negative")
        threshold = timedelta(
            minutes=settings.coe_threshold_minutes if threshold_minutes is None else threshold_minutes
        )
        template = template_doc_id or settings.coe_template_id
        folder = folder_id or settings.coe_folder_id
        markdown = settings.coe_target == "markdown"
        if markdown:
            repo, postmortems = postmortem_repo(settings), postmortem_dir(settings)  # named before any read
        elif not dry_run and not (template and folder):
            raise ConfigError(
                "set ONCALL_COE_TEMPLATE_ID and ONCALL_COE_FOLDER_ID (or the template_doc_id and folder_id parameters)"
            )

        # Gather. The incident's own id keys the lock, the document and the row: a run by the number
        # the hand-off shows (`101`) and one by id (incident-watch's) find the same COE.
        incident = fetch_incident(settings, ref)
        key = incident.id
        with exclusive("coe-prep", key):
            wanted, reason = needs_coe(incident, threshold)
            if not wanted and not force:
                if incident.status not in ("resolved", "closed"):
                    raise InputError(reason)
                log.info("Skipping: %s", reason)
                return {"incident": key, "status": "skipped", "reason": reason}
            end = incident.resolved_at or now()
            around = TimeWindow(
                start=incident.created_at - timedelta(minutes=30), end=end + timedelta(seconds=1)
            )
            candidates = fetch_alerts.submit(settings, AlertQuery(created=around))
            on_call = fetch_on_call.submit(settings, settings.schedule, incident.created_at)
            related = related_alerts(incident, candidates.result())
            stood_in = stood_in_by(key)  # the alert itself, when one stands in for the incident
            timeline = fetch_timelines(
                settings,
                incident,
                [a.id for a in related if a.id != stood_in] + ([stood_in] if stood_in is not None else []),
            )

            # Decide
            facts = CoeFacts(
                incident=incident,
                related=related,
                timeline=timeline,
                on_call=on_call.result(),
                timezone=tz,
                source=settings.source,
                prepared_at=now(),
            )
            values = coe_values(facts)
            tables = {"timeline.table": timeline_table(facts)}  # a real table where it stands alone
            name = coe_title(incident, tz)
            log.info("COE %r: %d related alerts, %d timeline entries", name, len(related), len(timeline))
            if dry_run:
                if markdown:
                    text = coe_markdown_text(key, values, tables)
                    where = f"{repo}: {coe_paths(postmortems, incident, tz)[0]} on {branch_name(key)}"
                else:
                    text, where = fill(TEMPLATE.read_text(encoding="utf-8"), values), None
                preview = escape.literal_block(text)  # the values are escaped for Docs, not for the UI
                publish_markdown(
                    preview, artifact_key("coe-prep", key, "dry-run"), f"COE for {key} (dry run)"
                )
                return {"incident": key, "status": "dry-run", "name": name, "text": text} | (
                    {"path": where} if where else {}
                )

            # Apply
            doc: CoeDocument
            if markdown:
                doc = open_coe_pull_request(settings, incident, name, values, tables)
            else:
                assert template and folder
                doc = prepare_coe_document(settings, key, name, values, template, folder, tables)
            if markdown and not settings.coe_sheet_id:  # no tracker: the pull request is the record
                post_to_slack_if_configured(settings, key, name, doc.link)
                tracked = "untracked"
            else:
                found = find_tracker_row(settings, key)
                if found[0] is None:
                    post_to_slack_if_configured(settings, key, name, doc.link)
                row = tracker_row(key, incident, doc.link, values["oncall.at_start"], tz, facts.prepared_at)
                tracked = track_coe(settings, row, found)

        create_link_artifact(
            link=doc.link, link_text=doc.name, key=artifact_key("coe", key), description=f"COE for {key}"
        )
        publish_markdown(
            f"# {escape.prefect_md(doc.name)}\n\n[Open the {'pull request' if markdown else 'document'}]"
            f"({doc.link})\n\n{_values_table(values)}\n",
            artifact_key("coe-prep", key),
            f"What coe-prep filled for {key}",
        )
        if doc.unknown:
            raise InputError(
                f"the template has placeholders coe-prep does not know: {', '.join(doc.unknown)}; "
                f"fill them by hand in {doc.link} or fix the template (see `oncall coe check-template`)"
            )
        return {
            "incident": key,
            "status": "created" if doc.created else "exists",
            "document": doc.link,
            "tracked": tracked,
        }


def _one_id(incident_id: str | None, alert_id: str | None) -> tuple[str | None, str | None]:
    """The one id given, blanks dropped (a run from the UI sends its empty fields), or an
    InputError naming the parameter to fill."""
    incident, alert = (incident_id or "").strip() or None, (alert_id or "").strip() or None
    if incident is None and alert is None:
        raise InputError(
            "coe-prep needs an incident: fill the incident_id parameter (its id, or the number the "
            "hand-off shows, such as 101), or the alert_id parameter for a closed P1/P2 alert"
        )
    if incident is not None and alert is not None:
        raise InputError("fill one of the incident_id and alert_id parameters, not both: clear alert_id")
    return incident, alert


def post_to_slack_if_configured(settings: Settings, key: str, name: str, link: str) -> None:
    if settings.slack_webhook_url is None:
        get_run_logger().info("ONCALL_SLACK_WEBHOOK_URL not set: the team is not told about %s", link)
        return
    text = (
        f"COE draft ready: <{link}|{escape.slack(name, 150)}>. The data is filled in; "
        "add the analysis and put it on the next review meeting's agenda."
    )
    # Once per document: a rerun after the post but before the row finds the post recorded.
    payload = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    if (posted := post_once(settings, payload, f"coe-prep {key}", link)) and posted.confirmed:
        get_run_logger().info("The team was told about %s: %s; not posting again", link, posted)
