"""Compact what has landed and evaluate monitoring over what is new, headless (`make monitor`).

For one model (`--model`, default TITANIC_MODEL), on the instance in DAGSTER_HOME, as the
sensors would: each hour whose landed files (names and sizes) differ from what its
compaction read is compacted again (`<model>_hourly_traffic_job`, one run per hour), then
the monitoring windows are evaluated once (`<model>_monitoring_windows`: the drift report
and the serving model's performance, with their checks). `--all` (`make monitor
ARGS=--all`) compacts every open hour with landed files, as after outcomes were landed in
bulk for older hours. Hours past the keep period are closed
(core/compaction.oldest_open_hour).
"""

from __future__ import annotations

import argparse
import time

import dagster as dg

from titanic_assets.core.compaction import fingerprint, oldest_open_hour, read_summaries
from titanic_assets.core.instances import read_instance
from titanic_assets.core.log_files import LogPlace
from titanic_assets.core.settings import load_settings


def stale_hours(place: LogPlace, keep_days: int = 30) -> list[str]:
    """The open hours whose landed files are not the ones their compaction read."""
    oldest = oldest_open_hour(keep_days)
    landed: dict[str, list] = {}
    for file in place.landing():
        if file.hour >= oldest:
            landed.setdefault(file.hour, []).append(file)
    compacted = read_summaries(place, sorted(landed))
    return [
        hour
        for hour, files in sorted(landed.items())
        if hour not in compacted or compacted[hour].fingerprint != fingerprint(files)
    ]


def main(argv: list[str] | None = None) -> int:
    from titanic_assets.definitions import defs
    from titanic_assets.loop.monitoring.hourly_traffic import partition_key

    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="compact every hour with landed files")
    parser.add_argument("--model", default=settings.model, help="a configured model's name")
    args = parser.parse_args(argv)
    instance = read_instance(args.model)
    location = instance.log_location(settings.prediction_log)
    place = LogPlace(location)
    definitions = defs()
    started = time.perf_counter()
    with dg.DagsterInstance.get() as dagster:
        keep_days = settings.prediction_log_keep_days
        hours = (
            sorted({f.hour for f in place.landing() if f.hour >= oldest_open_hour(keep_days)})
            if args.all
            else stale_hours(place, keep_days)
        )
        print(f"{len(hours)} hour(s) to compact in {location}")
        compact = definitions.resolve_job_def(f"{instance.name}_hourly_traffic_job")
        for hour in hours:
            result = compact.execute_in_process(
                partition_key=partition_key(hour), instance=dagster, raise_on_error=False
            )
            print(f"  {hour}: {'compacted' if result.success else 'FAILED'}")
        evaluate = definitions.resolve_job_def(f"{instance.name}_monitoring_windows")
        result = evaluate.execute_in_process(instance=dagster, raise_on_error=False)
        for evaluation in result.get_asset_check_evaluations():
            verdict = "passed" if evaluation.passed else "FAILED"
            print(f"  check {evaluation.check_name}: {verdict}: {evaluation.description or ''}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
