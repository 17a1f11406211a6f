"""The gcp profile against a real GCS emulator: batches read from a bucket prefix, asset values
pickled into the bucket, every check passing, with the resources definitions.py builds; and
the exported serving model picked up from the bucket by a service with its own model store."""

import os
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest

from titanic_assets.core.domain import load_domain
from titanic_assets.core.model_sync import ModelArchive
from titanic_assets.core.settings import SettingsError, load_settings
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import RESOURCES_BY_PROFILE, GCSLandingArea
from titanic_assets.testing import (
    environment,
    model_service,
    model_services,
    poll,
    running,
    unpartitioned,
)

defs = load_definitions()
SHIPPED_PASSENGERS = load_domain("titanic").data
MODEL = "titanic"  # the model's folder under every landing prefix and the log root

BUCKET = "titanic-landing-test"
FEEDBACK_TOKEN = "gcp-profile-feedback-token"
AUTHORIZED = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}
LANDING_PREFIX = "landing"
IO_PREFIX = "assets"
SECOND_BATCH_ROWS = 60
TABLES_AND_MODEL = {
    "titanic/raw_rows",
    "titanic/labelled_rows",
    "titanic/feature_table",
    "titanic/trained_model",
    "titanic/model_evaluation",
}


@pytest.fixture(scope="module")
def gcp_env(emulator: str) -> Iterator[None]:
    """The documented environment of the gcp profile, pointed at the emulator."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", emulator)
        patch.setenv("TITANIC_PROFILE", "gcp")
        patch.setenv("TITANIC_GCS_BUCKET", BUCKET)
        patch.setenv("TITANIC_GCS_LANDING_PREFIX", LANDING_PREFIX)
        patch.setenv("TITANIC_GCS_IO_PREFIX", IO_PREFIX)
        patch.setenv("GOOGLE_CLOUD_PROJECT", "titanic-test")
        patch.setenv(
            "TITANIC_FEEDBACK_TOKEN", FEEDBACK_TOKEN
        )  # production takes no anonymous outcomes
        yield


def second_batch() -> pd.DataFrame:
    """New labelled passengers: shipped rows one year older, under new ids."""
    shipped = pd.read_csv(SHIPPED_PASSENGERS)
    batch = shipped.sample(SECOND_BATCH_ROWS, random_state=5).reset_index(drop=True)
    batch["PassengerId"] = range(10_001, 10_001 + len(batch))
    batch["Age"] = batch["Age"] + 1
    return batch


@dataclass
class GcpRun:
    result: dg.ExecuteInProcessResult
    resources: dict
    objects: dict[str, bytes]


@pytest.fixture(scope="module")
def gcp_run(gcp_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpRun]:
    """The whole graph with its checks, materialized once in the gcp profile."""
    settings = load_settings()
    resources = RESOURCES_BY_PROFILE[settings.profile](settings)
    bucket = resources["gcs"].get_client().create_bucket(BUCKET)
    landing = f"{LANDING_PREFIX}/{MODEL}"
    bucket.blob(f"{landing}/titanic.csv").upload_from_filename(str(SHIPPED_PASSENGERS))
    bucket.blob(f"{landing}/batch-2.csv").upload_from_string(
        second_batch().to_csv(index=False), content_type="text/csv"
    )
    # Neither a nested folder nor a non-CSV object is part of the landing area.
    bucket.blob(f"{landing}/archive/old.csv").upload_from_string("not,a,batch\n")
    bucket.blob(f"{landing}/README.txt").upload_from_string("batches land here\n")
    # Another model's folder, beside this one's, is not part of this model's landing area.
    bucket.blob(f"{LANDING_PREFIX}/other/batch.csv").upload_from_string("not,a,batch\n")
    # Outcomes in bulk, under the labels prefix, for ids no prediction in this run has.
    bucket.blob(f"labels/{MODEL}/outcomes-1.csv").upload_from_string(
        "id,Survived\nold-1,1\nold-2,0\n"
    )

    root = tmp_path_factory.mktemp("gcp-instance")
    with dg.instance_for_test(temp_dir=str(root)) as instance:
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=unpartitioned(MODEL),
            instance=instance,
            resources=resources,
        )
        objects = {b.name: b.download_as_bytes() for b in bucket.list_blobs(prefix=IO_PREFIX)}
        yield GcpRun(result, resources, objects)


def value(run: GcpRun, asset: str):
    return run.result.asset_value(dg.AssetKey([MODEL, asset]))


def test_raw_rows_hold_every_csv_batch_in_the_model_landing_prefix(gcp_run: GcpRun) -> None:
    raw = value(gcp_run, "raw_rows")
    counts = raw["source"].value_counts().to_dict()
    shipped_rows = len(pd.read_csv(SHIPPED_PASSENGERS))
    assert counts == {
        f"{LANDING_PREFIX}/{MODEL}/titanic.csv": shipped_rows,
        f"{LANDING_PREFIX}/{MODEL}/batch-2.csv": SECOND_BATCH_ROWS,
    }
    assert raw["PassengerId"].is_unique


def test_raw_rows_metadata_names_the_model_bucket_prefix(gcp_run: GcpRun) -> None:
    [event] = [
        e
        for e in gcp_run.result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([MODEL, "raw_rows"])
    ]
    metadata = event.materialization.metadata
    assert metadata["landing_area"].value == f"gs://{BUCKET}/{LANDING_PREFIX}/{MODEL}/"
    assert metadata["file_count"].value == 2


def test_outcomes_landed_under_the_labels_prefix_are_read_and_accounted_for(
    gcp_run: GcpRun,
) -> None:
    landed = value(gcp_run, "landed_outcomes")
    assert landed.to_dict("list") == {
        "id": ["old-1", "old-2"],
        "Survived": ["1", "0"],
        "source": [f"labels/{MODEL}/outcomes-1.csv"] * 2,
    }
    [event] = [
        e
        for e in gcp_run.result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([MODEL, "labelled_traffic"])
    ]
    assert event.materialization.metadata["landed_ids_without_prediction"].value == 2


def test_every_asset_value_is_a_pickle_in_the_bucket(gcp_run: GcpRun) -> None:
    # An asset's step is `titanic__<name>`; its pickle is at its key's path, `titanic/<name>`.
    stored_values = {
        e.step_key.replace("__", "/") for e in gcp_run.result.all_events if e.is_handled_output
    }
    assert stored_values >= TABLES_AND_MODEL
    assert set(gcp_run.objects) == {f"{IO_PREFIX}/{name}" for name in stored_values}
    stored_raw = pickle.loads(gcp_run.objects[f"{IO_PREFIX}/{MODEL}/raw_rows"])
    pd.testing.assert_frame_equal(stored_raw, value(gcp_run, "raw_rows"))
    stored_model = pickle.loads(gcp_run.objects[f"{IO_PREFIX}/{MODEL}/trained_model"])
    assert stored_model.threshold == value(gcp_run, "trained_model").threshold


def test_every_check_passes_in_the_gcp_profile(gcp_run: GcpRun) -> None:
    evaluations = gcp_run.result.get_asset_check_evaluations()
    check_keys = {key for checks in defs.asset_checks for key in checks.check_keys}
    assert {e.asset_check_key for e in evaluations} == check_keys
    assert [e.check_name for e in evaluations if not e.passed] == []


def test_a_missing_landing_bucket_fails_with_its_name(gcp_env: None) -> None:
    gcs = RESOURCES_BY_PROFILE["gcp"](load_settings())["gcs"]
    landing = GCSLandingArea(gcs=gcs, bucket="no-such-bucket")
    with pytest.raises(dg.Failure, match="gs://no-such-bucket does not exist"):
        landing.csv_files()


def test_gcp_profile_without_a_bucket_says_which_variable_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TITANIC_GCS_BUCKET", raising=False)
    monkeypatch.setenv("TITANIC_PROFILE", "gcp")
    with pytest.raises(SettingsError, match="TITANIC_GCS_BUCKET"):
        load_settings()


def test_landing_file_reads_back_byte_for_byte(gcp_run: GcpRun) -> None:
    landing: GCSLandingArea = gcp_run.resources["landing_area"].under(MODEL)
    with landing.open(f"{LANDING_PREFIX}/{MODEL}/titanic.csv") as handle:
        assert handle.read() == SHIPPED_PASSENGERS.read_bytes()


def test_a_service_with_its_own_store_serves_the_model_exported_to_the_bucket(
    gcp_run: GcpRun, emulator: str, tmp_path: Path
) -> None:
    exported = pickle.loads(gcp_run.objects[f"{IO_PREFIX}/{MODEL}/serving_model_archive"])
    assert isinstance(exported, ModelArchive)
    assert exported.tag == value(gcp_run, "serving_model_archive").tag
    version = exported.tag.split(":", 1)[1]
    env = {
        "STORAGE_EMULATOR_HOST": emulator,
        "TITANIC_GCS_BUCKET": BUCKET,
        "TITANIC_GCS_IO_PREFIX": IO_PREFIX,
        "TITANIC_MODEL_POLL_SECONDS": "1",
        "BENTOML_HOME": str(tmp_path / "bentoml"),  # not the store the pipeline wrote to
    }
    sync = [sys.executable, "-m", "titanic_assets.commands.model_sync"]
    with (
        model_service(tmp_path, env) as url,
        running(sync, tmp_path / "model_sync.log", environment(tmp_path, env)),
    ):
        info = poll(
            "the service to serve the exported model",
            lambda: (
                (answer := httpx.get(f"{url}/model_info")).is_success
                and (answer.json() or {}).get("tag") == exported.tag
                and answer.json()
            ),
        )
        assert info["model_version"] == version
        passenger = pd.read_csv(SHIPPED_PASSENGERS).iloc[0]
        body = {
            "Pclass": int(passenger["Pclass"]), "Sex": passenger["Sex"],
            "Age": float(passenger["Age"]), "SibSp": int(passenger["SibSp"]),
            "Parch": int(passenger["Parch"]), "Fare": float(passenger["Fare"]),
            "Embarked": passenger["Embarked"], "Name": passenger["Name"], "Cabin": None,
        }  # fmt: skip
        prediction = httpx.post(f"{url}/predict", json=body)
        assert prediction.status_code == 200, prediction.text
        assert prediction.json()["model_version"] == version


def test_two_replicas_ship_every_prediction_to_the_bucket_exactly_once(
    emulator, materialized_graph, tmp_path, monkeypatch
):
    """Two service processes log to one bucket prefix; every answered prediction appears
    exactly once in what the traffic window reads. A replica killed with SIGKILL loses at
    most its last batch: the predictions of its last TITANIC_LOG_BATCH_SECONDS."""
    import signal
    import time

    from google.cloud import storage

    from titanic_assets.core.prediction_log import read_prediction_log
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "titanic-test")
    storage.Client(project="titanic-test").create_bucket("titanic-replicas")
    url = "gs://titanic-replicas/predictions"
    batch_seconds = 1.0
    env = {
        "BENTOML_HOME": os.environ["BENTOML_HOME"],  # the store the graph registered into
        "STORAGE_EMULATOR_HOST": emulator,
        "GOOGLE_CLOUD_PROJECT": "titanic-test",
        "TITANIC_PREDICTION_LOG": url,
        "TITANIC_LOG_BATCH_SECONDS": str(batch_seconds),
    }
    passenger = {"Pclass": 1, "Sex": "female", "SibSp": 0, "Parch": 0, "Age": 30.0}
    answered: dict[str, float] = {}  # request id -> when its answer arrived
    with model_services([tmp_path / "a", tmp_path / "b"], env) as (first, second):
        for replica in (first, second):
            poll("readiness", lambda r=replica: httpx.get(f"{r}/readyz").is_success)
        for i in range(300):
            replica = first if i % 2 else second
            answer = httpx.post(f"{replica}/predict", json=passenger).json()
            answered[answer["request_id"]] = time.monotonic()
        # SIGKILL the second replica's worker while it holds a batch.
        for _ in range(50):
            answer = httpx.post(f"{second}/predict", json=passenger).json()
            answered[answer["request_id"]] = time.monotonic()
        workers = _service_workers(second)
        killed_at = time.monotonic()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
    # Both replicas stopped: the first gracefully (its last batch flushed on shutdown).
    logged = read_prediction_log(f"{url}/{MODEL}", PASSENGER_FIELDS)
    counts = logged["request_id"].value_counts()
    assert counts.max() == 1  # exactly once
    lost = set(answered) - set(counts.index)
    assert all(answered[i] >= killed_at - batch_seconds - 1.0 for i in lost), len(lost)

    # Monitoring compacts the bucket's hours beside them: the same rows, from the bucket.
    from titanic_assets.commands.monitor import stale_hours
    from titanic_assets.core.compaction import compact_hour, read_compacted
    from titanic_assets.core.log_files import LogPlace

    place = LogPlace(f"{url}/{MODEL}")
    hours = stale_hours(place)
    compacted = [compact_hour(place, hour, place.landing(), PASSENGER_FIELDS) for hour in hours]
    assert sum(c.rows for c in compacted) == len(logged) and stale_hours(place) == []
    rows = read_compacted(place, "predictions", hours)
    assert sorted(rows["request_id"]) == sorted(logged["request_id"])


def _service_workers(url: str) -> list[int]:
    from tests.test_service import service_workers

    return service_workers(url)


def test_outcomes_fed_back_to_replicas_logging_to_a_bucket_are_stored_there_once(
    emulator, materialized_graph, tmp_path, monkeypatch
):
    """/feedback beside a bucket prediction log: an id is known at once to the replica that
    returned it and to the other once shipped; conflicts are 409 on either replica, repeats
    store nothing, unknown ids are 404, and the reader finds every outcome in the bucket."""
    from google.cloud import storage

    from titanic_assets.core.outcomes import read_outcomes

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "titanic-test")
    storage.Client(project="titanic-test").create_bucket("titanic-feedback")
    url = "gs://titanic-feedback/log"
    env = {
        "BENTOML_HOME": os.environ["BENTOML_HOME"],
        "STORAGE_EMULATOR_HOST": emulator,
        "GOOGLE_CLOUD_PROJECT": "titanic-test",
        "TITANIC_PREDICTION_LOG": url,
        "TITANIC_LOG_BATCH_SECONDS": "1",
    }
    passenger = {"Pclass": 3, "Sex": "male", "SibSp": 0, "Parch": 0, "Age": 40.0}
    with model_services([tmp_path / "a", tmp_path / "b"], env) as (first, second):
        for replica in (first, second):
            poll("readiness", lambda r=replica: httpx.get(f"{r}/readyz").is_success)
        batch = httpx.post(f"{first}/predict_batch", json={"passengers": [passenger] * 3})
        ids = [p["id"] for p in batch.json()["predictions"]]

        def feedback(replica: str, outcomes: list[tuple[str, bool]]) -> httpx.Response:
            body = {"outcomes": [{"id": i, "survived": s} for i, s in outcomes]}
            return httpx.post(f"{replica}/feedback", json=body, headers=AUTHORIZED, timeout=30)

        # At once on the replica that answered, before its batch is due to ship.
        stored = feedback(first, [(ids[0], True), (ids[1], False)])
        assert stored.json() == {"received": 2, "stored": 2}, stored.text
        # The other replica sees the shipped prediction, and the stored outcome.
        again = poll(
            "the other replica to know the prediction",
            lambda: (r := feedback(second, [(ids[0], True), (ids[2], True)])).is_success and r,
            30,
        )
        assert again.json() == {"received": 2, "stored": 1}
        conflict = feedback(second, [(ids[1], True)])
        assert conflict.status_code == 409 and ids[1] in conflict.text
        unknown = feedback(first, [("never-predicted", True)])
        assert unknown.status_code == 404 and "never-predicted" in unknown.text

    outcomes = read_outcomes(f"{url}/{MODEL}").set_index("id")["outcome"].to_dict()
    assert outcomes == {ids[0]: True, ids[1]: False, ids[2]: True}

    # Compacted from the bucket, the outcomes join their predictions in their hour.
    from titanic_assets.core.compaction import compact_hour
    from titanic_assets.core.log_files import LogPlace
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    place = LogPlace(f"{url}/{MODEL}")
    hours = {f.hour for f in place.landing()}  # one, unless the test crossed an hour
    compacted = [compact_hour(place, hour, place.landing(), PASSENGER_FIELDS) for hour in hours]
    assert sum(c.rows for c in compacted) == 3 and sum(c.labelled for c in compacted) == 3
