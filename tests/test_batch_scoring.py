"""Batch scoring: the input contract per row, and the batch_predictions asset on a real instance
scoring inbox files with the serving model registered by the session's materialization."""

import io
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from titanic_assets.core import registry
from titanic_assets.core.batch_scoring import invalid_rows, score_file
from titanic_assets.core.domain import load_domain
from titanic_assets.core.instances import read_instance
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea
from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS
from titanic_assets.loop.scoring.batch_predictions import BatchScoringConfig

defs = load_definitions()
TITANIC = load_domain("titanic")
INSTANCE = read_instance("titanic")
STORE = registry.ModelStore(INSTANCE.serving_model_name)
# The Titanic model's batch scoring, as the code location builds it.
batch_predictions = defs.get_assets_def(dg.AssetKey(["titanic", "batch_predictions"]))
batch_scoring_on_new_files = defs.get_sensor_def("titanic_batch_scoring_on_new_files")
BATCH_OP = "titanic__batch_predictions"  # the asset's op, which run config is keyed by

VALID = {
    "PassengerId": "1", "Pclass": "3", "Sex": "male", "Age": "22", "SibSp": "1", "Parch": "0",
    "Fare": "7.25", "Embarked": "S", "Name": "Braund, Mr. Owen Harris", "Cabin": np.nan,
}  # fmt: skip
BROKEN = {  # one broken field per row, and the reason it must give
    "Pclass": ("4", "Pclass not 1, 2 or 3"),
    "Sex": ("unknown", "Sex not male or female"),
    "Age": ("200", "Age not a number in 0-100"),
    "SibSp": ("-1", "SibSp not a whole number in 0-10"),
    "Parch": ("1.5", "Parch not a whole number in 0-10"),
    "Fare": ("abc", "Fare not a number in 0-1000"),
    "Embarked": ("Z", "Embarked not S, C or Q"),
    "PassengerId": (np.nan, "PassengerId missing"),
}


def unlabelled(passengers: pd.DataFrame) -> pd.DataFrame:
    return passengers.drop(columns=["Survived"])


def test_invalid_rows_gives_each_broken_field_its_reason_and_passes_missing_optionals():
    rows = [VALID, {**VALID, "Age": np.nan, "Fare": np.nan, "Embarked": np.nan}]
    rows += [{**VALID, column: value} for column, (value, _) in BROKEN.items()]
    rows.append({**VALID, "Pclass": "0", "Sex": "f"})
    reasons = invalid_rows(pd.DataFrame(rows, dtype=object), PASSENGER_FIELDS, "PassengerId")
    assert list(reasons[:2]) == ["", ""]
    assert list(reasons[2:-1]) == [reason for _, reason in BROKEN.values()]
    assert reasons.iloc[-1] == "Pclass not 1, 2 or 3; Sex not male or female"


def test_invalid_rows_accepts_files_without_optional_columns():
    required = ("PassengerId", "Pclass", "Sex", "SibSp", "Parch")
    frame = pd.DataFrame([{k: VALID[k] for k in required}])
    assert list(invalid_rows(frame, PASSENGER_FIELDS, "PassengerId")) == [""]


def test_score_file_keeps_memory_chunked_and_scores_like_the_model(
    materialized_graph, shipped_passengers: pd.DataFrame
):
    model = registry.load(f"{STORE.serving}:latest")
    source = io.BytesIO(unlabelled(shipped_passengers).to_csv(index=False).encode())
    predictions, rejects = io.BytesIO(), io.BytesIO()
    summary = score_file(
        source,
        model,
        predictions,
        rejects,
        PASSENGER_FIELDS,
        "PassengerId",
        "survived",
        chunk_rows=100,
    )
    scored = pd.read_csv(io.BytesIO(predictions.getvalue()))
    assert summary.rows == summary.scored == len(scored) == len(shipped_passengers)
    assert summary.rejected == 0
    assert list(scored["PassengerId"]) == list(shipped_passengers["PassengerId"])
    # What the trained model says through scikit-learn on a DataFrame, calibration included.
    expected = materialized_graph.value("trained_model").predict_proba(shipped_passengers)
    np.testing.assert_allclose(scored["probability"], expected, atol=1e-6)
    assert list(scored["survived"]) == list((expected >= model.threshold).astype(int))
    assert set(scored["model_version"].astype(str)) == {model.version}


