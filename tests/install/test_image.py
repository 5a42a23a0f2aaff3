"""The Kubernetes image, simulated: no Docker daemon or registry is usable here, so the
Dockerfile's own ENV, WORKDIR, COPY and RUN lines are replayed on this machine with /opt/oncall
moved under a temporary folder (only apt-get's line is skipped: git is checked instead). Then
deployments/kubernetes/prefect.yaml's pull steps run in a flow run through a process worker
started from that virtualenv, against a file:// clone of this repository."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from oncall.sandbox.server import Sandbox
from tests.install.conftest import BIN, ROOT, base_python, run

IMAGE_ROOT = "/opt/oncall"


@dataclass
class Image:
    root: Path  # stands for /opt/oncall
    env: dict[str, str]  # the image's environment (its ENV lines over a clean one)
    skipped: list[str]

    @property
    def venv(self) -> Path:
        return Path(self.env["VIRTUAL_ENV"])


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile line, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def build_image(root: Path) -> Image:
    """Replay the Dockerfile with `root` in place of /opt/oncall and this machine's Python as the base."""
    shims = root.parent / "base-bin"  # the base image's `python` on PATH
    shims.mkdir(parents=True)
    (shims / "python").symlink_to(base_python())
    env = {**{k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "UV_CACHE_DIR")}}
    env["PATH"] = f"{shims}:/usr/local/bin:/usr/bin:/bin"
    cwd, skipped = root, []
    for word, args in _instructions((ROOT / "Dockerfile").read_text()):
        args = args.replace(IMAGE_ROOT, str(root))
        if word == "ARG":
            name, _, default = args.partition("=")
            env[name] = default
        elif word == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                env[name] = _expand(value, env)
        elif word == "WORKDIR":
            cwd = Path(args)
            cwd.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = args.split()
            for s in sources:
                shutil.copy(ROOT / s, cwd / dest)
        elif word == "RUN":
            if "apt-get" in args:
                skipped.append(args)
                continue
            run(["bash", "-euo", "pipefail", "-c", args], env=env, cwd=cwd)
        else:
            assert word == "FROM", f"the test does not replay Dockerfile instruction {word}"
    return Image(root=root, env=env, skipped=skipped)


def _docker_sends(name: str) -> bool:
    """Whether `docker build` sends file `name` to the builder: .dockerignore's last matching
    pattern decides, a `!` pattern letting a file back in."""
    sent = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if pattern and not pattern.startswith("#"):
            keep = pattern.startswith("!")
            if fnmatch.fnmatch(name, pattern.removeprefix("!")):
                sent = keep
    return sent


def test_every_file_the_dockerfile_copies_reaches_the_builder() -> None:
    """The replay copies from the checkout; a real build sees only what .dockerignore lets through."""
    sources = [
        s
        for word, args in _instructions((ROOT / "Dockerfile").read_text())
        if word == "COPY"
        for s in args.split()[:-1]
    ]
    assert sources and all(_docker_sends(s) for s in sources), sources
    assert not _docker_sends("oncall/settings.py") and not _docker_sends(
        ".venv"
    )  # the code is cloned per run


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    where = tmp_path_factory.mktemp("image")
    yield build_image(where / "opt-oncall")
    shutil.rmtree(where)  # thousands of files the suite's leak scan need not read


