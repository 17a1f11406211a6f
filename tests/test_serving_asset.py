"""The serving_model asset: what it registers in the BentoML store, and the promotion policy."""

import json
import pickle
import shutil
from pathlib import Path

import bentoml
import dagster as dg
import numpy as np
import pandas as pd
import pytest

from titanic_assets.core import registry
from titanic_assets.core.domain import load_domain
from titanic_assets.core.instances import read_instance
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea
from titanic_assets.ml import promotion
from titanic_assets.ml.modeling import train_model

defs = load_definitions()
TITANIC = load_domain("titanic")
RAW_INPUTS = TITANIC.input_names
STORE = registry.ModelStore(read_instance("titanic").serving_model_name)


def _similar_models(rng: np.random.Generator, rows: int = 180):
    """Outcomes and two equally good models' probabilities that disagree on a few rows."""
    labels = rng.integers(0, 2, rows)
    signal = np.where(labels == 1, 1.0, -1.0) * 1.2 + rng.normal(0, 1, rows)
    first = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.1, rows))))
    second = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.1, rows))))
    return labels, first, second


def test_first_model_is_promoted_when_nothing_serves():
    decision = promotion.first_model()
    assert decision.promote
    assert "first model" in decision.reason


def test_an_equally_good_model_is_promoted_with_both_on_the_same_rows_and_intervals():
    labels, champion, candidate = _similar_models(np.random.default_rng(1))
    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5)
    assert decision.promote, decision.reason
    assert decision.rows == 180
    for name in ("accuracy", "roc_auc"):
        compared = decision.comparison[name]
        for side in ("serving", "candidate", "difference"):
            interval = compared[side]
            assert interval["low"] <= interval["estimate"] <= interval["high"], (name, side)
        assert compared["difference"]["low"] > -promotion.MARGIN


def test_too_few_unseen_passengers_keep_the_candidate_a_candidate():
    labels, champion, candidate = _similar_models(np.random.default_rng(2), rows=20)
    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5)
    assert not decision.promote and "20 rows" in decision.reason


def test_evaluation_rows_leave_out_what_the_champion_trained_on():
    held_out = pd.DataFrame({"PassengerId": [1, 2, 3, 4], "Survived": [0, 1, 0, 1]})
    rows = promotion.evaluation_rows(held_out, [2, 4], "PassengerId")
    assert rows["PassengerId"].tolist() == [1, 3]


def test_with_enough_labelled_traffic_the_candidate_must_be_better_on_it():
    rng = np.random.default_rng(7)
    labels, champion, candidate = _similar_models(rng, rows=200)
    traffic = np.zeros(200, bool)
    traffic[: promotion.MIN_ROWS + 20] = True
    # Equally good everywhere: promoted without traffic, kept when it must beat the champion.
    assert promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5).promote
    kept = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5, traffic=traffic)
    assert not kept.promote and "labelled traffic" in kept.reason
    # Right on the traffic where the champion is wrong: promoted.
    fixed = candidate.copy()
    fixed[traffic] = np.where(labels[traffic] == 1, 0.9, 0.1)
    wrong = champion.copy()
    wrong[traffic] = np.where(labels[traffic] == 1, 0.1, 0.9)
    decision = promotion.decide_promotion(labels, wrong, fixed, 0.5, 0.5, traffic=traffic)
    assert decision.promote, decision.reason
    assert decision.comparison["accuracy on labelled traffic"]["rows"] == promotion.MIN_ROWS + 20


def test_registered_model_holds_pipeline_threshold_schema_metrics_reference_and_versions(
    materialized_graph,
):
    meta = materialized_graph.metadata("serving_model")
    assert meta["promoted"] is True and meta["stage"] == "serving"
    model = bentoml.models.get(meta["bentoml_tag"])
    trained = materialized_graph.value("trained_model")
    evaluation = materialized_graph.value("model_evaluation")
    # The version of the feature table the model was trained on, carried by the model itself.
    table_version = materialized_graph.metadata("labelled_rows")["data_version"]

    assert model.info.labels["data_version"] == table_version == meta["data_version"]
    assert trained.data_version == table_version
    assert model.info.labels["code_version"].startswith(("git:", "package:"))
    info = model.info.metadata
    assert info["threshold"] == pytest.approx(trained.threshold)
    assert info["raw_inputs"] == list(RAW_INPUTS)
    assert set(info["input_schema"]) == set(RAW_INPUTS)
    assert info["metrics"]["held_out"]["roc_auc"] == pytest.approx(evaluation.metrics["roc_auc"])
    cv = info["metrics"]["cross_validation"]
    assert cv["roc_auc"]["estimate"] == pytest.approx(trained.cross_validation.roc_auc.estimate)
    assert info["calibration"] == trained.calibration.as_dict()
    # The claimed (shift-aware) interval, as /model_info shows it, is the evaluation's.
    claim = info["metrics"]["claim"]
    assert claim["accuracy"] == pytest.approx(evaluation.claim.accuracy.as_dict())
    assert claim["accuracy"]["low"] <= cv["accuracy"]["low"]
    assert "leave-one-port-out" in info["metrics"]["validation"]["schemes"]
    assert info["features"] == list(trained.pipeline.feature_names)

    # The drift reference is the raw inputs of exactly the training rows.
    reference = pd.read_csv(model.path_of(registry.REFERENCE_FILE))
    assert sorted(reference["PassengerId"]) == sorted(trained.train_ids)
    assert list(reference.columns) == ["PassengerId", *RAW_INPUTS]
    summary = json.loads(Path(model.path_of(registry.REFERENCE_SUMMARY_FILE)).read_text())
    assert summary["rows"] == len(trained.train_ids)
    assert set(summary["columns"]) == set(RAW_INPUTS)

    # The stored model scores raw passenger columns exactly as the trained one, on the
    # service's numpy path, calibration and group evidence included.
    loaded = registry.load(meta["bentoml_tag"])
    passengers = materialized_graph.value("labelled_rows").head(50)
    np.testing.assert_allclose(
        loaded.probabilities(passengers[list(RAW_INPUTS)]), trained.predict_proba(passengers)
    )


