"""Training: the model, fitted on the labelled rows."""

import time

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        ins=loop.ins("labelled_rows"),
        group_name=loop.named("training"),
        kinds={"scikitlearn"} | ({"lightgbm"} if loop.domain.family == "lightgbm" else set()),
        # The feature table's contract gates training; the model starts from raw columns.
        deps=[loop.key("feature_table")],
    )
    def trained_model(labelled_rows) -> dg.MaterializeResult:
        """The domain's model family (LightGBM by default, or an L2 logistic regression,
        Domain.family) on the domain's design, from raw inputs, with a Platt calibration fitted
        on the random folds' out-of-fold probabilities (labelled traffic in the training
        split included). What the design learns from labelled rows, it learns from every
        labelled row; a labelled row is never scored with its own label.

        Here: 5 x 5 repeated random cross-validation on the training split (each fold's
        calibration fitted on the other folds' out-of-fold probabilities), beside the trivial
        baselines on the same folds; the held-out split (a stable fifth of the rows) is not
        fitted on. Validation under shift, and the interval the model claims, are
        model_evaluation's.
        """
        from titanic_assets.ml import modeling

        started = time.perf_counter()
        model = modeling.train_model(loop.domain, labelled_rows)
        cv = model.cross_validation
        baseline = modeling.baseline_name(loop.domain)
        return materialize_result(
            value=model,
            metadata={
                "cv_accuracy": dg.MetadataValue.float(cv.accuracy.estimate),
                "cv_accuracy_interval": str(cv.accuracy),
                "cv_roc_auc": dg.MetadataValue.float(cv.roc_auc.estimate),
                "cv_roc_auc_interval": str(cv.roc_auc),
                "cv_brier": dg.MetadataValue.float(cv.brier.estimate),
                f"cv_{baseline}_accuracy": dg.MetadataValue.float(cv.baselines[baseline].estimate),
                "cv_majority_accuracy": dg.MetadataValue.float(cv.baselines["majority"].estimate),
                "cv_lift_over_baseline": dg.MetadataValue.float(cv.lift_over_baseline.estimate),
                "cv_lift_over_baseline_interval": str(cv.lift_over_baseline),
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

    return [trained_model]
