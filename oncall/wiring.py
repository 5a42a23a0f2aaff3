"""The composition root: every outside client, built from the settings in one place.

Tasks (through `tasks.clients`), doctor and the command line get their clients here, so all of
them take the same timeout, retry policy and requests in flight from the settings
(ONCALL_HTTP_TIMEOUT_SECONDS, ONCALL_HTTP_ATTEMPTS, ONCALL_HTTP_BACKOFF_SECONDS,
ONCALL_MAX_CONCURRENCY), and a client's own caches (JSM's cloud id, GitHub's login) last as
long as the `Clients` that holds it: one flow run, one doctor run, one command.

The vendor libraries are imported on first use, so importing this module loads none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

if TYPE_CHECKING:
    from oncall.clients.github import GitHubClient
    from oncall.clients.google import GoogleWorkspace
    from oncall.clients.slack import SlackWebhook
    from oncall.clients.slack_api import SlackApi
    from oncall.settings import Settings
    from oncall.sources import AlertSource
    from oncall.sources.base import HttpOptions

T = TypeVar("T")


def http_options(settings: Settings) -> HttpOptions:
    """How every client talks HTTP, from the settings: the one place that reads them."""
    return {
        "timeout": settings.http_timeout_seconds,
        "concurrency": settings.max_concurrency,
        "retry": settings.retry,
    }


class Clients:
    """Every outside client of one run, each built once on first use and closed together.

    `source`: an AlertSource to use instead of building the configured one (the test seam for
    an in-memory source); it is not closed here, its owner closes it. `http`: overrides of
    `http_options(settings)` (`transport`, `sleep`, `timeout`, ...), the seam the client tests
    use; `transport` reaches every client that speaks through the HTTP stage.
    Safe to share between a run's threads: each client is built under a lock.
    """

    def __init__(self, settings: Settings, *, source: AlertSource | None = None, **http: Any) -> None:
        self.settings = settings
        self.http: dict[str, Any] = {**http_options(settings), **http}
        self._source = source
        self._built: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def _once(self, name: str, build: Callable[[], T], close: Callable[[T], None]) -> T:
        with self._lock:
            if name not in self._built:
                client = build()
                self._built[name] = client
                self._closers.append(lambda: close(client))
            found: T = self._built[name]
            return found

    def _pooled(self) -> dict[str, Any]:
        """The HTTP options as the clients that pool connections (GitHub, Google) take them."""
        return {
            "timeout": self.http["timeout"],
            "concurrency": self.http["concurrency"],
            **{k: self.http.get(k) for k in ("retry", "transport", "sleep")},
        }

    def source(self) -> AlertSource:
        """The alert source ONCALL_SOURCE names (or the one given)."""
        if self._source is not None:
            return self._source

        def build() -> AlertSource:
            from oncall.sources import build_source

            return build_source(self.settings, **self.http)

        return self._once("source", build, lambda s: s.close())

    def github(self) -> GitHubClient:
        """GitHub, with ONCALL_GITHUB_TOKEN; its writes spaced by ONCALL_GITHUB_WRITE_INTERVAL."""

        def build() -> GitHubClient:
            from oncall.clients.github import GitHubClient

            return GitHubClient(
                self.settings.require("github_token"),
                base_url=self.settings.github_base_url,
                write_interval=self.settings.github_write_interval,
                **self._pooled(),
            )

        return self._once("github", build, lambda gh: gh.close())

    def google(self) -> GoogleWorkspace:
        """Drive, Docs and Sheets, with ONCALL_GOOGLE_SERVICE_ACCOUNT."""

        def build() -> GoogleWorkspace:
            from oncall.clients.google import GoogleWorkspace, load_key

            return GoogleWorkspace(
                load_key(self.settings.require("google_service_account")),
                base_url=self.settings.google_base_url,
                **self._pooled(),
            )

        return self._once("google", build, lambda gw: gw.close())

    def slack(self) -> SlackWebhook:
        """The incoming webhook ONCALL_SLACK_WEBHOOK_URL names."""

        def build() -> SlackWebhook:
            from oncall.clients.slack import SlackWebhook

            return SlackWebhook(
                self.settings.require("slack_webhook_url"),
                transport=self.http.get("transport"),
                timeout=self.http["timeout"],
                retry=self.http.get("retry"),
                sleep=self.http.get("sleep"),
            )

        return self._once("slack", build, lambda hook: hook.close())

    @property
    def has_slack_api(self) -> bool:
        """Whether a Slack bot token is set: without one, @SRE requests are not read and the
        webhook still posts, so callers ask first instead of catching the ConfigError."""
        token = self.settings.slack_bot_token
        return token is not None and bool(token.get_secret_value())

    def slack_api(self) -> SlackApi:
        """The Slack Web API with ONCALL_SLACK_BOT_TOKEN (a ConfigError naming it when unset)."""

        def build() -> SlackApi:
            from oncall.clients.slack_api import SlackApi

            return SlackApi(
                self.settings.require("slack_bot_token"),
                self.settings.slack_api_url,
                timeout=self.http["timeout"],
                retries=max(0, self.settings.http_attempts - 1),
            )

        return self._once("slack_api", build, lambda api: None)  # urllib: no pool to close

    def close(self) -> None:
        """Close every client built here, the last built first; the first error is raised
        once all were tried."""
        with self._lock:
            closers, self._closers, self._built = self._closers[::-1], [], {}
        failed: BaseException | None = None
        for close in closers:
            try:
                close()
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
