"""The command-line entry points, one module each, run as
`python -m titanic_assets.commands.<name>`: `dev` (`make dev`), `model_sync` (beside a service
on another machine) and `instance_metrics` (beside the Dagster daemon). Each reads the
settings once, at start, where it needs them."""
