"""The config file beside the environment: precedence, references to secrets, and every bad input."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from oncall.errors import ConfigError
from oncall.settings import (
    SECRET_BLOCKS,
    Settings,
    SettingsLayer,
    config_path,
    load_settings,
    sandbox_values,
    secret_block,
    settings_sources,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_file_around(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts in an empty folder, so a developer's own ./oncall.toml never counts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONCALL_CONFIG", raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# --- where the file is ----------------------------------------------------------------------


def test_no_file_means_environment_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_SCHEDULE", "Env Schedule")
    settings = load_settings()
    assert config_path() is None
    assert settings.schedule == "Env Schedule"
    assert settings.team_timezone == Settings.model_fields["team_timezone"].default
    assert settings_sources(settings)["schedule"] == "env"
    assert settings_sources(settings)["team_timezone"] == "default"


def test_oncall_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    write(tmp_path / "oncall.toml", 'schedule = "Ops Weekly"\nmax_issues = 3\n')
    settings = load_settings()
    assert config_path() == tmp_path / "oncall.toml"
    assert (settings.schedule, settings.max_issues) == ("Ops Weekly", 3)


def test_oncall_config_names_the_file_and_beats_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "oncall.toml", 'schedule = "From cwd"\n')
    other = write(tmp_path / "team.toml", 'schedule = "From ONCALL_CONFIG"\n')
    monkeypatch.setenv("ONCALL_CONFIG", str(other))
    assert config_path() == other
    assert load_settings().schedule == "From ONCALL_CONFIG"


def test_precedence_environment_then_file_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "oncall.toml",
        'schedule = "File Schedule"\nteam_timezone = "Europe/Berlin"\nescalation_minutes = 9\n',
    )
    monkeypatch.setenv("ONCALL_SCHEDULE", "Env Schedule")
    monkeypatch.setenv("ONCALL_ESCALATION_MINUTES", "7")
    settings = load_settings()
    assert settings.schedule == "Env Schedule"  # env beats the file
    assert settings.escalation_minutes == 7
    assert settings.team_timezone == "Europe/Berlin"  # the file beats the default
    assert settings.business_hours == "Mon-Fri 09:00-17:00"  # neither: the default
    sources = settings_sources(settings)
    assert (sources["schedule"], sources["escalation_minutes"]) == ("env", "env")
    assert sources["team_timezone"] == "file"
    assert sources["business_hours"] == "default"
    assert set(sources) == set(Settings.model_fields)


def test_a_layer_below_the_environment_keeps_its_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed path's Variable is a layer like the file: below the environment, above defaults."""
    monkeypatch.setenv("ONCALL_SCHEDULE", "Env")
    layer = SettingsLayer("variable", "Variable 'oncall-settings'", {"schedule": "Var", "max_issues": 4})
    settings = load_settings(layers=[layer])
    assert (settings.schedule, settings.max_issues) == ("Env", 4)
    assert settings_sources(settings)["max_issues"] == "variable"


def test_an_empty_oncall_config_value_is_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "oncall.toml", 'schedule = "From cwd"\n')
    monkeypatch.setenv("ONCALL_CONFIG", "")
    assert load_settings().schedule == "From cwd"


# --- secrets: references only ---------------------------------------------------------------


def test_secret_from_the_referenced_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "oncall.toml", '[secrets]\ngithub_token = "env:GH_TOKEN"\n')
    monkeypatch.setenv("GH_TOKEN", "canary-ref-token-123")
    settings = load_settings()
    assert settings.require("github_token") == "canary-ref-token-123"
    assert settings_sources(settings)["github_token"] == "env"
    assert "canary-ref-token-123" not in repr(settings)


def test_oncall_variable_beats_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "oncall.toml", '[secrets]\ngithub_token = "env:GH_TOKEN"\n')
    monkeypatch.setenv("GH_TOKEN", "from-reference-xyz")
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "from-oncall-var-xyz")
    assert load_settings().require("github_token") == "from-oncall-var-xyz"


def test_missing_referenced_variable_names_it(tmp_path: Path) -> None:
    write(tmp_path / "oncall.toml", '[secrets]\ngithub_token = "env:GH_TOKEN_NOT_SET_ANYWHERE"\n')
    settings = load_settings()
    assert settings.github_token is None
    with pytest.raises(ConfigError) as exc:
        settings.require("github_token")
    assert "GH_TOKEN_NOT_SET_ANYWHERE" in one_line(exc)


