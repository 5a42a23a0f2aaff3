"""`oncall doctor` against the sandbox: every check's ok, warn and fail, the exit code, `--json`.

The sandbox is the session's: a test that changes its state (an account, a sheet, a folder)
adds something of its own or puts back what it changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.cli import main
from deployments.doctor import run_doctor
from oncall.runbook import parse_runbook
from oncall.sandbox.server import Sandbox
from tests.conftest import leaks


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The sandbox's settings, without any config file, and no Prefect server."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_CONFIG", "/dev/null")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    yield monkeypatch


def report() -> tuple[int, dict[str, list[dict[str, str]]]]:
    """The exit code and the checks by name, read from `--json`."""
    lines: list[str] = []
    code = run_doctor(lines.append, as_json=True)
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["exit_code"] == code
    by_name: dict[str, list[dict[str, str]]] = {}
    for check in data["checks"]:
        by_name.setdefault(check["name"], []).append(check)
    return code, by_name


def status(checks: dict[str, list[dict[str, str]]], name: str) -> str:
    assert name in checks, f"no check {name}: {sorted(checks)}"
    worst = {"ok": 0, "warn": 1, "fail": 2}
    return max((c["status"] for c in checks[name]), key=worst.__getitem__)


def detail(checks: dict[str, list[dict[str, str]]], name: str) -> str:
    return " ".join(c["detail"] + " " + c["fix"] for c in checks[name])


def test_the_sandbox_passes_every_check(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    code, checks = report()
    assert code == 0
    for name in [
        "settings.team_timezone",
        "settings.business_hours",
        "source.credentials",
        "source.schedule",
        "github.repo",
        "github.access",
        "github.label",
        "github.runbook",
        "google.credentials",
        "google.template",
        "google.folder",
        "google.sheet",
        "slack.webhook",
    ]:
        assert status(checks, name) == "ok", checks[name]
    assert status(checks, "prefect.server") == "warn"  # no PREFECT_API_URL here
    assert "PREFECT_API_URL" in detail(checks, "prefect.server")


def test_the_runbook_check_gives_its_layout_and_entry_count(
    env: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    text = sandbox.state.github.repo(sandbox.state.runbook_repo).files[f"{sandbox.state.runbook_path}@main"]
    book = parse_runbook(text)
    _, checks = report()
    said = detail(checks, "github.runbook")
    assert f"{len(book.entries)} entries" in said and f"{book.layout.value} layout" in said


def test_a_missing_schedule_fails_and_lists_the_real_ones(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    env.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    code, checks = report()
    assert code == 1 and status(checks, "source.schedule") == "fail"
    said = detail(checks, "source.schedule")
    real = [s["name"] for s in sandbox.state.opsgenie.schedules]
    assert real and all(repr(name) in said for name in real)
    assert "'Ops Weekly'" in said and "ONCALL_SCHEDULE" in said


def test_a_schedule_differing_only_in_case_names_the_right_spelling(
    env: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    real = sandbox.state.opsgenie.schedules[0]["name"]
    env.setenv("ONCALL_SCHEDULE", real.upper())
    _, checks = report()
    assert status(checks, "source.schedule") == "fail"
    assert f"set ONCALL_SCHEDULE to {real!r}" in detail(checks, "source.schedule")


@pytest.mark.parametrize("source", ["jsm", "rootly"])
def test_other_sources_find_the_schedule(env: pytest.MonkeyPatch, sandbox: Sandbox, source: str) -> None:
    for key, value in sandbox.source_env(source).items():
        env.setenv(key, value)
    env.delenv("ONCALL_OPSGENIE_API_KEY")
    _, checks = report()
    assert status(checks, "source.credentials") == "ok" and status(checks, "source.schedule") == "ok"


def test_a_rejected_source_key_fails_without_printing_it(env: pytest.MonkeyPatch) -> None:
    env.setenv("ONCALL_OPSGENIE_API_KEY", "canary-doctor-key-77")
    lines: list[str] = []
    assert run_doctor(lines.append) == 1
    out = "\n".join(lines)
    assert "canary-doctor-key-77" not in out
    failed = [line for line in lines if line.startswith("✗ fail") and "source.credentials" in line]
    assert len(failed) == 1 and "ONCALL_OPSGENIE_API_KEY" in failed[0]
    assert "source.schedule" not in out  # nothing more is asked of a source that refused the key


def test_the_source_s_missing_credential_is_a_fail(env: pytest.MonkeyPatch) -> None:
    env.delenv("ONCALL_OPSGENIE_API_KEY")
    code, checks = report()
    assert code == 1 and status(checks, "source.credentials") == "fail"
    assert "ONCALL_OPSGENIE_API_KEY" in detail(checks, "source.credentials")


@pytest.mark.parametrize(
    ("setting", "value", "check"),
    [
        ("ONCALL_TEAM_TIMEZONE", "Mars/Olympus_Mons", "TEAM_TIMEZONE"),
        ("ONCALL_BUSINESS_HOURS", "weekdays 9 to 5", "BUSINESS_HOURS"),
    ],
)
def test_a_setting_that_does_not_parse_fails_naming_it(
    env: pytest.MonkeyPatch, setting: str, value: str, check: str
) -> None:
    env.setenv(setting, value)
    lines: list[str] = []
    assert run_doctor(lines.append) == 1
    failed = [line for line in lines if line.startswith("✗ fail")]
    assert failed and any(check in line.upper() for line in failed), lines


@pytest.mark.parametrize(
    ("role", "access", "label"),
    [("read", "fail", "warn"), ("triage", "ok", "warn"), ("write", "ok", "ok")],
)
def test_the_token_s_role_decides_whether_labels_can_be_set(
    env: pytest.MonkeyPatch, sandbox: Sandbox, role: str, access: str, label: str
) -> None:
    token = f"doctor-{role}-token-4411"
    sandbox.state.github.add_account(token, f"doctor-{role}", role)
    env.setenv("ONCALL_GITHUB_TOKEN", token)
    env.setenv("ONCALL_GAP_LABEL", f"doctor-new-label-{role}")  # a label the repository lacks
    code, checks = report()
    assert status(checks, "github.access") == access
    assert status(checks, "github.label") == label
    assert code == (1 if access == "fail" else 0)
    said = detail(checks, "github.access")
    assert role in said and token not in json.dumps(checks)
    if access == "fail":
        assert "Write" in said and "Triage" in said


def test_an_existing_label_is_ok_for_any_role(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    state = sandbox.state.github
    state.label(state.repo(sandbox.state.runbook_repo), "doctor-kept-label")
    sandbox.state.github.add_account("doctor-triage-token-2", "doctor-triage-2", "triage")
    env.setenv("ONCALL_GITHUB_TOKEN", "doctor-triage-token-2")
    env.setenv("ONCALL_GAP_LABEL", "doctor-kept-label")
    _, checks = report()
    assert status(checks, "github.label") == "ok" and "exists" in detail(checks, "github.label")


def test_a_missing_repository_fails_naming_the_setting(env: pytest.MonkeyPatch) -> None:
    env.setenv("ONCALL_GITHUB_REPO", "example-org/no-such-repo")
    code, checks = report()
    assert code == 1 and status(checks, "github.repo") == "fail"
    assert "ONCALL_GITHUB_REPO" in detail(checks, "github.repo")


def test_a_missing_runbook_file_fails_naming_the_setting(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    env.setenv("ONCALL_RUNBOOK", f"{sandbox.state.runbook_repo}:docs/no-such-runbook.md@main")
    code, checks = report()
    assert code == 1 and status(checks, "github.runbook") == "fail"
    assert "ONCALL_RUNBOOK" in detail(checks, "github.runbook")


def test_unset_optional_systems_warn_with_what_they_turn_off(env: pytest.MonkeyPatch) -> None:
    for key in ("ONCALL_GITHUB_TOKEN", "ONCALL_GOOGLE_SERVICE_ACCOUNT", "ONCALL_SLACK_WEBHOOK_URL"):
        env.delenv(key)
    code, checks = report()
    assert code == 0
    assert status(checks, "github.token") == "warn" and "runbook-gaps" in detail(checks, "github.token")
    assert status(checks, "google.credentials") == "warn" and "coe-prep" in detail(
        checks, "google.credentials"
    )
    assert status(checks, "slack.webhook") == "warn" and "Slack" in detail(checks, "slack.webhook")


def test_unset_coe_ids_warn(env: pytest.MonkeyPatch) -> None:
    for key in ("ONCALL_COE_TEMPLATE_ID", "ONCALL_COE_FOLDER_ID", "ONCALL_COE_SHEET_ID"):
        env.delenv(key)
    code, checks = report()
    assert code == 0
    for name, setting in [
        ("google.template", "ONCALL_COE_TEMPLATE_ID"),
        ("google.folder", "ONCALL_COE_FOLDER_ID"),
        ("google.sheet", "ONCALL_COE_SHEET_ID"),
    ]:
        assert status(checks, name) == "warn" and setting in detail(checks, name)


def test_a_folder_in_a_my_drive_fails(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    my_drive = next(f for f, meta in sandbox.state.google.files.items() if meta.get("driveId") is None)
    env.setenv("ONCALL_COE_FOLDER_ID", my_drive)
    code, checks = report()
    assert code == 1 and status(checks, "google.folder") == "fail"
    assert "Shared Drive" in detail(checks, "google.folder")


def test_a_folder_the_account_cannot_write_fails(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    google = sandbox.state.google
    google.add_folder("folder-doctor-readonly", "Read only")
    google.unwritable.add("folder-doctor-readonly")
    env.setenv("ONCALL_COE_FOLDER_ID", "folder-doctor-readonly")
    code, checks = report()
    assert code == 1 and status(checks, "google.folder") == "fail"
    assert google.client_email in detail(checks, "google.folder") and "Content manager" in detail(
        checks, "google.folder"
    )


def test_a_template_that_is_not_a_doc_fails(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    env.setenv("ONCALL_COE_TEMPLATE_ID", sandbox.state.coe_folder)
    code, checks = report()
    assert code == 1 and status(checks, "google.template") == "fail"
    assert "not a Google Doc" in detail(checks, "google.template")


def test_a_template_lacking_a_required_placeholder_fails(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    from oncall.coe import REQUIRED

    sandbox.state.google.add_doc("doc-doctor-bare", "Bare template", "# COE\n\nNothing to fill.\n")
    env.setenv("ONCALL_COE_TEMPLATE_ID", "doc-doctor-bare")
    code, checks = report()
    assert code == 1 and status(checks, "google.template") == "fail"
    assert all(p in detail(checks, "google.template") for p in REQUIRED)


def test_a_missing_template_fails(env: pytest.MonkeyPatch) -> None:
    env.setenv("ONCALL_COE_TEMPLATE_ID", "doc-doctor-nowhere")
    code, checks = report()
    assert code == 1 and status(checks, "google.template") == "fail"


def test_a_wrong_sheet_header_fails_naming_the_column(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    header = list(sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"][0])
    header[2] = "Date"
    sandbox.state.sheets["sheet-doctor-wrong"] = {"COE tracker": [header]}
    env.setenv("ONCALL_COE_SHEET_ID", "sheet-doctor-wrong")
    code, checks = report()
    assert code == 1 and status(checks, "google.sheet") == "fail"
    assert "C is 'Date'" in detail(checks, "google.sheet")


def test_an_empty_tab_warns(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    sandbox.state.sheets["sheet-doctor-empty"] = {"COE tracker": []}
    env.setenv("ONCALL_COE_SHEET_ID", "sheet-doctor-empty")
    code, checks = report()
    assert code == 0 and status(checks, "google.sheet") == "warn"


def test_a_missing_tab_fails_listing_the_tabs(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    env.setenv("ONCALL_COE_SHEET_TAB", "COEs 2026")
    code, checks = report()
    assert code == 1 and status(checks, "google.sheet") == "fail"
    said = detail(checks, "google.sheet")
    assert all(repr(tab) in said for tab in sandbox.state.sheets[sandbox.state.coe_sheet])
    assert "ONCALL_COE_SHEET_TAB" in said


def test_a_key_google_refuses_fails_the_token_exchange(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    key = {
        **sandbox.state.service_account,
        "client_email": "someone-else@sandbox-project.iam.gserviceaccount.com",
    }
    env.setenv("ONCALL_GOOGLE_SERVICE_ACCOUNT", json.dumps(key))
    code, checks = report()
    assert code == 1 and status(checks, "google.credentials") == "fail"
    assert "google.folder" not in checks  # nothing more is asked without a token


def test_a_webhook_that_is_gone_fails(env: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    env.setenv("ONCALL_SLACK_WEBHOOK_URL", f"{sandbox.url}/slack/services/T0/B0/doctorgone")
    code, checks = report()
    assert code == 1 and status(checks, "slack.webhook") == "fail"
    assert sandbox.state.slack.messages == []  # the check never posts


def test_json_from_the_command_line_and_the_exit_code(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0 and data["summary"]["fail"] == 0
    assert {c["status"] for c in data["checks"]} <= {"ok", "warn", "fail"}
    env.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    assert main(["doctor", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1 and data["summary"]["fail"] >= 1


def test_the_text_report_has_one_line_per_check_and_a_summary(
    env: pytest.MonkeyPatch, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    env.delenv("ONCALL_SLACK_WEBHOOK_URL")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    _, checks = report()
    lines = [line for line in out.splitlines() if line[:1] in "✓!✗" and line[1:2] == " "]
    assert len(lines) == sum(len(v) for v in checks.values())
    fail = next(line for line in lines if "source.schedule" in line)
    assert fail.startswith("✗ fail") and "→ fix: set ONCALL_SCHEDULE" in fail
    warn = next(line for line in lines if "slack.webhook" in line)
    assert warn.startswith("! warn") and "→ fix:" in warn
    assert (
        out.rstrip()
        .splitlines()[-1]
        .startswith(f"{sum(c['status'] == 'ok' for v in checks.values() for c in v)} ok")
    )
    assert not leaks(out)


def test_settings_that_do_not_load_are_one_failed_check(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("ONCALL_OPSGENIE_REGION", "mars")
    assert main(["doctor", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["checks"]] == ["fail"]
    assert "ONCALL_OPSGENIE_REGION" in data["checks"][0]["detail"]


def test_the_settings_listing_says_where_each_value_came_from(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "oncall.toml"
    config.write_text('business_hours = "Mon-Thu 08:00-16:00"\n', encoding="utf-8")
    env.setenv("ONCALL_CONFIG", str(config))
    main(["doctor"])
    out = capsys.readouterr().out
    hours = next(line for line in out.splitlines() if line.strip().startswith("ONCALL_BUSINESS_HOURS"))
    schedule = next(line for line in out.splitlines() if line.strip().startswith("ONCALL_SCHEDULE"))
    key = next(line for line in out.splitlines() if line.strip().startswith("ONCALL_OPSGENIE_API_KEY"))
    assert "'Mon-Thu 08:00-16:00'" in hours and hours.endswith("(file)")
    assert schedule.endswith("(default)") and key.endswith("(env)") and "set (hidden)" in key


def test_drive_s_partial_answer_holds_only_the_fields_asked_for(sandbox: Sandbox) -> None:
    """As Drive answers `fields=`: a My Drive item has no driveId at all, capabilities only the
    one asked for, and a file that is not a folder can never add children."""
    from oncall.clients.google import GoogleWorkspace

    with GoogleWorkspace(sandbox.state.service_account, base_url=sandbox.google_url) as gw:
        fields = {"fields": "id,driveId,capabilities(canAddChildren)", "supportsAllDrives": "true"}
        my_drive = gw.api.get_json(f"{gw.drive}/files/folder-my-drive", params=fields, what="folder")
        shared = gw.api.get_json(f"{gw.drive}/files/{sandbox.state.coe_folder}", params=fields, what="folder")
        doc = gw.api.get_json(f"{gw.drive}/files/{sandbox.state.coe_template}", params=fields, what="doc")
    assert my_drive == {"id": "folder-my-drive", "capabilities": {"canAddChildren": True}}
    assert set(shared) == {"id", "driveId", "capabilities"} and shared["capabilities"] == {
        "canAddChildren": True
    }
    assert doc["capabilities"] == {"canAddChildren": False}


def test_a_prefect_server_that_does_not_answer_fails(env: pytest.MonkeyPatch) -> None:
    import socket

    import prefect.settings

    # Prefect reads its settings from the environment once, when first loaded: loaded here first,
    # with the dead server's URL set, it would keep that URL for every later test in the process.
    prefect.settings.get_current_settings()
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    code, checks = report()
    assert code == 1 and status(checks, "prefect.server") == "fail"
    assert f"127.0.0.1:{port}" in detail(checks, "prefect.server")
    assert "prefect.deployment.shift-handoff" not in checks


def test_slack_check_tries_as_often_as_the_settings_say() -> None:
    """ONCALL_HTTP_ATTEMPTS holds for every check: an unreachable webhook is one failed line after
    that many tries, not after the client's own default (6 tries and their back-off)."""
    from deployments.doctor_checks import slack_checks
    from oncall.settings import Settings
    from tests.processes import free_port

    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/nobody"
    [check] = slack_checks(Settings(slack_webhook_url=url, http_attempts=1, http_backoff_seconds=0))
    assert check.status == "fail" and "on each of 1 tries" in check.detail, check.detail
    assert "nobody" not in check.detail