@pytest.fixture
def inbox(tmp_path: Path, shipped_passengers: pd.DataFrame) -> Path:
    """An inbox with a clean file and a file of which a few rows break the contract: the
    Titanic model's folder under the inbox root `tmp_path / "inbox"`."""
    folder = tmp_path / "inbox" / INSTANCE.landing
    folder.mkdir(parents=True)
    passengers = unlabelled(shipped_passengers).astype(object)
    passengers.head(300).to_csv(folder / "clean.csv", index=False)
    mixed = passengers.iloc[300:400].reset_index(drop=True)
    for row, (column, (value, _)) in enumerate(BROKEN.items()):
        mixed.loc[row * 10, column] = value
    mixed.to_csv(folder / "mixed.csv", index=False)
    return folder


def inbox_root(inbox: Path) -> LocalLandingArea:
    """The inbox root the resources name, whose `titanic/` folder is `inbox`."""
    return LocalLandingArea(directory=str(inbox.parent))


def test_batch_predictions_scores_valid_rows_and_rejects_the_rest_with_reasons(
    materialized_graph, inbox: Path
):
    result = dg.materialize(
        [batch_predictions],
        instance=materialized_graph.instance,
        resources={"scoring_inbox": inbox_root(inbox)},
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}

    clean = pd.read_csv(inbox / "predictions" / "clean.csv")
    assert len(clean) == 300 and pd.read_csv(inbox / "rejects" / "clean.csv").empty
    mixed_in = pd.read_csv(inbox / "mixed.csv", dtype=str)
    mixed = pd.read_csv(inbox / "predictions" / "mixed.csv", dtype=str)
    rejects = pd.read_csv(inbox / "rejects" / "mixed.csv", dtype=str)
    assert list(rejects["reason"]) == [reason for _, reason in BROKEN.values()]
    assert list(rejects["row"].astype(int)) == [row * 10 + 1 for row in range(len(BROKEN))]
    # Nothing is lost: every input row is either predicted or rejected, as it was.
    assert len(mixed) + len(rejects) == len(mixed_in) == 100
    kept = mixed_in.drop(index=[row * 10 for row in range(len(BROKEN))])
    assert list(mixed["PassengerId"]) == list(kept["PassengerId"])
    pd.testing.assert_frame_equal(
        rejects[list(mixed_in.columns)].reset_index(drop=True),
        mixed_in.iloc[[row * 10 for row in range(len(BROKEN))]].reset_index(drop=True),
    )

    serving = registry.load(f"{STORE.serving}:latest")
    assert set(mixed["model_version"]) == {serving.version}
    assert metadata["rows_scored"] == metadata["dagster/row_count"] == 300 + 100 - len(BROKEN)
    assert metadata["rows_rejected"] == len(BROKEN)
    assert metadata["rejection_reasons"] == {reason: 1 for _, reason in BROKEN.values()}
    survived = pd.concat([clean["survived"], mixed["survived"].astype(int)])
    rate = metadata["predicted_positive_rate"]  # rounded for reading (loop/metadata.py)
    assert rate == pytest.approx(survived.mean(), abs=5e-4)
    assert metadata["output_files"]["mixed.csv"]["rejects"] == str(inbox / "rejects" / "mixed.csv")
    assert metadata["model_version"] == serving.version


def test_batch_predictions_names_files_that_are_not_in_the_inbox(materialized_graph, inbox):
    result = dg.materialize(
        [batch_predictions],
        instance=materialized_graph.instance,
        resources={"scoring_inbox": inbox_root(inbox)},
        run_config=dg.RunConfig(ops={BATCH_OP: BatchScoringConfig(files=["gone.csv"])}),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "gone.csv" in failure.step_failure_data.error.message


def test_sensor_requests_one_run_per_set_of_new_files(inbox: Path):
    area = inbox_root(inbox)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"scoring_inbox": area})
        first = batch_scoring_on_new_files(context)
        assert isinstance(first, dg.RunRequest)
        assert first.run_config["ops"][BATCH_OP]["config"]["files"] == [
            "clean.csv", "mixed.csv",
        ]  # fmt: skip
        again = dg.build_sensor_context(
            instance=instance, resources={"scoring_inbox": area}, cursor=context.cursor
        )
        assert isinstance(batch_scoring_on_new_files(again), dg.SkipReason)
        (inbox / "later.csv").write_text((inbox / "clean.csv").read_text())
        newer = dg.build_sensor_context(
            instance=instance, resources={"scoring_inbox": area}, cursor=again.cursor
        )
        second = batch_scoring_on_new_files(newer)
        assert isinstance(second, dg.RunRequest)
        assert second.run_config["ops"][BATCH_OP]["config"]["files"] == ["later.csv"]
        assert second.run_key != first.run_key


