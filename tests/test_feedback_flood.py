"""A client with a valid token floods flipped outcomes, then the operator retracts them.

The real service (its own log, the session's model store and serving model) takes 300
outcomes from one token, every one of them the opposite of what happened. The retrain they
would trigger (the model_training job's assets, materialized on a real instance as the
retrain sensor's run does; the sensor's decision is tested in test_drift_loop.py) reads them
as labelled traffic: whatever it decides, the model that serves afterwards is not worse on
the trusted held-out passengers (shipped rows neither model trained on, kept apart from the
traffic) by more than the promotion margin. Then `retract_outcomes`, run as the operator
runs it, takes that sender's outcomes back, and the next retrain's training data (its
assets up to `labelled_rows`, the table the model is trained on and whose version it carries)
is exactly the shipped passengers' again: the same rows and the same data version as the
session's first run, which never saw them.
"""

import os
import subprocess
import sys

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SERVING_NAME, defs
from tests.test_drift_loop import passengers_json
from titanic_assets.core.outcomes import read_outcomes, sender_id
from titanic_assets.core.registry import ModelStore
from titanic_assets.defs.resources import LocalLandingArea, PredictionLog
from titanic_assets.ml import modeling, promotion
from titanic_assets.testing import (
    ROOT,
    compact_log,
    environment,
    model_log,
    model_service,
    poll,
    unpartitioned,
)

FLOOD_TOKEN = "flooding-client-token-0123456789"
FLOODED = 300
# The Titanic model's training job: its graph without its monitoring and scoring groups.
RETRAIN = unpartitioned("titanic") - dg.AssetSelection.groups(
    "titanic_monitoring", "titanic_scoring"
)
TRAINING_DATA = dg.AssetSelection.assets(dg.AssetKey(["titanic", "labelled_rows"])).upstream()
STORE = ModelStore(SERVING_NAME)


def accuracy_served(url: str, passengers: pd.DataFrame) -> tuple[float, str]:
    """The served model's accuracy on `passengers`, over HTTP, and its version."""
    answer = httpx.post(
        f"{url}/predict_batch", json={"passengers": passengers_json(passengers)}, timeout=60
    ).raise_for_status()
    predicted = [p["survived"] for p in answer.json()["predictions"]]
    return float(np.mean(np.array(predicted) == passengers["Survived"].astype(bool))), (
        answer.json()["model_version"]
    )


def decided(result: dg.ExecuteInProcessResult) -> str:
    """What kept the flooded retrain's model from serving, or let it: the quality gate's
    verdict, then the promotion policy's reason (when the gate let it that far)."""
    [gate] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "model_quality_gate"
    ]
    reasons = [
        e.materialization.metadata["promotion_reason"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "titanic/serving_model"
    ]
    return f"quality gate passed: {gate.passed} ({gate.description}); {reasons or 'not registered'}"


@pytest.mark.timeout(900)
def test_a_flood_of_flipped_outcomes_never_degrades_the_served_model_and_retracts_cleanly(
    tmp_path, materialized_graph, shipped_passengers
):
    log = model_log(tmp_path)  # the model's folder under the service's log root
    overrides = {
        "BENTOML_HOME": os.environ["BENTOML_HOME"],  # the session's store and serving model
        "TITANIC_FEEDBACK_TOKEN": FLOOD_TOKEN,
        "TITANIC_MODEL_POLL_SECONDS": "1",
    }
    resources = {
        **defs.resources,
        "landing_area": LocalLandingArea(directory=str(materialized_graph.landing)),
        "labels_landing": LocalLandingArea(directory=str(tmp_path / "labels")),
        "prediction_log": PredictionLog(location=str(tmp_path / "prediction_log")),
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "storage")),
    }
    trusted = shipped_passengers[modeling.held_out(shipped_passengers["PassengerId"])]

    with model_service(tmp_path, overrides) as url:
        serving = STORE.promoted_model()
        poll(
            "the service to serve the session's model",
            lambda: accuracy_served(url, trusted.head(1))[1] == serving.version,
        )
        before, _ = accuracy_served(url, trusted)

        # The flood: 300 passengers scored under fixed request ids (so their held-out split
        # is the same on every run), and every outcome sent back flipped.
        flood = shipped_passengers.sample(FLOODED, random_state=20).reset_index(drop=True)
        ids = []
        for start in range(0, FLOODED, 100):
            answer = httpx.post(
                f"{url}/predict_batch",
                json={"passengers": passengers_json(flood.iloc[start : start + 100])},
                headers={"X-Request-ID": f"flood-{start}"},
                timeout=60,
            ).raise_for_status()
            ids += [p["id"] for p in answer.json()["predictions"]]
        flipped = [
            {"id": i, "survived": not bool(s)} for i, s in zip(ids, flood["Survived"], strict=True)
        ]
        stored = httpx.post(
            f"{url}/feedback",
            json={"outcomes": flipped},
            headers={"Authorization": f"Bearer {FLOOD_TOKEN}"},
            timeout=60,
        )
        assert stored.json() == {"received": FLOODED, "stored": FLOODED}, stored.text
        compact_log(log)  # as monitoring's hourly runs do before the retrain they trigger

        (tmp_path / "instance").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
            flooded = dg.materialize(
                [*defs.assets, *defs.asset_checks],
                selection=RETRAIN,
                instance=instance,
                resources=resources,
                raise_on_error=False,
            )
            traffic = flooded.asset_value(dg.AssetKey(["titanic", "labelled_traffic"]))
            assert traffic["Survived"].size == FLOODED
            now_serving = STORE.promoted_model()
            poll(
                "the service to serve whatever the retrain left serving",
                lambda: accuracy_served(url, trusted.head(1))[1] == now_serving.version,
                60,
            )
            after, _ = accuracy_served(url, trusted)
            assert after >= before - promotion.MARGIN, (before, after, decided(flooded))

            # The operator retracts the flooding sender's outcomes.
            retracted = subprocess.run(
                [sys.executable, "-m", "titanic_assets.commands.retract_outcomes",
                 "--model", "titanic", "--sender", sender_id(FLOOD_TOKEN),
                 "--reason", "300 flipped outcomes"],
                cwd=ROOT, env=environment(tmp_path),
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert f"{FLOODED} outcomes" in retracted.stdout
            assert read_outcomes(log).empty

            # The next retrain's training data: its assets up to `labelled_rows`.
            again = dg.materialize(
                [*defs.assets, *defs.asset_checks],
                selection=TRAINING_DATA,
                instance=instance,
                resources=resources,
                raise_on_error=False,
            )

    # As if they never came: the session's first run's training data, row for row.
    untouched = materialized_graph.value("labelled_rows")
    retrained = again.asset_value(dg.AssetKey(["titanic", "labelled_rows"]))
    assert again.asset_value(dg.AssetKey(["titanic", "labelled_traffic"])).empty
    pd.testing.assert_frame_equal(retrained, untouched)
    versions = [
        e.materialization.metadata["data_version"].value
        for e in again.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "titanic/labelled_rows"
    ]
    assert versions == [materialized_graph.metadata("labelled_rows")["data_version"]]
    traffic_meta = {
        k: v.value
        for e in again.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "titanic/labelled_traffic"
        for k, v in e.materialization.metadata.items()
    }
    assert traffic_meta["outcomes_retracted"] == FLOODED
    assert sender_id(FLOOD_TOKEN) in traffic_meta["retraction_log"]
