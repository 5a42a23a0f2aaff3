"""One typed settings object, read from layers in a fixed order of precedence.

For the CLI: `ONCALL_*` environment variables, then the config file (`$ONCALL_CONFIG`, else
`./oncall.toml`), then the defaults. Deployed runs put the `oncall-settings` Variable where the
file is (see `tasks/config.py`): workers never read a file, so nothing assumes a shared disk.
The file and the Variable are *layers*: the same keys (the field names), the same checks.

Secrets never sit in a layer. Their values come from the environment or Prefect Secret blocks;
a layer only says where, in its `secrets` table (`github_token = "env:GH_TOKEN"` or
`"block:acme-github-token"`). Secret fields are `SecretStr`: their value prints as `**********`
in reprs, logs and errors.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from cronsim import CronSim, CronSimError
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from oncall.clock import BusinessHours, SleepHours, zone
from oncall.errors import ConfigError, OncallError, remember_secret
from oncall.retry import DEFAULT_CONCURRENCY, RetryPolicy
from oncall.sources import DEFAULT_SOURCE, REGISTRY, SOURCE_NAMES

CONFIG_FILE = "oncall.toml"  # read from the working directory when ONCALL_CONFIG is not set
CONFIG_ENV = "ONCALL_CONFIG"
# Where a field's value came from: doctor and `setup blocks` show it.
Origin = Literal["argument", "env", "file", "variable", "block", "default"]

# Secret setting -> the Prefect Secret block deployments read it from (unless `secrets` names another).
# Each source's come from the registry (its SourceSpec.secret_blocks).
SECRET_BLOCKS = {
    **{name: block for spec in REGISTRY.values() for name, block in spec.secret_blocks.items()},
    "slack_webhook_url": "oncall-slack-webhook-url",
    "github_token": "oncall-github-token",
    "google_service_account": "oncall-google-service-account",
    "relay_secret": "oncall-relay-secret",
    "slack_bot_token": "oncall-slack-bot-token",
    "slack_signing_secret": "oncall-slack-signing-secret",
}

# The settings a run parses, each checked at load with the parser the run uses.
_PARSERS: dict[str, Callable[[str], object]] = {
    "team_timezone": zone,
    "business_hours": BusinessHours.parse,
    "sleep_hours": SleepHours.parse,
}

# The settings that name an API's address: checked to be http(s) URLs, and sandbox ones flagged.
API_URL_FIELDS = (
    *(name for spec in REGISTRY.values() for name in spec.url_fields),
    "github_base_url",
    "google_base_url",
    "slack_api_url",
)


def _one_of(names: Sequence[str]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


class _Source(BaseModel):
    """The ONCALL_SOURCE choice: exactly the registry's names."""

    if TYPE_CHECKING:
        source: str
    else:
        source: Literal[SOURCE_NAMES] = Field(
            DEFAULT_SOURCE,
            description="Alert source: "
            + _one_of(
                [
                    name if spec.title.lower() == name else f"{name} ({spec.title})"
                    for name, spec in REGISTRY.items()
                ]
            ),
        )


if TYPE_CHECKING:  # a source's own code reads its fields typed, through `oncall.sources.config`
    _SourceSettings = _Source
else:  # every source's config model, in registry order after `source`

    class _SourceSettings(*reversed([spec.config for spec in REGISTRY.values()]), _Source):
        pass


