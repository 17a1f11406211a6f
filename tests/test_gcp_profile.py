"""The gcp profile against a real GCS emulator: batches read from a bucket prefix, asset values
pickled into the bucket, every check passing, with the resources definitions.py builds; and
the exported serving model and its challenger picked up from the bucket by replicas with
model stores of their own, which shadow with it until it is retired."""

import dataclasses
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
    check_keys = {
        key
        for checks in defs.asset_checks
        for key in checks.check_keys
        if key.asset_key.path[0] == MODEL  # the model the run materialized
    }
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


# --- the challenger carried with the archive ------------------------------------------------

STORE = "titanic_survival"  # the Titanic model's serving name in the store


def export_archive_again(run: GcpRun):
    """serving_model_archive materialized again, as its sensor requests after a change."""
    key = dg.AssetKey([MODEL, "serving_model_archive"])
    result = dg.materialize([*defs.assets], selection=[key], resources=run.resources)
    return result.asset_value(key)


def save_candidate(store, threshold_shift: float, broken: bool = False) -> str:
    """A candidate as the serving model's files with another threshold (its pickle
    unreadable when `broken`), saved as the promotion policy saves a kept one."""
    import shutil

    import bentoml

    from titanic_assets.core import registry

    serving = store.promoted_model()
    metadata = {**serving.metadata, "threshold": serving.threshold + threshold_shift}
    labels = {**serving.labels, "stage": "candidate"}
    with bentoml.models.create(store.candidate, labels=labels, metadata=metadata) as model:
        for name in registry.MODEL_FILES:
            if os.path.exists(os.path.join(serving.path, name)):
                shutil.copy(os.path.join(serving.path, name), model.path_of(name))
        if broken:
            Path(model.path_of(registry.PIPELINE_FILE)).write_bytes(b"not a pickle")
    return str(model.tag)


def passenger_body(row: pd.Series) -> dict:
    def plain(value):
        return None if pd.isna(value) else value

    return {
        "Pclass": int(row["Pclass"]), "Sex": row["Sex"], "Age": plain(row["Age"]),
        "SibSp": int(row["SibSp"]), "Parch": int(row["Parch"]), "Fare": plain(row["Fare"]),
    }  # fmt: skip


def challenger_version(url: str) -> str | None:
    answer = httpx.get(f"{url}/model_info")
    if not answer.is_success:
        return "no model yet"
    challenger = answer.json().get("challenger")
    return challenger and challenger["model_version"]


