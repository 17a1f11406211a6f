"""Training: the survival model, fitted on the feature table."""

import time

import dagster as dg


@dg.asset(group_name="training", kinds={"lightgbm", "scikitlearn"})
def survival_model(passenger_features) -> dg.MaterializeResult:
    """LightGBM in a scikit-learn pipeline that starts from raw passenger fields.

    Hyperparameters come from a seeded, cross-validated randomized search on the training
    split (balanced class weights), and the decision threshold is tuned on out-of-fold
    predictions; the test split is never seen here.
    """
    from titanic_assets.ml import modeling

    started = time.perf_counter()
    model = modeling.train_survival_model(passenger_features)
    return dg.MaterializeResult(
        value=model,
        metadata={
            "cv_roc_auc": model.cv_roc_auc,
            "oof_accuracy": model.oof_accuracy,
            "threshold": model.threshold,
            "hyperparameters": dg.MetadataValue.json(model.best_params),
            "train_rows": len(model.train_ids),
            "test_rows": len(model.test_ids),
            "data_version": model.data_version,
            "training_seconds": round(time.perf_counter() - started, 2),
        },
    )