def test_batch_predictions_reads_and_writes_a_gcs_inbox_prefix(
    materialized_graph,
    emulator: str,
    shipped_passengers: pd.DataFrame,
):
    """The gcp profile's inbox: files under a bucket prefix, outputs written back beside them
    (on a real GCS emulator)."""
    from dagster_gcp import GCSResource

    from titanic_assets.defs.resources import GCSLandingArea

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", emulator)
        gcs = GCSResource(project="titanic-test")
        bucket = gcs.get_client().create_bucket("titanic-inbox-test")
        passengers = unlabelled(shipped_passengers).head(40).astype(object)
        passengers.loc[3, "Sex"] = "unknown"
        # The Titanic model's files are under its folder of the inbox prefix.
        bucket.blob("inbox/titanic/arrivals.csv").upload_from_string(passengers.to_csv(index=False))
        inbox = GCSLandingArea(gcs=gcs, bucket="titanic-inbox-test", prefix="inbox")
        result = dg.materialize(
            [batch_predictions], instance=materialized_graph.instance,
            resources={"scoring_inbox": inbox},
        )  # fmt: skip
        assert result.success
        scored = pd.read_csv(io.BytesIO(
            bucket.blob("inbox/titanic/predictions/arrivals.csv").download_as_bytes()
        ))  # fmt: skip
        rejects = pd.read_csv(io.BytesIO(
            bucket.blob("inbox/titanic/rejects/arrivals.csv").download_as_bytes()
        ))  # fmt: skip
        # The outputs live under subfolders, so they are never taken for new inbox files.
        assert inbox.under(INSTANCE.landing).csv_files() == ["inbox/titanic/arrivals.csv"]
    assert len(scored) == 39 and list(rejects["reason"]) == ["Sex not male or female"]
    [event] = result.get_asset_materialization_events()
    outputs = event.materialization.metadata["output_files"].value
    assert outputs["inbox/titanic/arrivals.csv"]["predictions"] == (
        "gs://titanic-inbox-test/inbox/titanic/predictions/arrivals.csv"
    )


def test_batch_and_service_contracts_accept_and_reject_the_same_passengers():
    """invalid_rows and the service's request model are two spellings of one input contract."""
    import pydantic

    from bento.schemas import build

    Passenger = build(TITANIC).row  # noqa: N806 (the service's request model, a class)

    edge = {"Age": "100", "Fare": "1000", "SibSp": "10", "Parch": "10"}
    edge |= {"Name": "x" * 200, "Cabin": "C" * 100, "Embarked": "Q"}
    rows = [VALID, {**VALID, "Age": np.nan, "Fare": np.nan, "Embarked": np.nan}, {**VALID, **edge}]
    rows += [{**VALID, column: value} for column, (value, _) in BROKEN.items()]
    rows += [{**VALID, "Age": "-1"}, {**VALID, "Name": "x" * 201}, {**VALID, "Cabin": "C" * 101}]
    rows += [{**VALID, "Age": "100.5"}, {**VALID, "SibSp": "11"}, {**VALID, "Fare": "1000.01"}]
    rows = [row for row in rows if not pd.isna(row["PassengerId"])]  # no id in a request
    batch_valid = list(
        invalid_rows(pd.DataFrame(rows, dtype=object), PASSENGER_FIELDS, "PassengerId") == ""
    )

    def request(row: dict) -> dict:
        body = {}
        for name, value in row.items():
            if name == "PassengerId":
                continue
            if pd.isna(value):
                body[name] = None
            elif name in ("Pclass", "SibSp", "Parch", "Age", "Fare"):
                number = pd.to_numeric(value, errors="coerce")
                body[name] = value if pd.isna(number) else (
                    int(number) if name in ("Pclass", "SibSp", "Parch") and number == int(number)
                    else float(number)
                )  # fmt: skip
            else:
                body[name] = value
        return body

    def service_accepts(row: dict) -> bool:
        try:
            Passenger.model_validate(request(row))
        except pydantic.ValidationError:
            return False
        return True

    assert batch_valid == [service_accepts(row) for row in rows]
    assert batch_valid.count(True) == 3
