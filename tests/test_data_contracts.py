"""Bad data stops at its contract: the right check fails, naming the offending rows and
columns, and nothing downstream of the bad table materializes."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from tests.conftest import TITANIC, materialize_graph

DOWNSTREAM_OF_RAW = {
    "titanic/labelled_rows",
    "titanic/feature_table",
    "titanic/trained_model",
    "titanic/model_evaluation",
}
# The other source of labelled rows (outcomes of served predictions) does not need the raw file.
UPSTREAM_OF_LABELLED_ROWS = {"titanic/landed_outcomes", "titanic/labelled_traffic"}


def _drop_age(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="Age")


def _text_in_fare(table: pd.DataFrame) -> pd.DataFrame:
    table = table.astype({"Fare": object})
    table.loc[[3, 10], "Fare"] = "unknown"
    return table


def _age_out_of_range(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[[5], "Age"] = 150.0
    return table


def _duplicate_passenger_id(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[[8], "PassengerId"] = table.loc[2, "PassengerId"]
    return table


def _run_with_landing_files(
    tmp_path: Path, files: dict[str, pd.DataFrame]
) -> dg.ExecuteInProcessResult:
    landing = tmp_path / "landing"  # the root: the model reads its folder, landing/titanic
    (landing / "titanic").mkdir(parents=True)
    for name, table in files.items():
        table.to_csv(landing / "titanic" / name, index=False)
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        return materialize_graph(instance, landing, tmp_path / "storage", raise_on_error=False)


def _check(result: dg.ExecuteInProcessResult, name: str):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


@pytest.mark.parametrize(
    ("corrupt", "column", "check", "rows"),
    [
        (_drop_age, "Age", "column_in_dataframe", None),
        (_text_in_fare, "Fare", "coerce_dtype('float64')", [3, 10]),
        (_age_out_of_range, "Age", "less_than_or_equal_to(100)", [5]),
        (_duplicate_passenger_id, "PassengerId", "field_uniqueness", [2, 8]),
    ],
    ids=["missing-column", "wrong-type", "age-out-of-range", "duplicate-passenger-id"],
)
def test_bad_raw_file_fails_the_raw_contract_and_blocks_everything_downstream(
    tmp_path: Path,
    shipped_passengers: pd.DataFrame,
    corrupt: Callable[[pd.DataFrame], pd.DataFrame],
    column: str,
    check: str,
    rows: list[int] | None,
) -> None:
    corrupted = corrupt(shipped_passengers.copy())
    result = _run_with_landing_files(tmp_path, {"titanic.csv": corrupted})

    evaluation = _check(result, "raw_rows_contract")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert column in metadata["failing_columns"].split(", ")
    assert check in metadata["failures"]
    if rows is not None:
        assert sorted(metadata["offending_row_index"]) == rows
        assert sorted(metadata["offending_ids"]) == sorted(
            corrupted.loc[rows, "PassengerId"].tolist()
        )
        assert "offending_rows" in metadata
    assert _materialized(result) == {"titanic/raw_rows", *UPSTREAM_OF_LABELLED_ROWS}
    assert not (_materialized(result) & DOWNSTREAM_OF_RAW)


def test_new_batch_missing_a_column_fails_even_beside_complete_files(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    batch = shipped_passengers.head(20).assign(PassengerId=lambda t: t["PassengerId"] + 10_000)
    result = _run_with_landing_files(
        tmp_path,
        {"titanic.csv": shipped_passengers, "batch_2.csv": batch.drop(columns="Fare")},
    )

    evaluation = _check(result, "raw_rows_contract")
    assert not evaluation.passed
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["failing_columns"] == "Fare"
    assert "batch_2.csv" in metadata["failures"]
    assert metadata["offending_row_count"] == 20
    assert _materialized(result) == {"titanic/raw_rows", *UPSTREAM_OF_LABELLED_ROWS}


def test_new_labelled_batch_is_read_beside_the_original(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    batch = shipped_passengers.head(30).assign(PassengerId=lambda t: t["PassengerId"] + 10_000)
    landing = tmp_path / "landing"
    (landing / "titanic").mkdir(parents=True)
    shipped_passengers.to_csv(landing / "titanic" / "titanic.csv", index=False)
    batch.to_csv(landing / "titanic" / "batch_2.csv", index=False)
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.materialize(
            _graph_upto_labelled_rows(),
            instance=instance,
            resources=_local_resources(landing, tmp_path / "storage"),
        )
    raw = result.asset_value(dg.AssetKey(["titanic", "raw_rows"]))
    assert len(raw) == len(shipped_passengers) + 30
    assert raw["source"].value_counts().to_dict() == {"titanic.csv": 891, "batch_2.csv": 30}
    # The batch repeats 30 passengers under new ids: cleaning removes them as duplicates.
    labelled_rows = result.asset_value(dg.AssetKey(["titanic", "labelled_rows"]))
    assert len(labelled_rows) == len(shipped_passengers)


def _graph_upto_labelled_rows() -> list:
    """The Titanic loop's ingestion and preparation stages, up to labelled_rows and its
    contract (with their checks)."""
    from titanic_assets.core.instances import read_instance
    from titanic_assets.loop import Loop
    from titanic_assets.loop.ingestion import labelled_traffic, raw_rows
    from titanic_assets.loop.preparation import labelled_rows

    loop = Loop(read_instance("titanic"), TITANIC)
    return [d for stage in (raw_rows, labelled_traffic, labelled_rows) for d in stage.build(loop)]


def _local_resources(landing: Path, storage: Path, labels: Path | None = None) -> dict:
    from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog

    labels = labels or landing.parent / "labels"
    return {
        "landing_area": LocalLandingArea(directory=str(landing)),
        "labels_landing": LocalLandingArea(directory=str(labels)),
        "prediction_log": PredictionLog(location=str(landing.parent / "prediction_log")),
        "monitoring_policy": MonitoringPolicy(),
        "io_manager": dg.FilesystemIOManager(base_dir=str(storage)),
    }


def test_a_labels_file_with_a_bad_outcome_fails_its_contract_naming_the_rows(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    labels = tmp_path / "labels"  # the root: the model's labels land in labels/titanic
    (labels / "titanic").mkdir(parents=True)
    pd.DataFrame({"id": ["a", "b", "c", "d"], "Survived": [1, 0, 2, "yes"]}).to_csv(
        labels / "titanic" / "outcomes-1.csv", index=False
    )
    landing = tmp_path / "landing"
    (landing / "titanic").mkdir(parents=True)
    shipped_passengers.to_csv(landing / "titanic" / "titanic.csv", index=False)
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.materialize(
            _graph_upto_labelled_rows(),
            instance=instance,
            resources=_local_resources(landing, tmp_path / "storage", labels),
            raise_on_error=False,
        )

    evaluation = _check(result, "landed_outcomes_contract")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["failing_columns"] == "Survived"
    assert sorted(metadata["offending_row_index"]) == [2, 3]
    assert "outcomes-1.csv" in metadata["failures"]
    # Nothing that reads outcomes runs: no training data from them, no model.
    assert _materialized(result) == {"titanic/raw_rows", "titanic/landed_outcomes"}
