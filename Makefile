# Two commands: `make dev` brings the system up, `make test` runs the whole test suite.
# Each bootstraps what it needs: uv (via pip, if missing), then the locked environment.

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# The instance lives in this repository: dagster.yaml here, state under .dagster/.
export DAGSTER_HOME := $(CURDIR)
# The BentoML model store (registered models, built bentos) too, unless set: .bentoml/.
export BENTOML_HOME ?= $(CURDIR)/.bentoml
DAGSTER_PORT ?= 3000
SERVICE_PORT ?= 3001
# The model `serve`, `materialize` and `monitor` act on: a folder under titanic_assets/defs/.
MODEL ?= titanic

.PHONY: install dev serve test materialize monitor check lint bench

install:  ## The locked environment in .venv (installs uv with pip if it is missing)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

dev: install  ## Dagster on http://localhost:3000, one service per model from :3001; Ctrl-C stops all
	$(UV) run --frozen python -m titanic_assets.commands.dev \
		--dagster-port $(DAGSTER_PORT) --service-port $(SERVICE_PORT)

serve: install  ## MODEL's service alone on SERVICE_PORT (ready once a model is promoted)
	TITANIC_MODEL=$(MODEL) $(UV) run --frozen bentoml serve bento.service:ModelService \
		--host 127.0.0.1 --port $(SERVICE_PORT)

test: install  ## The whole test suite
	$(UV) run --frozen pytest

materialize: install  ## Materialize MODEL's graph headless, with its checks
	$(UV) run --frozen dg launch --assets 'key:$(MODEL)/* and not key:$(MODEL)/hourly_traffic'

monitor: install  ## Compact MODEL's new traffic and evaluate monitoring over it (ARGS=--all: every hour)
	$(UV) run --frozen python -m titanic_assets.commands.monitor --model $(MODEL) $(ARGS)

check: install  ## Load every definition, as the code location does
	$(UV) run --frozen dg check defs

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

bench: install  ## The benchmarks (the service benchmark needs wrk); stamped results in benchmarks/results/
	$(UV) run --frozen python benchmarks/pipeline.py
	$(UV) run --frozen python benchmarks/service.py
	$(UV) run --frozen python benchmarks/prediction_path.py
	$(UV) run --frozen python benchmarks/drift.py
	$(UV) run --frozen python benchmarks/batch_scoring.py
	$(UV) run --frozen python benchmarks/promotion.py
	$(UV) run --frozen python benchmarks/loop.py
	$(UV) run --frozen python benchmarks/monitoring_scale.py
	$(UV) run --frozen python benchmarks/estimation.py

.PHONY: docs
docs: install  ## The documentation site on http://127.0.0.1:8000, rebuilt on every change
	$(UV) run --frozen mkdocs serve --dev-addr 127.0.0.1:8000