def test_gcp_replicas_shadow_the_challenger_carried_with_the_archive_until_it_is_retired(
    gcp_run: GcpRun, emulator: str, tmp_path: Path
) -> None:
    """A challenger named in the pipeline's store travels with the archive: two replicas,
    each with its own store and its own model_sync, serve the exported serving model, shadow
    with the challenger and log both answers to the bucket, and challenger_evaluation judges
    their rows together. A half-written
    challenger archive is skipped (a warning, a metric) while both keep answering and
    shadowing; once the challenger is retired, neither shadows within a sync interval."""
    import contextlib

    from titanic_assets.core import registry
    from titanic_assets.core.compaction import compact_hour
    from titanic_assets.core.log_files import LogPlace
    from titanic_assets.core.model_sync import archive_object
    from titanic_assets.defs.resources import MonitoringPolicy, PredictionLog
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS
    from titanic_assets.testing import free_port

    store = registry.ModelStore(STORE)
    candidate = save_candidate(store, threshold_shift=0.15)
    version = candidate.split(":", 1)[1]
    store.record_challenger(candidate, registry.SHADOWING, "test: shadow on every replica")
    exported = export_archive_again(gcp_run)
    assert exported.challenger.tag == candidate and exported.record["status"] == "shadowing"
    gcs = gcp_run.resources["gcs"].get_client().bucket(BUCKET)
    stored = pickle.loads(gcs.blob(archive_object(IO_PREFIX, MODEL)).download_as_bytes())
    assert isinstance(stored, ModelArchive) and stored == exported  # what the replicas read

    log_url = f"gs://{BUCKET}/shadow-log"
    env = {
        "STORAGE_EMULATOR_HOST": emulator,
        "GOOGLE_CLOUD_PROJECT": "titanic-test",
        "TITANIC_GCS_BUCKET": BUCKET,
        "TITANIC_GCS_IO_PREFIX": IO_PREFIX,
        "TITANIC_MODEL_POLL_SECONDS": "1",
        "TITANIC_PREDICTION_LOG": log_url,
        "TITANIC_LOG_BATCH_SECONDS": "1",
        "TITANIC_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
    }  # each replica's BENTOML_HOME is its own (`environment`), not the pipeline's store
    works = [tmp_path / "a", tmp_path / "b"]
    metrics_port = free_port()
    sync = [sys.executable, "-m", "titanic_assets.commands.model_sync"]
    passengers = pd.read_csv(SHIPPED_PASSENGERS).head(60)
    with contextlib.ExitStack() as stack:
        for work, flags in zip(works, (["--metrics-port", str(metrics_port)], []), strict=True):
            work.mkdir()
            command = [*sync, *flags]
            stack.enter_context(running(command, work / "model_sync.log", environment(work, env)))
        replicas = stack.enter_context(model_services(works, env))
        poll(
            "both replicas to shadow with the challenger",
            lambda: all(challenger_version(url) == version for url in replicas),
        )
        # Each serves the exported serving model, imported into its own store.
        for url in replicas:
            assert httpx.get(f"{url}/model_info").json()["tag"] == exported.tag

        # Each replica answers half the passengers; their outcomes come back to it.
        for half, url in enumerate(replicas):
            rows = passengers.iloc[half * 30 : (half + 1) * 30]
            body = {"passengers": [passenger_body(row) for _, row in rows.iterrows()]}
            answer = httpx.post(f"{url}/predict_batch", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            ids = [p["id"] for p in answer.json()["predictions"]]
            outcomes = [
                {"id": i, "survived": bool(s)} for i, s in zip(ids, rows["Survived"], strict=True)
            ]
            stored = httpx.post(
                f"{url}/feedback", json={"outcomes": outcomes}, headers=AUTHORIZED, timeout=30
            )
            assert stored.json() == {"received": 30, "stored": 30}, stored.text

        # Both replicas' logged answers, compacted from the bucket and judged together.
        place = LogPlace(f"{log_url}/{MODEL}")

        def shipped() -> bool:
            from titanic_assets.core.prediction_log import read_prediction_log

            return len(read_prediction_log(f"{log_url}/{MODEL}", PASSENGER_FIELDS)) == 60

        poll("both replicas to ship their predictions", shipped, 30)
        for hour in {f.hour for f in place.landing()}:
            compact_hour(place, hour, place.landing(), PASSENGER_FIELDS)
        key = dg.AssetKey([MODEL, "challenger_evaluation"])
        resources = {
            **gcp_run.resources,
            "prediction_log": PredictionLog(location=log_url),
            "monitoring_policy": MonitoringPolicy(),
        }
        result = dg.materialize([*defs.assets], selection=[key], resources=resources)
        [event] = result.get_asset_materialization_events()
        judged = {k: v.value for k, v in event.materialization.metadata.items()}
        assert judged["challenger"] == candidate
        assert judged["shadowed_outcomes"] == 60  # 30 from each replica
        assert judged["serving_model"] == exported.tag

        # A half-written challenger archive: skipped, with a warning and the metric.
        half_written = f"{store.candidate}:halfwritten"
        truncated = dataclasses.replace(
            exported.challenger, tag=half_written, archive=exported.challenger.archive[:2000]
        )
        record = {**exported.record, "candidate": half_written, "since": "a half-written one"}
        bad = dataclasses.replace(exported, challenger=truncated, record=record)
        gcs.blob(archive_object(IO_PREFIX, MODEL)).upload_from_string(pickle.dumps(bad))
        metric = 'titanic_model_sync_skipped_total{part="challenger"} 1.0'
        poll(
            "the sync to skip the half-written challenger",
            lambda: metric in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text,
            30,
        )
        for url in replicas:
            assert challenger_version(url) == version
            answer = httpx.post(f"{url}/predict", json=passenger_body(passengers.iloc[0]))
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_version"] == exported.tag.split(":", 1)[1]
        assert "Skipped the challenger" in (works[0] / "model_sync.log").read_text()

        # Retired in the pipeline's store: the next export stops the shadowing everywhere.
        if store.shadowing_tag() == candidate:  # (not already retired by the evaluation)
            store.record_challenger(candidate, registry.RETIRED, "test: retired")
        assert export_archive_again(gcp_run).record["status"] == "retired"
        poll(
            "both replicas to stop shadowing",
            lambda: all(challenger_version(url) is None for url in replicas),
            30,
        )


def test_an_unreadable_archive_or_a_challenger_that_does_not_load_is_skipped(
    gcp_run: GcpRun, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad input to the sync: the object is no archive, its serving model is half-written, the
    challenger it carries does not load, or its record names a model it does not carry. Each
    is skipped with a warning and counted; the store keeps its serving model and its
    challenger record."""
    import bentoml
    from prometheus_client import REGISTRY

    from titanic_assets.core import registry
    from titanic_assets.core.model_sync import (
        BucketModelSource,
        archive_object,
        export_archive,
        export_bundle,
    )

    def skipped(part: str) -> float:
        value = REGISTRY.get_sample_value("titanic_model_sync_skipped_total", {"part": part})
        return value or 0.0

    store = registry.ModelStore(STORE)
    serving, record = store.promoted_tag(), store.challenger_record()
    unloadable = save_candidate(store, threshold_shift=0.0, broken=True)
    bundle = export_bundle(store)
    broken = export_archive(unloadable)
    bentoml.models.delete(unloadable)  # the pipeline's store had it; the sync brings it in
    described = {"candidate": unloadable, "status": "shadowing", "reason": "test",
                 "since": "an unloadable one", "champion": serving}  # fmt: skip
    client = gcp_run.resources["gcs"].get_client()
    source = BucketModelSource(BUCKET, "bad-input", MODEL, client=client)
    blob = client.bucket(BUCKET).blob(archive_object("bad-input", MODEL))
    before = {part: skipped(part) for part in ("archive", "serving", "challenger")}

    blob.upload_from_string(pickle.dumps(bundle)[:-100])  # cut short
    assert source.pull() == []
    half_serving = f"{STORE}:halfwritten"
    cut = dataclasses.replace(bundle, tag=half_serving, archive=bundle.archive[:2000], record=None)
    blob.upload_from_string(pickle.dumps(cut))
    assert source.pull() == []
    assert registry.get(half_serving) is None
    carried = dataclasses.replace(bundle, challenger=broken, record=described)
    blob.upload_from_string(pickle.dumps(carried))
    assert source.pull() == []
    assert registry.get(unloadable) is None  # not left behind, half in
    not_carried = dataclasses.replace(bundle, challenger=None, record=described)
    blob.upload_from_string(pickle.dumps(not_carried))
    assert source.pull() == []

    assert skipped("archive") == before["archive"] + 1
    assert skipped("serving") == before["serving"] + 1
    assert skipped("challenger") == before["challenger"] + 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("Skipped the challenger" in w and unloadable in w for w in warnings) == 2
    assert store.promoted_tag() == serving and store.challenger_record() == record


def test_the_archive_sensor_exports_again_once_the_store_changes_in_the_gcp_profile(
    gcp_run: GcpRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named or retired challenger (or a promotion) changes what the archive carries: the
    sensor requests an export once per change, and nothing in the local profile."""
    from titanic_assets.core import registry

    sensor = defs.get_repository_def().get_sensor_def(
        f"{MODEL}_serving_model_archive_on_store_change"
    )
    store = registry.ModelStore(STORE)
    first = sensor.evaluate_tick(dg.build_sensor_context())
    assert len(first.run_requests) == 1 and first.cursor
    same = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert same.run_requests == [] and "unchanged" in same.skip_message

    candidate = save_candidate(store, threshold_shift=0.05)
    store.record_challenger(candidate, registry.SHADOWING, "test: the sensor sees it")
    named = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert len(named.run_requests) == 1 and candidate in named.cursor
    store.record_challenger(candidate, registry.RETIRED, "test: the sensor sees this too")
    retired = sensor.evaluate_tick(dg.build_sensor_context(cursor=named.cursor))
    assert len(retired.run_requests) == 1 and retired.cursor != named.cursor

    monkeypatch.setenv("TITANIC_PROFILE", "local")
    local = sensor.evaluate_tick(dg.build_sensor_context())
    assert local.run_requests == [] and "gcp" in local.skip_message
