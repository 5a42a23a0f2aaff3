"""The `oncall` command line: every command has help, doctor names what is wrong, and
`oncall runbook check` answers a team's CI with the right exit code and JSON lines."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.cli import build_parser, main
from oncall.errors import ConfigError
from oncall.sandbox.server import Sandbox
from tests.factories import CHECK_RUNBOOK
from tests.processes import clean_env

COMMANDS = [
    ["demo"],
    ["sandbox"],
    ["handoff"],
    ["gaps"],
    ["ops-review"],
    ["requests"],
    ["incidents"],
    ["schedules"],
    ["deploy"],
    ["doctor"],
    ["relay"],
    ["coe", "prep"],
    ["coe", "watch"],
    ["coe", "placeholders"],
    ["coe", "check-template"],
    ["coe", "review"],
    ["coe", "status"],
    ["setup", "blocks"],
    ["setup", "automations"],
    ["runbook"],
    ["runbook", "check"],
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
        ("opsgenie", "source.credentials             OpsGenie at"),
        ("jsm", "source.credentials             JSM Operations (cloud sandbox-cloud-0001)"),
        ("rootly", "source.credentials             Rootly at"),
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


@pytest.mark.parametrize("command", ["demo", "sandbox"])
def test_the_source_choices_are_the_registry_s(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from deployments.cli import build_parser
    from oncall.sources import SOURCE_NAMES

    parser = build_parser()
    assert [parser.parse_args([command, "--source", name]).source for name in SOURCE_NAMES] == list(
        SOURCE_NAMES
    )
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--source", "pagerduty-classic"])
    refused = capsys.readouterr().err
    assert all(repr(name) in refused for name in SOURCE_NAMES), refused


@pytest.mark.parametrize(
    ("flags", "force", "open_pr"),
    [([], False, None), (["--force", "--open-pr"], True, True), (["--no-open-pr"], False, False)],
)
def test_gaps_passes_force_and_open_pr_to_the_flow(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    force: bool,
    open_pr: bool | None,
) -> None:
    """No flag leaves open_pr to ONCALL_OPEN_PR (None); either flag overrides it."""
    import flows.runbook_gaps
    from deployments import commands

    seen: dict[str, object] = {}

    def flow(**kwargs: object) -> dict[str, int]:
        seen.update(kwargs)
        return {"kinds": 0}

    monkeypatch.setattr(commands, "flow_env", lambda: None)
    monkeypatch.setattr(flows.runbook_gaps, "runbook_gaps", flow)
    assert main(["gaps", "--dry-run", "--repo", "o/r", "--runbook", "r.md", *flags]) == 0
    assert seen["force"] is force and seen["open_pr"] is open_pr and seen["dry_run"] is True
    assert capsys.readouterr().out == "kinds: 0\n"


# `oncall runbook check`, end to end through main(), on files written here.

RUNBOOK = CHECK_RUNBOOK

RULES = """groups:
  - name: storage
    rules:
      - record: job:disk_used:ratio
        expr: sum(x) by (job)
      - alert: DiskFull
        expr: x > 0.9
      - alert: HighErrorRate
        expr: y > 0.1
