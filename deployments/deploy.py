"""`oncall deploy`: `prefect deploy --all` with the schedules taken from the team's settings.

The team edits its settings (oncall.toml or ONCALL_* variables: `schedule`, `team_timezone`,
`handoff_cron`, `business_hours`), never the schedules in prefect.yaml: this command writes the
schedules of `oncall.deploy_plan` into a copy of the prefect file and deploys that copy, so the
file in the repository is never rewritten and `oncall doctor` can compare the server with the
same plan. A bad setting or a missing file stops it before Prefect starts (exit 2, one line).

Entry point for the CLI (deployments/cli.py):

    run_deploy(args: argparse.Namespace) -> int

    args.prefect_file: str  -- the prefect file to deploy, relative to the working directory,
                               which must be the checkout's root (entrypoints are relative to
                               it); default "prefect.yaml". The Kubernetes variant:
                               "deployments/kubernetes/prefect.yaml".
    args.dry_run: bool      -- print the schedules and the rendered file; deploy nothing.

Missing attributes take those defaults, so `run_deploy(argparse.Namespace())` deploys prefect.yaml.
It returns `prefect deploy`'s exit code (0 when every deployment was applied).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from oncall.deploy_plan import Schedule, deployment_schedules, render, unset_env_placeholders
from oncall.errors import ConfigError, InputError
from oncall.settings import Settings, load_settings


def rendered_prefect_file(path: Path, settings: Settings) -> str:
    """The prefect file's text with the settings' schedules written in (YAML, comments dropped)."""
    if not path.is_file():
        raise InputError(
            f"prefect file {path} not found; run oncall deploy from the checkout's root "
            "or name the file with --prefect-file"
        )
    try:
        spec: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"prefect file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(spec, dict):
        raise InputError(f"prefect file {path} does not hold a prefect.yaml mapping")
    if unset := unset_env_placeholders(spec, os.environ):
        raise ConfigError(
            f"prefect file {path} uses {', '.join('{{ $' + n + ' }}' for n in unset)}: "
            f"set {', '.join(unset)} in the environment (see docs/deployment.md)"
        )
    return yaml.safe_dump(render(spec, settings, source=str(path)), sort_keys=False)


def _api_url() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set; point it at the Prefect server the workers use "
            "(prefect config set PREFECT_API_URL=http://HOST:4200/api)"
        )
    return str(url)


def _require_work_pools(spec: Any, path: Path) -> None:
    """Each work pool the file deploys to exists on the server: `prefect deploy` would stop each
    deployment with a ValueError and its traceback instead, after registering none."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    pools = {
        d["work_pool"]["name"]
        for d in spec.get("deployments") or []
        if isinstance(d, dict) and isinstance(d.get("work_pool"), dict) and d["work_pool"].get("name")
    }
    with get_client(sync_client=True) as client:
        for name in sorted(pools):
            try:
                client.read_work_pool(name)
            except ObjectNotFound:
                raise ConfigError(
                    f"prefect file {path} deploys to work pool {name!r}, which the server does not have; "
                    f"create it first: prefect work-pool create {name} --type process (kubernetes for "
                    "the Kubernetes file; see docs/deployment.md)"
                ) from None


def run_deploy(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Render the schedules from the settings, then run `prefect --no-prompt deploy --all` on the copy."""
    prefect_file = Path(getattr(args, "prefect_file", None) or "prefect.yaml")
    dry_run = bool(getattr(args, "dry_run", False))
    settings = load_settings()
    text = rendered_prefect_file(prefect_file, settings)  # every bad input is found before Prefect
    for name, planned in deployment_schedules(settings).items():
        for s in planned:
            params = f" {s.parameters}" if s.parameters else ""
            say(f"{name} {s.slug}: {s.when}{params}")
    if dry_run:
        say(text)
        return 0
    url = _api_url()
    _require_work_pools(yaml.safe_load(text), prefect_file)
    say(f"deploying {prefect_file} to {url}")
    with tempfile.TemporaryDirectory(prefix="oncall-deploy-") as tmp:
        rendered = Path(tmp) / "prefect.yaml"
        rendered.write_text(text)
        done = subprocess.run(  # noqa: S603 - our own interpreter and a file we just wrote
            [
                sys.executable,
                "-m",
                "prefect",
                "--no-prompt",
                "deploy",
                "--all",
                "--prefect-file",
                str(rendered),
            ],
            check=False,
        )
    if done.returncode == 0:
        drop_stale_schedules(deployment_schedules(settings), say)
    return done.returncode


def drop_stale_schedules(plan: Mapping[str, list[Schedule]], say: Callable[[str], None]) -> None:
    """Delete each planned deployment's schedules that the plan no longer has. `prefect deploy`
    updates a schedule by its slug and keeps the others: a team that moved from Mon-Fri to
    Mon-Sun would keep Monday's weekend summary beside the new daily one, each run reported twice."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        named = DeploymentFilter(name=DeploymentFilterName(any_=list(plan)))
        for deployment in client.read_deployments(deployment_filter=named):
            wanted = {s.slug for s in plan.get(deployment.name, [])}
            for schedule in client.read_deployment_schedules(deployment.id):
                if schedule.slug not in wanted:
                    client.delete_deployment_schedule(deployment.id, schedule.id)
                    say(f"{deployment.name} {schedule.slug}: removed, the settings no longer have it")
