"""Training: the model's evaluation, honest about its uncertainty, and the quality gate."""

import dagster as dg

# The gate judges intervals, not a point on one split: the model must beat the sex-only
# rule significantly (the 95% interval of its cross-validated lift lies above zero) and its
# cross-validated ROC-AUC must be at least this with 95% confidence.
MIN_ROC_AUC = 0.80


@dg.asset(group_name="training", kinds={"scikitlearn"})
def model_evaluation(survival_model, passengers) -> dg.MaterializeResult:
    """What the model can be expected to do on new passengers, with 95% intervals.

    The expected accuracy is the repeated cross-validation's (5 x 5 folds), beside the
    held-out split's figure with its bootstrap interval; both beside the trivial baselines
    (majority class, sex-only rule) on the same rows, and the lift over them. Calibration:
    the expected calibration error with its noise floor, and a reliability plot. The
    numbers are numeric metadata, so the UI charts them across materializations.
    """
    from titanic_assets.ml import modeling, plots

    evaluation = modeling.evaluate(survival_model, passengers)
    cv = survival_model.cross_validation
    scores = evaluation.metrics
    (tn, fp), (fn, tp) = evaluation.confusion
    intervals = {f"held_out/{k}_interval": str(v) for k, v in evaluation.intervals.items()}
    return dg.MaterializeResult(
        value=evaluation,
        metadata={
            "expected_accuracy": dg.MetadataValue.float(cv.accuracy.estimate),
            "expected_accuracy_low": dg.MetadataValue.float(cv.accuracy.low),
            "expected_accuracy_high": dg.MetadataValue.float(cv.accuracy.high),
            "expected_roc_auc": dg.MetadataValue.float(cv.roc_auc.estimate),
            "expected_roc_auc_low": dg.MetadataValue.float(cv.roc_auc.low),
            "expected_lift_over_sex_only": dg.MetadataValue.float(cv.lift_over_sex_only.estimate),
            "expected_lift_over_sex_only_low": dg.MetadataValue.float(cv.lift_over_sex_only.low),
            "estimate": dg.MetadataValue.md(
                f"Repeated cross-validation ({cv.folds} folds) on the training split: accuracy "
                f"{cv.accuracy}, ROC-AUC {cv.roc_auc}, Brier {cv.brier}; sex-only rule "
                f"{cv.baselines['sex_only']}, majority {cv.baselines['majority']}; lift over "
                f"the sex-only rule {cv.lift_over_sex_only} (95% intervals, Nadeau-Bengio)."
            ),
            **{f"held_out/{k}": dg.MetadataValue.float(float(v)) for k, v in scores.items()},
            **intervals,
            **{
                f"held_out/baseline_{k}": dg.MetadataValue.float(v)
                for k, v in evaluation.baselines.items()
            },
            **{
                f"held_out/lift_over_{k}": dg.MetadataValue.float(v.estimate)
                for k, v in evaluation.lift.items()
            },
            **{f"held_out/lift_over_{k}_interval": str(v) for k, v in evaluation.lift.items()},
            "held_out/calibration_noise_floor": dg.MetadataValue.float(
                evaluation.calibration_noise_floor
            ),
            "threshold": survival_model.threshold,
            "test_rows": len(evaluation.labels),
            "confusion_matrix": dg.MetadataValue.json(
                {
                    "true_negative": tn,
                    "false_positive": fp,
                    "false_negative": fn,
                    "true_positive": tp,
                }
            ),
            "reliability": dg.MetadataValue.md(
                plots.reliability_plot(
                    evaluation.labels, evaluation.probabilities, "held-out passengers"
                )
            ),
            "roc_curve": dg.MetadataValue.md(
                plots.roc_curve(evaluation.labels, evaluation.probabilities, scores["roc_auc"])
            ),
            "precision_recall_curve": dg.MetadataValue.md(
                plots.precision_recall_curve(
                    evaluation.labels, evaluation.probabilities, scores["pr_auc"]
                )
            ),
            "confusion_matrix_plot": dg.MetadataValue.md(
                plots.confusion_matrix(evaluation.confusion)
            ),
            "feature_importance": dg.MetadataValue.md(
                plots.feature_importance(evaluation.feature_importance)
            ),
        },
    )


@dg.asset_check(
    asset=model_evaluation,
    blocking=True,
    description=(
        "Quality gate: the model beats the sex-only rule significantly (the 95% interval of "
        "its cross-validated accuracy lift is above 0) and its cross-validated ROC-AUC is at "
        f"least {MIN_ROC_AUC} with 95% confidence. A model below it is never registered."
    ),
)
def model_quality_gate(model_evaluation) -> dg.AssetCheckResult:
    cv = model_evaluation.cross_validation
    shortfalls = []
    if cv.lift_over_sex_only.low <= 0:
        shortfalls.append(
            f"not significantly better than the sex-only rule: lift {cv.lift_over_sex_only}"
        )
    if cv.roc_auc.low < MIN_ROC_AUC:
        shortfalls.append(f"ROC-AUC {cv.roc_auc}: lower bound < {MIN_ROC_AUC}")
    return dg.AssetCheckResult(
        passed=not shortfalls,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(shortfalls)
        or f"beats the sex-only rule by {cv.lift_over_sex_only}; ROC-AUC {cv.roc_auc}",
        metadata={
            "lift_over_sex_only": cv.lift_over_sex_only.estimate,
            "lift_over_sex_only_low": cv.lift_over_sex_only.low,
            "roc_auc": cv.roc_auc.estimate,
            "roc_auc_low": cv.roc_auc.low,
            "min_roc_auc": MIN_ROC_AUC,
        },
    )
