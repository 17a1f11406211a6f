"""titanic-assets: a Dagster code location and a BentoML service for the Titanic survival model.

- `core/`: what the service shares with the pipeline (input contract, feature code, model
  registry, calibration, prediction log, batch scoring); the bento packs it. Imports
  neither Dagster nor pandas at module level.
- `ml/`: the pure data-science code (cleaning, contracts, modeling, promotion, statistics,
  drift, plots): no Dagster, no BentoML.
- `defs/`: the Dagster definitions, one folder per domain, loaded by `definitions.py`.
- `testing.py`: the harness the tests and the benchmarks share (free ports, processes
  stopped with their whole group, throwaway environments). Neither the pipeline nor the
  service imports it; `make dev` (dev.py) uses its process-group stop.

Kept empty on purpose: the service imports `titanic_assets.core` and must not pull in
Dagster with it.
"""
