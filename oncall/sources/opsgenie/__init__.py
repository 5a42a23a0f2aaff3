"""OpsGenie as an alert source: its settings, what it lacks, how to build it, and its fake.

Atlassian shuts OpsGenie down on 2027-04-05; teams move to JSM Operations or another source.
Light on purpose (`import oncall.settings` reads it): the client and the fake load on use.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec

API_KEY = "sandbox-opsgenie-key"  # the fake's throwaway key


class OpsGenieConfig(BaseModel):
    opsgenie_api_key: SecretStr | None = Field(None, description="OpsGenie API key (GenieKey)")
    opsgenie_region: Literal["us", "eu"] = Field("us", description="OpsGenie account region")
    opsgenie_base_url: str | None = Field(None, description="Override the OpsGenie API URL (sandbox, proxy)")


def _error(status: int) -> tuple[dict[str, str], Any]:
    """OpsGenie's failure answer: a message, `took` and a request id; a 429 names the throttle."""
    if status == 429:
        headers = {
            "X-RateLimit-State": "THROTTLED",
            "X-RateLimit-Reason": "ACCOUNT",
            "X-RateLimit-Period-In-Sec": "60",
        }
        return headers, {"message": "TooManyRequests", "took": 0.001, "requestId": str(uuid.uuid4())}
    message = "Internal Server Error" if status >= 500 else "Error"
    return {}, {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}


FAKE = FakeSpec(
    error=_error,
    credentials={"opsgenie_api_key": API_KEY},
    alerts_path="/v2/alerts",
    web_links={"https://app.opsgenie.com/": "opsgenie/", "https://api.opsgenie.com/": "opsgenie/"},
)
SOURCE = SourceSpec(name="opsgenie", title="OpsGenie", config=OpsGenieConfig, fake=FAKE)
