"""Rootly as an alert source: its settings, what it lacks, how to build it, and its fake.
Light on purpose: the client and the fake load on use."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec

API_TOKEN = "sandbox-rootly-token"  # noqa: S105 - the fake's throwaway token, a canary


class RootlyConfig(BaseModel):
    rootly_api_token: SecretStr | None = Field(None, description="Rootly API token (Bearer)")
    rootly_base_url: str = Field("https://api.rootly.com", description="Rootly API URL (sandbox, proxy)")


LACKS = {
    "priority": "Rootly alerts carry no priority",
    "dedup count": "Rootly folds repeats into one alert without counting them; each alert counts once",
}


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


FAKE = FakeSpec(error=_error, credentials={"rootly_api_token": API_TOKEN}, alerts_path="/v1/alerts")
SOURCE = SourceSpec(name="rootly", title="Rootly", config=RootlyConfig, fake=FAKE, lacks=LACKS)