def test_every_check_takes_the_configured_timeout_and_attempts(
    env: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    """Doctor builds its clients as a flow run does (oncall.wiring): against APIs that never
    answer, each request gives up after ONCALL_HTTP_TIMEOUT_SECONDS and is tried
    ONCALL_HTTP_ATTEMPTS times, not on a client's own defaults (15 s, 5 or 6 tries). Slack's
    post is tried once: a post whose answer was lost may have posted."""
    import time
    from collections import Counter

    from oncall.sandbox.faults import FaultRates

    env.setenv("ONCALL_HTTP_TIMEOUT_SECONDS", "0.5")
    env.setenv("ONCALL_HTTP_ATTEMPTS", "2")
    env.setenv("ONCALL_HTTP_BACKOFF_SECONDS", "0")
    env.setenv("ONCALL_GOOGLE_SERVICE_ACCOUNT", "")  # its token exchange is google-auth's own
    systems = ("opsgenie", "github", "slack")
    for system in systems:
        sandbox.app.rates[system] = FaultRates(rate_timeout=1.0, timeout_seconds=20)
    before = len(sandbox.app.served)
    started = time.monotonic()
    code, checks = report()
    took = time.monotonic() - started
    served = sandbox.app.served[before:]
    assert code == 1
    for name in ("source.credentials", "github.repo", "slack.webhook"):
        assert status(checks, name) == "fail", checks[name]
    tries = Counter((s.system, s.method, s.path) for s in served if s.system in systems)
    assert {system for system, _, _ in tries} == set(systems), tries
    assert {n for (system, _, _), n in tries.items() if system != "slack"} == {2}, tries
    assert [n for (system, _, _), n in tries.items() if system == "slack"] == [1], tries
    assert took < 15, f"doctor took {took:.1f} s: a client waited past its 0.5 s timeout"
