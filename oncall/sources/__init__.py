"""The alert sources: one registry that Settings, `build_source`, the sandbox, doctor, the CLI
and the parameterised tests read. Nothing else lists sources.

The flows read alerts, incidents and on-call data only through `AlertSource`. Each source keeps
its vendor's quirks (query syntax, paging caps, field names) inside its package and returns the
shared models; what a source cannot provide comes back as `None` and is named in its `lacks`.

Adding a source (say `pagerduty`) is its package plus one line, `"pagerduty",` in `_PACKAGES`.
The package holds only its vendor's facts; everything else follows from its name:

- `oncall/sources/pagerduty/__init__.py` is light (pydantic and the standard library only: no
  httpx, no client import; `import oncall.settings` imports it) and defines
  `SOURCE = SourceSpec(name="pagerduty", title="PagerDuty", config=PagerDutyConfig, fake=FAKE, lacks=LACKS)`:
  - `config`: a pydantic `BaseModel` of its settings, every field named `pagerduty_...` with a
    `description`; `Settings` inherits it, so `ONCALL_PAGERDUTY_API_TOKEN` works and a layer's
    key is the field name. Its one secret (`SecretStr | None`) is its `credential`, read from the
    Prefect Secret block `oncall-pagerduty-api-token` (the field, dashes); its `*_url` fields are
    its API addresses (checked as http(s), sandbox ones flagged by doctor);
  - `lacks`: what it never records, and why (reports print it instead of a made-up value);
  - `FAKE = FakeSpec(error=..., credentials={"pagerduty_api_token": API_TOKEN}, alerts_path=...)`:
    the vendor's failure answer, the fake's throwaway credential, the alert list's path;
  - give `credential`, `secret_blocks`, `url_fields`, `build` or a FakeSpec default only where
    the source differs (JSM: its fake's mount `atlassian`, its env with the account's email and
    project, its Basic canary, its incident key).
- `client.py` defines `build(settings, http)` (the registry's `build`, loaded on first use):
  `from_settings("pagerduty", PagerDutySource, settings, http)` passes the credential and then
  every other setting by its name less `pagerduty_` (`base_url`, `incident_type`), and `**http`
  (timeout, concurrency, retry and the transport/sleep test seams) to `connect(...)`, which names
  the credential and its block when the vendor refuses it.
- `fake.py` defines `State` (the fake's state; the credential in the attribute named as the field
  less `pagerduty_`, `api_token`) and `app(state)` (its starlette Router); `seed.py` defines
  `seed(week)`: the seeded `oncall.sandbox.week.Week`, in OpsGenie's shapes, rewritten into its
  vendor's. The sandbox mounts the fake at `/pagerduty` and points every `*_url` setting there.
- its record parsing lives in the package; imports point at the shared modules
  (`oncall.sources.base`, `paging`, `genie`, `oncall.sandbox.week`, `query`, `responses`, `urls`),
  never at another source's package.
- its own tests go in `tests/sources/pagerduty/` (with an `__init__.py`; `tests/sources/helpers.py`
  has what they share); the per-source flow, canary, hostile-response, incident-lookup and
  lone-surrogate tests, the sandbox's mounts, seeding and faults, Settings, the CLI's choices
  and doctor read the registry and take it in on their own.
- outside the package, only text a person reads: its settings in `oncall.example.toml` (a test
  checks every setting is there), `make docs` (regenerates the tables) and its migration note.

`REGISTRY` loads the packages on first use; `SOURCE_NAMES` is `_PACKAGES` and loads nothing, so
the CLI can offer the choices without importing pydantic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from oncall.errors import ConfigError

if TYPE_CHECKING:  # the CLI reads SOURCE_NAMES at start: this module loads no pydantic until REGISTRY is read
    from datetime import datetime

    from pydantic import BaseModel

    from oncall.models import Alert, AlertQuery, Incident, OnCall, Schedule, TimelineEntry, TimeWindow
    from oncall.sandbox.week import Week
    from oncall.settings import Settings
    from oncall.sources.base import HttpOptions


@runtime_checkable
class AlertSource(Protocol):
    name: str

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        """Every alert matching `query`, sorted by creation time, however many there are."""
        ...

    def get_alert(self, alert_id: str) -> Alert: ...

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        """The alert's log lines and notes, oldest first."""
        ...

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        """Incidents created in `window`, with `resolved_at` filled where the source knows it."""
        ...

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        """Incidents resolved or closed (last changed) within `window`: what incident-watch looks for."""
        ...

    def get_incident(self, incident_id: str) -> Incident: ...

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]: ...

    def get_schedule(self, name: str) -> Schedule: ...

    def list_schedules(self) -> list[Schedule]: ...

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        """Who is on call at `at`, overrides applied."""
        ...

    def next_on_call(self, schedule: str, at: datetime) -> OnCall: ...

    def check(self) -> str:
        """One cheap authenticated call; returns a line for `oncall doctor`, raises on failure."""
        ...

    def close(self) -> None: ...


