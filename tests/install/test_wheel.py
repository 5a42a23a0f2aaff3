"""The wheel, as a user installs it: built from this checkout, installed into a fresh virtualenv
with nothing else, its dependencies held to uv.lock's versions (`uv export`, without the project),
then `oncall demo` run from a folder outside the checkout. Templates and the sandbox's data must
come from the wheel's package data: nothing can be imported from here."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

from tests.install.conftest import BIN, ROOT, base_python, run
from tests.processes import clean_env


def test_the_wheel_installs_alone_and_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    started = time.monotonic()
    uv = str(BIN / "uv")
    uv_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    dist = tmp_path / "dist"
    run([uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], env=uv_env, cwd=tmp_path)
    [wheel] = dist.glob("oncall_flows-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"oncall/templates/coe.md", "oncall/templates/coe.docx"} <= names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(
        run([uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"], env=uv_env, cwd=ROOT)
    )
    assert "-e " not in constraints.read_text()
    venv = tmp_path / "venv"
    run([uv, "venv", "-q", "--python", str(base_python()), str(venv)], env=uv_env, cwd=tmp_path)
    py = str(venv / "bin" / "python")
    run(
        [uv, "pip", "install", "-q", "--python", py, "-c", str(constraints), str(wheel)],
        env=uv_env,
        cwd=tmp_path,
    )
    installed = time.monotonic()

    user = tmp_path / "user"  # a folder of the user's, not the checkout
    user.mkdir()
    env = {
        **clean_env(),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    where = run([py, "-c", "import oncall, flows, deployments; print(oncall.__file__)"], env=env, cwd=user)
    assert Path(where.strip()).is_relative_to(venv), where
    out = user / "demo"
    runs = []
    for _ in range(2):  # a second run replays the same week into the same folder
        run([str(venv / "bin" / "oncall"), "demo", "--out", "demo"], env=env, cwd=user, timeout=400)
        runs.append({p.name: p.read_text() for p in (out / "issues").glob("*.md")})
    assert "Runbook coverage" in (out / "handoff.md").read_text()
    assert len(runs[0]) > 10
    assert runs[1] == runs[0]  # the same issues, none twice, none changed by the replay
    coe = out / "coe" / "inc-7f3a-0001.md"  # coe-prep's, beside the earlier COE the demo seeds
    assert "{{" not in coe.read_text()  # the COE template came from the wheel and was filled
    shutil.rmtree(venv)  # thousands of files the suite's leak scan need not read
    print(
        f"wheel built and installed in {installed - started:.1f} s, demo in {time.monotonic() - installed:.1f} s"
    )
