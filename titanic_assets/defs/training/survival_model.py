"""Training: the survival model, fitted on the labelled passengers."""

import time

import dagster as dg


@dg.asset(
    group_name="training",
    kinds={"scikitlearn"},
    # The feature table's contract gates training; the pipeline starts from raw columns.
    deps=["passenger_features"],
)
def survival_model(passengers) -> dg.MaterializeResult:
    """LightGBM on the engineered passenger features and women-and-children-group evidence
    (the known outcomes of the passenger's group's other women and boys, beside all its
    members'), from raw passenger fields, with a Platt calibration fitted on the random
    folds' out-of-fold probabilities (labelled traffic in the training split included). The
    group evidence it serves with is every labelled passenger's; a labelled passenger is
    never scored with their own outcome.

    Here: 5 x 5 repeated random cross-validation on the training split (each fold's
    calibration fitted on the other folds' out-of-fold probabilities), beside the trivial
    baselines on the same folds; the held-out split (a stable fifth of the passengers) is
    not fitted on. Validation under shift, and the interval the model claims, are
    model_evaluation's.
    """
    from titanic_assets.ml import modeling

    started = time.perf_counter()
    model = modeling.train_survival_model(passengers)
    cv = model.cross_validation
    return dg.MaterializeResult(
        value=model,
        metadata={
            "cv_accuracy": dg.MetadataValue.float(cv.accuracy.estimate),
            "cv_accuracy_interval": str(cv.accuracy),
            "cv_roc_auc": dg.MetadataValue.float(cv.roc_auc.estimate),
            "cv_roc_auc_interval": str(cv.roc_auc),
            "cv_brier": dg.MetadataValue.float(cv.brier.estimate),
            "cv_sex_only_accuracy": dg.MetadataValue.float(cv.baselines["sex_only"].estimate),
            "cv_majority_accuracy": dg.MetadataValue.float(cv.baselines["majority"].estimate),
            "cv_lift_over_sex_only": dg.MetadataValue.float(cv.lift_over_sex_only.estimate),
            "cv_lift_over_sex_only_interval": str(cv.lift_over_sex_only),
            "cv_calibration_error": dg.MetadataValue.float(cv.calibration_error),
            "cv_calibration_noise_floor": dg.MetadataValue.float(cv.calibration_noise_floor),
            "cv_folds": cv.folds,
            "calibration": dg.MetadataValue.json(model.calibration.as_dict()),
            "threshold": model.threshold,
            "model": dg.MetadataValue.json(model.hyperparameters),
            "calibration_rows": dg.MetadataValue.json(model.calibration_rows),
            "evidence_rows": len(model.evidence_ids),
            "train_rows": len(model.train_ids),
            "test_rows": len(model.test_ids),
            "data_version": model.data_version,
            "training_seconds": round(time.perf_counter() - started, 2),
        },
    )
