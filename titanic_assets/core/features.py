"""The model's feature logic, shared by training (Dagster) and serving (BentoML).

It works on columns, not on DataFrames: `feature_matrix` accepts anything that maps a raw
column name to a sequence (a pandas DataFrame, or a dict of lists built from request
bodies), so the service scores a passenger without a pandas round-trip, and training and
serving cannot disagree because there is only this one implementation.

Missing values stay missing (NaN): LightGBM learns which way they go at every split, which
is how a missing age or fare is handled at serving time too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from titanic_assets.core.contract import PORTS, SEXES

# Fixed vocabularies: a category's code is its position, so encoding needs no fitted state.
# (SEXES and PORTS are the input contract's.)
TITLES: tuple[str, ...] = ("Mr", "Mrs", "Miss", "Master", "Rare")
DECKS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "T")

# Spelling variants folded into the common titles; any other title is grouped as "Rare".
TITLE_ALIASES: dict[str, str] = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}

FEATURES: tuple[str, ...] = (
    "pclass",
    "sex",
    "age",
    "sibsp",
    "parch",
    "fare",
    "embarked",
    "title",
    "family_size",
    "is_alone",
    "deck",
    "has_cabin",
    "fare_per_person",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("sex", "embarked", "title", "deck")

# "Surname, Title. Given names": the title is the word(s) between the comma and the period.
_TITLE_AFTER_COMMA = re.compile(r",\s*(?:the\s+)?([A-Za-z]+)\s*\.")
# Names without the usual comma ("Dr. John Smith"): the first word followed by a period.
_TITLE_ANYWHERE = re.compile(r"\b([A-Za-z]{2,})\.")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def extract_title(name: Any) -> str | None:
    """The passenger's title from their name, rare titles grouped; None when there is none."""
    if _is_missing(name) or not str(name).strip():
        return None
    text = str(name)
    match = _TITLE_AFTER_COMMA.search(text) or _TITLE_ANYWHERE.search(text)
    if match is None:
        return None
    title = match.group(1).capitalize()
    title = TITLE_ALIASES.get(title, title)
    return title if title in TITLES else "Rare"


def extract_deck(cabin: Any) -> str | None:
    """The deck letter of the (first) cabin, None when the cabin is unknown."""
    if _is_missing(cabin):
        return None
    letter = str(cabin).strip()[:1].upper()
    return letter if letter in DECKS else None


def _codes(values: Sequence[Any], vocabulary: tuple[str, ...], normalise=str) -> np.ndarray:
    """Positions in a fixed vocabulary; NaN for missing or unknown values."""
    index = {word: float(i) for i, word in enumerate(vocabulary)}
    return np.array(
        [np.nan if _is_missing(v) else index.get(normalise(v), np.nan) for v in values],
        dtype=np.float64,
    )


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """Float column from a list, a numpy array or a pandas Series (numpy reads None as NaN)."""
    return np.asarray(values, dtype=np.float64)


def feature_matrix(passengers: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """The model's input matrix (rows x FEATURES, float64) from raw passenger columns."""
    pclass = _numbers(passengers["Pclass"])
    age = _numbers(passengers["Age"])
    sibsp = _numbers(passengers["SibSp"])
    parch = _numbers(passengers["Parch"])
    fare = _numbers(passengers["Fare"])
    cabins = passengers["Cabin"]

    family_size = sibsp + parch + 1.0
    columns = {
        "pclass": pclass,
        "sex": _codes(passengers["Sex"], SEXES, lambda v: str(v).strip().lower()),
        "age": age,
        "sibsp": sibsp,
        "parch": parch,
        "fare": fare,
        "embarked": _codes(passengers["Embarked"], PORTS, lambda v: str(v).strip().upper()),
        "title": _codes([extract_title(n) for n in passengers["Name"]], TITLES),
        "family_size": family_size,
        "is_alone": (family_size == 1.0).astype(np.float64),
        "deck": _codes([extract_deck(c) for c in cabins], DECKS),
        "has_cabin": np.array([0.0 if _is_missing(c) else 1.0 for c in cabins]),
        "fare_per_person": fare / family_size,
    }
    return np.column_stack([columns[name] for name in FEATURES])


class PassengerFeatures(TransformerMixin, BaseEstimator):
    """`feature_matrix` as the first step of the model's scikit-learn pipeline.

    Stateless, so the pipeline that is trained is the pipeline that is served, and a
    pickled model carries its feature logic with it.
    """

    def fit(self, X: Any, y: Any = None) -> PassengerFeatures:
        return self

    def transform(self, X: Mapping[str, Sequence[Any]]) -> np.ndarray:
        return feature_matrix(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(FEATURES, dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True
