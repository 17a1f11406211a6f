"""The Dagster instance's monitoring state as Prometheus metrics, for alerting.

The monitoring checks run in Dagster, not in the service, so Prometheus cannot see them on
the service's /metrics. `python -m titanic_assets.commands.instance_metrics --port
9464`, run beside the daemon with the same DAGSTER_HOME (SQLite locally, Postgres in
production), answers each scrape with the latest evaluation of each check the retrain
sensor watches (`drift`: no_input_drift; `performance`: the realized-accuracy check), per
configured model (label `model`), read
from the instance:

- `titanic_<check>_check_passed`: 1 when the latest evaluation passed, 0 when it failed;
  absent before the first evaluation.
- `titanic_<check>_check_timestamp_seconds`: when that evaluation was recorded.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from typing import Any

import dagster as dg

from titanic_assets.core.instances import instance_names
from titanic_assets.loop.monitoring.check_results import latest_evaluation, watched_checks


class MonitoringChecksCollector:
    """A prometheus_client collector: reads the instance at scrape time, holds no state."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for name in ("drift", "performance"):
            passed = GaugeMetricFamily(
                f"titanic_{name}_check_passed",
                f"1 when the latest {name} check evaluation passed, 0 when it failed.",
                labels=["model"],
            )
            recorded = GaugeMetricFamily(
                f"titanic_{name}_check_timestamp_seconds",
                f"When the latest {name} check evaluation was recorded (Unix time).",
                labels=["model"],
            )
            for model in instance_names():
                latest = latest_evaluation(self.instance, watched_checks(model)[name])
                if latest is not None:
                    record, evaluation = latest
                    passed.add_metric([model], 1.0 if evaluation.passed else 0.0)
                    recorded.add_metric([model], record.event.timestamp)
            yield passed
            yield recorded


def main(argv: list[str] | None = None) -> None:
    """Serve the metrics on host:port until stopped."""
    from prometheus_client import REGISTRY, start_http_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9464)
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        REGISTRY.register(MonitoringChecksCollector(instance))
        start_http_server(args.port, addr=args.host)
        threading.Event().wait()


if __name__ == "__main__":
    main()