def test_block_reference_names_the_block(tmp_path: Path) -> None:
    write(tmp_path / "oncall.toml", '[secrets]\ngithub_token = "block:acme-github-token"\n')
    settings = load_settings()
    assert secret_block(settings, "github_token") == "acme-github-token"
    assert secret_block(settings, "slack_webhook_url") == SECRET_BLOCKS["slack_webhook_url"]
    assert secret_block({"github_token": "env:X"}, "github_token") == SECRET_BLOCKS["github_token"]
    assert secret_block({}, "github_token") == SECRET_BLOCKS["github_token"]
    with pytest.raises(ConfigError) as exc:
        settings.require("github_token")
    assert "acme-github-token" in one_line(exc) and "ONCALL_GITHUB_TOKEN" in one_line(exc)


# --- bad input: one line naming the file and the key, and never the secret's value ----------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('schedul = "Ops"\n', ["schedul", "schedule"]),  # a typo, and what it probably meant
        ("schedule = \n", ["not valid TOML", "line 1"]),
        ('[secrets]\ngithub_tokn = "env:X"\n', ["github_tokn", "[secrets]"]),
        ('[secrets]\ngithub_token = "canary-file-secret-999"\n', ["github_token", "env:", "block:"]),
        ('[secrets]\ngithub_token = "env:"\n', ["github_token"]),
        ("[secrets]\ngithub_token = 5\n", ["github_token"]),
        ('github_token = "canary-file-secret-999"\n', ["github_token", "[secrets]"]),
        ('secrets = "env:X"\n', ["secrets", "table"]),
        ('[opsgenie]\napi_key = "x"\n', ["opsgenie"]),
        ('team_timezone = "Mars/Olympus"\n', ["ONCALL_TEAM_TIMEZONE", "team_timezone", "Mars/Olympus"]),
        ('business_hours = "weekdays"\n', ["ONCALL_BUSINESS_HOURS", "business_hours"]),
        ('handoff_cron = "0 10 * * 8"\n', ["ONCALL_HANDOFF_CRON", "handoff_cron"]),
        ('handoff_cron = "every tuesday"\n', ["ONCALL_HANDOFF_CRON", "handoff_cron"]),
        ('max_issues = "many"\n', ["ONCALL_MAX_ISSUES", "max_issues"]),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str, names: list[str]) -> None:
    path = write(tmp_path / "oncall.toml", text)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    line = one_line(exc)
    assert str(path) in line
    for name in names:
        assert name in line
    assert "canary-file-secret-999" not in line


def test_missing_file_named_by_oncall_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "ONCALL_CONFIG" in one_line(exc) and str(tmp_path / "nope.toml") in one_line(exc)


def test_oncall_config_naming_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "ONCALL_CONFIG" in one_line(exc)


def test_bad_value_from_the_environment_names_the_variable_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "oncall.toml", 'team_timezone = "Europe/Berlin"\n')
    monkeypatch.setenv("ONCALL_TEAM_TIMEZONE", "Nowhere/Town")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    line = one_line(exc)
    assert line.startswith("setting ONCALL_TEAM_TIMEZONE is invalid:")
    assert "Nowhere/Town" in line and str(path) not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("team_timezone", "EST5"),
        ("team_timezone", "new york"),
        ("business_hours", "Mon-Fri 17:00-09:00"),
        ("handoff_cron", "0 10 * *"),
        ("handoff_cron", "61 10 * * 2"),
    ],
)
def test_validators_refuse_in_the_existing_form(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ONCALL_{name.upper()}", value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert one_line(exc).startswith(f"setting ONCALL_{name.upper()} is invalid:")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("team_timezone", "Asia/Kolkata"),
        ("team_timezone", "UTC"),
        ("business_hours", "Sun-Thu 08:30-16:30"),
        ("handoff_cron", "30 9 * * 1-5"),
        ("handoff_cron", "0 10 * * TUE"),
    ],
)
def test_validators_accept_good_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"ONCALL_{name.upper()}", value)
    assert getattr(load_settings(), name) == value


