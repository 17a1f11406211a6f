"""The shared feature logic: odd names, missing cabins, ages and fares, and parity between
the DataFrame path (training) and the dict-of-lists path (serving)."""

import math

import numpy as np
import pandas as pd
import pytest

from titanic_assets.domains.titanic.candidates import PassengerFeatures
from titanic_assets.domains.titanic.features import (
    FEATURES,
    TITLES,
    extract_deck,
    extract_title,
    feature_matrix,
)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Rare"),
        ("Aubart, Mme. Leontine Pauline", "Mrs"),
        ("Sagesser, Mlle. Emma", "Miss"),
        ("Reynaldo, Ms. Encarnacion", "Miss"),
        ("Uruchurtu, Don. Manuel E", "Rare"),
        ("Dr. John Smith", "Rare"),
        ("Master. Tom", "Master"),
        ("  de Mulder,   MR.  Theodore  ", "Mr"),
        ("Plain Name Without Title", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_title_is_extracted_from_odd_names(name, title) -> None:
    assert extract_title(name) == title


@pytest.mark.parametrize(
    ("cabin", "deck"),
    [
        ("C85", "C"),
        ("C23 C25 C27", "C"),
        ("F G73", "F"),
        (" e12", "E"),
        ("T", "T"),
        ("Z9", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_deck_comes_from_the_first_cabin_and_unknown_cabins_are_missing(cabin, deck) -> None:
    assert extract_deck(cabin) == deck


def _passenger(**overrides):
    passenger = {
        "Pclass": 3,
        "Sex": "male",
        "Age": 22.0,
        "SibSp": 1,
        "Parch": 0,
        "Fare": 7.25,
        "Embarked": "S",
        "Name": "Braund, Mr. Owen Harris",
        "Cabin": None,
    }
    passenger.update(overrides)
    return passenger


def _features(**overrides) -> dict[str, float]:
    row = feature_matrix({k: [v] for k, v in _passenger(**overrides).items()})[0]
    return dict(zip(FEATURES, row, strict=True))


def test_family_features_and_fare_per_person() -> None:
    features = _features(SibSp=1, Parch=2, Fare=40.0)
    assert features["family_size"] == 4
    assert features["is_alone"] == 0
    assert features["fare_per_person"] == 10.0
    assert _features(SibSp=0, Parch=0)["is_alone"] == 1


def test_missing_age_fare_port_name_and_cabin_stay_missing_without_error() -> None:
    features = _features(Age=None, Fare=None, Embarked=None, Name=None, Cabin=None)
    for name in ("age", "fare", "fare_per_person", "embarked", "title", "deck"):
        assert math.isnan(features[name]), name
    assert features["has_cabin"] == 0
    assert features["sex"] == 0


def test_categories_are_encoded_by_fixed_vocabulary() -> None:
    features = _features(Sex="female", Embarked="Q", Name="Doe, Miss. Jane", Cabin="B5")
    assert features["sex"] == 1
    assert features["embarked"] == 2
    assert features["title"] == TITLES.index("Miss")
    assert features["deck"] == 1
    assert features["has_cabin"] == 1


def test_dataframe_and_plain_lists_give_identical_features(shipped_passengers) -> None:
    table = shipped_passengers
    as_lists = {
        column: [None if pd.isna(v) else v for v in table[column].tolist()]
        for column in table.columns
    }
    np.testing.assert_array_equal(feature_matrix(table), feature_matrix(as_lists))


def test_transformer_is_stateless_and_names_its_features(shipped_passengers) -> None:
    transformer = PassengerFeatures()
    out = transformer.fit_transform(shipped_passengers.head(5))
    assert out.shape == (5, len(FEATURES))
    assert list(transformer.get_feature_names_out()) == list(FEATURES)
