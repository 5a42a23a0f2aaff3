"""Rootly as an alert source: its settings, what it lacks, how to build it, and its fake.
Light on purpose: the client and the fake load on use."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec, config

if TYPE_CHECKING:
    from oncall.sandbox.week import Week
    from oncall.settings import Settings
    from oncall.sources import AlertSource
    from oncall.sources.base import HttpOptions
    from oncall.sources.rootly.fake import RootlyState

API_TOKEN = "sandbox-rootly-token"  # noqa: S105 - the fake's throwaway token, a canary


class RootlyConfig(BaseModel):
    rootly_api_token: SecretStr | None = Field(None, description="Rootly API token (Bearer)")
    rootly_base_url: str = Field("https://api.rootly.com", description="Rootly API URL (sandbox, proxy)")


def _build(settings: Settings, http: HttpOptions) -> AlertSource:
    from oncall.sources.rootly.client import RootlySource

    own = config(settings, RootlyConfig)
    return RootlySource(settings.require("rootly_api_token"), base_url=own.rootly_base_url, **http)


def _state() -> RootlyState:
    from oncall.sources.rootly.fake import RootlyState

    return RootlyState()


def _seed(week: Week) -> RootlyState:
    from oncall.sources.rootly.seed import seed_rootly

    return seed_rootly(week)


def _app(state: RootlyState) -> Any:
    from oncall.sources.rootly.fake import build_rootly_app

    return build_rootly_app(state)


def _env(state: RootlyState, base_url: str) -> dict[str, str]:
    return {"ONCALL_ROOTLY_BASE_URL": base_url, "ONCALL_ROOTLY_API_TOKEN": state.api_token}


def _error(status: int) -> tuple[dict[str, str], Any]:
    """Rootly's JSON:API errors; a 429 says when the window ends (epoch seconds), no Retry-After."""
    if status == 429:
        headers = {
            "X-RateLimit-Limit": "3000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }
        return headers, {"error": "Rate limit exceeded. Try again later."}
    title = "Internal Server Error" if status >= 500 else "Error"
    return {}, {"errors": [{"title": title, "status": str(status), "code": None, "detail": None}]}


SOURCE = SourceSpec(
    name="rootly",
    title="Rootly",
    config=RootlyConfig,
    credential="rootly_api_token",
    secret_blocks={"rootly_api_token": "oncall-rootly-api-token"},
    url_fields=("rootly_base_url",),
    build=_build,
    fake=FakeSpec(
        mount="rootly",
        state=_state,
        seed=_seed,
        app=_app,
        env=_env,
        error=_error,
        credentials={"rootly_api_token": API_TOKEN},
        canaries=(API_TOKEN,),
        alerts_path="/v1/alerts",
        long_incident_id="inc-7f3a-0001",
    ),
    lacks={
        "priority": "Rootly alerts carry no priority",
        "dedup count": "Rootly folds repeats into one alert without counting them; each alert counts once",
    },
)
