"""The alert sources: one registry that Settings, `build_source`, the sandbox, doctor, the CLI
and the parameterised tests read. Nothing else lists sources.

The flows read alerts, incidents and on-call data only through `AlertSource`. Each source keeps
its vendor's quirks (query syntax, paging caps, field names) inside its package and returns the
shared models; what a source cannot provide comes back as `None` and is named in its `lacks`.

Adding a source (say `pagerduty`) is its package plus one line, `"pagerduty",` in `_PACKAGES`:

- `oncall/sources/pagerduty/__init__.py` is light (pydantic and the standard library only: no
  httpx, no client import; `import oncall.settings` imports it) and defines `SOURCE = SourceSpec(...)`:
  - `config`: a pydantic `BaseModel` of its settings, every field named `pagerduty_...` with a
    `description`; `Settings` inherits it, so `ONCALL_PAGERDUTY_API_TOKEN` works and a layer's
    key is the field name. Secrets are `SecretStr | None`, each also in `secret_blocks`
    (field -> default Prefect Secret block); `credential` is the one that authenticates; API
    addresses are in `url_fields` (checked as http(s), sandbox ones flagged by doctor);
  - `lacks`: what it never records, and why (reports print it instead of a made-up value);
  - `build=lazy("oncall.sources.pagerduty.client:build")`: `build(settings, http)` in its client
    reads its fields with `config(settings, PagerDutyConfig)` and secrets with
    `settings.require(name)`, and returns the client, passing `**http` (timeout, concurrency,
    retry and the transport/sleep test seams);
  - `fake = FakeSpec(...)`: how the sandbox serves it and what the shared tests need (below).
- its client (`client.py`), record parsing, fake (`fake.py`) and seeding (`seed.py`: the
  seeded `oncall.sandbox.week.Week`, in OpsGenie's shapes, rewritten into its vendor's) live in
  the package; imports point at the shared modules (`oncall.sources.base`, `paging`, `genie`,
  `oncall.sandbox.week`, `query`, `responses`, `urls`), never at another source's package.
- its own tests go in `tests/sources/pagerduty/` (with an `__init__.py`); the per-source flow,
  canary, hostile-response, incident-lookup and lone-surrogate tests, the sandbox's mounts, seeding
  and faults, Settings, the CLI's choices and doctor read the registry and take it in on their own.
- outside the package, only text a person reads: its settings in `oncall.example.toml` (a test
  checks every setting is there), `make docs` (regenerates the tables) and its migration note.

`REGISTRY` loads the packages on first use; `SOURCE_NAMES` is `_PACKAGES` and loads nothing, so
the CLI can offer the choices without importing pydantic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FakeSpec:
    """How the sandbox serves a source's fake, and what the shared tests need of it.

    The registry is read by `import oncall.settings`: `state`, `seed` and `app` are `lazy(...)`
    names of the fake's own (`lazy("oncall.sources.rootly.fake:RootlyState")`)."""

    mount: str  # the sandbox path prefix, `/<mount>/...`: also the system the fault injector and counts name
    state: Callable[[], Any]  # an empty state (what SandboxState holds before seeding)
    seed: Callable[[Week], Any]  # the fake's state holding the seeded week's facts, in its vendor's shapes
    app: Callable[[Any], Any]  # the ASGI app (a starlette Router) serving a state
    env: Callable[[Any, str], dict[str, str]]  # (state, the mount's base URL) -> the ONCALL_* settings
    # that point the source at it (ONCALL_SOURCE aside): address, credential, any account names
    error: Callable[[int], ErrorAnswer]  # the vendor's answer to a failure with this status; for 429 its
    # rate-limit headers and body (the fault injector sends these; Retry-After is added by the fault)
    credentials: Mapping[str, str]  # secret setting -> the fake's throwaway value (sandbox_values flags it)
    canaries: tuple[str, ...]  # every form of its credentials a leak would show (raw, Basic ...)
    alerts_path: str  # the alert list's path under the mount (hostile-response tests script it)
    long_incident_id: str  # the id the long P1 incident of the seeded week has (the per-source flow tests)
    long_incident_number: str = "101"  # the number the hand-off shows for it
    # The vendor's real web addresses its client builds links on even against the sandbox, each
    # -> the path under the sandbox's web address that stands in for it (the demo rewrites them).
    web_links: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    """One alert source: its settings, secrets, what it lacks, how to build it, its fake."""

    name: str  # "opsgenie": the ONCALL_SOURCE value and the package name
    title: str  # "OpsGenie": reports, COE, doctor
    config: type[BaseModel]  # its Settings fields, named <name>_..., each with a description
    credential: str  # the secret field that authenticates
    secret_blocks: Mapping[str, str]  # secret field -> its default Prefect Secret block
    url_fields: tuple[str, ...]  # its fields that hold an API address
    build: Callable[[Settings, HttpOptions], AlertSource]  # imports its client lazily inside
    fake: FakeSpec
    lacks: Mapping[str, str] = field(default_factory=dict)  # what it does not record, and why


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
    """The configured source. `client_options` (transport, sleep) are the test seam."""
    http: HttpOptions = {
        "timeout": settings.http_timeout_seconds,
        "concurrency": settings.max_concurrency,
        "retry": settings.retry,
        **client_options,  # type: ignore[typeddict-item]
    }
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
# Views of the registry, for the code that read these before it existed.
SOURCES: tuple[str, ...] = SOURCE_NAMES
SOURCE_CREDENTIAL: Mapping[str, str]
SOURCE_LACKS: Mapping[str, Mapping[str, str]]


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
    if name == "SOURCE_CREDENTIAL":
        return {n: spec.credential for n, spec in _registry().items()}
    if name == "SOURCE_LACKS":
        return {n: dict(spec.lacks) for n, spec in _registry().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
