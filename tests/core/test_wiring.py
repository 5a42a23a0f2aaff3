"""The wiring: every client built from the settings once per `Clients`, closed together, and one
`Clients` per flow run through `tasks.clients`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

import pytest

from oncall.retry import RetryPolicy
from oncall.sandbox.server import Sandbox
from oncall.settings import Settings, load_settings
from oncall.sources import AlertSource
from oncall.wiring import Clients, http_options
from tasks.clients import clients, run_clients, use_source


@pytest.fixture
def settings(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_CONFIG", "/dev/null")
    return load_settings()


def _closed(source: AlertSource) -> bool:
    return all(api.http.is_closed for api in source._clients())  # type: ignore[attr-defined]


def test_http_options_are_the_settings() -> None:
    s = Settings(http_timeout_seconds=2.5, http_attempts=3, http_backoff_seconds=0.1, max_concurrency=4)
    assert http_options(s) == {
        "timeout": 2.5,
        "concurrency": 4,
        "retry": RetryPolicy(attempts=3, base_delay=0.1),
    }
    assert Clients(s, timeout=9).http["timeout"] == 9  # the test seam overrides one of them


def test_each_client_is_built_once_and_all_close_together(settings: Settings) -> None:
    with Clients(settings) as run:
        source, hook, gw = run.source(), run.slack(), run.google()
        assert run.source() is source and run.slack() is hook and run.google() is gw
        assert not _closed(source) and not hook.api.http.is_closed
    assert _closed(source) and hook.api.http.is_closed


def test_a_given_source_is_used_and_left_to_its_owner(settings: Settings) -> None:
    with Clients(settings) as own:
        given = own.source()
        with Clients(settings, source=given) as run:
            assert run.source() is given
        assert not _closed(given)


def test_a_run_shares_one_set_with_its_tasks_and_their_threads(settings: Settings) -> None:
    with run_clients(settings) as run:
        with clients(settings) as inside:
            assert inside is run
        with clients(settings.model_copy()) as equal:  # Prefect may hand a task a copy
            assert equal is run
        with ThreadPoolExecutor(2) as pool:  # as Prefect's task runner submits: with the context
            found = pool.submit(copy_context().run, lambda: _entered(settings)).result()
        assert found is run
        with clients(settings.model_copy(update={"schedule": "Other"})) as other:
            assert other is not run  # other settings: clients of its own
        source = run.source()
    assert _closed(source)  # the run closed it when it ended


def _entered(settings: Settings) -> Clients:
    with clients(settings) as found:
        return found


def test_outside_a_run_a_task_gets_clients_of_its_own(settings: Settings) -> None:
    with clients(settings) as first:
        source = first.source()
    with clients(settings) as second:
        assert second is not first
    assert _closed(source)


def test_the_seam_puts_a_given_source_into_every_run(settings: Settings) -> None:
    with Clients(settings) as owner:
        given = owner.source()
        with use_source(given):
            with run_clients(settings) as run:
                assert run.source() is given
            with clients(settings) as alone:
                assert alone.source() is given
            assert not _closed(given)
        with run_clients(settings) as after:
            assert after.source() is not given


def test_the_template_check_tries_as_often_as_the_settings_say(
    settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`oncall coe check-template` builds its Google client in oncall.wiring, as coe-prep does:
    ONCALL_HTTP_ATTEMPTS tries, not the client's default six."""
    from deployments.cli import main
    from oncall.sandbox.faults import ScriptedFault

    monkeypatch.setenv("ONCALL_HTTP_ATTEMPTS", "2")
    monkeypatch.setenv("ONCALL_HTTP_BACKOFF_SECONDS", "0")
    template = sandbox.state.coe_template
    sandbox.app.script.append(
        ScriptedFault(path_prefix=f"/google/drive/v3/files/{template}", status=503, times=10)
    )
    before = len(sandbox.app.served)
    assert main(["coe", "check-template", template]) != 0
    assert "still failing after retries" in capsys.readouterr().err
    tried = [s for s in sandbox.app.served[before:] if s.path == f"/google/drive/v3/files/{template}"]
    assert len(tried) == 2