ErrorAnswer = tuple[dict[str, str], Any]  # (headers, JSON body) a vendor answers a failure with
# The seeded week's long P1 incident, as the sources that keep the week's ids show it.
LONG_INCIDENT_ID = "inc-7f3a-0001"


def _conventional(*args: Any) -> Any:
    """The placeholder of a default its SourceSpec fills in from the source's name."""
    raise TypeError("a FakeSpec read before its SourceSpec filled in its conventional defaults")


@dataclass(frozen=True)
class FakeSpec:
    """How the sandbox serves a source's fake, and what the shared tests need of it.

    Only the vendor's facts are given; the rest follows from the source's name (its SourceSpec
    fills them in): `state` is `<name>.fake:State`, `app` is `<name>.fake:app`, `seed` is
    `<name>.seed:seed` (each loaded on first call), `mount` is the name, `env` points every
    `*_url` setting at the mount and gives each credential the state's attribute of that name
    less the `<name>_` prefix (`rootly_api_token` -> `state.api_token`), `canaries` are the
    credentials' values."""

    error: Callable[[int], ErrorAnswer]  # the vendor's answer to a failure with this status; for 429 its
    # rate-limit headers and body (the fault injector sends these; Retry-After is added by the fault)
    credentials: Mapping[str, str]  # secret setting -> the fake's throwaway value (sandbox_values flags it)
    alerts_path: str  # the alert list's path under the mount (hostile-response tests script it)
    long_incident_id: str = LONG_INCIDENT_ID  # the id the long P1 incident has (the per-source flow tests)
    long_incident_number: str = "101"  # the number the hand-off shows for it
    # The vendor's real web addresses its client builds links on even against the sandbox, each
    # -> the path under the sandbox's web address that stands in for it (the demo rewrites them).
    web_links: Mapping[str, str] = field(default_factory=dict)
    # The sandbox path prefix, `/<mount>/...`: also the system the fault injector and counts name.
    mount: str = ""
    canaries: tuple[str, ...] = ()  # every form of its credentials a leak would show (raw, Basic ...)
    env: Callable[[Any, str], dict[str, str]] = _conventional  # (state, the mount's base URL) -> the
    # ONCALL_* settings that point the source at it (ONCALL_SOURCE aside)
    state: Callable[[], Any] = _conventional  # an empty state (what SandboxState holds before seeding)
    seed: Callable[[Week], Any] = _conventional  # the state holding the seeded week, in its vendor's shapes
    app: Callable[[Any], Any] = _conventional  # the ASGI app (a starlette Router) serving a state