"""


def check(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["runbook", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "runbook.md"
    path.write_text(RUNBOOK, encoding="utf-8")
    return path


def test_with_no_other_argument_it_lists_the_entries(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(str(book), capsys=capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"Runbook {book}: layout headings, 3 entries, 2 products"
    assert any("Storage / QueueDepthHigh  [no Mitigation, stub]" in line for line in lines)
    assert lines[-1] == "3 entries: 2 complete, 1 no Mitigation, 1 stub"


def test_json_lists_one_object_per_entry(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(str(book), "--format", "json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["title"] for r in rows] == ["DiskFull", "QueueDepthHigh", "HighErrorRate"]
    assert rows[1]["product"] == "Storage" and rows[1]["anchor"] == "queuedepthhigh"
    assert rows[1]["flags"] == ["no Mitigation", "stub"] and rows[0]["flags"] == []
    assert rows[1]["line"] == RUNBOOK.splitlines().index("### QueueDepthHigh") + 1


def test_titles_all_covered_exit_0(book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    titles = tmp_path / "titles.txt"
    titles.write_text(
        "[Prometheus]: [FIRING:1] DiskFull prod (db-1 /dev/sda)\n\nHighErrorRate\n", encoding="utf-8"
    )
    code, out, _ = check(str(book), "--titles", str(titles), capsys=capsys)
    assert code == 0
    assert out.splitlines()[-1] == "2 checked: 2 covered, 0 gaps, 0 broken links"


def test_a_gap_exits_1_and_json_gives_one_line_per_title(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles = tmp_path / "titles.txt"
    titles.write_text("DiskFull\nDiskFullSoon\n", encoding="utf-8")
    code, out, _ = check(str(book), "--titles", str(titles), "--format", "json", capsys=capsys)
    assert code == 1
    covered, gap = (json.loads(line) for line in out.splitlines())
    assert covered == {
        "title": "DiskFull",
        "kind": "DiskFull",
        "status": "covered",
        "entry": {
            "title": "DiskFull",
            "path": "",
            "line": RUNBOOK.splitlines().index("### DiskFull") + 1,
            "anchor": "diskfull",
        },
        "why": ["diskfull"],
    }
    assert gap == {"title": "DiskFullSoon", "kind": "DiskFullSoon", "status": "gap", "entry": None, "why": []}


def test_rules_files_are_checked_and_recording_rules_skipped(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "storage.yaml", tmp_path / "node.yaml"
    first.write_text(RULES, encoding="utf-8")
    second.write_text("groups:\n  - name: node\n    rules:\n      - alert: NodeDown\n        expr: up == 0\n")
    code, out, _ = check(str(book), "--rules", str(first), str(second), "--format", "json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [(r["title"], r["status"]) for r in rows] == [
        ("DiskFull", "covered"),
        ("HighErrorRate", "covered"),
        ("NodeDown", "gap"),
    ]


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ("groups: [\n  - name: x\n", "is not YAML at line"),
        ("- just\n- a list\n", "is not a Prometheus rule file"),
    ],
)
def test_a_bad_rules_file_exits_2_with_one_line_naming_it(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str, says: str
) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(rules, encoding="utf-8")
    code, out, err = check(str(book), "--rules", str(path), capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and says in err
    assert err.startswith("oncall runbook check: ")


def _bad_inputs(tmp_path: Path, book: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no markdown here")
    (tmp_path / "page.html").write_text("<!doctype html><html><body>Runbook</body></html>")
    (tmp_path / "titles.bin").write_bytes(b"\xff\xfe\x00\x01")
    return {
        "missing runbook": ([str(tmp_path / "nope.md")], "nope.md"),
        "not markdown": ([str(tmp_path / "page.html")], "page.html"),
        "folder without markdown": ([str(tmp_path / "empty")], "empty"),
        "missing rules": ([str(book), "--rules", str(tmp_path / "gone.yaml")], "gone.yaml does not exist"),
        "missing titles": ([str(book), "--titles", str(tmp_path / "gone.txt")], "gone.txt does not exist"),
        "binary titles": ([str(book), "--titles", str(tmp_path / "titles.bin")], "titles.bin is not"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing runbook",
        "not markdown",
        "folder without markdown",
        "missing rules",
        "missing titles",
        "binary titles",
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_path(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    argv, says = _bad_inputs(tmp_path, book)[case]
    code, out, err = check(*argv, capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err, err


def test_a_missing_runbook_names_the_argument_not_the_flows_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = check(str(tmp_path / "nope.md"), capsys=capsys)
    assert code == 2 and "nope.md does not exist" in err
    assert "RUNBOOK" in err and "ONCALL_RUNBOOK" not in err and "parameter" not in err


def _python(child: str, cwd: Path | None, env: dict[str, str], timeout: float = 60) -> str:
    """`child` in a fresh interpreter (no module an earlier test imported), on this checkout's
    code; answers its stdout, and fails the test with its stderr when it fails itself."""
    done = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loaded_in_child(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Runs the check in a fresh interpreter; answers its exit code and which of Prefect and
    PyGithub it imported (`sys.modules` of the child, which no earlier test has filled)."""
    child = (
        "import sys\n"
        "from deployments.cli import main\n"
        f"code = main(['runbook', 'check', *{argv!r}])\n"
        "loaded = sorted(m for m in ('prefect', 'github') if m in sys.modules)\n"
        "print('LOADED', loaded, code)\n"
    )
    return _python(child, cwd, {**os.environ, **(env or {})}).splitlines()[-1]


