"""`make serve`: a one-machine setup a newcomer can click through in the Prefect UI.

Starts a Prefect server with the UI on 127.0.0.1, the sandbox fakes (unless real settings are
given), saves the blocks and variables the deployments read, registers every deployment with
`oncall deploy` (so the schedules follow the settings), and runs a process worker. Ctrl-C stops the worker, the sandbox and the server, in that order;
the deployments and their schedules stay as they were.

Options: `make serve ARGS="--port 4300 --database-url postgresql+asyncpg://…"` (make itself
would take `make serve --port=…` as one of its own options).

Real settings (the source's credential in the environment, or through the config file's
[secrets] reference) mean the real services, from the environment and the config file. Without
them the sandbox serves, and the team's config file is ignored (its schedule and repository are
not the sandbox's). The sandbox's Secret blocks and settings Variable are removed again at
Ctrl-C, and a real `make serve` runs `setup blocks --remove-sandbox`, so a team going live never
keeps posting to a local fake: their credentials are throwaway, but their URLs point here.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from oncall.errors import ConfigError
from oncall.settings import CONFIG_ENV, load_settings
from oncall.sources import DEFAULT_SOURCE, source_spec

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve: the Prefect server exited with code {proc.returncode}; see its log")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"serve: the Prefect server did not answer at {url} within {seconds:.0f} s")


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


@contextmanager
def prefect_server(port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`prefect server start` on 127.0.0.1:`port` (with its services, the lease repossessor
    among them), yielded once it answers; stopped with Ctrl-C on exit."""
    with _process(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, log
    ) as server:
        _wait_healthy(f"http://127.0.0.1:{port}/api", server)
        yield server


def _run(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603
    if check and done.returncode != 0:
        raise SystemExit(f"serve: {' '.join(args[:3])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def serve(
    port: int,
    sandbox_port: int,
    home: Path,
    use_sandbox: bool,
    database_url: str | None = None,
    source: str = DEFAULT_SOURCE,
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "ONCALL_CHECKOUT": str(ROOT),
    }
    if database_url:  # PostgreSQL 14.9+ with pg_trgm; SQLite under PREFECT_HOME otherwise
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    if use_sandbox:
        env[CONFIG_ENV] = os.devnull  # the sandbox's deployments never take the team's file
    setup = [str(BIN / "oncall"), "setup", "blocks", "--no-input"]
    with ExitStack() as stack:
        print(f"serve: starting the Prefect server (log: {home / 'server.log'})", flush=True)
        server = stack.enter_context(prefect_server(port, env, home / "server.log"))
        if use_sandbox:
            # Runs after the worker and the sandbox stop, while the server still answers.
            stack.callback(forget_sandbox, env)
        else:
            setup.append("--remove-sandbox")  # what an earlier sandbox `make serve` left here
        if use_sandbox:
            from oncall.clock import now
            from oncall.sandbox.seed import last_handoff
            from oncall.sandbox.server import Sandbox

            sandbox = stack.enter_context(Sandbox.seeded(last_handoff(now()), port=sandbox_port))
            env.update(sandbox.env(source))
            env["ONCALL_GITHUB_WRITE_INTERVAL"] = "0"
            print(
                f"serve: sandbox fakes on {sandbox.url} (a seeded week ending at the last Tuesday hand-off)"
            )
        _run([str(BIN / "prefect"), "work-pool", "create", "oncall", "--type", "process"], env, check=False)
        done = _run(setup, env)
        for line in done.stdout.splitlines():
            if not use_sandbox and line.startswith(("⚠", "✓")):
                print(f"serve: setup blocks: {line}")
        # the schedules follow the team's settings (the sandbox's are the defaults), as `oncall deploy` does
        _run([str(BIN / "oncall"), "deploy"], env)
        stack.enter_context(
            _process([str(BIN / "prefect"), "worker", "start", "--pool", "oncall"], env, home / "worker.log")
        )
        print(f"serve: 4 deployments registered, worker running (log: {home / 'worker.log'})")
        print(
            f"\n  Prefect UI: http://127.0.0.1:{port}/deployments  (click a deployment, then Run)\n\nCtrl-C stops it.",
            flush=True,
        )
        try:
            while server.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            print("\nserve: stopping the worker, the sandbox and the server")


def forget_sandbox(env: dict[str, str]) -> None:
    """Delete the settings Variable and the Secret blocks this sandbox `make serve` wrote: they
    point at a fake that is gone, and would stay in the server's database for the next serve."""
    clean = {k: v for k, v in env.items() if not k.startswith("ONCALL_")}
    done = _run([str(BIN / "python"), "-m", "deployments.setup", "--forget-sandbox"], clean, check=False)
    print(
        "serve: removed the sandbox's Secret blocks and settings Variable"
        if done.returncode == 0
        else f"serve: could not remove the sandbox's blocks ({done.stderr.strip()[-300:]}); "
        "`oncall setup blocks --remove-sandbox` does it later"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__)
    parser.add_argument("--port", type=int, default=4200, help="Prefect server port (default: 4200)")
    parser.add_argument("--sandbox-port", type=int, default=8787, help="sandbox port (default: 8787)")
    parser.add_argument("--home", default=str(ROOT / ".prefect-serve"), help="PREFECT_HOME for the server")
    parser.add_argument(
        "--database-url", help="postgresql+asyncpg://... for a PostgreSQL-backed server (default: SQLite)"
    )
    args = parser.parse_args(argv)
    # Ctrl-C is how this stops. A shell starts background jobs with SIGINT ignored, and Python
    # keeps an ignored SIGINT ignored; take it back so Ctrl-C (or kill -INT) always stops us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        settings = load_settings()  # the environment and the config file
    except ConfigError as exc:
        print(f"make serve: {exc}", file=sys.stderr)
        return 2
    source = settings.source
    # The source's credential set means "use the real services"; the sandbox otherwise.
    name = source_spec(source).credential  # settings.source is always a registered name
    credential = f"ONCALL_{name.upper()}"
    real = getattr(settings, name) is not None
    if real:
        print(
            f"serve: {credential} is set: using the real services from your ONCALL_* settings and config file"
        )
    else:
        print(f"serve: {credential} is not set: serving the sandbox fakes (your config file is not used)")
    serve(
        args.port,
        args.sandbox_port,
        Path(args.home),
        use_sandbox=not real,
        database_url=args.database_url,
        source=source,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
