"""The Kubernetes variant of prefect.yaml declares the same deployments; only the pool differs."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _deployments(path: Path) -> dict[str, dict[str, object]]:
    spec = yaml.safe_load(path.read_text())
    keys = ("entrypoint", "schedules", "triggers", "concurrency_limit", "tags")
    return {d["name"]: {k: d.get(k) for k in keys} for d in spec["deployments"]}


def test_kubernetes_variant_matches_the_main_file() -> None:
    main = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    k8s = yaml.safe_load((ROOT / "deployments" / "kubernetes" / "prefect.yaml").read_text())
    assert _deployments(ROOT / "prefect.yaml") == _deployments(
        ROOT / "deployments" / "kubernetes" / "prefect.yaml"
    )
    assert main["definitions"]["work_pool"]["name"] == "oncall"
    assert k8s["definitions"]["work_pool"]["name"] == "oncall-k8s"
    steps = [next(iter(step)) for step in k8s["pull"]]
    assert steps[0] == "prefect.deployments.steps.git_clone"  # no path of the deploying machine
    assert "{{ prefect.variables." in k8s["pull"][0]["prefect.deployments.steps.git_clone"]["repository"]


def test_kubernetes_jobs_start_from_the_image_built_from_the_lock() -> None:
    """The stock Prefect image lacked PyGithub, gspread and google-auth, and `pip install --no-deps -e .`
    added none of them: the jobs run the Dockerfile's image and sync the clone's uv.lock into it."""
    k8s = yaml.safe_load((ROOT / "deployments" / "kubernetes" / "prefect.yaml").read_text())
    assert k8s["definitions"]["work_pool"]["job_variables"]["image"] == "{{ $ONCALL_IMAGE }}"
    [script] = [s["prefect.deployments.steps.run_shell_script"]["script"] for s in k8s["pull"][2:]]
    assert script.split()[:3] == ["uv", "sync", "--frozen"] and "--no-dev" in script.split()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock ./" in dockerfile and "uv sync --frozen --no-dev" in dockerfile
