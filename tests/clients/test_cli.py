"""The `oncall` command line: every command has help, and doctor names what is wrong."""

from __future__ import annotations

import pytest

from deployments.cli import build_parser, main
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


def test_doctor_passes_against_the_sandbox(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "All checks passed." in out and "set (hidden)" in out
    assert sandbox.state.opsgenie.api_key not in out and sandbox.state.github.token not in out


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
