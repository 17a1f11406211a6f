"""The Titanic feature table's contract: what each engineered feature may hold."""

import pandera.pandas as pa
from pandera.typing import Series

from titanic_assets.domains.titanic.contract import AGE
from titanic_assets.domains.titanic.features import DECKS, PORTS, SEXES, TITLES


def _codes(vocabulary: tuple[str, ...]) -> list[float]:
    return [float(i) for i in range(len(vocabulary))]


class PassengerFeatureTable(pa.DataFrameModel):
    """The model's training input: engineered features (wcg.BOOSTED_FEATURES) and the label."""

    PassengerId: Series[int] = pa.Field(unique=True, ge=1)
    Survived: Series[int] = pa.Field(isin=[0, 1])
    pclass: Series[float] = pa.Field(isin=[1.0, 2.0, 3.0])
    sex: Series[float] = pa.Field(isin=_codes(SEXES))
    age: Series[float] = pa.Field(ge=0, le=AGE.maximum, nullable=True)
    sibsp: Series[float] = pa.Field(ge=0)
    parch: Series[float] = pa.Field(ge=0)
    fare: Series[float] = pa.Field(ge=0)
    embarked: Series[float] = pa.Field(isin=_codes(PORTS))
    title: Series[float] = pa.Field(isin=_codes(TITLES))
    family_size: Series[float] = pa.Field(ge=1)
    is_alone: Series[float] = pa.Field(isin=[0.0, 1.0])
    deck: Series[float] = pa.Field(isin=_codes(DECKS), nullable=True)
    has_cabin: Series[float] = pa.Field(isin=[0.0, 1.0])
    fare_per_person: Series[float] = pa.Field(ge=0)
    group_known: Series[float] = pa.Field(ge=0)
    group_survival: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    boy: Series[float] = pa.Field(isin=[0.0, 1.0])
    wcg_known: Series[float] = pa.Field(ge=0)
    wcg_share: Series[float] = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        strict = True
        ordered = True