def test_the_trusted_margin_narrows_with_the_evidence_to_its_floor():
    rows, margin = promotion.MARGIN_AT_ROWS
    assert promotion.margin_for(rows) == pytest.approx(margin)
    assert promotion.margin_for(4 * rows) == pytest.approx(margin / 2)
    assert promotion.margin_for(10 * rows) < promotion.margin_for(4 * rows)
    assert promotion.margin_for(10**6) == promotion.MIN_MARGIN
    assert promotion.margin_for(10) == pytest.approx(margin)  # never wider on less


DECLARED = list(TITANIC.slices)


def _slices(rows: int) -> np.ndarray:
    names = list(TITANIC.slices)
    return np.array([names[i % len(names)] for i in range(rows)], dtype=object)


def test_the_trusted_guard_passes_an_equal_challenger_and_names_a_slice_it_turned_around():
    labels, champion, candidate = _similar_models(np.random.default_rng(3), rows=360)
    slices = _slices(360)

    equal = promotion.trusted_guard(labels, champion, candidate, 0.5, 0.5, slices, DECLARED)

    assert equal.passed, equal.reason
    assert equal.comparison["accuracy, male, class 3"]["verdict"] == "non-inferior"
    # A challenger that answers one slice the other way round: fine elsewhere, caught there.
    target = slices == "female, class 3"
    flipped = np.where(target, 1 - champion, candidate)
    turned = promotion.trusted_guard(labels, champion, flipped, 0.5, 0.5, slices, DECLARED)
    assert not turned.passed
    assert "accuracy, female, class 3" in turned.reason
    assert turned.comparison["accuracy, female, class 3"]["verdict"] == "worse"


def test_the_trusted_guard_does_not_judge_small_slices_or_too_few_passengers():
    labels, champion, candidate = _similar_models(np.random.default_rng(4), rows=60)

    guard = promotion.trusted_guard(labels, champion, candidate, 0.5, 0.5, _slices(60), DECLARED)
    assert guard.passed, guard.reason
    assert guard.comparison["accuracy, female, class 1"]["verdict"] == promotion.TOO_FEW
    few = promotion.trusted_guard(
        labels[:20], champion[:20], candidate[:20], 0.5, 0.5, _slices(20), DECLARED
    )
    assert not few.passed and "only 20 trusted rows" in few.reason


def test_worse_model_stays_a_candidate_and_the_serving_model_keeps_serving(
    materialized_graph, tmp_path
):
    """A candidate trained on scrambled outcomes is compared with the serving model on the
    same unseen passengers and kept as a candidate, whatever its own evaluation says."""
    serving_before = STORE.promoted_tag()
    assert serving_before is not None

    storage = tmp_path / "storage"
    shutil.copytree(materialized_graph.storage, storage)
    passengers = materialized_graph.value("labelled_rows")
    scrambled = passengers.assign(
        Survived=np.random.default_rng(0).permutation(passengers["Survived"].to_numpy())
    )
    worse = train_model(TITANIC, scrambled)
    (storage / "titanic" / "trained_model").write_bytes(pickle.dumps(worse))

    result = dg.materialize(
        [*defs.assets],
        selection=[dg.AssetKey(["titanic", "serving_model"])],
        instance=materialized_graph.instance,
        resources={
            **defs.resources,
            "landing_area": LocalLandingArea(directory=str(materialized_graph.landing)),
            "io_manager": dg.FilesystemIOManager(base_dir=str(storage)),
        },
    )
    [event] = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}

    assert meta["promoted"] is False and meta["stage"] == "candidate"
    assert "accuracy" in meta["promotion_reason"]
    assert meta["comparison_rows"] >= promotion.MIN_ROWS
    assert meta["comparison"]["accuracy"]["difference"]["high"] < 0
    assert meta["serving_model"] == serving_before
    assert STORE.promoted_tag() == serving_before
    candidate = bentoml.models.get(meta["bentoml_tag"])
    assert candidate.tag.name == STORE.candidate
    assert candidate.info.labels["stage"] == "candidate"
    # Kept, it becomes the challenger: the service shadows with it until outcomes decide.
    record = STORE.challenger_record()
    assert record.candidate == meta["bentoml_tag"] and record.shadowing
    assert record.champion == serving_before
    assert meta["challenger"] == f"{meta['bentoml_tag']} shadows the serving model"


def test_the_old_rule_is_fooled_by_an_easier_split_the_paired_rule_is_not() -> None:
    """A worse candidate whose own held-out split was easier: comparing each model's own
    split promotes it; comparing both on the same passengers does not."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 180)
    champion = np.where(labels == 1, 0.8, 0.2) + rng.normal(0, 0.15, 180)  # ~0.9 accurate
    candidate = np.where(rng.random(180) < 0.7, labels, 1 - labels).astype(float)  # ~0.7
    champion_own_split_accuracy, candidate_own_split_accuracy = 0.83, 0.86  # easier split
    assert candidate_own_split_accuracy >= champion_own_split_accuracy - 0.01  # old: promote

    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5)
    assert decision.promote is False
    assert decision.comparison["accuracy"]["difference"]["high"] < 0
