"""The whole graph on a real (temporary) Dagster instance: it materializes with every check
passing, the model clears the quality gate, and the UI gets its metadata."""

import numpy as np

from titanic_assets.core.domain import load_domain
from titanic_assets.domains.titanic.features import group_keys
from titanic_assets.domains.titanic.wcg import is_woman_or_boy
from titanic_assets.loop.training.model_evaluation import MIN_ROC_AUC
from titanic_assets.ml.modeling import train_model

TITANIC = load_domain("titanic")
RAW_INPUTS = TITANIC.input_names


def test_every_asset_materializes_and_every_check_passes(materialized_graph) -> None:
    result = materialized_graph.result
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert {
        "raw_rows_contract",
        "labelled_rows_contract",
        "feature_table_contract",
        "model_quality_gate",
    } <= set(evaluations)
    assert all(evaluations.values()), evaluations


def test_model_beats_the_sex_only_rule_significantly_with_calibrated_probabilities(
    materialized_graph,
) -> None:
    cv = materialized_graph.value("trained_model").cross_validation
    assert cv.lift_over_baseline.low > 0
    assert cv.roc_auc.low >= MIN_ROC_AUC
    assert cv.folds == 25
    assert cv.accuracy.low < cv.accuracy.estimate < cv.accuracy.high
    # Calibrated: the pooled out-of-fold error is within 0.05 (its noise floor is ~0.03).
    assert cv.calibration_error <= 0.05
    evaluation = materialized_graph.value("model_evaluation")
    assert evaluation.baselines["sex_only"] < evaluation.metrics["accuracy"]


def test_evaluation_metadata_has_intervals_baselines_and_plots_for_the_ui(
    materialized_graph,
) -> None:
    metadata = materialized_graph.metadata("model_evaluation")
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "brier", "calibration_error"):
        assert isinstance(metadata[f"held_out/{name}"], float), name
    for name in ("expected_accuracy", "expected_accuracy_low", "expected_lift_over_baseline"):
        assert isinstance(metadata[name], float), name
    assert isinstance(metadata["held_out/baseline_sex_only"], float)
    # The claim (shift-aware) beside random folds, and every scheme behind it.
    assert metadata["expected_accuracy_low"] <= metadata["random_cv/accuracy_low"]
    assert metadata["expected_accuracy_high"] >= metadata["random_cv/accuracy_high"]
    assert metadata["expected_accuracy"] < metadata["random_cv/accuracy"]
    for scheme in ("random 5x5", "group 5x5", "leave-one-port-out", "leave-one-class-out"):
        assert f"| {scheme} |" in metadata["validation"], scheme
    assert isinstance(metadata["held_out/lift_over_sex_only"], float)
    for plot in (
        "reliability",
        "roc_curve",
        "precision_recall_curve",
        "confusion_matrix_plot",
        "feature_importance",
    ):
        assert metadata[plot].startswith("![") and "base64," in metadata[plot], plot
    assert sum(metadata["confusion_matrix"].values()) == metadata["test_rows"]


def test_imputations_are_recorded_on_the_cleaned_table(materialized_graph) -> None:
    metadata = materialized_graph.metadata("labelled_rows")
    assert metadata["imputed/Embarked"]["ids"] == [62, 830]
    assert metadata["missing_kept"] == {"Age": 177}
    assert metadata["dagster/row_count"] == 891


def test_same_data_gives_the_same_model(materialized_graph) -> None:
    passengers = materialized_graph.value("labelled_rows")
    first = materialized_graph.value("trained_model")
    second = train_model(TITANIC, passengers)

    assert second.calibration == first.calibration
    assert second.cross_validation == first.cross_validation
    np.testing.assert_array_equal(first.predict_proba(passengers), second.predict_proba(passengers))


def test_group_evidence_is_every_labelled_passenger_but_never_a_passengers_own(
    materialized_graph,
) -> None:
    """The served evidence holds every labelled passenger (training and held-out rows); a
    held-out passenger scored for evaluation counts their group's other women and boys,
    never their own outcome."""
    model = materialized_graph.value("trained_model")
    passengers = materialized_graph.value("labelled_rows").set_index("PassengerId")
    assert sorted(model.evidence_ids) == sorted(passengers.index)
    evidence = model.pipeline.design.evidence
    assert evidence.rows == len(passengers)
    counted = is_woman_or_boy(passengers)
    keys = dict(zip(passengers.index, group_keys(passengers), strict=True))
    # A held-out woman or boy with another woman or boy in her group.
    test_id, mates = next(
        (i, m)
        for i in model.test_ids
        if counted[passengers.index.get_loc(i)]
        and (
            m := {
                j
                for j in passengers.index
                if j != i and counted[passengers.index.get_loc(j)] and set(keys[j]) & set(keys[i])
            }
        )
    )
    row = passengers.loc[[test_id], list(RAW_INPUTS)]
    known, _ = evidence.lookup(row, exclude=[test_id])
    assert known[0] == len(mates)
    with_own, _ = evidence.lookup(row)
    assert with_own[0] == len(mates) + 1
