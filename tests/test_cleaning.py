"""Cleaning: types, duplicates and the imputations it reports."""

import numpy as np
import pandas as pd

from tests.conftest import TITANIC
from titanic_assets.domains.titanic.wcg import BOOSTED_FEATURES
from titanic_assets.ml.cleaning import clean_rows
from titanic_assets.ml.modeling import build_feature_table


def _raw(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(source="titanic.csv")


def test_shipped_data_cleans_with_ports_imputed_and_ages_kept_missing(shipped_passengers) -> None:
    passengers, report = clean_rows(TITANIC, _raw(shipped_passengers))

    assert len(passengers) == 891
    assert passengers["Embarked"].notna().all()
    [port] = report.imputations
    assert port.column == "Embarked"
    assert sorted(port.ids) == [62, 830]
    assert report.missing_kept == {"Age": 177}
    assert passengers["Age"].isna().sum() == 177


def test_missing_fares_get_their_class_median(shipped_passengers) -> None:
    raw = _raw(shipped_passengers)
    raw.loc[raw["PassengerId"] == 1, "Fare"] = np.nan  # a third-class passenger
    passengers, report = clean_rows(TITANIC, raw)

    fare = passengers.loc[passengers["PassengerId"] == 1, "Fare"].item()
    third_class = shipped_passengers.loc[
        (shipped_passengers["Pclass"] == 3) & (shipped_passengers["PassengerId"] != 1), "Fare"
    ]
    assert fare == third_class.median()
    assert [i.ids for i in report.imputations if i.column == "Fare"] == [[1]]


def test_the_same_passenger_twice_under_two_ids_is_kept_once(shipped_passengers) -> None:
    again = shipped_passengers.head(3).assign(PassengerId=[1001, 1002, 1003])
    raw = pd.concat([_raw(shipped_passengers), again.assign(source="batch.csv")])
    passengers, report = clean_rows(TITANIC, raw.reset_index(drop=True))

    assert len(passengers) == 891
    assert report.duplicates_removed == [1001, 1002, 1003]


def test_blank_strings_become_missing_and_whitespace_is_stripped(shipped_passengers) -> None:
    raw = _raw(shipped_passengers.head(2).copy())
    raw.loc[0, "Cabin"] = "   "
    raw.loc[1, "Name"] = "  Cumings, Mrs. John  "
    passengers, _ = clean_rows(TITANIC, raw)

    assert pd.isna(passengers.loc[0, "Cabin"])
    assert passengers.loc[1, "Name"] == "Cumings, Mrs. John"


def test_feature_table_has_ids_label_and_every_feature(shipped_passengers) -> None:
    passengers, _ = clean_rows(TITANIC, _raw(shipped_passengers))
    table = build_feature_table(TITANIC, passengers)

    # The served design's features (FEATURES and the women-and-children-group evidence).
    assert list(table.columns) == ["PassengerId", "Survived", *BOOSTED_FEATURES]
    assert tuple(TITANIC.design().feature_names) == BOOSTED_FEATURES
    assert len(table) == len(passengers)
