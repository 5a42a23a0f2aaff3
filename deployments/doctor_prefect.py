"""`oncall doctor`'s Prefect checks: what deployed runs will read, and the deployments themselves.

A worker has none of this shell's `ONCALL_*` variables, so the settings are resolved here the way
`tasks.config.resolve_settings` resolves them on a worker: with those variables out of the
environment for the call. The result is checked like the local settings, and every value that
differs from this shell's is named (secrets as "differs", never shown).
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from deployments.doctor_checks import Check, Status, fail, ok, settings_checks, warn
from oncall.errors import OncallError
from oncall.settings import SECRET_BLOCKS, Settings, no_config_file, sandbox_values, secret_block

# Every deployment prefect.yaml declares; coe-prep runs on an event, so it has no schedule.
DEPLOYMENTS = ("shift-handoff", "runbook-gaps", "incident-watch", "coe-prep")
EVENT_DRIVEN = frozenset({"coe-prep"})
HANDOFF = "shift-handoff"
SETUP = "run `oncall setup blocks` with the settings the workers should use"
DEPLOY = "run `oncall deploy` from the checkout (it writes the schedules from the settings)"


def api_url() -> str | None:
    """The Prefect API this process talks to: `PREFECT_API_URL` in the environment, else Prefect's
    own setting when Prefect is loaded already (a test harness), else the active profile's. Read
    without importing Prefect when it is not set anywhere: the import alone takes seconds."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        value = PREFECT_API_URL.value()
        return str(value) if value else None
    return _profile_api_url()


def _profile_api_url() -> str | None:
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = (data.get("profiles") or {}).get(active) or {}
    value = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return str(value) if value else None


def prefect_checks(local: Settings) -> list[Check]:
    url = api_url()
    if not url:
        return [
            warn(
                "prefect.server",
                "PREFECT_API_URL is not set: the Secret blocks, the oncall-settings Variable and the "
                "deployments the workers use are not checked",
                "set PREFECT_API_URL to the workers' Prefect server and run `oncall doctor` again",
            )
        ]
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # The server named above, even when Prefect read its settings before the environment changed.
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
        if problem is not None:
            return [
                fail(
                    "prefect.server",
                    f"the Prefect server at {url} does not answer ({type(problem).__name__})",
                    "start it, or fix PREFECT_API_URL",
                )
            ]
        out = [ok("prefect.server", f"Prefect server at {url} answers")]
        try:
            worker: Settings | OncallError = worker_settings()
        except OncallError as exc:
            worker = exc
        out += stored_checks(local, worker)
        out += deployment_checks(client, local, worker if isinstance(worker, Settings) else None)
    return out


