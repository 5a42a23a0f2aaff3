"""Jira Service Management Operations (OpsGenie's successor) as an alert source: its settings,
how to build it, and its fake. Light on purpose: the client and the fake load on use."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from oncall.errors import ConfigError
from oncall.sources import FakeSpec, SourceSpec, config

if TYPE_CHECKING:
    from oncall.sandbox.week import Week
    from oncall.settings import Settings
    from oncall.sources import AlertSource
    from oncall.sources.base import HttpOptions
    from oncall.sources.jsm.fake import JsmState

# The fake's throwaway account: its API token, the email it belongs to, its cloud id.
API_TOKEN = "sandbox-jsm-token"  # noqa: S105 - the sandbox's, a canary
EMAIL = "oncall-bot@example.edu"
CLOUD_ID = "sandbox-cloud-0001"


class JsmConfig(BaseModel):
    jsm_site_url: str | None = Field(None, description="Your Atlassian site, e.g. https://acme.atlassian.net")
    jsm_email: str | None = Field(None, description="Atlassian account email the JSM API token belongs to")
    jsm_api_token: SecretStr | None = Field(
        None, description="Atlassian API token (Basic auth with the email)"
    )
    jsm_cloud_id: str | None = Field(None, description="Atlassian cloud id; default: read from the site")
    jsm_api_url: str = Field(
        "https://api.atlassian.com", description="Atlassian API gateway (sandbox, proxy)"
    )
    jsm_incident_project: str | None = Field(
        None, description="Jira project key holding JSM incidents; unset: incidents are not read"
    )


def _build(settings: Settings, http: HttpOptions) -> AlertSource:
    from oncall.sources.jsm.client import JsmSource

    own = config(settings, JsmConfig)
    if not own.jsm_site_url or not own.jsm_email:
        raise ConfigError(
            "ONCALL_SOURCE is jsm: set ONCALL_JSM_SITE_URL (https://YOURSITE.atlassian.net) and ONCALL_JSM_EMAIL"
        )
    return JsmSource(
        own.jsm_email,
        settings.require("jsm_api_token"),
        site_url=own.jsm_site_url,
        cloud_id=own.jsm_cloud_id,
        api_url=own.jsm_api_url,
        incident_project=own.jsm_incident_project,
        **http,
    )


def _state() -> JsmState:
    from oncall.sources.jsm.fake import JsmState

    return JsmState()


def _seed(week: Week) -> JsmState:
    from oncall.sources.jsm.seed import seed_jsm

    return seed_jsm(week)


def _app(state: JsmState) -> Any:
    from oncall.sources.jsm.fake import build_jsm_app

    return build_jsm_app(state)


def _env(state: JsmState, base_url: str) -> dict[str, str]:
    """The site and the API gateway are both the one mount (the fake answers both hosts)."""
    return {
        "ONCALL_JSM_SITE_URL": base_url,
        "ONCALL_JSM_API_URL": base_url,
        "ONCALL_JSM_EMAIL": state.email,
        "ONCALL_JSM_API_TOKEN": state.api_token,
        "ONCALL_JSM_INCIDENT_PROJECT": state.project,
    }


def _error(status: int) -> tuple[dict[str, str], Any]:
    """The Operations API's failure answer, OpsGenie's shape without the request id."""
    return {}, {"message": "Internal Server Error" if status >= 500 else "Error", "took": 0.001}


SOURCE = SourceSpec(
    name="jsm",
    title="Jira Service Management Operations",
    config=JsmConfig,
    credential="jsm_api_token",
    secret_blocks={"jsm_api_token": "oncall-jsm-api-token"},
    url_fields=("jsm_site_url", "jsm_api_url"),
    build=_build,
    fake=FakeSpec(
        mount="atlassian",
        state=_state,
        seed=_seed,
        app=_app,
        env=_env,
        error=_error,
        credentials={"jsm_api_token": API_TOKEN},
        canaries=(API_TOKEN, base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()),
        alerts_path=f"/jsm/ops/api/{CLOUD_ID}/v1/alerts",
        long_incident_id="OPS-101",
    ),
)
