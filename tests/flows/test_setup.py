from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow
from prefect.blocks.system import Secret
from prefect.variables import Variable

from deployments.setup import setup_blocks
from oncall.errors import ConfigError
from oncall.settings import SECRET_BLOCKS, settings_sources
from tasks.config import SETTINGS_VARIABLE, resolve_settings

OTHER_BLOCK = "acme-github-token"


def _delete_block(name: str) -> None:
    with contextlib.suppress(ValueError):
        Secret.delete(name)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty working folder (no ./oncall.toml), and no settings Variable or Secret blocks
    left on the session's server by this test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONCALL_CONFIG", raising=False)
    monkeypatch.setenv("ONCALL_CHECKOUT", "/srv/oncall-flows")
    Variable.unset(SETTINGS_VARIABLE)
    yield
    Variable.unset(SETTINGS_VARIABLE)
    for name in [*SECRET_BLOCKS.values(), OTHER_BLOCK]:
        _delete_block(name)


def test_setup_blocks_saves_secrets_and_settings_without_printing_them(
    monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "canary-setup-token-55")
    monkeypatch.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    monkeypatch.setenv("ONCALL_TEAM_TIMEZONE", "Europe/Berlin")
    lines: list[str] = []
    monkeypatch.setenv("ONCALL_CHECKOUT", "/srv/oncall-flows")
    assert setup_blocks(lines.append, prompt=False) == 3
    assert Variable.get("oncall_checkout") == "/srv/oncall-flows"
    assert Secret.load("oncall-github-token").get() == "canary-setup-token-55"
    assert Variable.get(SETTINGS_VARIABLE) == {"schedule": "Ops Weekly", "team_timezone": "Europe/Berlin"}
    assert not any("canary-setup-token-55" in line for line in lines)
    assert "from the environment" in _line(lines, "oncall-settings.schedule")
    # A deployment's run, with nothing in its environment, reads them back.
    for key in ("ONCALL_GITHUB_TOKEN", "ONCALL_SCHEDULE", "ONCALL_TEAM_TIMEZONE"):
        monkeypatch.delenv(key)
    settings = resolve_settings()
    assert settings.schedule == "Ops Weekly" and settings.team_timezone == "Europe/Berlin"
    assert settings.require("github_token") == "canary-setup-token-55"
    assert settings_sources(settings)["github_token"] == "block"
    assert settings_sources(settings)["schedule"] == "variable"


def test_setup_automations_creates_one_failure_alert() -> None:
    from prefect.client.orchestration import get_client

    from deployments.setup import AUTOMATION, FAILURE_EVENTS, setup_automations

    lines: list[str] = []
    setup_automations(lines.append, "https://hooks.slack.com/services/T0/B0/canaryalerthook")
    second = setup_automations(lines.append, "https://hooks.slack.com/services/T0/B0/canaryalerthook")
    with get_client(sync_client=True) as client:
        mine = [a for a in client.read_automations() if a.name == AUTOMATION]
    assert [str(a.id) for a in mine] == [second]  # re-running replaces, never duplicates
    trigger = mine[0].trigger
    assert set(trigger.expect) == FAILURE_EVENTS
    assert trigger.match_related.root == {
        "prefect.resource.role": "tag",
        "prefect.resource.id": "prefect.tag.oncall",
    }
    assert not any("canaryalerthook" in line for line in lines)


# --- precedence on the deployed path: environment, then the Variable, then defaults ------------


