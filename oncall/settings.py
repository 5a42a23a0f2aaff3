"""One typed settings object. Locally it reads `ONCALL_*` environment variables; deployments
fill the secrets from Prefect Secret blocks (see `tasks/config.py`).

Secret fields are `SecretStr`: their value prints as `**********` in reprs, logs and errors.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oncall.clients.base import DEFAULT_CONCURRENCY
from oncall.clients.http import RetryPolicy
from oncall.errors import ConfigError, remember_secret

# Secret setting -> the Prefect Secret block deployments read it from.
SECRET_BLOCKS = {
    "opsgenie_api_key": "oncall-opsgenie-api-key",
    "jsm_api_token": "oncall-jsm-api-token",
    "rootly_api_token": "oncall-rootly-api-token",
    "slack_webhook_url": "oncall-slack-webhook-url",
    "github_token": "oncall-github-token",
    "google_service_account": "oncall-google-service-account",
    "relay_secret": "oncall-relay-secret",
}


class Settings(BaseSettings):
    """Everything oncall-flows needs to reach the outside world. Documented in the README."""

    model_config = SettingsConfigDict(env_prefix="ONCALL_", extra="ignore", frozen=True)

    source: Literal["opsgenie", "jsm", "rootly"] = Field(
        "opsgenie", description="Alert source: opsgenie, jsm (Jira Service Management Operations) or rootly"
    )
    opsgenie_api_key: SecretStr | None = Field(None, description="OpsGenie API key (GenieKey)")
    opsgenie_region: Literal["us", "eu"] = Field("us", description="OpsGenie account region")
    opsgenie_base_url: str | None = Field(None, description="Override the OpsGenie API URL (sandbox, proxy)")
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
    rootly_api_token: SecretStr | None = Field(None, description="Rootly API token (Bearer)")
    rootly_base_url: str = Field("https://api.rootly.com", description="Rootly API URL (sandbox, proxy)")
    schedule: str = Field("Primary On Call Schedule", description="On-call schedule name")
    team_timezone: str = Field("America/New_York", description="IANA zone the team works in")
    business_hours: str = Field("Mon-Fri 09:00-17:00", description="Working hours in the team's zone")
    escalation_minutes: int = Field(5, ge=1, description="Unacknowledged this long means it escalated")
    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook URL (a secret)")
    github_token: SecretStr | None = Field(None, description="GitHub token: issues read/write, contents read")
    github_base_url: str = Field(
        "https://api.github.com", description="GitHub API URL (GitHub Enterprise: https://HOST/api/v3)"
    )
    github_repo: str | None = Field(
        None, description="owner/name of the repository that gets runbook-gap issues"
    )
    github_write_interval: float = Field(
        1.0, ge=0, description="Seconds between GitHub writes (secondary limits)"
    )
    runbook: str | None = Field(
        None,
        description="The runbook, a markdown file or a folder of them: 'owner/repo:path@ref' on GitHub "
        "(path a file or a folder), or a local file or folder path",
    )
    gap_label: str = Field(
        "runbook-gap", description="Label on runbook-gap issues; how existing ones are found"
    )
    max_issues: int = Field(
        10, ge=0, description="Most new or reopened gap issues per run; the rest are held back"
    )
    open_pr: bool = Field(
        False, description="Open a draft pull request with the entry skeleton for each new gap"
    )
    google_service_account: SecretStr | None = Field(
        None, description="Google service-account key file (JSON)"
    )
    google_base_url: str | None = Field(None, description="Override every Google API URL (sandbox)")
    coe_template_id: str | None = Field(None, description="Google Doc id of the COE template")
    coe_folder_id: str | None = Field(None, description="Drive folder (on a Shared Drive) that gets the COEs")
    coe_sheet_id: str | None = Field(None, description="Google Sheet id of the COE tracker")
    coe_sheet_tab: str = Field("COE tracker", description="Tab of the COE tracker sheet")
    coe_threshold_minutes: int = Field(10, ge=0, description="Incidents at least this long get a COE")
    coe_copy_settle_seconds: float = Field(
        600, ge=0, description="After a lost answer to the COE copy, how long Drive search may still miss it"
    )
    relay_secret: SecretStr | None = Field(
        None, description="Shared secret OpsGenie's webhook sends to the relay"
    )
    http_timeout_seconds: float = Field(10.0, gt=0, description="Per-request timeout for every outside API")
    http_attempts: int = Field(6, ge=1, le=20, description="Tries per request before giving up")
    http_backoff_seconds: float = Field(
        0.5, ge=0, le=30, description="First backoff after a failed request; it doubles per try"
    )
    max_concurrency: int = Field(
        DEFAULT_CONCURRENCY, ge=1, le=64, description="Parallel requests per outside API"
    )
    out_dir: str = Field("out", description="Where local runs and the demo write what they produced")

    @field_validator(
        "opsgenie_base_url",
        "github_base_url",
        "google_base_url",
        "jsm_site_url",
        "jsm_api_url",
        "rootly_base_url",
    )
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.http_attempts, base_delay=self.http_backoff_seconds)

    def require(self, name: str) -> str:
        """The secret's value, or a ConfigError naming the env var and the Secret block."""
        value = getattr(self, name)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            block = SECRET_BLOCKS.get(name)
            where = f" or the Prefect Secret block '{block}'" if block else ""
            raise ConfigError(
                f"setting ONCALL_{name.upper()} is not set; set the environment variable{where}"
            )
        if isinstance(value, SecretStr):
            remember_secret(value.get_secret_value())  # scrubbed from any vendor text from now on
            return value.get_secret_value()
        return str(value)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value becomes a ConfigError naming the variable."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting ONCALL_{field.upper()} is invalid: {first['msg']}") from None
