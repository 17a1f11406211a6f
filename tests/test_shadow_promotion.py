"""A challenger earns its place on live traffic, with the real daemon and service.

The first model serves. A candidate is made the challenger: the service scores every
passenger with it too and never returns its answers; outcomes come back through /feedback,
and monitoring's challenger_evaluation, run by the daemon's sensors as hours are compacted,
decides with the confidence sequence. A better challenger is promoted and the service swaps
it in with no restart; a worse one is retired and the serving model keeps serving.

The test is the world: the candidates are the serving model's own files with another
threshold (so they disagree with it on the passengers between the thresholds), and the
outcomes sent back make the challenger right where they disagree (better) or wrong (worse);
elsewhere they are the shipped passengers' true outcomes. The better one's threshold is
close enough to pass the trusted guard (0.08 lower: -0.15 fails it, on the trusted
held-out passengers it is 4.5 points worse, and is retired however right it is on traffic).
Retraining is switched off (TITANIC_RETRAIN_MIN_NEW_ROWS), so only the shadow evaluation
changes what serves.
"""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from titanic_assets.core.domain import load_domain
from titanic_assets.testing import (
    DAEMON,
    QUICK_LOOP,
    ROOT,
    environment,
    materialize_first_model,
    model_service,
    poll,
    running,
)

RAW_INPUTS = load_domain("titanic").input_names

DEADLINE = 420  # seconds for two sensor ticks and two runs, on a busy two-core machine

# A candidate as the serving model's files with another threshold, saved as the promotion
# policy saves a kept one (what the registry reads, nothing else).
SAVE_CANDIDATE = """
import shutil, sys
import bentoml
from titanic_assets.core import registry
from titanic_assets.core.instances import read_instance
store = registry.ModelStore(read_instance("titanic").serving_model_name)
serving = store.promoted_model()
metadata = {**serving.metadata, "threshold": serving.threshold + float(sys.argv[1])}
labels = {**serving.labels, "stage": "candidate"}
with bentoml.models.create(store.candidate, labels=labels, metadata=metadata) as model:
    for name in (registry.PIPELINE_FILE, registry.REFERENCE_FILE, registry.HELD_OUT_FILE,
                 registry.REFERENCE_SUMMARY_FILE, registry.GIVEN_IDS_FILE):
        shutil.copy(f"{serving.path}/{name}", model.path_of(name))
print(model.tag.version)
"""


def save_candidate(env: dict[str, str], threshold_shift: float) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SAVE_CANDIDATE, str(threshold_shift)],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def name_challenger(env: dict[str, str], version: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "titanic_assets.commands.challenger", "--model", "titanic",
         "shadow", version,
         "--reason", "test: shadow this candidate"],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def passengers_json(table: pd.DataFrame) -> list[dict]:
    """The passengers as new ones: without name, ticket or cabin, so with no travelling
    group the models know of, and less certain answers."""
    rows = table[list(RAW_INPUTS)].drop(columns=["Name", "Ticket", "Cabin"]).astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


def serve_and_answer(
    url: str, passengers: pd.DataFrame, challenger_threshold: float, challenger_better: bool
) -> tuple[int, str]:
    """Score the passengers, then send each one's outcome: where the challenger (the same
    probabilities, its own threshold) disagrees with the answer served, the challenger's
    answer if it is to be better, the served one if worse; elsewhere the true outcome.
    Returns how many disagreed and the serving version that answered."""
    disagreed, outcomes = 0, []
    for start in range(0, len(passengers), 100):
        batch = passengers.iloc[start : start + 100]
        answer = (
            httpx.post(
                f"{url}/predict_batch", json={"passengers": passengers_json(batch)}, timeout=30
            )
            .raise_for_status()
            .json()
        )
        for served, truth in zip(answer["predictions"], batch["Survived"], strict=True):
            assert set(served) == {"id", "survived", "probability"}  # nothing of the shadow
            shadow = served["probability"] >= challenger_threshold
            if shadow != served["survived"]:
                disagreed += 1
                truth = shadow if challenger_better else served["survived"]
            outcomes.append({"id": served["id"], "survived": bool(truth)})
    for start in range(0, len(outcomes), 500):
        stored = httpx.post(
            f"{url}/feedback", json={"outcomes": outcomes[start : start + 500]}, timeout=30
        )
        assert stored.status_code == 200, stored.text
    return disagreed, answer["model_version"]


