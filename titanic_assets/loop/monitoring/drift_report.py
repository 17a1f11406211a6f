"""Monitoring: the traffic's drift from the serving model's training data, its check, and the
job and sensor that evaluate the monitoring windows once new hours are compacted.

The drift statistics are ml/drift.py; the windows come from the compacted hours
(core/traffic_windows.py). The reference is the one stored with the serving model (its
training rows' raw inputs), so a retrained model brings its own reference and the next
report compares against it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.core.registry import RegisteredModel
from titanic_assets.defs.resources import LandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import check_result, materialize_result
from titanic_assets.loop.monitoring.check_results import DRIFT_CHECK


@dataclass(frozen=True)
class TrafficDrift:
    """A drift report together with the model and window it is about."""

    model: RegisteredModel
    start: datetime
    end: datetime
    report: Any  # ml.drift.DriftReport
    window_rows: int  # the report tests a uniform sample of them (report.n_current rows)


def _served_model(loop: Loop) -> RegisteredModel:
    model = loop.store.promoted_model()
    if model is None:
        raise dg.Failure(
            description="No model is being served yet (none was promoted), so there is no "
            "traffic to monitor: materialize serving_model first."
        )
    return model


def _output_plot(loop: Loop, model: RegisteredModel, sample: Any) -> str:
    """The traffic's predicted probabilities against the same model's on its held-out rows:
    on its own training rows a model is over-confident, so those are not what unseen rows
    get (older models, which kept no held-out rows, fall back to them)."""
    from titanic_assets.ml import plots

    held_out = model.held_out()
    baseline = held_out if len(held_out) else model.reference()
    # Held-out rows' labels may be in what the model's design learned: not their own.
    key = loop.domain.key
    own = baseline[key].tolist() if key in baseline else None
    probabilities = model.probabilities(baseline[list(loop.domain.input_names)], own)
    return plots.numeric_drift(
        "predicted probability", probabilities, sample["probability"].to_numpy(dtype=float)
    )


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("monitoring"),
        kinds={"scipy", "matplotlib"},
        deps=[loop.key("serving_model"), loop.key("hourly_traffic")],
    )
    def drift_report(prediction_log: PredictionLog) -> dg.MaterializeResult[TrafficDrift]:
        """Has the serving model's traffic drifted from its training data?

        alibi-detect's tabular drift test per raw input (Kolmogorov-Smirnov for numbers,
        chi-squared for categories, Bonferroni-corrected) against the reference stored with the
        serving model, with the Population Stability Index as the size of each change and plots
        of the drifted features. Over three windows of the compacted hours: since the model was
        promoted (what the check judges), the last 24 hours and the newest hour, each a uniform
        sample of at most 20,000 of its rows (core/traffic_windows.py). Below drift.MIN_ROWS
        rows a window says "not enough traffic". The numbers are numeric metadata, so the UI
        charts drift over time.
        """
        import pandas as pd

        from titanic_assets.core.traffic_windows import drift_sample, standard_windows
        from titanic_assets.ml import drift

        monitored = loop.domain.monitored
        model = _served_model(loop)
        reference = model.reference()
        place = loop.log(prediction_log).place
        windows = standard_windows(place, model.version, model.created_at, datetime.now(UTC))
        reports, samples = [], []
        for window in windows:
            sample = drift_sample(place, window)
            if not len(sample):
                sample = reference.iloc[:0]
            reports.append(drift.drift_report(monitored, reference, sample))
            samples.append(sample)
        since, report, sample = windows[0], reports[0], samples[0]
        metadata: dict[str, Any] = {
            "summary": report.summary,
            "enough_traffic": report.enough_traffic,
            "drift_detected": report.drift_detected,
            "drifted_features": ", ".join(report.drifted_features) or "none",
            "n_reference": report.n_reference,
            "n_current": report.n_current,
            "window_rows": since.rows,
            "min_rows": report.min_rows,
            "window_start": dg.MetadataValue.timestamp(since.start),
            "window_end": dg.MetadataValue.timestamp(since.end),
            "serving_model": model.tag,
            "predicted_positive_rate": dg.MetadataValue.float(
                since.predicted_positive / since.rows if since.rows else 0.0
            ),
            "windows": dg.MetadataValue.md(
                pd.DataFrame(
                    [
                        {
                            "window": w.name,
                            "hours": len(w.hours),
                            "rows": w.rows,
                            "tested": r.n_current,
                            "drifted": ", ".join(r.drifted_features) or "-",
                            "largest PSI": f"{r.largest_psi:.3f}" if r.enough_traffic else "-",
                            "summary": r.summary,
                        }
                        for w, r in zip(windows, reports, strict=True)
                    ]
                ).to_markdown(index=False)
            ),
        }
        for window, window_report in zip(windows[1:], reports[1:], strict=True):
            key = window.name.replace(" ", "_")
            metadata[f"{key}_drift_detected"] = window_report.drift_detected
            if window_report.enough_traffic:
                metadata[f"{key}_largest_psi"] = dg.MetadataValue.float(window_report.largest_psi)
        if report.enough_traffic:
            metadata.update(
                share_drifted=dg.MetadataValue.float(report.share_drifted),
                smallest_p_value=dg.MetadataValue.float(report.smallest_p_value),
                largest_psi=dg.MetadataValue.float(report.largest_psi),
                p_value_threshold=dg.MetadataValue.float(report.threshold),
                features=dg.MetadataValue.md(pd.DataFrame(report.rows()).to_markdown(index=False)),
                unseen_categories=dg.MetadataValue.json(report.unseen_categories),
                psi_reading=dg.MetadataValue.md(
                    f"PSI < {drift.PSI_MODERATE} stable, {drift.PSI_MODERATE}-{drift.PSI_MAJOR} "
                    f"moderate, > {drift.PSI_MAJOR} major change. Per-feature test: "
                    f"{report.correction}-corrected p < {report.threshold:.4g}."
                ),
            )
            for feature, image in drift.drift_plots(monitored, reference, sample, report).items():
                metadata[f"plot_{feature}"] = dg.MetadataValue.md(image)
            metadata["probability_distribution"] = dg.MetadataValue.md(
                _output_plot(loop, model, sample)
            )
        return materialize_result(
            value=TrafficDrift(
                model=model, start=since.start, end=since.end, report=report, window_rows=since.rows
            ),
            metadata=metadata,
        )

    @dg.asset_check(
        asset=loop.key("drift_report"),
        name=DRIFT_CHECK,
        description=(
            "Fails (error) when the traffic's inputs drifted from the serving model's training "
            "data; the retrain sensor watches it, and the metadata says whether there is new "
            "labelled data to retrain on. Not enough traffic is not a failure."
        ),
    )
    def no_input_drift(
        drift_report: TrafficDrift,
        landing_area: LandingArea,
        prediction_log: PredictionLog,
        monitoring_policy: MonitoringPolicy,
    ) -> dg.AssetCheckResult:
        from titanic_assets.loop.monitoring.evidence import new_evidence

        report, model = drift_report.report, drift_report.model
        metadata: dict[str, Any] = {
            "drifted_features": dg.MetadataValue.json(report.drifted_features),
            "share_drifted": float(report.share_drifted),
            # Categories the model has never seen, per feature (open categories' new values).
            "unseen_categories": dg.MetadataValue.json(report.unseen_categories),
            "n_current": report.n_current,
            "window_rows": drift_report.window_rows,
            "serving_model": model.tag,
            "model_data_version": model.data_version,
        }
        if not report.drift_detected:
            return check_result(passed=True, description=report.summary, metadata=metadata)
        evidence = new_evidence(
            model,
            loop.landing(landing_area),
            loop.log(prediction_log),
            monitoring_policy.retrain_min_new_rows,
            loop.domain,
        )
        return check_result(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{report.summary}; {evidence.in_words}",
            metadata={**metadata, **evidence.metadata()},
        )

    monitoring_windows_job = dg.define_asset_job(
        loop.named("monitoring_windows"),
        selection=dg.AssetSelection.assets(
            loop.key("drift_report"),
            loop.key("model_performance"),
            loop.key("challenger_evaluation"),
        ),
        description="Evaluate the monitoring windows from the compacted hours: the drift report, "
        "the serving model's realized performance, with their checks, and the challenger's "
        "shadow evaluation.",
    )

    @dg.sensor(
        name=loop.named("monitoring_windows_on_new_hours"),
        job=monitoring_windows_job,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Evaluate the monitoring windows after new hours were compacted: one query "
        "of the instance for hourly_traffic's latest materialization, never a read of rows.",
    )
    def monitoring_windows_on_new_hours(context: dg.SensorEvaluationContext):
        records = context.instance.fetch_materializations(loop.key("hourly_traffic"), limit=1)
        if not records.records:
            return dg.SkipReason("no hour of traffic compacted yet")
        latest = records.records[0].storage_id
        if context.cursor and latest <= int(context.cursor):
            return dg.SkipReason("no hour compacted since the last evaluation")
        running = context.instance.get_runs(
            dg.RunsFilter(
                job_name=monitoring_windows_job.name,
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED],
            ),
            limit=1,
        )
        if running:
            return dg.SkipReason("an evaluation is running; the next tick takes what it missed")
        context.update_cursor(str(latest))
        return dg.RunRequest(run_key=f"windows-{latest}")

    return [drift_report, no_input_drift, monitoring_windows_job, monitoring_windows_on_new_hours]
