"""Training: the survival model and its held-out evaluation."""

import time

import dagster as dg


@dg.asset(group_name="training", kinds={"lightgbm", "scikitlearn"})
def survival_model(passenger_features) -> dg.Output:
    """LightGBM in a scikit-learn pipeline that starts from raw passenger fields.

    Hyperparameters come from a seeded, cross-validated randomized search on the training
    split (balanced class weights), and the decision threshold is tuned on out-of-fold
    predictions; the test split is never seen here.
    """
    from titanic_assets import modeling

    started = time.perf_counter()
    model = modeling.train_survival_model(passenger_features)
    return dg.Output(
        model,
        metadata={
            "cv_roc_auc": model.cv_roc_auc,
            "oof_accuracy": model.oof_accuracy,
            "threshold": model.threshold,
            "hyperparameters": dg.MetadataValue.json(model.best_params),
            "train_rows": len(model.train_ids),
            "test_rows": len(model.test_ids),
            "training_seconds": round(time.perf_counter() - started, 2),
        },
    )


@dg.asset(group_name="training", kinds={"scikitlearn"})
def model_evaluation(survival_model, passenger_features) -> dg.Output:
    """The model's metrics on the held-out, stratified test split, with plots.

    The headline numbers are numeric metadata, so the UI charts them across
    materializations; the quality gate on this asset decides if the model may be served.
    """
    from titanic_assets import modeling, plots

    evaluation = modeling.evaluate(survival_model, passenger_features)
    scores = evaluation.metrics
    (tn, fp), (fn, tp) = evaluation.confusion
    return dg.Output(
        evaluation,
        metadata={
            **{name: dg.MetadataValue.float(float(value)) for name, value in scores.items()},
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