@contextmanager
def _as_a_worker() -> Iterator[None]:
    """This process's environment without `ONCALL_*`, as a worker's is, for the duration."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ONCALL_")}
    try:
        with no_config_file():  # a deployed run never reads the file; `setup blocks` copied it
            yield
    finally:
        os.environ.update(saved)


def worker_settings() -> Settings:
    """The settings a deployed run resolves: the Variable, then the Secret blocks, then defaults."""
    from tasks.config import resolve_settings

    with _as_a_worker():
        return resolve_settings(deployed=True)


def stored_checks(local: Settings, worker: Settings | OncallError) -> list[Check]:
    """The Variable and the Secret blocks, read as the workers read them (`worker`, or why they
    could not be), against this shell."""
    from prefect.variables import Variable

    from tasks.config import SETTINGS_VARIABLE

    out: list[Check] = []
    stored = Variable.get(SETTINGS_VARIABLE, default=None)
    if stored is None:
        out.append(
            warn(
                "prefect.variable",
                f"the Variable {SETTINGS_VARIABLE!r} does not exist: deployed runs use the defaults "
                "for every non-secret setting",
                SETUP,
            )
        )
    elif not isinstance(stored, dict):
        out.append(
            fail("prefect.variable", f"the Variable {SETTINGS_VARIABLE!r} is not a JSON object", SETUP)
        )
    if isinstance(worker, OncallError):
        out.append(
            fail(
                "prefect.settings",
                f"deployed runs would stop: {' '.join(str(worker).split())}",
                f"fix it in the Variable {SETTINGS_VARIABLE!r} ({SETUP})",
            )
        )
        return out
    if isinstance(stored, dict):
        out.append(
            ok("prefect.variable", f"the Variable {SETTINGS_VARIABLE!r} holds {len(stored)} setting(s)")
        )
    out += _secret_checks(worker)
    out += [
        c.model_copy(update={"name": c.name.replace("settings.", "prefect.settings.", 1)})
        for c in settings_checks(worker)
        if c.status != Status.OK
    ]
    out += _sandbox_values(worker)
    out.append(_differences(local, worker))
    return out


def _secret_checks(worker: Settings) -> list[Check]:
    from oncall.sources import source_spec

    needed = source_spec(worker.source).credential
    present = [n for n in SECRET_BLOCKS if _is_set(getattr(worker, n))]
    missing = [n for n in SECRET_BLOCKS if n not in present]
    out: list[Check] = []
    if present:
        out.append(
            ok("prefect.secrets", f"Secret blocks read: {', '.join(_block(n, worker) for n in present)}")
        )
    if needed in missing:
        out.append(
            fail(
                "prefect.secrets",
                f"the Secret block {_block(needed, worker)!r} does not exist, and ONCALL_SOURCE is {worker.source}: "
                "every deployed run would stop",
                SETUP,
            )
        )
    optional = [n for n in missing if n != needed and n not in _other_sources(needed)]
    if optional:
        out.append(
            warn(
                "prefect.secrets",
                f"no Secret block for {', '.join(_block(n, worker) for n in optional)}: deployed runs go without them",
                SETUP,
            )
        )
    return out


def _other_sources(needed: str) -> set[str]:
    from oncall.sources import REGISTRY

    return {spec.credential for spec in REGISTRY.values() if spec.credential != needed}


def _block(name: str, settings: Settings | None = None) -> str:
    """The block name in force for a secret setting (the `[secrets]` table may rename it)."""
    if settings is None:
        return SECRET_BLOCKS[name]
    return secret_block(settings, name)


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value is not None


def _sandbox_values(worker: Settings) -> list[Check]:
    """A deployed run pointed at the sandbox (what `make serve` leaves behind) would post and file
    into a local fake without a word."""
    found = sandbox_values({n: getattr(worker, n) for n in Settings.model_fields})
    if not found:
        return []
    shown = "; ".join(
        (f"{n} (Secret block {_block(n, worker)!r}): {why}" if n in SECRET_BLOCKS else f"{n}: {why}")
        for n, why in found.items()
    )
    return [
        warn(
            "prefect.sandbox",
            f"deployed runs would use sandbox values: {shown}",
            "replace them: run `oncall setup blocks` with the real systems' settings in the environment",
        )
    ]


def _differences(local: Settings, worker: Settings) -> Check:
    said = []
    for name in Settings.model_fields:
        here, there = getattr(local, name), getattr(worker, name)
        if isinstance(here, SecretStr) or isinstance(there, SecretStr) or name in SECRET_BLOCKS:
            a = here.get_secret_value() if isinstance(here, SecretStr) else here
            b = there.get_secret_value() if isinstance(there, SecretStr) else there
            if a != b:
                state = "not set here" if not a else ("not set for workers" if not b else "differs")
                said.append(f"{name} ({state})")
        elif here != there:
            said.append(f"{name} ({here!r} here, {there!r} for workers)")
    if not said:
        return ok("prefect.differences", "deployed runs read the same settings as this shell")
    return warn(
        "prefect.differences",
        f"deployed runs read other values than this shell: {'; '.join(said)}",
        f"if this shell is right, {SETUP}",
    )


def deployment_checks(client: Any, local: Settings, worker: Settings | None) -> list[Check]:
    """Each deployment exists and is not paused; the scheduled ones have an active schedule;
    the hand-off's schedules ask for the configured on-call schedule."""
    from prefect.exceptions import ObjectNotFound

    out: list[Check] = []
    pools: set[str] = set()
    for name in DEPLOYMENTS:
        check = f"prefect.deployment.{name}"
        try:
            deployment = client.read_deployment_by_name(f"{name}/{name}")
        except ObjectNotFound:
            out.append(fail(check, f"deployment {name!r} does not exist", DEPLOY))
            continue
        if deployment.work_pool_name:
            pools.add(deployment.work_pool_name)
        if deployment.paused:
            out.append(
                fail(check, f"deployment {name!r} is paused", f"prefect deployment resume {name}/{name}")
            )
            continue
        if name in EVENT_DRIVEN:
            out.append(ok(check, f"deployment {name!r} exists (runs on the oncall.incident.closed event)"))
            continue
        out += _schedule_checks(check, name, deployment, local, worker)
    for pool in sorted(pools):
        out.append(_pool_check(client, pool))
    return out