def test_the_check_imports_no_prefect_and_no_pygithub_for_a_local_runbook(book: Path, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(RULES, encoding="utf-8")
    assert _loaded_in_child([str(book), "--rules", str(rules)]) == "LOADED [] 0"
    linked = tmp_path / "linked.yaml"
    linked.write_text(LINKED_RULES.format(base="https://github.com/acme/runbooks/blob/main/runbooks"))
    _write_folder(tmp_path / "runbooks")
    assert _loaded_in_child(
        ["runbooks", "--rules", str(linked), "--repo", "acme/runbooks"], cwd=tmp_path
    ) == ("LOADED [] 1")


def test_a_github_runbook_loads_pygithub_and_still_no_prefect(sandbox: Sandbox, tmp_path: Path) -> None:
    repo = sandbox.state.github.repo("acme/cli-imports")
    repo.files["runbook.md@main"] = RUNBOOK
    assert _loaded_in_child(["acme/cli-imports:runbook.md@main"], env=sandbox.env()) == "LOADED ['github'] 0"


ENTRY = "# {name}\n\n## Summary\n\nIt fires.\n\n## Diagnosis\n\nLook.\n\n## Mitigation\n\n{mitigation}\n"


def _write_folder(root: Path) -> None:
    for product, name, mitigation in [
        ("storage", "DiskFull", "Grow the volume."),
        ("storage", "DiskLatencyHigh", "Move the volume."),
        ("node", "NodeDown", "Reboot."),
    ]:
        (root / product).mkdir(parents=True, exist_ok=True)
        (root / product / f"{name}.md").write_text(ENTRY.format(name=name, mitigation=mitigation))
    (root / "README.md").write_text("# Runbooks\n\nOne file per alert.\n")


def test_a_folder_lists_one_entry_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_folder(tmp_path / "runbooks")
    code, out, _ = check(str(tmp_path / "runbooks"), "--format", "json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert sorted((r["path"], r["product"], r["form"]) for r in rows) == [
        ("node/NodeDown.md", "node", "file"),
        ("storage/DiskFull.md", "storage", "file"),
        ("storage/DiskLatencyHigh.md", "storage", "file"),
    ]


LINKED_RULES = """groups:
  - name: storage
    rules:
      - alert: DiskFull
        annotations: {{runbook_url: "{base}/storage/DiskFull.md"}}
      - alert: DiskLatencyHigh
        annotations: {{runbook_url: "{base}/storage/DiskLatency.md"}}
      - alert: NodeDown
        annotations: {{runbook_url: "{base}/node/NodeDown.md#mitigation"}}
      - alert: NodeFlapping
        annotations: {{runbook_url: "{base}/node/NodeDown.md#rollback"}}
"""


def _linked(rows: list[dict[str, object]]) -> dict[object, tuple[object, object]]:
    return {r["title"]: (r["status"], r["why"]) for r in rows}


@pytest.mark.parametrize("absolute", [False, True], ids=["relative links", "links on the web host"])
def test_a_github_runbook_s_broken_repo_links_exit_1(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    absolute: bool,
) -> None:
    local = tmp_path / "checkout" / "runbooks"
    _write_folder(local)
    repo = sandbox.state.github.repo("acme/cli-runbooks")
    for path in local.rglob("*.md"):
        repo.files[f"runbooks/{path.relative_to(local).as_posix()}@main"] = path.read_text()
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    # Relative to the runbook's folder, or absolute on the web host, which for the sandbox (as for
    # GitHub Enterprise behind a path) sits under a path prefix (/github).
    base = f"{sandbox.github_url}/acme/cli-runbooks/blob/main/runbooks" if absolute else "."
    rules = tmp_path / "alerts.yaml"
    rules.write_text(LINKED_RULES.format(base=base))
    code, out, err = check(
        "acme/cli-runbooks:runbooks@main", "--rules", str(rules), "--format", "json", capsys=capsys
    )
    assert code == 1, err
    assert _linked([json.loads(line) for line in out.splitlines()]) == {
        "DiskFull": ("covered", [f"{base}/storage/DiskFull.md"]),
        "DiskLatencyHigh": ("broken-link", [f"{base}/storage/DiskLatency.md"]),
        "NodeDown": ("covered", [f"{base}/node/NodeDown.md#mitigation"]),
        "NodeFlapping": ("broken-link", [f"{base}/node/NodeDown.md#rollback"]),
    }
    code, out, _ = check("acme/cli-runbooks:runbooks@main", "--rules", str(rules), capsys=capsys)
    assert code == 1 and out.splitlines()[-1] == "4 checked: 2 covered, 0 gaps, 2 broken links"
    assert sandbox.state.github.token not in out


def test_a_local_checkout_checks_links_into_its_repo_against_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    top = tmp_path / "checkout"
    _write_folder(top / "docs" / "runbooks")
    (top / "docs" / "other.md").write_text("# Other\n\n## Escalation\n")
    monkeypatch.chdir(top)
    base = "https://github.com/acme/runbooks/blob/main/docs/runbooks"
    rules = top / "alerts.yaml"
    rules.write_text(
        LINKED_RULES.format(base=base)
        + '      - alert: Escalate\n        annotations: {runbook_url: "https://github.com/acme/runbooks/blob/main/docs/other.md#escalation"}\n'
    )

    def no_network(*args: object, **kwargs: object) -> object:
        raise AssertionError("a link into the checkout's repository went to the network")

    monkeypatch.setattr("socket.getaddrinfo", no_network)
    code, out, err = check(
        "docs/runbooks",
        "--rules",
        "alerts.yaml",
        "--repo",
        "acme/runbooks",
        "--format",
        "json",
        capsys=capsys,
    )
    assert code == 1, err
    statuses = {t: s for t, (s, _) in _linked([json.loads(line) for line in out.splitlines()]).items()}
    assert statuses == {
        "DiskFull": "covered",
        "DiskLatencyHigh": "broken-link",
        "NodeDown": "covered",
        "NodeFlapping": "broken-link",
        "Escalate": "covered",
    }


def test_repo_wants_a_runbook_inside_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_folder(tmp_path / "runbooks")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, _, err = check(
        str(tmp_path / "runbooks"), "--rules", "x.yaml", "--repo", "acme/runbooks", capsys=capsys
    )
    assert code == 2 and "x.yaml does not exist" in err
    (tmp_path / "elsewhere" / "x.yaml").write_text("groups: []\n")
    code, _, err = check(
        str(tmp_path / "runbooks"), "--rules", "x.yaml", "--repo", "acme/runbooks", capsys=capsys
    )
    assert code == 2 and "is outside" in err and err.count("\n") == 1


def test_a_reader_that_stops_early_keeps_the_exit_code_and_stderr_quiet(book: Path, tmp_path: Path) -> None:
    titles = tmp_path / "titles.txt"
    titles.write_text("".join(f"UnknownAlert{n:05d} has no runbook entry anywhere\n" for n in range(3000)))
    with subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "runbook", "check", str(book), "--titles", str(titles)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        child.stdout.close()  # as `| head -1` does, long before the 200 KB of output is written
        err = child.stderr.read()
        assert child.wait(timeout=60) == 1
    assert first.startswith(b"Runbook ") and err == b""


def test_a_github_runbook_without_a_token_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ONCALL_GITHUB_TOKEN", raising=False)
    code, out, err = check("acme/runbooks:docs/runbooks@main", capsys=capsys)
    assert code == 2 and out == ""
    assert (
        err
        == "oncall runbook check: this runbook is on GitHub: set ONCALL_GITHUB_TOKEN to a token that can read it\n"
    )


# Issue 17: the CLI answers like a well-made tool.


def _fake_flow(monkeypatch: pytest.MonkeyPatch, module: str, name: str, result: object) -> dict[str, object]:
    """Replaces a flow the command runs with one that records its parameters (no Prefect)."""
    import importlib

    from deployments import commands

    seen: dict[str, object] = {}

    def flow(**kwargs: object) -> object:
        seen.update(kwargs)
        return result

    monkeypatch.setattr(commands, "flow_env", lambda: None)
    monkeypatch.setattr(importlib.import_module(module), name, flow)
    return seen


@pytest.mark.parametrize(
    ("argv", "param", "value"),
    [
        (["handoff", "--start", "-72h", "--end", "2026-11-24T10:00"], "shift_start", "-72h"),
        (["handoff", "--start=-90m", "--end", "2026-11-24T10:00"], "shift_start", "-90m"),
        (["gaps", "--window", "-7d", "--dry-run"], "window", "-7d"),
        (["gaps", "--dry-run", "--window", "-2w"], "window", "-2w"),
    ],
)
def test_spans_are_values_not_options(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    param: str,
    value: str,
) -> None:
    module, name = (
        ("flows.shift_handoff", "shift_handoff")
        if argv[0] == "handoff"
        else ("flows.runbook_gaps", "runbook_gaps")
    )
    _sandbox_env(sandbox, monkeypatch)  # the hand-off's schedule is checked before the flow
    seen = _fake_flow(monkeypatch, module, name, "# hand-off\n" if argv[0] == "handoff" else {"kinds": 0})
    assert main(argv) == 0, capsys.readouterr().err
    assert seen[param] == value


def _bad_input_in_child(cases: list[tuple[list[str], dict[str, str]]], cwd: Path) -> list[dict[str, object]]:
    """Runs `main` on each case in one fresh interpreter (no earlier test has imported Prefect);
    answers per case the exit code, stdout, stderr and whether Prefect was imported by then."""
    child = (
        "import contextlib, io, json, os, sys\n"
        "from deployments.cli import main\n"
        f"for argv, env in {cases!r}:\n"
        "    os.environ.update(env)\n"
        "    out, err = io.StringIO(), io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            code = main(argv)\n"
        "        except SystemExit as done:\n"
        "            code = done.code\n"
        "    for key in env:\n"
        "        del os.environ[key]\n"
        "    print(json.dumps({'code': code, 'out': out.getvalue(), 'err': err.getvalue(),\n"
        "                      'prefect': 'prefect' in sys.modules}))\n"
    )
    return [json.loads(line) for line in _python(child, cwd, clean_env(), timeout=120).splitlines()]


BAD_INPUT: list[tuple[list[str], dict[str, str], str]] = [
    (["handoff", "--timezone", "America/New_Yrok"], {}, "--timezone"),
    (["handoff", "--business-hours", "Mon-Fry 09:00-17:00"], {}, "--business-hours"),
    (["handoff", "--start", "-72x", "--end", "2026-11-24T10:00"], {}, "--start"),
    (["handoff", "--end", "last tuesday"], {}, "--end"),
    (["handoff", "--end", "2999-01-05T10:00"], {}, "in the future"),
    (["handoff", "--start", "2026-11-24T10:00", "--end", "2026-11-23T10:00"], {}, "before --end"),
    (["handoff", "--schedule", " "], {}, "--schedule"),
    (["handoff"], {"ONCALL_TEAM_TIMEZONE": "Mars/Olympus_Mons"}, "ONCALL_TEAM_TIMEZONE"),
    (["handoff"], {"ONCALL_BUSINESS_HOURS": "9 to 5"}, "ONCALL_BUSINESS_HOURS"),
    (["gaps", "--window", "-7x", "--repo", "o/r", "--runbook", "r.md"], {}, "--window"),
    (["gaps", "--end", "soon", "--repo", "o/r", "--runbook", "r.md"], {}, "--end"),
    (["gaps", "--runbook", "r.md"], {}, "ONCALL_GITHUB_REPO"),
    (["gaps", "--repo", "o/r"], {}, "ONCALL_RUNBOOK"),
    (["gaps", "--max-issues", "-1"], {}, "--max-issues"),
    (["ops-review", "--window", "-7x", "--repo", "o/r"], {}, "--window"),
    (["ops-review", "--end", "soon", "--repo", "o/r"], {}, "--end"),
    (["ops-review"], {}, "ONCALL_GITHUB_REPO"),
    (["ops-review", "--max-issues", "-1"], {}, "--max-issues"),
    (["requests", "--window", "-1fortnight"], {"ONCALL_SLACK_BOT_TOKEN": "xoxb-1"}, "--window"),
    (["requests"], {}, "ONCALL_SLACK_BOT_TOKEN"),
    (["requests"], {"ONCALL_SLACK_BOT_TOKEN": ""}, "ONCALL_SLACK_BOT_TOKEN"),
    (["requests"], {"ONCALL_SLACK_BOT_TOKEN": "xoxb-1"}, "ONCALL_SRE_CHANNELS"),
    (["coe", "prep", " "], {}, "ID"),
    (["coe", "prep", "101", "--threshold", "-5"], {}, "--threshold"),
    (["coe", "watch", "--lookback", "0"], {}, "--lookback"),
    (["incidents", "--since", "-7q"], {}, "--since"),
    (["sandbox", "--anchor", "tuesdayish"], {}, "--anchor"),
    (["sandbox", "--port", "70000"], {}, "--port"),
    (["handoff", "--deliver", "email"], {}, "--deliver"),
    (["handof"], {}, "handof"),
]


def test_bad_input_answers_in_one_line_with_exit_2_before_prefect_starts(tmp_path: Path) -> None:
    """Each mistake is named (the option, or the setting) in one line on stderr, exit 2, nothing
    written, and Prefect is never imported: no server start, no traceback."""
    results = _bad_input_in_child([(argv, env) for argv, env, _ in BAD_INPUT], tmp_path)
    for (argv, env, says), got in zip(BAD_INPUT, results, strict=True):
        case = f"{argv} {env}"
        assert got["code"] == 2 and got["out"] == "", (case, got)
        err = str(got["err"])
        assert err.startswith("oncall") and err.count("\n") == 1 and says in err, (case, err)
        assert got["prefect"] is False, case
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handoff", "--timezone", "Nowhere/Land", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "InputError" in err
    assert err.splitlines()[-1].startswith("oncall handoff: --timezone")


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"oncall {version('oncall-flows')}\n"


def test_help_imports_no_prefect(tmp_path: Path) -> None:
    [got] = _bad_input_in_child([(["--help"], {})], tmp_path)
    assert got["code"] == 0 and "incidents" in str(got["out"]) and got["prefect"] is False


def _sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, source: str = "opsgenie") -> None:
    for key, value in sandbox.env(source).items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("source", ["opsgenie", "jsm", "rootly"])
