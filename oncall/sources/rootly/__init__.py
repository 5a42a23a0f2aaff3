"""Rootly as an alert source: its settings, what it lacks, how to build it, and its fake.
Light on purpose: the client and the fake load on use."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec, lazy

if TYPE_CHECKING:
    from oncall.sources.rootly.fake import RootlyState

API_TOKEN = "sandbox-rootly-token"  # noqa: S105 - the fake's throwaway token, a canary


class RootlyConfig(BaseModel):
    rootly_api_token: SecretStr | None = Field(None, description="Rootly API token (Bearer)")
    rootly_base_url: str = Field("https://api.rootly.com", description="Rootly API URL (sandbox, proxy)")


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
    build=lazy("oncall.sources.rootly.client:build"),
    fake=FakeSpec(
        mount="rootly",
        state=lazy("oncall.sources.rootly.fake:RootlyState"),
        seed=lazy("oncall.sources.rootly.seed:seed_rootly"),
        app=lazy("oncall.sources.rootly.fake:build_rootly_app"),
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