class Settings(_SourceSettings, BaseSettings):
    """Everything oncall-flows needs to reach the outside world. Documented in the README."""

    model_config = SettingsConfigDict(env_prefix="ONCALL_", extra="ignore", frozen=True)
    _origins: dict[str, Origin] = PrivateAttr(default_factory=dict)
    _layers: tuple[str, ...] = PrivateAttr(default=())

    schedule: str = Field("Primary On Call Schedule", description="On-call schedule name")
    team_timezone: str = Field("America/New_York", description="IANA zone the team works in")
    business_hours: str = Field("Mon-Fri 09:00-17:00", description="Working hours in the team's zone")
    handoff_cron: str = Field(
        "0 10 * * 2", description="When the weekly hand-off runs: a cron line in the team's zone"
    )
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
    coe_review_anchor: date = Field(
        date(2026, 1, 1),
        description="A day the COE review meeting was held (a Thursday by default): its cadence counts from it",
    )
    coe_review_every_weeks: int = Field(2, ge=1, le=8, description="Weeks between COE review meetings")
    coe_review_at: str = Field(
        "10:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Time of the COE review meeting, HH:MM in the team's zone",
    )
    coe_nudge_days: int = Field(
        5,
        ge=0,
        description="An incomplete COE older than this many days is nudged in Slack before the meeting",
    )
    coe_actions_repo: str | None = Field(
        None, description="owner/name that gets COE corrective-action issues; default ONCALL_GITHUB_REPO"
    )
    coe_action_label: str = Field("coe-action", description="Label on corrective-action issues")
    coe_target: Literal["docs", "markdown"] = Field(
        "docs", description="Where a COE is written: a Google Doc, or markdown in a pull request"
    )
    coe_postmortem_repo: str | None = Field(
        None, description="owner/name of the postmortem repository (ONCALL_COE_TARGET=markdown)"
    )
    coe_postmortem_dir: str = Field(
        "postmortems", description="Folder of that repository that gets YYYY-MM-DD-<slug>.md"
    )
    slack_member_ids: dict[str, str] = Field(
        default_factory=dict,
        description="Person (as the schedule names them) to Slack member id (U…), for mentions in nudges",
    )
    ops_label: str = Field(
        "operational-safety",
        description="Label on operational-safety issues: ops-review files under it and its digest advocates every open one",
    )
    ops_review_cron: str = Field(
        "0 10 * * 1", description="When the weekly ops-review runs: a cron line in the team's zone"
    )
    ops_max_issues: int = Field(
        5, ge=0, description="Most new or reopened operational-safety issues per ops-review run"
    )
    sleep_hours: str = Field(
        "22:00-07:00", description="The team's night in its zone: a page in it counts as a sleep-hours page"
    )
    flap_min_cycles: int = Field(
        5, ge=2, description="An alert kind opened and closed this many times in the window is flapping"
    )
    flap_reopen_minutes: int = Field(
        30, ge=1, description="An alert kind that opens again within this many minutes of closing is flapping"
    )
    noise_per_day: float = Field(
        10.0, gt=0, description="An alert kind paging more than this many times a day on average is noise"
    )
    unactionable_minutes: int = Field(
        5,
        ge=1,
        description="Closed within this many minutes of opening, unacknowledged, with no note: unactionable",
    )
    unactionable_min_alerts: int = Field(
        3, ge=1, description="Fewest unactionable pages of one kind in the window before it is a finding"
    )
    repeat_incident_min: int = Field(
        2, ge=2, description="A service with this many incidents in the trend window has repeat incidents"
    )
    trend_shifts: int = Field(8, ge=2, le=26, description="Shifts the hand-off and ops-review show as trends")
    ops_per_person: bool = Field(
        False, description="Show interruptions per person (opt-in: these figures are about people)"
    )
    ops_tracking_issue: bool = Field(
        False, description="Also keep the advocacy digest as the body of one tracking issue, updated in place"
    )
    slack_bot_token: SecretStr | None = Field(
        None,
        description="Slack bot token (xoxb-…) for @SRE requests: channels:history, groups:history, reactions:read, "
        "reactions:write, usergroups:read, users:read, users:read.email, chat:write; without it the webhook posts",
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack app signing secret: the relay checks Events API requests with it"
    )
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API URL (sandbox override)")
    sre_channels: list[str] = Field(
        default_factory=list, description="Slack channel ids (C…) where people ask @SRE for help"
    )
    sre_group: str = Field("sre", description="Handle of the Slack user group people mention for help")
    sre_keyword: str | None = Field(
        None, description="A word that also marks a request where people type it instead of the mention"
    )
    sre_ack_reactions: list[str] = Field(
        default_factory=lambda: ["eyes", "white_check_mark"],
        description="Reactions (names without colons) that acknowledge a request",
    )
    sre_ticket_reaction: str = Field(
        "ticket", description="The reaction that turns a request into a GitHub issue"
    )
    sre_done_reaction: str = Field(
        "white_check_mark", description="The reaction the flow adds once it has filed a request's issue"
    )
    sre_request_repo: str | None = Field(
        None, description="owner/name that gets @SRE request issues; default ONCALL_GITHUB_REPO"
    )
    sre_request_label: str = Field("sre-request", description="Label on @SRE request issues")
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
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Where each secret comes from, by reference only: 'env:VARIABLE' or 'block:NAME'",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, the environment, then the layers `load_settings` passed (the file or the
        Variable), then the defaults. `Settings()` on its own reads no layer."""
        return (init_settings, env_settings, *(layer.source(settings_cls) for layer in _LAYERS.get()))

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_references(cls, data: Any) -> Any:
        """A secret not set as ONCALL_<NAME> comes from the environment variable its reference names."""
        if not isinstance(data, dict) or not isinstance(data.get("secrets"), dict):
            return data
        for name, ref in data["secrets"].items():
            if (
                name in SECRET_BLOCKS
                and isinstance(ref, str)
                and ref.startswith("env:")
                and not data.get(name)
            ):
                value = os.environ.get(ref.removeprefix("env:"))
                if value:
                    data = {**data, name: value}
        return data

    @field_validator("secrets")
    @classmethod
    def _references(cls, v: dict[str, str]) -> dict[str, str]:
        for name, ref in v.items():
            if name not in SECRET_BLOCKS:
                raise ValueError(f"{name!r} is not a secret; the secrets are {', '.join(SECRET_BLOCKS)}")
            if not _REFERENCE.fullmatch(ref):
                raise ValueError(f"{name} must be a reference, 'env:VARIABLE' or 'block:NAME'")
        return v

    @field_validator(*_PARSERS)
    @classmethod
    def _parses(cls, v: str, info: ValidationInfo) -> str:
        """Checked with the parser a run uses, so a value that loads is one a run can read."""
        try:
            _PARSERS[info.field_name or ""](v)
        except OncallError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("handoff_cron", "ops_review_cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            CronSim(v, datetime(2026, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(
                f"{v!r} is not a cron line such as '0 10 * * 2' (Tuesdays 10:00): {exc}"
            ) from None
        return v

    @field_validator(*API_URL_FIELDS)
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.http_attempts, base_delay=self.http_backoff_seconds)

    def require(self, name: str) -> str:
        """The secret's value, or a ConfigError naming the env var (and the one its reference
        names) and the Secret block in force."""
        value = getattr(self, name)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            if name not in SECRET_BLOCKS:
                raise ConfigError(f"setting ONCALL_{name.upper()} is not set; set the environment variable")
            ref = self.secrets.get(name, "")
            also = (
                f" or {ref.removeprefix('env:')} (its [secrets] reference)" if ref.startswith("env:") else ""
            )
            raise ConfigError(
                f"setting ONCALL_{name.upper()} is not set; set the environment variable{also} "
                f"or the Prefect Secret block '{secret_block(self, name)}'"
            )
        if isinstance(value, SecretStr):
            remember_secret(value.get_secret_value())  # scrubbed from any vendor text from now on
            return value.get_secret_value()
        return str(value)


_REFERENCE = re.compile(r"(env:[A-Za-z_][A-Za-z0-9_]*|block:[a-z0-9][a-z0-9-]*)")
_FIELDS = [n for n in Settings.model_fields]  # the keys a layer may hold


@dataclass(frozen=True)
class SettingsLayer:
    """Values below the environment and above the defaults: the config file or the Variable.

    `where` names it in every error ("oncall.toml", "Variable 'oncall-settings'"); keys are the
    field names; secrets appear only as references in the `secrets` table."""

    origin: Literal["file", "variable"]
    where: str
    values: Mapping[str, Any]

    def __post_init__(self) -> None:
        check_layer(self.where, self.values)

    def source(self, settings_cls: type[BaseSettings]) -> PydanticBaseSettingsSource:
        return InitSettingsSource(settings_cls, init_kwargs=dict(self.values))


_LAYERS: contextvars.ContextVar[tuple[SettingsLayer, ...]] = contextvars.ContextVar("layers", default=())


def check_layer(where: str, values: Mapping[str, Any]) -> None:
    """Unknown keys, a secret given a value, a `secrets` table holding anything but references:
    each a one-line ConfigError naming `where` and the key. Secret values are never echoed."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a table of settings, got {type(values).__name__}")
    for key, value in values.items():
        if key in SECRET_BLOCKS:
            raise ConfigError(
                f"{where}: {key} is a secret and its value never goes here; refer to it in the "
                f'[secrets] table instead: {key} = "env:ONCALL_{key.upper()}" or "block:{SECRET_BLOCKS[key]}"'
            )
        if key == "secrets":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: secrets must be a table, [secrets], of references")
            for name, ref in value.items():
                if name not in SECRET_BLOCKS:
                    raise ConfigError(
                        f"{where}: [secrets] has unknown key {name!r}{_did_you_mean(name, list(SECRET_BLOCKS))}; "
                        f"the secrets are {', '.join(SECRET_BLOCKS)}"
                    )
                if not isinstance(ref, str) or not _REFERENCE.fullmatch(ref):
                    raise ConfigError(
                        f'{where}: [secrets] {name} must be a reference, "env:VARIABLE" or "block:NAME" '
                        "(a secret's value never goes in the file)"
                    )
            continue
        if isinstance(value, Mapping) and key not in Settings.model_fields:
            raise ConfigError(
                f"{where}: unknown table [{key}]; settings are top-level keys, and [secrets] is the only "
                "table (see oncall.example.toml)"
            )
        if key not in Settings.model_fields:
            raise ConfigError(
                f"{where}: unknown key {key!r}{_did_you_mean(key, _FIELDS)}; keys are the setting names "
                "(see oncall.example.toml)"
            )


