"""The whole graph on a real (temporary) Dagster instance: it materializes with every check
passing, the model clears the quality gate, and the UI gets its metadata."""

import numpy as np

from titanic_assets.core.features import FEATURES
from titanic_assets.defs.training.model_evaluation import QUALITY_FLOORS
from titanic_assets.ml.modeling import train_survival_model


def test_every_asset_materializes_and_every_check_passes(materialized_graph) -> None:
    result = materialized_graph.result
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert {
        "raw_passengers_contract",
        "passengers_contract",
        "passenger_features_contract",
        "model_quality_gate",
    } <= set(evaluations)
    assert all(evaluations.values()), evaluations


def test_model_clears_the_quality_gate_and_the_cross_validated_bar(materialized_graph) -> None:
    scores = materialized_graph.value("model_evaluation").metrics
    for name, floor in QUALITY_FLOORS.items():
        assert scores[name] >= floor, name
    assert materialized_graph.value("survival_model").cv_roc_auc >= 0.87


def test_evaluation_metadata_has_metrics_and_plots_for_the_ui(materialized_graph) -> None:
    metadata = materialized_graph.metadata("model_evaluation")
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "brier"):
        assert isinstance(metadata[name], float), name
    for plot in (
        "roc_curve",
        "precision_recall_curve",
        "confusion_matrix_plot",
        "feature_importance",
    ):
        assert metadata[plot].startswith("![") and "base64," in metadata[plot], plot
    assert sum(metadata["confusion_matrix"].values()) == metadata["test_rows"]


def test_imputations_are_recorded_on_the_cleaned_table(materialized_graph) -> None:
    metadata = materialized_graph.metadata("passengers")
    assert metadata["imputed/Embarked"]["passenger_ids"] == [62, 830]
    assert metadata["missing_kept"] == {"Age": 177}
    assert metadata["dagster/row_count"] == 891


def test_same_data_gives_the_same_model(materialized_graph) -> None:
    features = materialized_graph.value("passenger_features")
    first = materialized_graph.value("survival_model")
    second = train_survival_model(features)

    assert second.best_params == first.best_params
    assert second.threshold == first.threshold
    passengers = materialized_graph.value("passengers")
    np.testing.assert_array_equal(first.predict_proba(passengers), second.predict_proba(passengers))


def test_served_pipeline_scores_raw_passengers_like_the_evaluated_classifier(
    materialized_graph,
) -> None:
    model = materialized_graph.value("survival_model")
    passengers = materialized_graph.value("passengers")
    features = materialized_graph.value("passenger_features")

    np.testing.assert_allclose(
        model.predict_proba(passengers),
        model.classifier.predict_proba(features[list(FEATURES)].to_numpy())[:, 1],
    )
