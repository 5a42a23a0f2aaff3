# The image every oncall-flows flow run starts from on Kubernetes (deployments/kubernetes/prefect.yaml):
# Python, git, uv and every dependency pinned in uv.lock, in one virtualenv on PATH. The code is not
# baked in: each run's pull steps clone the repository and sync that commit's uv.lock into this
# virtualenv (a no-op while the lock is the one built here), so an image outlives code changes.
#
#   docker build -t REGISTRY/oncall-flows:$(git rev-parse --short HEAD) .
#   docker push REGISTRY/oncall-flows:...   # then name it in deployments/kubernetes/prefect.yaml
#
# tests/install/test_image.py runs these RUN lines (all but apt-get's) in a fresh virtualenv.
FROM python:3.11-slim

ARG UV_VERSION=0.13.9
ENV VIRTUAL_ENV=/opt/oncall/venv \
    UV_PROJECT_ENVIRONMENT=/opt/oncall/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    PATH=/opt/oncall/venv/bin:$PATH \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/oncall/lock
COPY pyproject.toml uv.lock ./
RUN python -m venv "$VIRTUAL_ENV" && "$VIRTUAL_ENV/bin/python" -m pip install -q --no-cache-dir "uv==$UV_VERSION"
# --inexact: uv itself (a dev dependency) stays in the virtualenv
RUN uv sync --frozen --no-dev --no-install-project --inexact --compile-bytecode

WORKDIR /opt/oncall
