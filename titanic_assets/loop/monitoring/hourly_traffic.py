"""Monitoring: the traffic, one hour at a time, and the sensor that compacts what has landed.

Each hour of traffic is a partition: the predictions made in it and the outcomes come back
for them, compacted from the landed JSON lines into Parquet and summaries
(core/compaction.py). A run costs one hour's rows whatever the history; an hour is compacted
again when something new lands for it (a late outcome lands in its prediction's hour), and
the windows (drift_report, model_performance) are then evaluated from the hours' summaries.
Backfills over days work from the UI or `make monitor`.
"""

import time
from datetime import datetime
from typing import Any

import dagster as dg

from titanic_assets.core.log_files import HOUR_FORMAT
from titanic_assets.defs.resources import LandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result

# The current hour is a partition too (end_offset=1): traffic is monitored as it lands.
HOURLY = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00", end_offset=1)
# A file written this long before the sensor's last look may not have been seen yet.
LISTING_SLACK_SECONDS = 2.0


def partition_key(hour: str) -> str:
    """The partition key (`2026-11-30-09:00`) of an hour (`2026113009`)."""
    return datetime.strptime(hour, HOUR_FORMAT).strftime("%Y-%m-%d-%H:%M")


def partition_hour(key: str) -> str:
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").strftime(HOUR_FORMAT)


def _markdown(rows: list[dict[str, Any]]) -> str:
    import pandas as pd

    return pd.DataFrame(rows).to_markdown(index=False)


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("monitoring"),
        partitions_def=HOURLY,
        kinds={"duckdb", "parquet"},
    )
    def hourly_traffic(
        context: dg.AssetExecutionContext,
        prediction_log: PredictionLog,
        labels_landing: LandingArea,
    ) -> dg.MaterializeResult:
        """The rows the service scored in one hour and the outcomes come back for them:
        compacted to Parquet beside the prediction log (`compacted/`), with per-model-version
        summaries that the drift and performance windows add up. Outcomes landed in bulk (the
        labels landing area) join the hour's predictions they name; a stored /feedback outcome
        wins a contradiction. A landed line or file that cannot be read is skipped, named and
        counted here, never a failed run; an hour without traffic is a valid, empty hour.
        Compacting also removes landed files older than the keep period whose hour is compacted.
        """
        from titanic_assets.core import compaction
        from titanic_assets.loop.metadata import markdown_table

        domain = loop.domain
        prediction_log = loop.log(prediction_log)
        hour = partition_hour(context.partition_key)
        place = prediction_log.place
        if hour < compaction.oldest_open_hour(
            prediction_log.keep_days
        ) and compaction.read_summaries(place, [hour]):
            return materialize_result(
                metadata={
                    "closed": f"{hour} is older than the keep period ({prediction_log.keep_days} "
                    "days) and compacted: its landed predictions are gone, its labelled rows are "
                    "kept as they are, and it is not compacted again"
                }
            )
        started = time.perf_counter()
        landed = loop.landing(labels_landing).read_tables(dtype=str)
        if landed is not None and {"id", domain.label} <= set(landed.columns):
            # Only valid labels: the landed_outcomes contract names the others.
            valid = [str(c) for c in domain.classes]
            landed = landed[landed[domain.label].astype(str).str.strip().isin(valid)]
        else:
            landed = None
        result = compaction.compact_hour(
            place,
            hour,
            place.landing(hour),
            domain.inputs,
            landed,
            label=domain.label,
            positive=domain.positive,
        )
        seconds = time.perf_counter() - started
        removed = compaction.expire(place, prediction_log.keep_days)
        latest = compaction.read_compacted(
            place, "predictions", [hour], "SELECT * FROM rows ORDER BY timestamp DESC LIMIT 10"
        )
        by_version = [
            {
                "model_version": version,
                "predictions": int(v["rows"]),
                "predicted positive": f"{v['predicted_positive'] / max(1, v['rows']):.1%}",
                "outcomes": int(v["labelled"]),
                "correct": int(v["correct"]),
            }
            for version, v in sorted(result.versions.items())
        ]
        metadata: dict[str, Any] = {
            "dagster/row_count": result.rows,
            "labelled_rows": result.labelled,
            "landing_files": result.files,
            "landing_bytes": result.bytes,
            "landing_fingerprint": result.fingerprint,
            "skipped_lines": sum(result.skipped.values()),
            "skipped_files": dg.MetadataValue.json(result.skipped),
            "landed_outcomes_contradicting_feedback": dg.MetadataValue.json(result.conflicts[:100]),
            "compaction_seconds": dg.MetadataValue.float(round(seconds, 3)),
            "expired_files": len(removed),
            "prediction_log": prediction_log.location,
            "compacted_file": dg.MetadataValue.path(
                f"{prediction_log.location}/{place.compacted_name('predictions', hour, 'parquet')}"
            ),
        }
        if by_version:
            metadata["by_model_version"] = dg.MetadataValue.md(_markdown(by_version))
        if len(latest):
            metadata["preview"] = markdown_table(latest)
        if result.skipped:
            context.log.warning(f"skipped unreadable landed lines: {result.skipped}")
        return materialize_result(metadata=metadata)

    hourly_traffic_job = dg.define_asset_job(
        loop.named("hourly_traffic_job"),
        selection=[hourly_traffic],
        partitions_def=HOURLY,
        description="Compact one hour of landed traffic and outcomes.",
    )

    @dg.sensor(
        name=loop.named("hourly_traffic_on_landing"),
        job=hourly_traffic_job,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Compact each hour that something new landed for: predictions, or outcomes "
        "for its predictions. Reads file names, sizes and times, never rows.",
    )
    def hourly_traffic_on_landing(
        context: dg.SensorEvaluationContext,
        prediction_log: PredictionLog,
        monitoring_policy: MonitoringPolicy,
    ):
        import json

        from titanic_assets.core.compaction import oldest_open_hour
        from titanic_assets.core.log_files import hour_of

        prediction_log = loop.log(prediction_log)
        cursor = json.loads(context.cursor) if context.cursor else {}
        seen_at, requested_at = cursor.get("seen_at", 0.0), cursor.get("requested_at", 0.0)
        now = time.time()
        if now - requested_at < monitoring_policy.drift_refresh_seconds:
            return dg.SkipReason(
                f"last compaction requested {now - requested_at:.0f} s ago "
                f"(minimum interval {monitoring_policy.drift_refresh_seconds:.0f} s)"
            )
        # Files written since the last look; a bucket is listed from the hour before it on.
        arrived_from = hour_of(seen_at - 3600) if seen_at else ""
        changed: dict[str, float] = {}
        oldest = oldest_open_hour(prediction_log.keep_days)
        for landed in prediction_log.place.landing(arrived_from):
            if landed.hour >= oldest and landed.modified >= seen_at - LISTING_SLACK_SECONDS:
                changed[landed.hour] = max(changed.get(landed.hour, 0.0), landed.modified)
        if not changed:
            context.update_cursor(json.dumps({"seen_at": now, "requested_at": requested_at}))
            return dg.SkipReason("nothing new landed")
        context.update_cursor(json.dumps({"seen_at": now, "requested_at": now}))
        return dg.SensorResult(
            run_requests=[
                # Keyed by the hour and its newest file: the same landing is compacted once.
                dg.RunRequest(partition_key=partition_key(hour), run_key=f"{hour}-{newest:.6f}")
                for hour, newest in sorted(changed.items())
            ]
        )

    return [hourly_traffic, hourly_traffic_job, hourly_traffic_on_landing]
