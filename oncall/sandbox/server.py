"""Run every fake on one 127.0.0.1 port, in a background thread or as `oncall sandbox`.

Each vendor lives under its own first path segment (`/opsgenie`, `/slack`, ...), so a base
URL such as `http://127.0.0.1:PORT/opsgenie` stands in for `https://api.opsgenie.com`.
`/_sandbox/requests` and `/_sandbox/faults` let a client in another process count calls
and set faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route

from oncall.sandbox.faults import FaultInjector, FaultRates, ScriptedFault
from oncall.sandbox.github_fake import GitHubState, build_github_app
from oncall.sandbox.google_fake import GoogleState, build_google_app
from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.sheets_fake import build_sheets_app
from oncall.sandbox.slack_api_fake import SlackApiState, build_slack_api_app
from oncall.sandbox.slack_fake import SlackState, build_slack_app
from oncall.sandbox.urls import SANDBOX_REPO
from oncall.sources import DEFAULT_SOURCE, REGISTRY, source_spec


def _source_states() -> dict[str, Any]:
    return {name: spec.fake.state() for name, spec in REGISTRY.items()}


@dataclass(init=False)
class SandboxState:
    """What every fake holds. Each registered source's state is `state.<name>` (`state.opsgenie`),
    kept in `sources`; `SandboxState(opsgenie=...)` gives one its state, the rest start empty."""

    sources: dict[str, Any] = field(default_factory=_source_states)
    slack: SlackState = field(default_factory=SlackState)
    slack_api: SlackApiState = field(default_factory=SlackApiState)
    github: GitHubState = field(default_factory=GitHubState)
    google: GoogleState = field(default_factory=GoogleState)
    sheets: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    service_account: dict[str, str] = field(default_factory=dict)  # the key file the sandbox accepts
    coe_template: str = "doc-coe-template"
    coe_folder: str = "folder-coe"
    coe_sheet: str = "sheet-coe-tracker"
    runbook_repo: str = SANDBOX_REPO
    runbook_path: str = "docs/runbooks/oncall.md"

    def __init__(self, **values: Any) -> None:
        given = {name: values.pop(name) for name in list(values) if name in REGISTRY}
        unknown = set(values) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"SandboxState has no {', '.join(sorted(unknown))}")
        for f in fields(self):
            if f.name in values:
                value = values[f.name]
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)
        self.sources.update(given)

    def __getattr__(self, name: str) -> Any:
        sources = self.__dict__.get("sources", {})
        if name in sources:
            return sources[name]
        raise AttributeError(f"SandboxState has no {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in REGISTRY:
            self.sources[name] = value
        else:
            object.__setattr__(self, name, value)


def build_app(state: SandboxState, seed: int = 0) -> FaultInjector:
    injector: FaultInjector

    async def requests_log(request: Request) -> JSONResponse:
        return JSONResponse(
            [{**asdict(s), "body": s.body.decode("utf-8", "replace")} for s in injector.served]
        )

    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        injector.reset(int(body.get("seed", 0)))
        for system, rates in (body.get("rates") or {}).items():
            injector.rates[system] = FaultRates(**rates)
        injector.script.extend(ScriptedFault(**f) for f in body.get("script") or [])
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/_sandbox/requests", requests_log),
            Route("/_sandbox/faults", faults, methods=["POST"]),
            *(
                Mount(f"/{spec.fake.mount}", app=spec.fake.app(state.sources[name]))
                for name, spec in REGISTRY.items()
            ),
            Mount("/slack-api", app=build_slack_api_app(state.slack_api)),
            Mount("/slack", app=build_slack_app(state.slack)),
            Mount("/github", app=build_github_app(state.github)),
            Mount(
                "/google",
                routes=[
                    *build_google_app(state.google).routes,
                    *build_sheets_app(state.google, state.sheets).routes,
                ],
            ),
        ]
    )
    injector = FaultInjector(app, seed)
    return injector


def _not_a_dropped_answer(record: logging.LogRecord) -> bool:
    """uvicorn logs the connections the fault injector drops on purpose as errors; they are not."""
    return not (record.exc_info and "Too little data for declared Content-Length" in str(record.exc_info[1]))


logging.getLogger("uvicorn.error").addFilter(_not_a_dropped_answer)


class Sandbox:
    """The fakes served from a daemon thread; use as a context manager.

    `Sandbox.seeded(anchor)` loads the realistic week ending at `anchor`.
    """

    def __init__(self, state: SandboxState | None = None, *, port: int = 0, seed: int = 0) -> None:
        self.state = state or SandboxState()
        self.app = build_app(self.state, seed)
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that name it, and
        # with Nagle on every small answer waited 40 ms for the client's delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind(("127.0.0.1", port))
        except OSError:  # a busy port: `oncall sandbox` names its --port option; no socket left open
            self._sock.close()
            raise
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @classmethod
    def seeded(cls, anchor: datetime | None = None, *, port: int = 0, seed: int = 7) -> Sandbox:
        from oncall.sandbox.seed import seed_state

        return cls(seed_state(anchor, seed=seed), port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def opsgenie_url(self) -> str:
        return self.source_url("opsgenie")

    @property
    def slack_webhook_url(self) -> str:
        return f"{self.url}/slack{self.state.slack.webhook_path}"

    @property
    def slack_api_url(self) -> str:
        """Stands in for `https://slack.com/api/` (with its slash: WebClient appends the method)."""
        return f"{self.url}/slack-api/"

    @property
    def github_url(self) -> str:
        return f"{self.url}/github"

    def source_url(self, source: str) -> str:
        """The base URL of `source`'s fake, standing in for its vendor's API."""
        return f"{self.url}/{source_spec(source).fake.mount}"

    def source_env(self, source: str = DEFAULT_SOURCE) -> dict[str, str]:
        """The settings that point oncall at this sandbox's fake of `source`."""
        if source not in REGISTRY:
            raise ValueError(f"the sandbox has no fake of {source!r}; it has {', '.join(REGISTRY)}")
        fake = REGISTRY[source].fake
        return {"ONCALL_SOURCE": source, **fake.env(self.state.sources[source], self.source_url(source))}

    def env(self, source: str = DEFAULT_SOURCE) -> dict[str, str]:
        """The settings that point oncall at this sandbox, reading alerts from `source`."""
        return {
            **self.source_env(source),
            "ONCALL_SLACK_WEBHOOK_URL": self.slack_webhook_url,
            "ONCALL_GITHUB_BASE_URL": self.github_url,
            "ONCALL_GITHUB_TOKEN": self.state.github.token,
            "ONCALL_GITHUB_REPO": self.state.runbook_repo,
            "ONCALL_RUNBOOK": f"{self.state.runbook_repo}:{self.state.runbook_path}@main",
            "ONCALL_GOOGLE_BASE_URL": self.google_url,
            "ONCALL_GOOGLE_SERVICE_ACCOUNT": json.dumps(self.state.service_account),
            "ONCALL_COE_TEMPLATE_ID": self.state.coe_template,
            "ONCALL_COE_FOLDER_ID": self.state.coe_folder,
            "ONCALL_COE_SHEET_ID": self.state.coe_sheet,
            "ONCALL_COE_COPY_SETTLE_SECONDS": f"{self.state.google.search_lag_seconds:g}",
        }

    @property
    def google_url(self) -> str:
        return f"{self.url}/google"

    def start(self) -> Sandbox:
        def run() -> None:
            asyncio.run(self._server.serve(sockets=[self._sock]))

        self._thread = threading.Thread(target=run, name="oncall-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the sandbox server did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def faults(self, system: str = "*", **rates: Any) -> None:
        self.app.rates[system] = FaultRates(**rates)

    def script(self, path_prefix: str, status: int, **kw: Any) -> None:
        self.app.script.append(ScriptedFault(path_prefix=path_prefix, status=status, **kw))
