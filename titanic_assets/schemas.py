"""Data contracts for every table in the graph, as Pandera DataFrameModels.

They run as blocking Dagster asset checks (see checks.py): a table that breaks its contract
stops everything downstream of it.
"""

import pandera.pandas as pa
from pandera.typing import Series

from titanic_assets.features import CATEGORICAL_FEATURES, DECKS, PORTS, SEXES, TITLES

MAX_AGE = 100


class RawPassengers(pa.DataFrameModel):
    """The labelled passengers as they land, one row per passenger, from any batch file."""

    PassengerId: Series[int] = pa.Field(unique=True, ge=1)
    Survived: Series[int] = pa.Field(isin=[0, 1])
    Pclass: Series[int] = pa.Field(isin=[1, 2, 3])
    Name: Series[str]
    Sex: Series[str] = pa.Field(isin=list(SEXES))
    Age: Series[float] = pa.Field(ge=0, le=MAX_AGE, nullable=True)
    SibSp: Series[int] = pa.Field(ge=0)
    Parch: Series[int] = pa.Field(ge=0)
    Ticket: Series[str] = pa.Field(nullable=True)
    Fare: Series[float] = pa.Field(ge=0, nullable=True)
    Cabin: Series[str] = pa.Field(nullable=True)
    Embarked: Series[str] = pa.Field(isin=list(PORTS), nullable=True)
    source_file: Series[str] = pa.Field(description="The landing-area file the row came from.")

    class Config:
        # Coercion turns a wrong type into a failure case per offending row, not one error.
        coerce = True
        strict = True


class Passengers(RawPassengers):
    """Cleaned and typed: no duplicate passengers, port and fare imputed, age may be missing."""

    Fare: Series[float] = pa.Field(ge=0)
    Embarked: Series[str] = pa.Field(isin=list(PORTS))

    class Config:
        coerce = False
        strict = True


class PassengerFeatureTable(pa.DataFrameModel):
    """The model's training input: engineered features (features.FEATURES) and the label."""

    PassengerId: Series[int] = pa.Field(unique=True, ge=1)
    Survived: Series[int] = pa.Field(isin=[0, 1])
    pclass: Series[float] = pa.Field(isin=[1.0, 2.0, 3.0])
    sex: Series[float] = pa.Field(isin=[float(i) for i in range(len(SEXES))])
    age: Series[float] = pa.Field(ge=0, le=MAX_AGE, nullable=True)
    sibsp: Series[float] = pa.Field(ge=0)
    parch: Series[float] = pa.Field(ge=0)
    fare: Series[float] = pa.Field(ge=0)
    embarked: Series[float] = pa.Field(isin=[float(i) for i in range(len(PORTS))])
    title: Series[float] = pa.Field(isin=[float(i) for i in range(len(TITLES))])
    family_size: Series[float] = pa.Field(ge=1)
    is_alone: Series[float] = pa.Field(isin=[0.0, 1.0])
    deck: Series[float] = pa.Field(isin=[float(i) for i in range(len(DECKS))], nullable=True)
    has_cabin: Series[float] = pa.Field(isin=[0.0, 1.0])
    fare_per_person: Series[float] = pa.Field(ge=0)

    class Config:
        strict = True
        ordered = True


assert set(CATEGORICAL_FEATURES) <= set(PassengerFeatureTable.to_schema().columns)