def test_deployed_run_reads_environment_then_variable_then_defaults_and_never_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    (tmp_path / "oncall.toml").write_text('team_timezone = "Asia/Tokyo"\nmax_issues = 9\nschedule = "File"\n')
    Variable.set(SETTINGS_VARIABLE, {"schedule": "Variable", "max_issues": 4}, overwrite=True)
    monkeypatch.setenv("ONCALL_SCHEDULE", "Env")
    settings = resolve_settings(deployed=True)
    assert settings.schedule == "Env"  # the environment beats the Variable
    assert settings.max_issues == 4  # the Variable, not the file
    assert settings.team_timezone == "America/New_York"  # the file is not read: the default
    sources = settings_sources(settings)
    assert (sources["schedule"], sources["max_issues"], sources["team_timezone"]) == (
        "env",
        "variable",
        "default",
    )
    # A run a deployment started is recognised as such without being told.
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(uuid.uuid4()))
    assert resolve_settings().team_timezone == "America/New_York"
    monkeypatch.delenv("PREFECT__RUNTIME__DEPLOYMENT__ID")
    # Called from the command line, the same run reads the file, between the environment and the Variable.
    local = resolve_settings()
    assert (local.schedule, local.max_issues, local.team_timezone) == ("Env", 9, "Asia/Tokyo")


@flow
def _schedule_in_force() -> str:
    return resolve_settings().schedule


def test_a_flow_run_from_the_command_line_reads_the_file_above_the_variable(
    tmp_path: Path, server: None
) -> None:
    (tmp_path / "oncall.toml").write_text('schedule = "From the file"\n')
    Variable.set(SETTINGS_VARIABLE, {"schedule": "From the Variable"}, overwrite=True)
    assert _schedule_in_force() == "From the file"  # a real flow run, no deployment: the CLI's order
    (tmp_path / "oncall.toml").unlink()
    assert _schedule_in_force() == "From the Variable"


def test_deployed_run_refuses_a_bad_variable_in_one_line(server: None) -> None:
    Variable.set(SETTINGS_VARIABLE, {"schedul": "Ops"}, overwrite=True)
    with pytest.raises(ConfigError, match=r"Variable 'oncall-settings'.*'schedul'.*'schedule'"):
        resolve_settings(deployed=True)
    Variable.set(SETTINGS_VARIABLE, {"team_timezone": "Mars/Base"}, overwrite=True)
    with pytest.raises(ConfigError, match=r"ONCALL_TEAM_TIMEZONE is invalid.*Variable 'oncall-settings'"):
        resolve_settings(deployed=True)


def test_workers_find_secrets_by_the_references_setup_blocks_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    (tmp_path / "oncall.toml").write_text(
        f'schedule = "Ops"\n[secrets]\ngithub_token = "block:{OTHER_BLOCK}"\nslack_webhook_url = "env:TEAM_HOOK"\n'
    )
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "canary-ref-block-token-1")
    monkeypatch.setenv("TEAM_HOOK", "https://hooks.slack.com/services/T9/B9/canaryrefhook77")
    lines: list[str] = []
    setup_blocks(lines.append, prompt=False)
    assert Secret.load(OTHER_BLOCK).get() == "canary-ref-block-token-1"  # the block the file names
    with pytest.raises(ValueError):
        Secret.load(SECRET_BLOCKS["github_token"])
    stored = Variable.get(SETTINGS_VARIABLE)
    assert stored == {
        "schedule": "Ops",
        "secrets": {"github_token": f"block:{OTHER_BLOCK}", "slack_webhook_url": "env:TEAM_HOOK"},
    }
    assert not any("canary-ref-block-token-1" in line or "canaryrefhook77" in line for line in lines)
    # A worker: no file, no ONCALL_* secrets, its own TEAM_HOOK.
    (tmp_path / "oncall.toml").unlink()
    monkeypatch.delenv("ONCALL_GITHUB_TOKEN")
    monkeypatch.setenv("TEAM_HOOK", "https://hooks.slack.com/services/T9/B9/workerhook88")
    settings = resolve_settings(deployed=True)
    assert settings.require("github_token") == "canary-ref-block-token-1"
    assert settings.require("slack_webhook_url").endswith("workerhook88")
    sources = settings_sources(settings)
    assert (sources["github_token"], sources["slack_webhook_url"]) == ("block", "env")


# --- setup blocks' report -----------------------------------------------------------------------


