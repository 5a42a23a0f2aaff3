"""The `oncall` command line: every command has help, and doctor names what is wrong."""

from __future__ import annotations

import pytest

from deployments.cli import build_parser, main
from oncall.errors import ConfigError
from oncall.sandbox.server import Sandbox

COMMANDS = [
    ["demo"],
    ["sandbox"],
    ["handoff"],
    ["gaps"],
    ["doctor"],
    ["relay"],
    ["coe", "prep"],
    ["coe", "watch"],
    ["coe", "placeholders"],
    ["coe", "check-template"],
    ["setup", "blocks"],
    ["setup", "automations"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: oncall {' '.join(command)}") and len(out.splitlines()) > 3


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("opsgenie", "✓ OpsGenie at"),
        ("jsm", "✓ JSM Operations (cloud sandbox-cloud-0001)"),
        ("rootly", "✓ Rootly at"),
    ],
)
def test_doctor_checks_the_configured_source(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
    line: str,
) -> None:
    for key, value in sandbox.env(source).items():
        monkeypatch.setenv(key, value)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "All checks passed." in out and "set (hidden)" in out and line in out
    secrets = [sandbox.state.opsgenie.api_key, sandbox.state.jsm.api_token, sandbox.state.rootly.api_token]
    assert not any(s in out for s in [*secrets, sandbox.state.github.token])


def test_doctor_names_a_rejected_key_without_printing_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OPSGENIE_API_KEY", "canary-doctor-key-31")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "ONCALL_OPSGENIE_API_KEY" in out and "canary-doctor-key-31" not in out


def test_bad_settings_exit_2_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ONCALL_OPSGENIE_REGION", "mars")
    assert main(["coe", "check-template", "doc-1"]) == 2
    assert "ONCALL_OPSGENIE_REGION" in capsys.readouterr().err


def test_open_pr_is_off_unless_oncall_open_pr_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.settings import load_settings

    monkeypatch.delenv("ONCALL_OPEN_PR", raising=False)
    assert load_settings().open_pr is False
    monkeypatch.setenv("ONCALL_OPEN_PR", "true")
    assert load_settings().open_pr is True
    monkeypatch.setenv("ONCALL_OPEN_PR", "maybe")
    with pytest.raises(ConfigError, match="ONCALL_OPEN_PR"):
        load_settings()
