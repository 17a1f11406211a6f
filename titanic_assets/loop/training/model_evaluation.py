"""Training: the model's evaluation, honest about its uncertainty, and the quality gate."""

import dagster as dg

from titanic_assets.defs.resources import PredictionLog

# The gate judges intervals, not a point on one split, and only what a better model can
# change: the model must beat the sex-only rule significantly where group evidence exists
# (the 95% interval of its random-fold lift lies above zero; random folds' ROC-AUC at least
# MIN_ROC_AUC with 95% confidence), and still rank passengers whose families it has never
# seen: the group folds' ROC-AUC at least MIN_NEW_FAMILY_ROC_AUC, above the sex-only rule's
# ~0.75-0.77. Leave-one-port-out and the traffic-weighted schemes enter the claim, not the
# gate: they measure how far traffic is from the training rows as much as the model. When
# 250 fed-back Queenstown men make a port's outcomes unlike any other, leaving that port
# out leaves every model at ~0.56 ROC-AUC; a gate on it blocks the retrain that learns them.
MIN_ROC_AUC = 0.80
MIN_NEW_FAMILY_ROC_AUC = 0.78
NEW_FAMILIES = "group 5x5"  # the scheme the gate asks to rank new families
TRAFFIC_ROWS = 1000  # the recent traffic the re-weighted schemes are weighted to
BATCH = 418  # the size of the unseen batch that measured the previous model


@dg.asset(group_name="training", kinds={"scikitlearn"})
def model_evaluation(
    survival_model, passengers, prediction_log: PredictionLog
) -> dg.MaterializeResult:
    """What the model can be expected to do on new passengers, with 95% intervals, under
    the shifts traffic may bring.

    Beside repeated random cross-validation (5 x 5): group-aware folds (new families: no
    group evidence), leave-one-port-out (a population not seen), leave-one-class-out
    (shown, not claimed), and the k-fold schemes re-weighted to the last TRAFFIC_ROWS
    predictions' input mix (when there are any). The claimed interval (`expected_accuracy*`,
    what /model_info, the quality gate and the realized-performance check use) runs from
    the lowest lower bound of the shift schemes to random folds' upper bound, its headline
    the worst shift scheme's estimate: random folds alone claimed 0.84 for a model that
    measured 0.78 on 418 unseen passengers. Also the held-out split with its bootstrap
    interval, the trivial baselines on the same rows, calibration with its noise floor.
    """
    from titanic_assets.core.contract import RAW_INPUTS
    from titanic_assets.ml import modeling, plots, validation

    traffic = prediction_log.recent(TRAFFIC_ROWS)
    traffic = traffic[list(RAW_INPUTS)] if len(traffic) else None
    evaluation = modeling.evaluate(survival_model, passengers, traffic)
    cv = survival_model.cross_validation
    claim = evaluation.claim
    batch = validation.batch_interval(claim.accuracy, BATCH)
    scores = evaluation.metrics
    (tn, fp), (fn, tp) = evaluation.confusion
    intervals = {f"held_out/{k}_interval": str(v) for k, v in evaluation.intervals.items()}
    return dg.MaterializeResult(
        value=evaluation,
        metadata={
            "expected_accuracy": dg.MetadataValue.float(claim.accuracy.estimate),
            "expected_accuracy_low": dg.MetadataValue.float(claim.accuracy.low),
            "expected_accuracy_high": dg.MetadataValue.float(claim.accuracy.high),
            "expected_roc_auc": dg.MetadataValue.float(claim.roc_auc.estimate),
            "expected_roc_auc_low": dg.MetadataValue.float(claim.roc_auc.low),
            "expected_lift_over_sex_only": dg.MetadataValue.float(
                claim.lift_over_sex_only.estimate
            ),
            "expected_lift_over_sex_only_low": dg.MetadataValue.float(claim.lift_over_sex_only.low),
            "claimed_from": claim.headline_scheme,
            f"expected_accuracy_batch_of_{BATCH}": str(batch),
            "random_cv/accuracy": dg.MetadataValue.float(cv.accuracy.estimate),
            "random_cv/accuracy_low": dg.MetadataValue.float(cv.accuracy.low),
            "random_cv/accuracy_high": dg.MetadataValue.float(cv.accuracy.high),
            "random_cv/calibration_error": dg.MetadataValue.float(cv.calibration_error),
            "traffic_rows_weighted_to": evaluation.shift.traffic_rows,
            "claim_set_aside": dg.MetadataValue.json(claim.set_aside),
            "validation": dg.MetadataValue.md(evaluation.shift.table()),
            "estimate": dg.MetadataValue.md(
                f"Claimed accuracy {claim.accuracy}: the headline is the worst shift "
                f"scheme's estimate ({claim.headline_scheme}); the interval runs from the "
                f"lowest lower bound of {', '.join(claim.schemes)} to random folds' upper "
                f"bound, because traffic lies somewhere between the training population "
                f"with its families partly known and a new port or new families, and the "
                f"data cannot say where. A batch of {BATCH} unseen passengers should measure "
                f"within {batch}. Random cross-validation alone ({cv.folds} folds): "
                f"accuracy {cv.accuracy}, ROC-AUC {cv.roc_auc}, Brier {cv.brier}; sex-only "
                f"rule {cv.baselines['sex_only']}, majority {cv.baselines['majority']}; lift "
                f"over the sex-only rule {cv.lift_over_sex_only} (95% intervals)."
                + "".join(f" Not claimed: {k}, {v}." for k, v in claim.set_aside.items())
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
        "Quality gate: the model beats the sex-only rule significantly on random folds (the "
        f"95% interval of its accuracy lift is above 0, its ROC-AUC's lower bound at least "
        f"{MIN_ROC_AUC}) and ranks passengers of families it has never seen (group folds' "
        f"ROC-AUC at least {MIN_NEW_FAMILY_ROC_AUC}). A model below it is never registered."
    ),
)
def model_quality_gate(model_evaluation) -> dg.AssetCheckResult:
    cv = model_evaluation.cross_validation
    claim = model_evaluation.claim
    new_families = model_evaluation.shift.schemes[NEW_FAMILIES].roc_auc
    shortfalls = []
    if cv.lift_over_sex_only.low <= 0:
        shortfalls.append(
            f"not significantly better than the sex-only rule: lift {cv.lift_over_sex_only}"
        )
    if cv.roc_auc.low < MIN_ROC_AUC:
        shortfalls.append(f"ROC-AUC {cv.roc_auc}: lower bound < {MIN_ROC_AUC}")
    if new_families.estimate < MIN_NEW_FAMILY_ROC_AUC:
        shortfalls.append(
            f"ROC-AUC on new families ({NEW_FAMILIES}) {new_families} < {MIN_NEW_FAMILY_ROC_AUC}"
        )
    return dg.AssetCheckResult(
        passed=not shortfalls,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(shortfalls)
        or f"beats the sex-only rule by {cv.lift_over_sex_only}; ROC-AUC {cv.roc_auc}, on new "
        f"families {new_families}; claimed under shift {claim.roc_auc}",
        metadata={
            "lift_over_sex_only": cv.lift_over_sex_only.estimate,
            "lift_over_sex_only_low": cv.lift_over_sex_only.low,
            "roc_auc": cv.roc_auc.estimate,
            "roc_auc_low": cv.roc_auc.low,
            "min_roc_auc": MIN_ROC_AUC,
            "new_family_roc_auc": new_families.estimate,
            "min_new_family_roc_auc": MIN_NEW_FAMILY_ROC_AUC,
            "claimed_roc_auc": claim.roc_auc.estimate,
        },
    )