def _line(lines: list[str], name: str) -> str:
    found = [line for line in lines if f" {name}:" in line]
    assert len(found) == 1, (name, lines)
    return found[0]


def test_setup_blocks_says_kept_changed_or_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    (tmp_path / "oncall.toml").write_text('schedule = "Ops"\nmax_issues = 3\n')
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "canary-report-token-1")
    Variable.set(SETTINGS_VARIABLE, {"schedule": "Old", "gap_label": "gaps"}, overwrite=True)
    first: list[str] = []
    setup_blocks(first.append, prompt=False)
    assert "changed" in _line(first, "oncall-github-token")
    assert "skipped" in _line(first, "oncall-slack-webhook-url")
    assert "ONCALL_SLACK_WEBHOOK_URL not set" in _line(first, "oncall-slack-webhook-url")
    assert "changed" in _line(first, "oncall-settings.schedule") and "'Old'" in _line(
        first, "oncall-settings.schedule"
    )
    assert "changed" in _line(first, "oncall-settings.max_issues")
    assert "from the config file" in _line(first, "oncall-settings.max_issues")
    # Only the server has gap_label: it stays, and the report says so.
    assert "skipped" in _line(first, "oncall-settings.gap_label")
    assert Variable.get(SETTINGS_VARIABLE) == {"schedule": "Ops", "max_issues": 3, "gap_label": "gaps"}
    second: list[str] = []
    assert setup_blocks(second.append, prompt=False) == 0  # nothing new to write
    assert "kept" in _line(second, "oncall-github-token")
    assert "kept" in _line(second, "oncall-settings.schedule")
    assert "kept" in _line(second, "oncall-settings.max_issues")
    assert "kept" in _line(second, "oncall_checkout")
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "canary-report-token-2")
    third: list[str] = []
    assert setup_blocks(third.append, prompt=False) == 1
    assert "changed (replaced)" in _line(third, "oncall-github-token")
    assert Secret.load("oncall-github-token").get() == "canary-report-token-2"
    assert not any("canary-report-token" in line for line in first + second + third)


def test_setup_blocks_warns_about_sandbox_values_and_removes_them(
    monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    from oncall.sandbox.seed import sandbox_service_account
    from oncall.sandbox.server import Sandbox

    with Sandbox.seeded() as sandbox:
        env = sandbox.env("opsgenie")
    # What `make serve` with the sandbox left behind.
    Secret(value=env["ONCALL_GITHUB_TOKEN"]).save("oncall-github-token", overwrite=True)
    Secret(value=env["ONCALL_SLACK_WEBHOOK_URL"]).save("oncall-slack-webhook-url", overwrite=True)
    Secret(value=env["ONCALL_GOOGLE_SERVICE_ACCOUNT"]).save("oncall-google-service-account", overwrite=True)
    Secret(value="a-real-looking-relay-secret-0042").save("oncall-relay-secret", overwrite=True)
    Variable.set(
        SETTINGS_VARIABLE,
        {"github_base_url": env["ONCALL_GITHUB_BASE_URL"], "schedule": "Ops"},
        overwrite=True,
    )
    monkeypatch.setenv("ONCALL_SCHEDULE", "Ops")
    lines: list[str] = []
    setup_blocks(lines.append, prompt=False)
    for name in ("oncall-github-token", "oncall-slack-webhook-url", "oncall-google-service-account"):
        assert _line(lines, name).startswith("⚠") and "--remove-sandbox" in _line(lines, name)
    assert _line(lines, "oncall-settings.github_base_url").startswith("⚠")
    assert not _line(lines, "oncall-relay-secret").startswith("⚠")
    assert "kept" in _line(lines, "oncall-settings.schedule")
    assert "3 sandbox value(s)" not in lines[-1] and "4 sandbox value(s)" in lines[-1]
    text = json.dumps(lines)
    key_line = sandbox_service_account()["private_key"].splitlines()[5]
    for secret in (env["ONCALL_GITHUB_TOKEN"], "sandboxwebhooksecret", key_line):
        assert secret not in text
    assert Secret.load("oncall-github-token").get() == env["ONCALL_GITHUB_TOKEN"]  # warned, not touched

    removed: list[str] = []
    setup_blocks(removed.append, prompt=False, remove_sandbox=True)
    for name in ("oncall-github-token", "oncall-slack-webhook-url", "oncall-google-service-account"):
        assert "removed" in _line(removed, name)
        with pytest.raises(ValueError):
            Secret.load(name)
    assert Secret.load("oncall-relay-secret").get() == "a-real-looking-relay-secret-0042"
    assert Variable.get(SETTINGS_VARIABLE) == {"schedule": "Ops"}
    assert not any(line.startswith("⚠") for line in removed)
    assert resolve_settings(deployed=True).github_base_url == "https://api.github.com"


def test_setup_blocks_writes_nothing_on_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: None
) -> None:
    (tmp_path / "oncall.toml").write_text('schedule = "Ops"\ngithub_token = "canary-in-file-9"\n')
    monkeypatch.setenv("ONCALL_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B1/canarybadfile")
    Variable.unset("oncall_checkout")
    with pytest.raises(ConfigError) as exc:
        setup_blocks(lambda line: None, prompt=False)
    assert "oncall.toml" in str(exc.value) and "canary-in-file-9" not in str(exc.value)
    assert Variable.get(SETTINGS_VARIABLE, default=None) is None
    assert Variable.get("oncall_checkout", default=None) is None
    with pytest.raises(ValueError):
        Secret.load("oncall-slack-webhook-url")


