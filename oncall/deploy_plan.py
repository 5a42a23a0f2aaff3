"""The deployments' schedules, derived from the team's settings: one definition for `oncall deploy`
(which writes them into prefect.yaml's deployments at deploy time) and `oncall doctor` (which
compares them with the deployments on the server).

Why derived and not templated: Prefect's `{{ $ENV }}` and `{{ prefect.variables.x }}` placeholders
cannot see a value that came from oncall.toml, leave a missing one as an empty string (a schedule
for the schedule named "") and cannot compute the business-day summary's windows from
`business_hours`: Monday's run covers the weekend (`-72h`), Tuesday's only Monday (`-24h`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from oncall.clock import BusinessHours

if TYPE_CHECKING:
    from oncall.settings import Settings

HANDOFF = "shift-handoff"
GAPS = "runbook-gaps"
WEEKLY_SLUG = "weekly-handoff"
SUMMARY_SLUG = "business-day-summary"
GAPS_SLUG = "daily-gaps"
GAPS_CRON = "30 8 * * *"  # before the working day in every zone a team is likely to use
REVIEW = "coe-review"
REVIEW_SLUG = "review-meeting"
OPS = "ops-review"
OPS_SLUG = "weekly-ops-review"
SWEEP = "sre-requests"
SWEEP_SLUG = "ticket-sweep"
SWEEP_SECONDS = 600
SUMMARY_DELIVERY = ["artifact", "slack"]
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Schedule(BaseModel):
    """One schedule of one deployment, as prefect.yaml declares it and the server keeps it: a cron
    line, an rrule where cron cannot say it (coe-review's "every other Thursday"), or an interval
    in seconds (the @SRE ticket sweep)."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    slug: str
    cron: str = ""
    rrule: str = ""
    interval: float | None = None
    timezone: str
    parameters: dict[str, Any] = {}
    active: bool = True

    @property
    def when(self) -> str:
        """How the schedule reads in `oncall deploy` and `oncall doctor`."""
        if self.interval is not None:
            return f"every {self.interval:g} s"
        rule = f"cron {self.cron!r}" if self.cron else f"rrule {self.rrule.replace(chr(10), ' ')!r}"
        return f"{rule} in {self.timezone}"

    def runs_as(self, inner: Any) -> bool:
        """Whether a schedule the server keeps (Prefect's cron or rrule schedule) runs as this one."""
        if self.interval is not None:
            every = getattr(inner, "interval", None)
            return every is not None and every.total_seconds() == self.interval
        timed = (getattr(inner, "timezone", None) or "UTC") == self.timezone
        if self.cron:
            return timed and getattr(inner, "cron", None) == self.cron
        return timed and _rrule_lines(str(getattr(inner, "rrule", "") or "")) == _rrule_lines(self.rrule)

    def yaml_entry(self) -> dict[str, Any]:
        """The entry under a deployment's `schedules:` in prefect.yaml."""
        if self.interval is not None:
            entry: dict[str, Any] = {"interval": int(self.interval), "slug": self.slug, "active": self.active}
        else:
            entry = {"cron": self.cron} if self.cron else {"rrule": self.rrule}
            entry |= {"timezone": self.timezone, "slug": self.slug, "active": self.active}
        if self.parameters:
            entry["parameters"] = dict(self.parameters)
        return entry


def _rrule_lines(text: str) -> set[str]:
    """An rrule's lines, in any order and case, blanks dropped: how two spellings compare."""
    return {line.strip().upper() for line in text.splitlines() if line.strip()}


def _cron_days(days: list[int]) -> str:
    """Cron's day-of-week field for Python weekdays (0 = Monday); cron counts from Sunday = 0."""
    numbers = sorted((d + 1) % 7 for d in days)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _days_since_previous(day: int, days: frozenset[int]) -> int:
    """Days back from `day` to the previous working day (7 when the team works one day a week)."""
    return next(k for k in range(1, 8) if (day - k) % 7 in days)


def business_day_summaries(settings: Settings) -> list[Schedule]:
    """One run at the start of each working day, covering everything since the previous one:
    with Mon-Fri, Monday's run reaches back to Friday's (`-72h`), Tuesday to Friday's one day.
    Days with the same reach share one schedule; the one-day group keeps the slug
    `business-day-summary`, the others are named for their days (`business-day-summary-mon`)."""
    hours = BusinessHours.parse(settings.business_hours)
    groups: dict[int, list[int]] = {}
    for day in sorted(hours.days):
        groups.setdefault(_days_since_previous(day, hours.days), []).append(day)
    minute, hour = hours.start_minute % 60, hours.start_minute // 60
    out = []
    for reach, days in sorted(groups.items()):
        slug = SUMMARY_SLUG if reach == 1 else f"{SUMMARY_SLUG}-{'-'.join(_DAY_NAMES[d] for d in days)}"
        out.append(
            Schedule(
                deployment=HANDOFF,
                slug=slug,
                cron=f"{minute} {hour} * * {_cron_days(days)}",
                timezone=settings.team_timezone,
                parameters={
                    "schedule": settings.schedule,
                    "shift_start": f"-{24 * reach}h",
                    "deliver": list(SUMMARY_DELIVERY),
                },
            )
        )
    return out


def schedules(settings: Settings) -> list[Schedule]:
    """The hand-off's schedules: the weekly hand-off at `handoff_cron` in the team's zone, then
    the business-day summaries. This is what `oncall deploy` deploys and `oncall doctor` expects."""
    weekly = Schedule(
        deployment=HANDOFF,
        slug=WEEKLY_SLUG,
        cron=settings.handoff_cron,
        timezone=settings.team_timezone,
        parameters={"schedule": settings.schedule},
    )
    return [weekly, *business_day_summaries(settings)]


def deployment_schedules(settings: Settings) -> dict[str, list[Schedule]]:
    """Every schedule that follows the settings, by deployment. runbook-gaps' daily run keeps its
    hour and follows the team's zone; coe-review follows the review cadence; ops-review runs at
    `ops_review_cron` in the team's zone; the @SRE ticket sweep is on once `sre_channels` names a
    channel (a team that asks for help elsewhere gets no run every 10 minutes that reads nothing);
    incident-watch's interval follows no setting."""
    from oncall.coe_review import review_rrule

    gaps = Schedule(deployment=GAPS, slug=GAPS_SLUG, cron=GAPS_CRON, timezone=settings.team_timezone)
    review = Schedule(
        deployment=REVIEW,
        slug=REVIEW_SLUG,
        rrule=review_rrule(
            settings.coe_review_anchor, settings.coe_review_every_weeks, settings.coe_review_at
        ),
        timezone=settings.team_timezone,
    )
    ops = Schedule(
        deployment=OPS, slug=OPS_SLUG, cron=settings.ops_review_cron, timezone=settings.team_timezone
    )
    sweep = Schedule(
        deployment=SWEEP,
        slug=SWEEP_SLUG,
        interval=SWEEP_SECONDS,
        timezone="UTC",
        parameters={"window": "-24h"},
        active=bool(settings.sre_channels),
    )
    return {HANDOFF: schedules(settings), GAPS: [gaps], REVIEW: [review], OPS: [ops], SWEEP: [sweep]}


def render(spec: dict[str, Any], settings: Settings, source: str = "prefect.yaml") -> dict[str, Any]:
    """A copy of a prefect.yaml document whose settings-derived schedules are the settings' own;
    everything else (pull steps, pools, triggers and their `{{ }}` templates) is left as written.
    A deployment the plan needs but the file lacks is an InputError naming the file."""
    from oncall.errors import InputError

    out = dict(spec)
    deployments = [dict(d) for d in spec.get("deployments") or []]
    by_name = {d.get("name"): d for d in deployments}
    for name, planned in deployment_schedules(settings).items():
        if name not in by_name:
            raise InputError(f"{source} has no deployment named {name!r}; restore it from the repository")
        by_name[name]["schedules"] = [s.yaml_entry() for s in planned]
    out["deployments"] = deployments
    return out


_ENV_PLACEHOLDER = re.compile(r"{{\s*\$(\w+)\s*}}")


def unset_env_placeholders(spec: Any, environ: Mapping[str, str]) -> list[str]:
    """The `{{ $NAME }}` placeholders in a prefect.yaml document whose variable is unset: Prefect
    would deploy them as the literal text (a Kubernetes job with the image "{{ $ONCALL_IMAGE }}")."""
    if isinstance(spec, str):
        return [name for name in _ENV_PLACEHOLDER.findall(spec) if not environ.get(name)]
    if isinstance(spec, Mapping):
        spec = list(spec.values())
    if isinstance(spec, list):
        return sorted({name for item in spec for name in unset_env_placeholders(item, environ)})
    return []