def test_the_dockerfile_installs_the_lock_with_the_pinned_uv(image: Image) -> None:
    started = time.monotonic()
    makefile_uv = re.search(r"^UV_VER\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv and image.env["UV_VERSION"] == makefile_uv.group(1)
    assert [s.split()[0:2] for s in image.skipped] == [["apt-get", "update"]]  # git's install only
    assert shutil.which("git"), "git must be on this machine, as the image installs it"
    py = str(image.venv / "bin" / "python")
    assert run([py, "-c", "import sys; print(sys.prefix)"], env=image.env, cwd=image.root).strip() == str(
        image.venv
    )
    # Every runtime dependency at the lock's version; none of the dev group but uv; no oncall code.
    exported = run(
        [str(BIN / "uv"), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        env={**os.environ},
        cwd=ROOT,
    )
    pins = {}
    for line in exported.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                pins[req.name] = str(req.specifier).removeprefix("==")
    have = json.loads(
        run(
            [str(image.venv / "bin" / "uv"), "pip", "list", "--format", "json"], env=image.env, cwd=image.root
        )
    )
    installed = {p["name"].lower(): p["version"] for p in have}
    assert {"pygithub", "gspread", "google-auth", "prefect"} <= set(pins)
    missing = {n: v for n, v in pins.items() if installed.get(n.lower()) != v}
    assert not missing, f"not installed at the lock's version: {missing}"
    assert set(installed) - {n.lower() for n in pins} <= {"uv", "pip", "setuptools"}
    code = "import importlib.util as u; print([m for m in ('oncall', 'flows', 'tasks') if u.find_spec(m)])"
    assert run([py, "-c", code], env=image.env, cwd=image.root).strip() == "[]"
    print(f"image replayed; checks took {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file:// clone of this repository's committed main branch, as a team's remote would be."""
    bare = tmp_path_factory.mktemp("remote") / "oncall-flows.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(bare)], check=True, timeout=120)
    return f"file://{bare}"


def test_the_kubernetes_pull_steps_run_a_flow_through_a_process_worker(
    image: Image, repo: str, prefect_server: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    pull = yaml.safe_load((ROOT / "deployments" / "kubernetes" / "prefect.yaml").read_text())["pull"]
    client = {**prefect_server, "PREFECT_HOME": str(tmp_path / "client")}
    run(
        [str(BIN / "prefect"), "work-pool", "create", "k8s-steps", "--type", "process"],
        env=client,
        cwd=tmp_path,
    )
    run(
        [str(BIN / "prefect"), "variable", "set", "oncall_repo_url", repo, "--overwrite"],
        env=client,
        cwd=tmp_path,
    )
    create = f"""
import json
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
with get_client(sync_client=True) as c:
    flow_id = c.create_flow_from_name("shift-handoff")
    c.create_deployment(flow_id=flow_id, name="k8s-steps", entrypoint="flows/shift_handoff.py:shift_handoff",
                        work_pool_name="k8s-steps", pull_steps=json.loads({json.dumps(json.dumps(pull))}))
run = run_deployment("shift-handoff/k8s-steps", parameters={{"dry_run": True}}, timeout=0)
print(run.id)
"""
    run_id = run([sys.executable, "-c", create], env=client, cwd=tmp_path).strip().splitlines()[-1]
    # The worker is the image: its venv, its environment; the team's settings point at the sandbox.
    worker_env = {
        **image.env,
        **sandbox.env(),
        "ONCALL_USE_PREFECT_CONFIG": "0",
        "PREFECT_API_URL": prefect_server["PREFECT_API_URL"],
        "PREFECT_HOME": str(tmp_path / "worker"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    workdir = tmp_path / "job"
    workdir.mkdir()
    started = time.monotonic()
    run(
        [str(image.venv / "bin" / "prefect"), "worker", "start", "--pool", "k8s-steps", "--run-once"],
        env=worker_env,
        cwd=workdir,
        timeout=300,
    )
    read = f"""
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as c:
    r = c.read_flow_run("{run_id}")
    print(r.state.type.value, r.state.message)
    for log in c.read_logs():
        print(log.message)
"""
    out = run([sys.executable, "-c", read], env=client, cwd=tmp_path)
    assert out.startswith("COMPLETED"), out[-4000:]
    assert "Cloned repository" in out or "git_clone" in out, out[-4000:]
    print(f"flow run through the worker took {time.monotonic() - started:.1f} s")


def test_every_flow_imports_from_the_clone_in_the_image(image: Image, repo: str, tmp_path: Path) -> None:
    """What the pull steps leave: the clone as working directory, the image's Python. Each flow
    module and the vendor libraries it needs import there (the stock Prefect image failed here)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", repo, str(clone)], check=True, timeout=120)
    step = yaml.safe_load((ROOT / "deployments" / "kubernetes" / "prefect.yaml").read_text())["pull"][2]
    run(shlex.split(step["prefect.deployments.steps.run_shell_script"]["script"]), env=image.env, cwd=clone)
    code = (
        "import sys; sys.path.insert(0, '.')\n"  # as Prefect's entrypoint loader does
        "import github, gspread, google.auth\n"
        "import flows.shift_handoff, flows.runbook_gaps, flows.incident_watch, flows.coe_prep\n"
        "print(flows.shift_handoff.__file__)"
    )
    try:
        where = run([str(image.venv / "bin" / "python"), "-c", code], env=image.env, cwd=clone).strip()
        assert Path(where).resolve().is_relative_to(clone.resolve())
    finally:
        shutil.rmtree(clone)  # the sandbox's own canary credentials are in its source: not a leak