def test_variable_layer_refuses_unknown_keys_and_secrets() -> None:
    where = "Variable 'oncall-settings'"
    with pytest.raises(ConfigError) as exc:
        load_settings(layers=[SettingsLayer("variable", where, {"schedul": "x"})])
    assert where in one_line(exc) and "schedul" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        load_settings(layers=[SettingsLayer("variable", where, {"github_token": "canary-var-secret-1"})])
    assert where in one_line(exc) and "canary-var-secret-1" not in one_line(exc)


# --- the shipped example ------------------------------------------------------------------


EXAMPLE = ROOT / "oncall.example.toml"


def _documented_keys(text: str) -> tuple[set[str], set[str]]:
    """Keys set or shown commented out (`# key = ...`), above and inside the [secrets] table."""
    top, secrets = text.split("\n[secrets]\n", 1)
    key = re.compile(r"^#?\s?([a-z_]+) = ", re.MULTILINE)
    return set(key.findall(top)), set(key.findall(secrets))


def test_example_loads_and_lists_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    top, secrets = _documented_keys(text)
    plain = {n for n in Settings.model_fields if n not in SECRET_BLOCKS and n != "secrets"}
    assert plain <= top, f"not in oncall.example.toml: {sorted(plain - top)}"
    assert set(SECRET_BLOCKS) <= secrets, f"not in [secrets]: {sorted(set(SECRET_BLOCKS) - secrets)}"
    assert not (top & set(SECRET_BLOCKS)), "a secret above [secrets]"
    monkeypatch.setenv("ONCALL_CONFIG", str(EXAMPLE))
    loaded = load_settings()
    # Every value the example sets is the default it says it is.
    assert loaded.model_dump() == Settings().model_dump()
    active = tomllib.loads(text)
    assert set(active) - {"secrets"} <= plain and active.get("secrets", {}) == {}
    # And every commented-out line is a valid line once uncommented: the example is copy-and-edit.
    uncommented = re.sub(r"^# ([a-z_]+ = )", r"\1", text, flags=re.MULTILINE)
    parsed = tomllib.loads(uncommented)
    assert set(parsed) - {"secrets"} == plain
    assert set(parsed["secrets"]) == set(SECRET_BLOCKS)


# --- sandbox values, for setup blocks and doctor --------------------------------------------


def test_sandbox_values_are_recognised() -> None:
    from oncall.sandbox.seed import sandbox_service_account
    from oncall.sandbox.server import Sandbox

    with Sandbox.seeded() as sandbox:
        env = {**sandbox.env("opsgenie"), **sandbox.env("jsm"), **sandbox.env("rootly")}
    values = {k.removeprefix("ONCALL_").lower(): v for k, v in env.items()}
    found = sandbox_values(values)
    for name in (
        "opsgenie_api_key",
        "jsm_api_token",
        "rootly_api_token",
        "github_token",
        "slack_webhook_url",
        "google_service_account",
        "opsgenie_base_url",
        "github_base_url",
        "google_base_url",
        "jsm_site_url",
        "jsm_api_url",
        "rootly_base_url",
        "github_repo",
        "runbook",
        "coe_template_id",
        "coe_folder_id",
        "coe_sheet_id",
    ):
        assert name in found, name
    assert sandbox_service_account()["private_key"] not in " ".join(found.values())
    real = {
        "github_token": "ghp_realLookingToken0123456789",
        "github_base_url": "https://api.github.com",
        "slack_webhook_url": "https://hooks.slack.com/services/T1/B1/abcdefabcdef",
        "opsgenie_base_url": "https://api.eu.opsgenie.com",
        "google_service_account": '{"client_email": "bot@acme.iam.gserviceaccount.com"}',
        "schedule": "Ops",
        "github_repo": "acme/ops-runbook",
        "runbook": "acme/ops-runbook:docs/runbooks@main",
        "coe_template_id": "1AbCdEfGhIjKlMnOp",
    }
    assert sandbox_values(real) == {}
    assert set(sandbox_values({"jsm_site_url": "http://localhost:9000/atlassian"})) == {"jsm_site_url"}


def test_reading_settings_loads_no_http_client() -> None:
    """A one-line answer to a bad setting must not wait for httpx (a third of the settings' import)."""
    import subprocess
    import sys

    child = "import sys, oncall.settings; print(sorted(m for m in ('httpx', 'oncall.clients.http') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_retry_policy_follows_the_settings() -> None:
    retry = Settings(http_attempts=7, http_backoff_seconds=0.25).retry
    assert (retry.attempts, retry.base_delay) == (7, 0.25)
