"""Data contracts for every table in the graph, as Pandera DataFrameModels.

The passenger fields take their types and limits from the one input contract
(core/contract.py); the label, ids and bookkeeping columns are the pipeline's own. They run
as blocking Dagster asset checks (defs/contract_checks.py): a table that breaks its contract stops
everything downstream of it.
"""

from typing import Any

import pandera.pandas as pa
from pandera.typing import Series

from titanic_assets.core import contract
from titanic_assets.core.features import CATEGORICAL_FEATURES, DECKS, PORTS, SEXES, TITLES


def field(spec: contract.InputField, nullable: bool | None = None, **checks: Any) -> Any:
    """The Pandera field for a contract field: its limits, its allowed values, its nullability
    (optional fields may be missing unless `nullable` says otherwise)."""
    if spec.allowed is not None:
        checks["isin"] = list(spec.allowed)
    if spec.minimum is not None:
        checks["ge"] = spec.minimum
    if spec.maximum is not None:
        checks["le"] = spec.maximum
    if spec.max_length is not None:
        checks["str_length"] = {"max_value": spec.max_length}
    return pa.Field(
        nullable=not spec.required if nullable is None else nullable,
        description=spec.description,
        **checks,
    )


class RawPassengers(pa.DataFrameModel):
    """The labelled passengers as they land, one row per passenger, from any batch file, or
    from the service's labelled traffic (`source` says which file, or which model served it)."""

    PassengerId: Series[int] = pa.Field(unique=True, ge=1)
    Survived: Series[int] = pa.Field(isin=[0, 1])
    Pclass: Series[int] = field(contract.PCLASS)
    Name: Series[str] = field(contract.NAME)
    Sex: Series[str] = field(contract.SEX)
    Age: Series[float] = field(contract.AGE)
    SibSp: Series[int] = field(contract.SIBSP)
    Parch: Series[int] = field(contract.PARCH)
    Ticket: Series[str] = pa.Field(nullable=True)
    Fare: Series[float] = field(contract.FARE)
    Cabin: Series[str] = field(contract.CABIN)
    Embarked: Series[str] = field(contract.EMBARKED)
    source: Series[str] = pa.Field(
        description="The landing-area file the row came from, or `feedback:<model tag>`."
    )

    class Config:
        # Coercion turns a wrong type into a failure case per offending row, not one error.
        coerce = True
        strict = True


class Passengers(RawPassengers):
    """Cleaned and typed: no duplicate passengers, port and fare imputed, age may be missing."""

    Fare: Series[float] = field(contract.FARE, nullable=False)
    Embarked: Series[str] = field(contract.EMBARKED, nullable=False)

    class Config:
        coerce = False
        strict = True


class LandedOutcomes(pa.DataFrameModel):
    """Outcomes dropped in bulk in the labels landing area: a prediction id and what happened.
    Read as text, so that a bad value fails on its own row, not the whole column's type."""

    id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    Survived: Series[str] = pa.Field(isin=["0", "1"])
    source: Series[str] = pa.Field(description="The labels file the row came from.")

    class Config:
        coerce = True
        strict = True


class LabelledTraffic(RawPassengers):
    """Passengers the service scored whose outcome came back, as training rows: the inputs it
    was sent (already held to the input contract), the outcome, which model answered."""

    prediction_id: Series[str] = pa.Field(unique=True)
    model_version: Series[str]

    class Config:
        coerce = True
        strict = True


class PassengerFeatureTable(pa.DataFrameModel):
    """The model's training input: engineered features (features.FEATURES) and the label."""

    PassengerId: Series[int] = pa.Field(unique=True, ge=1)
    Survived: Series[int] = pa.Field(isin=[0, 1])
    pclass: Series[float] = pa.Field(isin=[1.0, 2.0, 3.0])
    sex: Series[float] = pa.Field(isin=[float(i) for i in range(len(SEXES))])
    age: Series[float] = pa.Field(ge=0, le=contract.AGE.maximum, nullable=True)
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
    group_known: Series[float] = pa.Field(ge=0)
    group_survival: Series[float] = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        strict = True
        ordered = True


assert set(CATEGORICAL_FEATURES) <= set(PassengerFeatureTable.to_schema().columns)