@dataclass(frozen=True)
class SourceSpec:
    """One alert source: its settings, what it lacks, its fake; the rest by convention from `name`.

    `credential` is its one secret setting, `secret_blocks` name each secret's Prefect block
    `oncall-<field, dashes>` (`oncall-rootly-api-token`), `url_fields` are its `*_url`
    settings, `build` is `oncall.sources.<name>.client:build`. Give any of them to differ."""

    name: str  # "opsgenie": the ONCALL_SOURCE value and the package name
    title: str  # "OpsGenie": reports, COE, doctor
    config: type[BaseModel]  # its Settings fields, named <name>_..., each with a description
    fake: FakeSpec
    lacks: Mapping[str, str] = field(default_factory=dict)  # what it does not record, and why
    credential: str = ""  # the secret field that authenticates
    secret_blocks: Mapping[str, str] = field(default_factory=dict)  # secret field -> its default block
    url_fields: tuple[str, ...] = ()  # its fields that hold an API address
    build: Callable[[Settings, HttpOptions], AlertSource] = _conventional  # imports its client lazily inside

    def __post_init__(self) -> None:
        from pydantic import SecretStr  # a package that declares a source has loaded pydantic already

        fields = self.config.model_fields
        secrets = [
            n for n, f in fields.items() if SecretStr in getattr(f.annotation, "__args__", (f.annotation,))
        ]
        if not self.credential and len(secrets) != 1:
            raise TypeError(f"source {self.name}: name its credential among {secrets}")
        package = f"oncall.sources.{self.name}"
        fake = self.fake
        conventions: dict[str, Any] = {
            "credential": self.credential or secrets[0],
            "secret_blocks": self.secret_blocks or {n: f"oncall-{n.replace('_', '-')}" for n in secrets},
            "url_fields": self.url_fields or tuple(n for n in fields if n.endswith("_url")),
            "build": _given(self.build) or lazy(f"{package}.client:build"),
        }
        fake_conventions: dict[str, Any] = {
            "mount": fake.mount or self.name,
            "canaries": fake.canaries or tuple(fake.credentials.values()),
            "env": _given(fake.env) or self._env,
            "state": _given(fake.state) or lazy(f"{package}.fake:State"),
            "seed": _given(fake.seed) or lazy(f"{package}.seed:seed"),
            "app": _given(fake.app) or lazy(f"{package}.fake:app"),
        }
        for name, value in conventions.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "fake", replace(fake, **fake_conventions))

    def _env(self, state: Any, base_url: str) -> dict[str, str]:
        """Every API address at the mount, every credential the state's."""
        prefix = f"{self.name}_"
        return {
            **{f"ONCALL_{n.upper()}": base_url for n in self.url_fields},
            **{f"ONCALL_{n.upper()}": getattr(state, n.removeprefix(prefix)) for n in self.fake.credentials},
        }

    @property
    def credential_hint(self) -> str:
        """Where an authentication failure sends a person: the setting and its default block."""
        return f"ONCALL_{self.credential.upper()} (Secret block '{self.secret_blocks[self.credential]}')"


def _given(value: Callable[..., Any]) -> Callable[..., Any] | None:
    return None if value is _conventional else value


def lazy(target: str) -> Callable[..., Any]:
    """`"package.module:name"` as a callable that imports its module on the first call, so a
    source's `__init__` names its client's `build`, its fake's state and app and its seeding
    without loading httpx or starlette."""
    module, _, attr = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__name__ = call.__qualname__ = target
    return call


def source_spec(name: str) -> SourceSpec:
    """The registered source called `name`, or a ConfigError naming the choices."""
    try:
        return _registry()[name]
    except KeyError:
        raise ConfigError(f"ONCALL_SOURCE {name!r} is not one of: {', '.join(SOURCE_NAMES)}") from None


C = TypeVar("C", bound="BaseModel")


def config(settings: Settings, model: type[C]) -> C:
    """`settings` seen as one source's typed config (Settings inherits every source's model)."""
    if not isinstance(settings, model):
        raise TypeError(f"these settings carry no {model.__name__}")
    return settings


def build_source(settings: Settings, **client_options: Any) -> AlertSource:
    """The configured source, talking HTTP as every client does (`oncall.wiring.http_options`).
    `client_options` (transport, sleep) are the test seam."""
    from oncall.wiring import http_options  # light: it loads no client

    http: HttpOptions = {**http_options(settings), **client_options}  # type: ignore[typeddict-item]
    return source_spec(settings.source).build(settings, http)


# The one list of sources, in order (the default first). A new source adds its package name here.
_PACKAGES = (
    "opsgenie",
    "jsm",
    "rootly",
    "pagerduty",
)
SOURCE_NAMES: tuple[str, ...] = _PACKAGES  # each package's SOURCE is named as its package (checked on load)
DEFAULT_SOURCE = SOURCE_NAMES[0]

# Read on first use (PEP 562 `__getattr__` below), so that SOURCE_NAMES costs no import.
REGISTRY: Mapping[str, SourceSpec]


def _load(package: str) -> SourceSpec:
    spec = importlib.import_module(f"oncall.sources.{package}").SOURCE
    if not isinstance(spec, SourceSpec) or spec.name != package:
        raise TypeError(f"oncall.sources.{package}.SOURCE must be a SourceSpec named {package!r}")
    return spec


def _registry() -> Mapping[str, SourceSpec]:
    if "REGISTRY" not in globals():
        globals()["REGISTRY"] = {spec.name: spec for spec in map(_load, _PACKAGES)}
    return globals()["REGISTRY"]  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