def test_sandbox_serve_forgets_what_it_wrote(monkeypatch: pytest.MonkeyPatch, server: None) -> None:
    """`make serve` with the sandbox writes its values through setup blocks, and at Ctrl-C removes
    them: the Variable (all the sandbox's) and each block holding a sandbox value, no other."""
    from deployments.setup import forget_sandbox
    from oncall.sandbox.server import Sandbox

    with Sandbox.seeded() as sandbox:
        for key, value in sandbox.env("opsgenie").items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_CONFIG", "/dev/null")
    setup_blocks(lambda line: None, prompt=False)
    assert Variable.get(SETTINGS_VARIABLE)["github_repo"] == sandbox.state.runbook_repo
    Secret(value="a-real-looking-relay-secret-0042").save("oncall-relay-secret", overwrite=True)
    lines: list[str] = []
    assert forget_sandbox(lines.append) == 5  # the Variable and four blocks
    assert Variable.get(SETTINGS_VARIABLE, default=None) is None
    for block in ("oncall-opsgenie-api-key", "oncall-github-token", "oncall-slack-webhook-url"):
        with pytest.raises(ValueError):
            Secret.load(block)
    assert Secret.load("oncall-relay-secret").get() == "a-real-looking-relay-secret-0042"


def test_setup_blocks_names_a_sandbox_value_it_keeps(monkeypatch: pytest.MonkeyPatch, server: None) -> None:
    """A shell still holding the sandbox's settings (`oncall sandbox` prints them) and a server that
    already has them: kept, and said to be the sandbox's, as a change to them is."""
    from oncall.sandbox.server import Sandbox

    with Sandbox.seeded() as sandbox:
        env = sandbox.env("opsgenie")
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", env["ONCALL_GITHUB_TOKEN"])
    monkeypatch.setenv("ONCALL_GITHUB_BASE_URL", env["ONCALL_GITHUB_BASE_URL"])
    first: list[str] = []
    setup_blocks(first.append, prompt=False)
    assert "changed" in _line(first, "oncall-github-token") and "sandbox" in _line(
        first, "oncall-github-token"
    )
    second: list[str] = []
    setup_blocks(second.append, prompt=False)
    for name in ("oncall-github-token", "oncall-settings.github_base_url"):
        assert "kept" in _line(second, name) and "sandbox" in _line(second, name), _line(second, name)
    assert env["ONCALL_GITHUB_TOKEN"] not in json.dumps(first + second)
