"""The gaps the Titanic model cannot use, filled: a missing port gets the most frequent port,
a missing fare the median fare of the passenger's class. Missing ages stay missing: LightGBM
routes them itself, and the service receives passengers of unknown age too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from titanic_assets.core.domain import Imputation

if TYPE_CHECKING:
    import pandas as pd


def fill_gaps(table: pd.DataFrame) -> tuple[pd.DataFrame, list[Imputation]]:
    imputations = []
    missing_port = table["Embarked"].isna()
    if missing_port.any():
        port = table["Embarked"].mode().iloc[0]
        imputations.append(
            Imputation(
                "Embarked",
                f"most frequent port ({port})",
                table.loc[missing_port, "PassengerId"].tolist(),
            )
        )
        table.loc[missing_port, "Embarked"] = port

    missing_fare = table["Fare"].isna()
    if missing_fare.any():
        class_median = table.groupby("Pclass")["Fare"].transform("median")
        medians = table.groupby("Pclass")["Fare"].median().round(2).to_dict()
        imputations.append(
            Imputation(
                "Fare",
                f"median fare of the passenger's class {medians}",
                table.loc[missing_fare, "PassengerId"].tolist(),
            )
        )
        table.loc[missing_fare, "Fare"] = class_median[missing_fare]
    return table, imputations
