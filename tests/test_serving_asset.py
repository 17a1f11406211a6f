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
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea
from titanic_assets.ml.promotion import TOLERANCE, decide_promotion

defs = load_definitions()

GOOD = {"roc_auc": 0.87, "accuracy": 0.83}


def test_first_model_is_promoted_when_nothing_serves():
    decision = decide_promotion(GOOD, None)
    assert decision.promote
    assert "first model" in decision.reason


def test_model_within_tolerance_of_the_serving_one_is_promoted():
    slightly_worse = {"roc_auc": 0.87 - TOLERANCE / 2, "accuracy": 0.83}
    assert decide_promotion(slightly_worse, GOOD).promote


def test_model_worse_beyond_tolerance_on_any_metric_stays_a_candidate():
    worse = {"roc_auc": 0.87, "accuracy": 0.83 - 2 * TOLERANCE}
    decision = decide_promotion(worse, GOOD)
    assert not decision.promote
    assert "accuracy" in decision.reason and "roc_auc" not in decision.reason
    assert decision.comparison["accuracy"] == {"candidate": worse["accuracy"], "serving": 0.83}


def test_registered_model_holds_pipeline_threshold_schema_metrics_reference_and_versions(
    materialized_graph,
):
    meta = materialized_graph.metadata("serving_model")
    assert meta["promoted"] is True and meta["stage"] == "serving"
    model = bentoml.models.get(meta["bentoml_tag"])
    trained = materialized_graph.value("survival_model")
    evaluation = materialized_graph.value("model_evaluation")
    # The version of the feature table the model was trained on, carried by the model itself.
    table_version = materialized_graph.metadata("passenger_features")["data_version"]

    assert model.info.labels["data_version"] == table_version == meta["data_version"]
    assert trained.data_version == table_version
    assert model.info.labels["code_version"].startswith(("git:", "package:"))
    info = model.info.metadata
    assert info["threshold"] == pytest.approx(trained.threshold)
    assert info["raw_inputs"] == list(RAW_INPUTS)
    assert set(info["input_schema"]) == set(RAW_INPUTS)
    assert info["metrics"]["held_out"]["roc_auc"] == pytest.approx(evaluation.metrics["roc_auc"])
    assert info["metrics"]["cross_validation"]["roc_auc"] == pytest.approx(trained.cv_roc_auc)

    # The drift reference is the raw inputs of exactly the training rows.
    reference = pd.read_csv(model.path_of(registry.REFERENCE_FILE))
    assert sorted(reference["PassengerId"]) == sorted(trained.train_ids)
    assert list(reference.columns) == ["PassengerId", *RAW_INPUTS]
    summary = json.loads(Path(model.path_of(registry.REFERENCE_SUMMARY_FILE)).read_text())
    assert summary["rows"] == len(trained.train_ids)
    assert set(summary["columns"]) == set(RAW_INPUTS)

    # The stored pipeline scores raw passenger columns exactly as the trained one.
    loaded = registry.load(meta["bentoml_tag"])
    passengers = materialized_graph.value("passengers").head(50)
    np.testing.assert_allclose(
        loaded.pipeline.predict_proba(passengers)[:, 1], trained.predict_proba(passengers)
    )


def test_worse_model_stays_a_candidate_and_the_serving_model_keeps_serving(
    materialized_graph, tmp_path
):
    serving_before = registry.serving_tag()
    assert serving_before is not None

    # The same graph outputs, but an evaluation below the serving model's roc_auc.
    storage = tmp_path / "storage"
    shutil.copytree(materialized_graph.storage, storage)
    evaluation_file = storage / "model_evaluation"
    evaluation = pickle.loads(evaluation_file.read_bytes())
    evaluation.metrics["roc_auc"] = (
        registry.serving_model().metadata["metrics"]["held_out"]["roc_auc"] - 5 * TOLERANCE
    )
    evaluation_file.write_bytes(pickle.dumps(evaluation))

    result = dg.materialize(
        [*defs.assets],
        selection=["serving_model"],
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
    assert "roc_auc" in meta["promotion_reason"]
    assert meta["serving_model"] == serving_before
    assert registry.serving_tag() == serving_before
    candidate = bentoml.models.get(meta["bentoml_tag"])
    assert candidate.tag.name == registry.CANDIDATE_MODEL
    assert candidate.info.labels["stage"] == "candidate"
