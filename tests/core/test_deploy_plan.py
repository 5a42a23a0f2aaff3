"""The schedules `oncall deploy` writes and `oncall doctor` expects, from the team's settings."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from cronsim import CronSim

from oncall import deploy_plan
from oncall.clock import parse_start
from oncall.errors import InputError
from oncall.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "prefect.yaml", ROOT / "deployments" / "kubernetes" / "prefect.yaml"]


@pytest.fixture(autouse=True)
def _no_team_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("ONCALL_")]:
        monkeypatch.delenv(name)


def _settings(**values: str) -> Settings:
    return load_settings(layers=[], **values)


def _table(settings: Settings) -> list[tuple[str, str, str, str | None]]:
    return [
        (s.slug, s.cron, s.timezone, s.parameters.get("shift_start")) for s in deploy_plan.schedules(settings)
    ]


def test_the_defaults_hand_off_on_tuesday_and_summarise_each_working_day() -> None:
    assert _table(_settings()) == [
        ("weekly-handoff", "0 10 * * 2", "America/New_York", None),
        ("business-day-summary", "0 9 * * 2-5", "America/New_York", "-24h"),
        ("business-day-summary-mon", "0 9 * * 1", "America/New_York", "-72h"),
    ]
    assert {s.parameters["schedule"] for s in deploy_plan.schedules(_settings())} == {
        "Primary On Call Schedule"
    }


def test_the_team_settings_reach_every_schedule() -> None:
    s = _settings(
        schedule="Ops Rota",
        team_timezone="Asia/Jerusalem",
        business_hours="Sun-Thu 08:30-17:00",
        handoff_cron="0 9 * * 0",
    )
    assert _table(s) == [
        ("weekly-handoff", "0 9 * * 0", "Asia/Jerusalem", None),
        ("business-day-summary", "30 8 * * 1-4", "Asia/Jerusalem", "-24h"),
        ("business-day-summary-sun", "30 8 * * 0", "Asia/Jerusalem", "-72h"),
    ]
    assert all(x.parameters["schedule"] == "Ops Rota" for x in deploy_plan.schedules(s))
    assert [x.parameters.get("deliver") for x in deploy_plan.schedules(s)] == [
        None,
        ["artifact", "slack"],
        ["artifact", "slack"],
    ]
    [gaps] = deploy_plan.deployment_schedules(s)["runbook-gaps"]
    assert (gaps.slug, gaps.cron, gaps.timezone) == ("daily-gaps", "30 8 * * *", "Asia/Jerusalem")


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ("Wed 10:00-12:00", [("business-day-summary-wed", "0 10 * * 3", "-168h")]),
        ("Mon-Sun 07:05-19:00", [("business-day-summary", "5 7 * * 0-6", "-24h")]),
        (
            "Mon-Tue 09:00-17:00",
            [
                ("business-day-summary", "0 9 * * 2", "-24h"),
                ("business-day-summary-mon", "0 9 * * 1", "-144h"),
            ],
        ),
        (
            "Fri-Mon 09:00-17:00",
            [
                ("business-day-summary", "0 9 * * 0,1,6", "-24h"),
                ("business-day-summary-fri", "0 9 * * 5", "-96h"),
            ],
        ),
    ],
)
def test_odd_weeks(hours: str, expected: list[tuple[str, str, str]]) -> None:
    got = [
        (s.slug, s.cron, s.parameters["shift_start"])
        for s in deploy_plan.business_day_summaries(_settings(business_hours=hours))
    ]
    assert got == expected


@pytest.mark.parametrize(
    "hours", ["Mon-Fri 09:00-17:00", "Sun-Thu 08:30-17:00", "Wed 10:00-12:00", "Fri-Mon 06:00-09:00"]
)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_the_summaries_cover_every_hour_once(hours: str, zone: str) -> None:
    """Over four weeks each summary's window starts where the previous one ended: Monday's
    reaches back to Friday's run, so nothing paged over the weekend goes unreported."""
    s = _settings(business_hours=hours, team_timezone=zone)
    tz = ZoneInfo(zone)
    start = datetime(2026, 11, 2, 0, 0, tzinfo=tz)
    runs: list[tuple[datetime, str]] = []
    for sched in deploy_plan.business_day_summaries(s):
        for fire in CronSim(sched.cron, start):
            if fire > start + timedelta(weeks=4):
                break
            runs.append((fire, sched.parameters["shift_start"]))
    runs.sort()
    windows = [(parse_start(span, end, zone), end) for end, span in runs]
    assert len(windows) >= 4
    for (_, previous_end), (begin, _) in itertools.pairwise(windows):
        assert begin == previous_end


def test_monday_covers_friday_nine_onward_in_new_york() -> None:
    [_, monday] = deploy_plan.business_day_summaries(_settings())
    end = next(iter(CronSim(monday.cron, datetime(2026, 11, 27, 12, tzinfo=ZoneInfo("America/New_York")))))
    begin = parse_start(monday.parameters["shift_start"], end, "America/New_York")
    assert (end.isoformat(), begin.astimezone(ZoneInfo("America/New_York")).isoformat()) == (
        "2026-11-30T09:00:00-05:00",
        "2026-11-27T09:00:00-05:00",
    )


