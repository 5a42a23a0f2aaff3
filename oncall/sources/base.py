"""What every source client shares: how it talks HTTP, and closing what it opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypedDict, TypeVar

import httpx

from oncall.clients.http import ApiClient
from oncall.errors import NotFoundError
from oncall.retry import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY
from oncall.retry import RetryPolicy
from oncall.sources import config, source_spec

if TYPE_CHECKING:
    from oncall.settings import Settings

S = TypeVar("S")


class HttpOptions(TypedDict, total=False):
    """The same for every vendor; `transport` and `sleep` are the test seams."""

    transport: httpx.BaseTransport | None
    timeout: float
    concurrency: int
    retry: RetryPolicy | None
    sleep: Callable[[float], None] | None


def concurrency(http: HttpOptions) -> int:
    return max(1, http.get("concurrency", DEFAULT_CONCURRENCY))


def connect(
    source: str,
    system: str,
    base_url: str,
    vendor: dict[str, Any],
    http: HttpOptions,
    *,
    credential_setting: str | None = None,
) -> ApiClient:
    """An ApiClient for one vendor host; `vendor` holds its own headers, auth or retry hint. An
    authentication failure names `credential_setting`: by default the source's credential and its block."""
    return ApiClient(
        system=system,
        base_url=base_url.rstrip("/"),
        credential_setting=credential_setting or source_spec(source).credential_hint,
        transport=http.get("transport"),
        timeout=http.get("timeout", 10.0),
        retry=http.get("retry"),
        sleep=http.get("sleep"),
        max_connections=concurrency(http) * 2,
        **vendor,
    )


def from_settings(source: str, client: Callable[..., S], settings: Settings, http: HttpOptions) -> S:
    """`client` built the conventional way (a registry `build`): the source's credential first,
    then each of its other settings by its name less `<source>_` (`rootly_base_url` -> `base_url`)."""
    spec = source_spec(source)
    own = config(settings, spec.config)
    prefix = f"{source}_"
    options = {
        n.removeprefix(prefix): getattr(own, n)
        for n in spec.config.model_fields
        if n not in spec.secret_blocks
    }
    return client(settings.require(spec.credential), **options, **http)


class SourceClient:
    def _clients(self) -> list[ApiClient]:
        """The HTTP clients this source opened; `close` closes each."""
        raise NotImplementedError

    def close(self) -> None:
        for client in self._clients():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def named(
    system: str, records: list[dict[str, Any]], name: str, name_of: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    """The schedule record called `name`, or a NotFoundError that lists the ones there are.

    For vendors whose API looks schedules up by id only: the flows and settings use names.
    """
    found = next((r for r in records if name_of(r) == name), None)
    if found is None:
        known = ", ".join(sorted(str(name_of(r)) for r in records)) or "none"
        raise NotFoundError(system, f"schedule {name!r} was not found (schedules visible: {known})")
    return found