def test_incidents_lists_the_numbers_coe_prep_takes(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    from oncall.sandbox.seed import DEFAULT_ANCHOR

    _sandbox_env(sandbox, monkeypatch, source)
    assert main(["incidents", "--since", "-7d", "--end", DEFAULT_ANCHOR.isoformat()]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["number", "id", "status", "priority", "started", "duration", "title"]
    for inc in sandbox.state.opsgenie.incidents:  # every vendor's fake is seeded with these
        [line] = [line for line in lines if line.startswith(inc["tinyId"] + " ")]
        assert inc["message"][:40] in line
    assert "oncall coe prep NUMBER" in err


def test_incidents_an_empty_window_says_so(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sandbox_env(sandbox, monkeypatch)
    assert main(["incidents", "--since", "2020-01-01T00:00", "--end", "2020-01-02T00:00"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "No incidents" in err


@pytest.mark.parametrize("source", ["opsgenie", "jsm", "rootly"])
def test_schedules_lists_names_and_zones(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    _sandbox_env(sandbox, monkeypatch, source)
    assert main(["schedules"]) == 0
    out = capsys.readouterr().out
    for schedule in sandbox.state.opsgenie.schedules:
        [line] = [line for line in out.splitlines() if line.startswith(schedule["name"] + "  ")]
        assert schedule["timezone"] in line


def test_a_busy_sandbox_port_names_the_port_option(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "--port", str(port), "--anchor", "default"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err and "--port" in err and "OSError" not in err


@pytest.mark.parametrize("server", [None, "http://127.0.0.1:4200/api"], ids=["temporary server", "a server"])
def test_handoff_from_the_cli_keeps_its_result_and_says_where(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    server: str | None,
) -> None:
    """Without PREFECT_API_URL the artifact would vanish with the temporary server: the hand-off
    is written under ONCALL_OUT_DIR instead, and the command says so."""
    _sandbox_env(sandbox, monkeypatch)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    if server:
        monkeypatch.setenv("PREFECT_API_URL", server)
    else:
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
    seen = _fake_flow(monkeypatch, "flows.shift_handoff", "shift_handoff", "# hand-off\n")
    assert main(["handoff", "--end", "2026-11-24T10:00"]) == 0
    out, err = capsys.readouterr()
    if server:
        assert seen["deliver"] == ["artifact", "slack"] and server in err
    else:
        assert seen["deliver"] == ["file", "slack"] and str(tmp_path / "handoff.md") in err
    assert out == ""
    assert main(["handoff", "--end", "2026-11-24T10:00", "--print"]) == 0
    assert capsys.readouterr().out == "# hand-off\n\n"


def test_an_artifact_asked_for_without_a_server_is_said_to_vanish(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sandbox_env(sandbox, monkeypatch)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    seen = _fake_flow(monkeypatch, "flows.shift_handoff", "shift_handoff", "# hand-off\n")
    assert main(["handoff", "--end", "2026-11-24T10:00", "--deliver", "artifact"]) == 0
    assert seen["deliver"] == ["artifact"] and "PREFECT_API_URL" in capsys.readouterr().err


def test_gaps_says_where_its_report_went(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    seen = _fake_flow(monkeypatch, "flows.runbook_gaps", "runbook_gaps", {"kinds": 3})
    assert main(["gaps", "--dry-run", "--repo", "o/r", "--runbook", "r.md"]) == 0
    out, err = capsys.readouterr()
    assert seen["deliver"] == ["file"] and out == "kinds: 3\n" and str(tmp_path / "coverage.md") in err


def test_ops_review_says_where_its_review_went_and_posts_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    seen = _fake_flow(monkeypatch, "flows.ops_review", "ops_review", {"findings": 2})
    assert main(["ops-review", "--dry-run", "--repo", "o/r"]) == 0
    out, err = capsys.readouterr()
    assert seen["deliver"] == ["file"] and seen["window"] == "-7d" and seen["dry_run"] is True
    assert out == "findings: 2\n" and str(tmp_path / "ops-review.md") in err
    assert main(["ops-review", "--repo", "o/r", "--slack", "--window", "-14d"]) == 0
    assert seen["deliver"] == ["file", "slack"] and seen["window"] == "-14d" and seen["dry_run"] is False


def test_coe_watch_without_a_server_says_its_events_went_nowhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = {"since": "a", "until": "b", "watermark_problem": None, "events": ["inc-1"]}
    _fake_flow(monkeypatch, "flows.incident_watch", "incident_watch", result)
    assert main(["coe", "watch"]) == 0
    out, err = capsys.readouterr()
    assert "inc-1" in out and "PREFECT_API_URL" in err and "oncall coe prep" in err


def test_deploy_hands_its_options_to_run_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    import deployments.deploy

    seen: list[tuple[str, bool]] = []

    def run_deploy(args: argparse.Namespace) -> int:
        seen.append((args.prefect_file, args.dry_run))
        return 3

    monkeypatch.setattr(deployments.deploy, "run_deploy", run_deploy)
    assert main(["deploy", "--dry-run"]) == 3
    assert main(["deploy", "--prefect-file", "deployments/kubernetes/prefect.yaml"]) == 3
    assert seen == [("prefect.yaml", True), ("deployments/kubernetes/prefect.yaml", False)]


@pytest.mark.parametrize("source", ["opsgenie", "jsm", "rootly"])
def test_a_schedule_that_does_not_exist_is_named_with_the_ones_that_do_before_prefect(
    sandbox: Sandbox, tmp_path: Path, source: str
) -> None:
    cases = [(["handoff", "--schedule", "Primary On-Call"], sandbox.env(source))]
    cases.append((["handoff"], {**sandbox.env(source), "ONCALL_SCHEDULE": "Secondary"}))
    flag, setting = _bad_input_in_child(cases, tmp_path)
    for got, says in (
        (flag, "--schedule: schedule 'Primary On-Call'"),
        (setting, "ONCALL_SCHEDULE: schedule 'Secondary'"),
    ):
        err = str(got["err"])
        assert got["code"] == 2 and got["prefect"] is False and err.count("\n") == 1, got
        assert says in err and "'Primary On Call Schedule'" in err, err


def test_a_flow_run_from_a_fresh_checkout_gets_its_prefect_home_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Was `sqlite3.OperationalError: unable to open database file` when out/ did not exist yet."""
    import deployments.demo
    from deployments import commands

    homes: list[Path] = []
    monkeypatch.setattr(deployments.demo, "prepare_prefect_env", homes.append)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path / "fresh" / "out"))
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    commands.flow_env()
    assert homes == [tmp_path / "fresh" / "out" / ".prefect"] and homes[0].is_dir()


def test_coe_status_lists_every_coe_with_its_completeness_and_reads_no_done_document(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    _sandbox_env(sandbox, monkeypatch, "opsgenie")
    sheet = sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"]
    template = f"https://docs.google.com/document/d/{sandbox.state.coe_template}/edit"
    done_doc = "https://docs.google.com/document/d/1finishedDocumentIdx/edit"  # no such document
    sheet += [
        ["inc-s1", "Checkout down", "", "", "P1", template, "Ada", "In review", ""],
        ["inc-s2", "Old one", "", "", "P3", done_doc, "Ada", "Done", ""],
    ]
    try:
        mark = len(sandbox.app.served)
        assert main(["coe", "status", "--json"]) == 0
        found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        by_id = {r["incident"]: r for r in found}
        # the template itself holds only prompts: nothing written, its three prompt rows no actions
        assert by_id["inc-s1"]["written"].startswith("0/") and by_id["inc-s1"]["open actions"] == "0"
        assert by_id["inc-s2"] == {**by_id["inc-s2"], "status": "Done", "written": "-"}
        docs = [s for s in sandbox.app.served[mark:] if "/docs/v1/documents/" in s.path]
        assert len(docs) == 2  # the template and inc-s1's; none for the Done COE
    finally:
        del sheet[-2:]
