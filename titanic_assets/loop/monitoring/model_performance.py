"""Monitoring: the serving model's performance on its traffic, realized (outcomes come back)
and estimated (CBPE), over windows of the compacted hours, and the check that compares it
with what its evaluation promised.

Outcomes are joined to their predictions hour by hour (hourly_traffic): a late outcome lands
in its prediction's hour, that hour alone is compacted again, and the windows add up the
hours' counts and read only the hours' labelled rows.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.defs.resources import LandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import check_result, materialize_result
from titanic_assets.loop.monitoring.check_results import PERFORMANCE_CHECK
from titanic_assets.loop.monitoring.retraining import retraining_in_words


def _promised(model: Any) -> dict[str, float]:
    """What the model's evaluation promised: its claimed (shift-aware) accuracy and ROC-AUC
    headline; the held-out figures for what it does not claim, or for a model saved
    before claims."""
    metrics = model.metadata.get("metrics", {})
    promised = {
        k: float(v)
        for k, v in metrics.get("held_out", {}).items()
        if k in ("accuracy", "roc_auc", "brier")
    }
    claim = metrics.get("claim", {})
    for name in ("accuracy", "roc_auc", "expected_cost"):
        if name in claim:
            promised[name] = float(claim[name]["estimate"])
    return promised


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("monitoring"),
        kinds={"duckdb", "pandas"},
        deps=[loop.key("serving_model"), loop.key("hourly_traffic")],
    )
    def model_performance(
        context: dg.AssetExecutionContext, prediction_log: PredictionLog
    ) -> dg.MaterializeResult:
        """The serving model on its labelled traffic since it was promoted: accuracy, ROC-AUC,
        Brier score, each with a 95% interval, a calibration table, beside what its evaluation
        promised (its claim) and the confidence-based estimate (CBPE, ml/performance.py) over all
        its traffic; whether that estimate can be trusted for this traffic (not when the labelled
        rows' realized accuracy falls outside its interval on them: over- or under-confident);
        realized and estimated accuracy over the last 24 hours and the newest hour too; and, in
        words, why the last retrain happened or did not (as of the checks' latest evaluations)."""
        import pandas as pd

        from titanic_assets.core.traffic_windows import labelled_rows, standard_windows
        from titanic_assets.ml import performance, plots

        model = loop.store.promoted_model()
        if model is None:
            raise dg.Failure(description="No model is being served yet: materialize serving_model.")
        place = loop.log(prediction_log).place
        windows = standard_windows(place, model.version, model.created_at, datetime.now(UTC))
        since = windows[0]
        labelled = labelled_rows(place, since, "outcome, probability")
        if not len(labelled):
            labelled = pd.DataFrame({"outcome": [], "probability": []})
        labels = labelled["outcome"].astype(bool).to_numpy().astype(int)
        probabilities = labelled["probability"].to_numpy(dtype=float)
        realized = performance.realized(labels, probabilities, model.threshold)
        promised = _promised(model)
        costs = None
        if loop.domain.costs is not None:  # judged by expected cost (ml/decisions.py)
            from titanic_assets.ml import decisions

            metric = decisions.for_domain(loop.domain)
            costs = metric.per_row(labels, probabilities >= model.threshold)
            realized["expected_cost"] = performance.expected_cost(costs) if len(costs) else None
        cbpe = performance.estimated_accuracy_from_sums(
            since.expected_correct, since.expected_correct_variance, since.rows
        )
        # The estimate shown: CBPE corrected by the labelled rows once there are enough of
        # them (ml/performance.py), plain CBPE before.
        estimate, method = cbpe, "CBPE (no outcomes to correct it with yet)"
        if len(labelled) >= performance.MIN_LABELLED:
            right = (probabilities >= model.threshold) == labels.astype(bool)
            estimate = performance.corrected_estimate(
                right,
                probabilities,
                model.threshold,
                since.expected_correct,
                since.expected_correct_variance,
                since.rows,
            )
            method = f"CBPE corrected by the {len(labelled)} labelled rows (difference estimator)"
        metadata: dict[str, Any] = {
            "serving_model": model.tag,
            "predictions": since.rows,
            "outcomes_received": len(labelled),
            "estimated_accuracy_method": method,
            "cbpe_accuracy": dg.MetadataValue.float(cbpe.estimate),
            "estimated_accuracy": dg.MetadataValue.float(estimate.estimate),
            "estimated_accuracy_low": dg.MetadataValue.float(estimate.low),
            "estimated_accuracy_high": dg.MetadataValue.float(estimate.high),
            "estimated_accuracy_labelled_rows": dg.MetadataValue.float(
                performance.estimated_accuracy(probabilities, model.threshold)
            ),
        }
        for name, interval in realized.items():
            if interval is None:
                continue
            metadata[f"realized_{name}"] = dg.MetadataValue.float(interval.estimate)
            metadata[f"realized_{name}_low"] = dg.MetadataValue.float(interval.low)
            metadata[f"realized_{name}_high"] = dg.MetadataValue.float(interval.high)
        for name, value in promised.items():
            metadata[f"promised_{name}"] = dg.MetadataValue.float(value)
        side_by_side = [
            {
                "metric": name,
                "realized [95% CI]": str(interval) if interval is not None else "-",
                "promised (claimed)": f"{promised[name]:.3f}" if name in promised else "-",
                "estimated [95%]": str(estimate) if name == "accuracy" else "-",
            }
            for name, interval in realized.items()
        ]
        metadata["performance"] = dg.MetadataValue.md(pd.DataFrame(side_by_side).to_markdown())
        metadata["windows"] = dg.MetadataValue.md(
            pd.DataFrame(
                [
                    {
                        "window": w.name,
                        "predictions": w.rows,
                        "outcomes": w.labelled,
                        "realized accuracy [95% CI]": (
                            str(performance.wilson(w.correct, w.labelled)) if w.labelled else "-"
                        ),
                        "estimated (CBPE)": str(
                            performance.estimated_accuracy_from_sums(
                                w.expected_correct, w.expected_correct_variance, w.rows
                            )
                        )
                        if w.rows
                        else "-",
                    }
                    for w in windows
                ]
            ).to_markdown(index=False)
        )
        if len(labelled) >= performance.MIN_LABELLED:
            # CBPE over the labelled rows themselves, against what happened on those rows.
            on_labelled = performance.estimated_accuracy_interval(probabilities, model.threshold)
            direction, verdict = performance.cbpe_trust(realized["accuracy"], on_labelled)
            metadata["cbpe_trusted"] = direction == "consistent"
            metadata["cbpe_direction"] = direction
            metadata["cbpe_verdict"] = verdict
        metadata["retraining"] = dg.MetadataValue.md(retraining_in_words(loop, context.instance))
        if len(labelled):
            metadata["calibration_table"] = dg.MetadataValue.md(
                pd.DataFrame(performance.calibration_table(labels, probabilities)).to_markdown(
                    index=False
                )
            )
        if len(labelled) >= performance.MIN_LABELLED:
            metadata["reliability_plot"] = dg.MetadataValue.md(
                plots.reliability_plot(labels, probabilities, "labelled traffic")
            )
        return materialize_result(
            value={
                "model_version": model.version,
                "labelled": len(labelled),
                "correct": int(((probabilities >= model.threshold) == labels.astype(bool)).sum()),
                "promised_accuracy": promised.get("accuracy"),
                **(
                    {}
                    if costs is None
                    else {
                        "cost": float(costs.sum()),
                        "cost_squares": float((costs**2).sum()),
                        "promised_expected_cost": promised.get("expected_cost"),
                    }
                ),
            },
            metadata=metadata,
        )

    @dg.asset_check(asset=loop.key("model_performance"), name=PERFORMANCE_CHECK, blocking=False)
    def realized_accuracy_not_worse_than_promised(
        model_performance,
        landing_area: LandingArea,
        prediction_log: PredictionLog,
        monitoring_policy: MonitoringPolicy,
    ) -> dg.AssetCheckResult:
        """Fails when the serving model's realized accuracy is significantly below what its
        evaluation promised (the claimed, shift-aware headline accuracy; the held-out figure for
        a model saved before claims): one-sided exact binomial test at p < ALPHA (0.01), and
        only from MIN_LABELLED (30) labelled rows, so a handful of outcomes never fails it.
        On failure the metadata says whether there is new labelled data to retrain on."""
        from titanic_assets.core import registry
        from titanic_assets.loop.monitoring.evidence import new_evidence

        n, correct = model_performance["labelled"], model_performance["correct"]
        promised = model_performance["promised_accuracy"]
        if "cost" in model_performance:  # a domain judged by expected cost
            promised = model_performance["promised_expected_cost"]
        if promised is None:
            return check_result(
                passed=True, description="The serving model has no promised figure to test."
            )
        p_value, worse, description, metadata = _judge(model_performance, n, correct, promised)
        model = registry.get(f"{loop.store.serving}:{model_performance['model_version']}")
        if worse and model is not None:
            evidence = new_evidence(
                model,
                loop.landing(landing_area),
                loop.log(prediction_log),
                monitoring_policy.retrain_min_new_rows,
                loop.domain,
            )
            description = f"{description}; {evidence.in_words}"
            metadata.update(evidence.metadata())
        return check_result(
            passed=not worse,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description,
            metadata=metadata,
        )

    return [model_performance, realized_accuracy_not_worse_than_promised]


def _judge(model_performance: dict, n: int, correct: int, promised: float) -> tuple:
    """The realized check's test, on the domain's decision metric: accuracy (exact binomial)
    or expected cost (one-sided t-test of the mean cost per row)."""
    from titanic_assets.ml import performance

    decides = f"decides from {performance.MIN_LABELLED} rows"
    if "cost" in model_performance:
        cost = model_performance["cost"]
        p_value = performance.costlier_than_promised(
            cost, model_performance["cost_squares"], n, promised
        )
        worse = p_value < performance.ALPHA
        mean = cost / n if n else float("nan")
        description = (
            f"expected cost {mean:.3f} per row over {n} outcomes ({decides}) vs "
            f"{promised:.3f} promised: p = {p_value:.4f} "
            f"({'significantly costlier' if worse else 'not significant'})"
        )
        rule = "one-sided t-test of expected cost <= promised"
        extra = {"realized_expected_cost": mean, "promised_expected_cost": promised}
    else:
        p_value = performance.worse_than_promised(correct, n, promised)
        worse = p_value < performance.ALPHA
        description = (
            f"{correct}/{n} correct ({decides}) vs {promised:.3f} promised: p = {p_value:.4f} "
            f"({'significantly worse' if worse else 'not significant'})"
        )
        rule = "one-sided exact binomial test of accuracy >= promised"
        extra = {
            "promised_accuracy": promised,
            "outcomes_to_catch_10pt_drop": performance.outcomes_needed(promised),
        }
    metadata = {
        "rule": f"{rule}, fail at p < {performance.ALPHA}, from {performance.MIN_LABELLED} "
        "labelled rows",
        "labelled_rows": n,
        "correct": correct,
        "p_value": p_value,
        **extra,
    }
    return p_value, worse, description, metadata