def _did_you_mean(key: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _TomlFile(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, with bad TOML and bad keys as one-line ConfigErrors."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            with file_path.open(mode="rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file_path} cannot be read: {exc.__class__.__name__}") from None
        check_layer(str(file_path), data)
        return data


def config_path() -> Path | None:
    """The config file the CLI reads: `$ONCALL_CONFIG` (which must exist), else `./oncall.toml`
    when there is one, else none. `ONCALL_CONFIG=/dev/null` means no file."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise ConfigError(f"{CONFIG_ENV} names {path}, which does not exist; fix or unset {CONFIG_ENV}")
        if path.is_dir():
            raise ConfigError(f"{CONFIG_ENV} names {path}, a folder; name the TOML file itself")
        return path
    local = Path.cwd() / CONFIG_FILE
    return local if local.is_file() else None


def file_layer(path: Path | None = None) -> SettingsLayer | None:
    """The config file as a layer (read and checked now), or None when there is no file."""
    path = config_path() if path is None else path
    if path is None:
        return None
    source = _TomlFile(Settings, toml_file=path)
    return SettingsLayer("file", str(path), source.toml_data)


def load_settings(layers: Sequence[SettingsLayer | None] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, then `layers` (default: the config file), then defaults.

    A bad value becomes a one-line ConfigError naming the variable, and the file and key when the
    value came from a layer. `settings_sources(result)` says where each value came from."""
    from pydantic import ValidationError

    chosen = tuple(layer for layer in ([file_layer()] if layers is None else layers) if layer is not None)
    token = _LAYERS.set(chosen)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"][:1]) or "?"
        msg = str(first["msg"]).removeprefix("Value error, ")
        origin = _origins(overrides, chosen).get(field)
        layer = next((la for la in reversed(chosen) if field in la.values), None)
        where = f" (key {field} in {layer.where})" if layer and origin in ("file", "variable") else ""
        raise ConfigError(f"setting ONCALL_{field.upper()} is invalid: {msg}{where}") from None
    finally:
        _LAYERS.reset(token)
    origins = _origins(overrides, chosen)
    for name in SECRET_BLOCKS:  # a secret set through its env: reference
        if getattr(settings, name) is not None and origins[name] == "default":
            origins[name] = "env"
    settings._origins = origins
    settings._layers = tuple(layer.where for layer in chosen)
    return settings


def _origins(overrides: Mapping[str, object], layers: Sequence[SettingsLayer]) -> dict[str, Origin]:
    env = EnvSettingsSource(Settings)()
    found: dict[str, Origin] = {}
    for name in Settings.model_fields:
        if name in overrides:
            found[name] = "argument"
        elif name in env:
            found[name] = "env"
        else:
            layer = next((la for la in layers if name in la.values), None)
            found[name] = layer.origin if layer else "default"
    return found


def settings_sources(settings: Settings) -> dict[str, Origin]:
    """Per field, where its value came from: "env", "file", "variable", "block" (a Secret block,
    on the deployed path), "argument" or "default". Settings not made by `load_settings`
    (a bare `Settings()`) report "env" or "default"."""
    return dict(settings._origins) or _origins({}, ())


def settings_layers(settings: Settings) -> tuple[str, ...]:
    """The layers that were read, as named in errors: the config file's path, the Variable."""
    return settings._layers


def with_origins(settings: Settings, origins: Mapping[str, Origin], layers: Sequence[str]) -> Settings:
    """`settings` remembering where its values came from (tasks.config marks the block-read secrets)."""
    settings._origins = dict(origins)
    settings._layers = tuple(layers)
    return settings


def secret_block(settings_or_refs: Settings | Mapping[str, str], name: str) -> str:
    """The Secret block that holds secret `name`: its `block:` reference, else the default block."""
    refs = settings_or_refs.secrets if isinstance(settings_or_refs, Settings) else settings_or_refs
    ref = refs.get(name, "")
    return ref.removeprefix("block:") if ref.startswith("block:") else SECRET_BLOCKS[name]


def secret_env(settings_or_refs: Settings | Mapping[str, str], name: str) -> list[str]:
    """The environment variables secret `name` is read from, first wins: ONCALL_<NAME>, then its
    `env:` reference."""
    refs = settings_or_refs.secrets if isinstance(settings_or_refs, Settings) else settings_or_refs
    ref = refs.get(name, "")
    own = f"ONCALL_{name.upper()}"
    return [own, *([ref.removeprefix("env:")] if ref.startswith("env:") and ref != f"env:{own}" else [])]


@contextmanager
def no_config_file() -> Iterator[None]:
    """For the sandbox's own runs (demo, `make serve` without real settings): a team's file must
    not point them at its real schedule."""
    before = os.environ.get(CONFIG_ENV)
    os.environ[CONFIG_ENV] = os.devnull
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = before


# --- sandbox values: what `make serve` and `oncall sandbox` hand out, never a team's own ------------

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - compared, never bound
URL_FIELDS = (*API_URL_FIELDS, "slack_webhook_url")


def _sandbox_credentials() -> dict[str, str]:
    """The sandbox's own throwaway credentials, read from the fakes' own values so they never drift."""
    from dataclasses import fields

    from oncall.sandbox.github_fake import GitHubState

    return {
        **{name: value for spec in REGISTRY.values() for name, value in spec.fake.credentials.items()},
        "github_token": str(next(f.default for f in fields(GitHubState) if f.name == "token")),
    }


def sandbox_values(values: Mapping[str, object]) -> dict[str, str]:
    """Settings in `values` (field name -> value, secrets as plain strings) that are the sandbox's:
    a URL on this machine, or one of its throwaway credentials. Name -> why, never the value."""
    from dataclasses import fields

    from oncall.sandbox.google_fake import GoogleState
    from oncall.sandbox.server import SandboxState
    from oncall.sandbox.slack_fake import SlackState

    state = {f.name: str(f.default) for f in fields(SandboxState) if isinstance(f.default, str)}
    repo = state["runbook_repo"]
    ids = {  # the sandbox's repository and documents, which a real account does not have
        "github_repo": lambda v: v == repo,
        "runbook": lambda v: v.startswith(f"{repo}:"),
        "coe_template_id": lambda v: v == state["coe_template"],
        "coe_folder_id": lambda v: v == state["coe_folder"],
        "coe_sheet_id": lambda v: v == state["coe_sheet"],
    }
    creds = _sandbox_credentials()
    hook = next(str(f.default) for f in fields(SlackState) if f.name == "webhook_path")
    email = next(str(f.default) for f in fields(GoogleState) if f.name == "client_email")
    found: dict[str, str] = {}
    for name, raw in values.items():
        value = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
        if not isinstance(value, str) or not value:
            continue
        if name in URL_FIELDS:
            try:
                host = urlsplit(value.strip()).hostname
            except ValueError:
                host = None
            if host in _LOCAL_HOSTS:
                found[name] = f"a URL on this machine ({host}), as the sandbox uses"
            elif name == "slack_webhook_url" and value.rstrip("/").endswith(hook):
                found[name] = "the sandbox's Slack webhook"
        if name in creds and value == creds[name]:
            found[name] = "the sandbox's throwaway credential"
        if name == "google_service_account" and email in value:
            found[name] = "the sandbox's service account"
        if name in ids and ids[name](value):
            found[name] = "the sandbox's own name for it"
    return found
