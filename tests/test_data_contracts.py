"""Bad data stops at its contract: the right check fails, naming the offending rows and
columns, and nothing downstream of the bad table materializes."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from tests.conftest import materialize_graph

DOWNSTREAM_OF_RAW = {"passengers", "passenger_features", "survival_model", "model_evaluation"}
# The other source of passengers (outcomes of served predictions) does not need the raw file.
UPSTREAM_OF_PASSENGERS = {"landed_outcomes", "labelled_traffic"}


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
    landing = tmp_path / "landing"
    landing.mkdir()
    for name, table in files.items():
        table.to_csv(landing / name, index=False)
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

    evaluation = _check(result, "raw_passengers_contract")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert column in metadata["failing_columns"].split(", ")
    assert check in metadata["failures"]
    if rows is not None:
        assert sorted(metadata["offending_row_index"]) == rows
        assert sorted(metadata["offending_passenger_ids"]) == sorted(
            corrupted.loc[rows, "PassengerId"].tolist()
        )
        assert "offending_rows" in metadata
    assert _materialized(result) == {"raw_passengers", *UPSTREAM_OF_PASSENGERS}
    assert not (_materialized(result) & DOWNSTREAM_OF_RAW)


def test_new_batch_missing_a_column_fails_even_beside_complete_files(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    batch = shipped_passengers.head(20).assign(PassengerId=lambda t: t["PassengerId"] + 10_000)
    result = _run_with_landing_files(
        tmp_path,
        {"titanic.csv": shipped_passengers, "batch_2.csv": batch.drop(columns="Fare")},
    )

    evaluation = _check(result, "raw_passengers_contract")
    assert not evaluation.passed
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["failing_columns"] == "Fare"
    assert "batch_2.csv" in metadata["failures"]
    assert metadata["offending_row_count"] == 20
    assert _materialized(result) == {"raw_passengers", *UPSTREAM_OF_PASSENGERS}


def test_new_labelled_batch_is_read_beside_the_original(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    batch = shipped_passengers.head(30).assign(PassengerId=lambda t: t["PassengerId"] + 10_000)
    landing = tmp_path / "landing"
    landing.mkdir()
    shipped_passengers.to_csv(landing / "titanic.csv", index=False)
    batch.to_csv(landing / "batch_2.csv", index=False)
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.materialize(
            [*_graph_upto_passengers()],
            instance=instance,
            resources=_local_resources(landing, tmp_path / "storage"),
        )
    raw = result.asset_value("raw_passengers")
    assert len(raw) == len(shipped_passengers) + 30
    assert raw["source"].value_counts().to_dict() == {"titanic.csv": 891, "batch_2.csv": 30}
    # The batch repeats 30 passengers under new ids: cleaning removes them as duplicates.
    passengers = result.asset_value("passengers")
    assert len(passengers) == len(shipped_passengers)


def _graph_upto_passengers() -> list:
    from titanic_assets.defs.ingestion import labelled_traffic as traffic
    from titanic_assets.defs.ingestion.raw_passengers import raw_passengers, raw_passengers_contract
    from titanic_assets.defs.preparation.passengers import passengers, passengers_contract

    return [
        raw_passengers,
        raw_passengers_contract,
        traffic.landed_outcomes,
        traffic.landed_outcomes_contract,
        traffic.labelled_traffic,
        traffic.labelled_traffic_contract,
        passengers,
        passengers_contract,
    ]


def _local_resources(landing: Path, storage: Path, labels: Path | None = None) -> dict:
    from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog

    labels = labels or landing.parent / "labels"
    return {
        "landing_area": LocalLandingArea(directory=str(landing)),
        "labels_landing": LocalLandingArea(
            directory=str(labels), seed_with_shipped_passengers=False
        ),
        "prediction_log": PredictionLog(location=str(landing.parent / "prediction_log")),
        "monitoring_policy": MonitoringPolicy(),
        "io_manager": dg.FilesystemIOManager(base_dir=str(storage)),
    }


def test_a_labels_file_with_a_bad_outcome_fails_its_contract_naming_the_rows(
    tmp_path: Path, shipped_passengers: pd.DataFrame
) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    pd.DataFrame({"id": ["a", "b", "c", "d"], "Survived": [1, 0, 2, "yes"]}).to_csv(
        labels / "outcomes-1.csv", index=False
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    shipped_passengers.to_csv(landing / "titanic.csv", index=False)
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.materialize(
            _graph_upto_passengers(),
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
    assert _materialized(result) == {"raw_passengers", "landed_outcomes"}
