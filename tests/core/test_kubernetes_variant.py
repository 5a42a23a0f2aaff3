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