@pytest.mark.parametrize("path", FILES, ids=["process", "kubernetes"])
def test_each_prefect_file_shows_the_default_settings_plan(path: Path) -> None:
    """What a reader sees in the file is what `oncall deploy` writes for the default settings."""
    spec = yaml.safe_load(path.read_text())
    assert deploy_plan.render(spec, _settings()) == spec


def test_render_writes_the_settings_and_keeps_everything_else() -> None:
    spec = yaml.safe_load(FILES[1].read_text())
    out = deploy_plan.render(spec, _settings(schedule="Ops", team_timezone="Europe/Berlin"))
    assert out["pull"] == spec["pull"] and out["definitions"] == spec["definitions"]
    by_name = {d["name"]: d for d in out["deployments"]}
    assert {s["timezone"] for s in by_name["shift-handoff"]["schedules"]} == {"Europe/Berlin"}
    assert {s["parameters"]["schedule"] for s in by_name["shift-handoff"]["schedules"]} == {"Ops"}
    assert by_name["incident-watch"]["schedules"] == [
        {"interval": 300, "slug": "every-5-minutes", "active": True}
    ]
    assert (
        by_name["coe-prep"]["triggers"] == {d["name"]: d for d in spec["deployments"]}["coe-prep"]["triggers"]
    )
    assert yaml.safe_load(FILES[1].read_text()) == spec  # the input is not changed


def test_render_names_a_missing_deployment() -> None:
    spec = yaml.safe_load(FILES[0].read_text())
    spec["deployments"] = [d for d in spec["deployments"] if d["name"] != "runbook-gaps"]
    with pytest.raises(InputError, match=r"^my\.yaml has no deployment named 'runbook-gaps'"):
        deploy_plan.render(spec, _settings(), source="my.yaml")


def test_unset_env_placeholders_are_named() -> None:
    spec = yaml.safe_load(FILES[1].read_text())
    assert deploy_plan.unset_env_placeholders(spec, {}) == ["ONCALL_IMAGE"]
    assert deploy_plan.unset_env_placeholders(spec, {"ONCALL_IMAGE": "r/o:1"}) == []
    assert deploy_plan.unset_env_placeholders(yaml.safe_load(FILES[0].read_text()), {}) == []


def test_coe_review_runs_on_the_review_cadence_and_doctor_reads_an_rrule_either_way() -> None:
    from types import SimpleNamespace

    from oncall.deploy_plan import REVIEW, deployment_schedules
    from oncall.settings import Settings

    [review] = deployment_schedules(Settings(coe_review_every_weeks=3, coe_review_at="09:30"))[REVIEW]
    assert review.yaml_entry()["rrule"].endswith("INTERVAL=3;BYDAY=TH") and "T093000" in review.rrule
    assert "cron" not in review.yaml_entry()
    lines = review.rrule.splitlines()
    # the server may keep the lines in another order or case: still the same schedule
    assert review.runs_as(SimpleNamespace(rrule="\n".join(reversed(lines)).lower(), timezone=review.timezone))
    assert not review.runs_as(
        SimpleNamespace(rrule=review.rrule.replace("INTERVAL=3", "INTERVAL=2"), timezone=review.timezone)
    )
    assert not review.runs_as(SimpleNamespace(rrule=review.rrule, timezone="UTC"))
    assert not review.runs_as(SimpleNamespace(cron="0 10 * * 4", timezone=review.timezone))


def test_the_ticket_sweep_is_on_once_the_team_names_its_sre_channels() -> None:
    """No run every 10 minutes that reads nothing for a team that asks for help elsewhere."""
    from datetime import timedelta
    from types import SimpleNamespace

    from oncall.deploy_plan import SWEEP, deployment_schedules, render
    from oncall.settings import Settings

    [off] = deployment_schedules(Settings())[SWEEP]
    [on] = deployment_schedules(Settings(sre_channels=["C0123"]))[SWEEP]
    assert (off.active, on.active) == (False, True)
    assert on.yaml_entry() == {
        "interval": 600,
        "slug": "ticket-sweep",
        "active": True,
        "parameters": {"window": "-24h"},
    }
    assert on.when == "every 600 s"
    assert on.runs_as(SimpleNamespace(interval=timedelta(minutes=10)))
    assert not on.runs_as(SimpleNamespace(interval=timedelta(minutes=5)))
    assert not on.runs_as(SimpleNamespace(cron="*/10 * * * *", timezone="UTC"))
    spec = yaml.safe_load(FILES[0].read_text())
    rendered = {d["name"]: d for d in render(spec, Settings(sre_channels=["C0123"]))["deployments"]}
    assert rendered[SWEEP]["schedules"] == [on.yaml_entry()] and rendered[SWEEP]["triggers"]