def _describe(schedule: Any) -> str:
    inner = schedule.schedule
    if getattr(inner, "cron", None):
        return f"cron {inner.cron!r} in {inner.timezone or 'UTC'}"
    if getattr(inner, "rrule", None):
        return f"rrule {inner.rrule.replace(chr(10), ' ')!r} in {inner.timezone or 'UTC'}"
    if getattr(inner, "interval", None):
        return f"every {inner.interval.total_seconds():g} s"
    return type(inner).__name__


def _schedule_checks(
    check: str, name: str, deployment: Any, local: Settings, worker: Settings | None
) -> list[Check]:
    schedules = list(deployment.schedules or [])
    active = [s for s in schedules if s.active]
    out: list[Check] = []
    if not active:
        what = "no schedule" if not schedules else f"{len(schedules)} schedule(s), none active"
        return [fail(check, f"deployment {name!r} has {what}: it never runs by itself", DEPLOY)]
    for s in schedules:
        if not s.active:
            out.append(
                warn(
                    check,
                    f"schedule {s.slug or _describe(s)!r} of {name!r} is inactive",
                    "activate it in the UI",
                )
            )
    if name == HANDOFF:
        for s in active:
            asked = {**(deployment.parameters or {}), **(s.parameters or {})}.get("schedule")
            runs_with = asked if asked is not None else (worker.schedule if worker else None)
            if runs_with != local.schedule:
                out.append(
                    fail(
                        check,
                        f"schedule {s.slug or _describe(s)!r} hands off {runs_with!r}, "
                        f"but ONCALL_SCHEDULE is {local.schedule!r}",
                        DEPLOY,
                    )
                )
    out += _plan_checks(check, name, schedules, local)
    if not any(c.status == Status.FAIL for c in out):
        out.append(
            ok(
                check,
                f"deployment {name!r}: {len(active)} active schedule(s): "
                + ", ".join(f"{s.slug or '?'} ({_describe(s)})" for s in active),
            )
        )
    return out


def _plan_checks(check: str, name: str, schedules: list[Any], local: Settings) -> list[Check]:
    """The server's schedules against `oncall.deploy_plan`'s for these settings (what `oncall
    deploy` deploys): each planned one is there, with its cron, zone and parameters. The hand-off's
    `schedule` parameter is the check above's."""
    from oncall.deploy_plan import deployment_schedules

    try:
        planned = deployment_schedules(local).get(name, [])
    except OncallError:
        return []  # a setting the plan cannot read fails its own check
    by_slug = {s.slug: s for s in schedules if s.slug}
    out: list[Check] = []
    for want in planned:
        have = by_slug.get(want.slug)
        wanted = want.when
        if have is None:
            out.append(fail(check, f"schedule {want.slug!r} is missing; the settings want {wanted}", DEPLOY))
            continue
        inner = have.schedule
        said = []
        if not want.runs_as(inner):
            said.append(f"it runs at {_describe(have)}, the settings want {wanted}")
        got = {k: v for k, v in (have.parameters or {}).items() if k != "schedule"}
        asked = {k: v for k, v in want.parameters.items() if k != "schedule"}
        if got != asked:
            said.append(f"its parameters are {got}, the settings want {asked}")
        if said:
            out.append(fail(check, f"schedule {want.slug!r}: {'; '.join(said)}", DEPLOY))
    known = {w.slug for w in planned}
    extra = [slug for slug in by_slug if planned and slug not in known]
    if extra:
        out.append(
            warn(
                check,
                f"{name!r} has schedules the settings no longer make: {', '.join(extra)}",
                "remove them in the UI, or run `oncall deploy`",
            )
        )
    return out


def _pool_check(client: Any, pool: str) -> Check:
    from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_work_pool(pool)
    except ObjectNotFound:
        return fail(
            f"prefect.pool.{pool}",
            f"work pool {pool!r} does not exist",
            f"prefect work-pool create {pool} --type process",
        )
    online = client.read_workers_for_work_pool(
        pool, worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"]))
    )
    if not online:
        return warn(
            f"prefect.pool.{pool}",
            f"work pool {pool!r} has no worker online: scheduled runs wait",
            f"start one: prefect worker start --pool {pool}",
        )
    return ok(f"prefect.pool.{pool}", f"work pool {pool!r}: {len(online)} worker(s) online")