def decision_for(instance: dg.DagsterInstance, challenger: str, action: str) -> dict | None:
    key = dg.AssetKey(["titanic", "challenger_evaluation"])
    event = instance.get_latest_materialization_event(key)
    if event is None:
        return None
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    if metadata.get("challenger", "").endswith(challenger) and metadata["decision"] == action:
        return metadata
    return None


@pytest.mark.timeout(1200)
def test_a_better_challenger_is_promoted_and_a_worse_one_retired(
    tmp_path: Path, shipped_passengers
):
    env = environment(tmp_path, {**QUICK_LOOP, "TITANIC_RETRAIN_MIN_NEW_ROWS": "1000000"})
    materialize_first_model(env)
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    with (
        model_service(tmp_path, env) as url,
        running(DAEMON, tmp_path / "daemon.log", env),
    ):
        first = poll(
            "the first model to be served",
            lambda: httpx.get(f"{url}/model_info").raise_for_status().json(),
            DEADLINE,
        )
        assert first["challenger"] is None

        # A challenger with a lower threshold, proven right where it disagrees: promoted.
        better = save_candidate(env, -0.08)
        name_challenger(env, better)
        info = poll(
            "the service to shadow with the challenger",
            lambda: (i := httpx.get(f"{url}/model_info").json())["challenger"] and i,
            DEADLINE,
        )
        assert info["challenger"]["model_version"] == better
        assert info["model_version"] == first["model_version"]
        disagreed, _ = serve_and_answer(
            url, shipped_passengers, first["threshold"] - 0.08, challenger_better=True
        )
        assert disagreed >= 20, disagreed
        promoted = poll(
            "the shadow evaluation to promote the challenger",
            lambda: decision_for(instance, better, "promote"),
            DEADLINE,
        )
        assert promoted["difference_lower_bound"] > 0
        assert promoted["challenger_only_right"] >= 20 and promoted["serving_only_right"] == 0
        assert promoted["challenger_accuracy"] > promoted["serving_accuracy"]
        assert "non-inferior on the" in promoted["trusted_guard"], promoted["trusted_guard"]
        now_serving = poll(
            "the service to answer with the promoted challenger",
            lambda: (
                (i := httpx.get(f"{url}/model_info").json())["model_version"]
                != first["model_version"]
                and i
            ),
            DEADLINE,
        )
        assert now_serving["challenger"] is None
        assert now_serving["threshold"] == pytest.approx(first["threshold"] - 0.08)
        serving_event = instance.get_latest_materialization_event(
            dg.AssetKey(["titanic", "serving_model"])
        )
        assert serving_event.asset_materialization.metadata["restored_from"].value.endswith(better)

        # A challenger with a higher threshold, proven wrong where it disagrees: retired.
        worse = save_candidate(env, +0.15)
        name_challenger(env, worse)
        poll(
            "the service to shadow with the second challenger",
            lambda: (
                (c := httpx.get(f"{url}/model_info").json()["challenger"])
                and c["model_version"] == worse
            ),
            DEADLINE,
        )
        rows = shipped_passengers.sample(frac=1.0, random_state=1)
        disagreed, version = serve_and_answer(
            url, rows, now_serving["threshold"] + 0.15, challenger_better=False
        )
        assert disagreed >= 20, disagreed
        retired = poll(
            "the shadow evaluation to retire the worse challenger",
            lambda: decision_for(instance, worse, "retire"),
            DEADLINE,
        )
        assert retired["difference_upper_bound"] < 0
        assert "challenger worse" in retired["decision_in_words"]
        poll(
            "the service to stop shadowing",
            lambda: httpx.get(f"{url}/model_info").json()["challenger"] is None,
            DEADLINE,
        )
        assert version == now_serving["model_version"]
        assert httpx.get(f"{url}/model_info").json()["model_version"] == version
    assert np.isfinite(retired["serving_accuracy"])
