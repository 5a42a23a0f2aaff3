"""`oncall doctor`: every setting checked, every configured system called once, problems named."""

from __future__ import annotations

from collections.abc import Callable

from oncall.clients.slack import SlackWebhook
from oncall.errors import OncallError
from oncall.settings import SECRET_BLOCKS, Settings, load_settings
from oncall.sources import build_source


def _settings_lines(settings: Settings) -> list[str]:
    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = ("set (hidden)" if value is not None else "not set") if name in SECRET_BLOCKS else repr(value)
        lines.append(f"  ONCALL_{name.upper():<28} {shown}")
    return lines


def run_doctor(say: Callable[[str], None]) -> int:
    """Prints a report; returns 1 when anything is missing or rejected."""
    try:
        settings = load_settings()
    except OncallError as exc:
        say(f"✗ settings: {exc}")
        return 1
    say("Settings:")
    for line in _settings_lines(settings):
        say(line)
    problems = 0
    say("\nChecks:")
    try:
        source = build_source(settings)
        try:
            say(f"✓ {source.check()}")
        finally:
            source.close()
    except OncallError as exc:
        problems += 1
        say(f"✗ alert source ({settings.source}): {exc}")
    if settings.slack_webhook_url is None:
        say("- Slack: ONCALL_SLACK_WEBHOOK_URL not set; hand-offs will not be posted to Slack")
    else:
        hook = SlackWebhook(settings.require("slack_webhook_url"), timeout=settings.http_timeout_seconds)
        try:
            say(f"✓ {hook.check()}")
        except OncallError as exc:
            problems += 1
            say(f"✗ {exc}")
        finally:
            hook.close()
    if settings.github_token is None:
        say("- GitHub: ONCALL_GITHUB_TOKEN not set; runbook-gaps cannot read the runbook or file issues")
    else:
        from oncall.clients.github import github_client
        from oncall.runbook import RunbookSource

        with github_client(settings) as gh:
            for repo in dict.fromkeys(
                r
                for r in (
                    settings.github_repo,
                    settings.runbook and RunbookSource.parse(settings.runbook).repo,
                )
                if r
            ):
                try:
                    say(f"✓ {gh.check(repo)}")
                except OncallError as exc:
                    problems += 1
                    say(f"✗ {exc}")
    say(f"\n{'All checks passed.' if not problems else f'{problems} problem(s) found.'}")
    return 1 if problems else 0
