# Every target bootstraps .venv from uv.lock on a fresh machine with only python3.
PY      ?= python3
VENV    := .venv
UV      := $(VENV)/bin/uv
UV_VER  := 0.13.9
STAMP   := $(VENV)/.synced-$(shell cat uv.lock pyproject.toml | cksum | cut -d' ' -f1)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export UV_PYTHON_DOWNLOADS := never

.PHONY: venv demo test chaos test-server test-browser test-postgres test-install lint fmt bench docs template clean

$(STAMP): uv.lock pyproject.toml
	@test -x $(UV) || ($(PY) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q "uv==$(UV_VER)")
	@$(UV) sync --frozen --python $(VENV)/bin/python -q
	@rm -f $(VENV)/.synced-* && touch $@

venv: $(STAMP)  ## sync .venv from uv.lock (every target does this first)

demo: $(STAMP)  ## run every flow against the seeded sandbox; outputs under out/demo/
	$(VENV)/bin/oncall demo --out out/demo

# The suite mostly waits (on the fakes, the Prefect server, child interpreters): with pytest-xdist
# it runs in TEST_WORKERS processes, each with its own sandbox and Prefect test server, a file's
# tests together in one (module fixtures, tests that build on the one before). TEST_WORKERS=0 runs
# it in this process. Evaluated when the recipe runs, after $(STAMP) has synced the lock.
TEST_WORKERS ?= 2
XDIST = $(shell [ "$(TEST_WORKERS)" != 0 ] && $(VENV)/bin/python -c "import xdist" 2>/dev/null && echo "-n $(TEST_WORKERS) --dist $(1)")

test: $(STAMP)  ## the whole test suite (chaos, real-server, browser and PostgreSQL tests have their own targets); TEST_WORKERS=2
	$(VENV)/bin/python -m pytest -q $(call XDIST,loadfile) --ignore=tests/browser --ignore=tests/postgres --ignore=tests/server --ignore=tests/install --ignore=tests/flows/test_chaos.py

CHAOS_RUNS ?= 50
# Each chaos scenario is independent (its own repositories, COEs and watermark), so they spread
# over the workers one by one; -rP prints each one's seeded-runs line, which -s cannot from a worker.
chaos: $(STAMP)  ## every flow, CHAOS_RUNS seeded runs (default 50) each, under 20% faults on every API; TEST_WORKERS=2
	CHAOS_RUNS=$(CHAOS_RUNS) $(VENV)/bin/python -m pytest -q $(if $(call XDIST,load),$(call XDIST,load) -rP,-s) -p no:logging --durations=0 tests/flows/test_chaos.py

test-server: $(STAMP)  ## a run killed holding its lock, on a real `prefect server start`: the lock lapses (~90 s)
	$(VENV)/bin/python -m pytest -q tests/server

test-postgres: $(STAMP)  ## the Prefect server on PostgreSQL, a flow through a worker (needs Debian's postgresql)
	$(VENV)/bin/python -m pytest -q tests/postgres

test-install: $(STAMP)  ## the wheel alone in a fresh virtualenv runs the demo; the Kubernetes image, replayed, runs a flow through a worker
	$(VENV)/bin/python -m pytest -q --durations=0 tests/install

test-browser: $(STAMP)  ## the Prefect UI under make serve, in headless Chromium (needs chromium, chromium-driver)
	$(VENV)/bin/python -m pytest -q tests/browser

lint: $(STAMP)  ## ruff (lint and format check) and mypy strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)  ## benchmarks, side by side with their baselines
	$(VENV)/bin/python -m bench

# Options go in ARGS (make reads `make serve --port=…` as its own option):
#   make serve ARGS="--port 4300 --database-url postgresql+asyncpg://…"
ARGS ?=
serve: $(STAMP)  ## Prefect server + UI on 127.0.0.1:4200, every deployment, a worker, the sandbox; options: ARGS="--help"
	$(VENV)/bin/python -m deployments.serve $(ARGS)

docs: $(STAMP)  ## regenerate the settings and flow-parameter tables in docs/ from Settings and the flow signatures
	$(VENV)/bin/python -m deployments.docs

template: $(STAMP)  ## rebuild oncall/templates/coe.docx from coe.md
	$(VENV)/bin/python -m oncall.template_docx

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
