"""Cleaning the raw passenger table: pure functions, no Dagster."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from titanic_assets.ml.schemas import RawPassengers

STRING_COLUMNS = ("Name", "Sex", "Ticket", "Cabin", "Embarked", "source")
# Two rows describing the same passenger differ at most in these columns.
BOOKKEEPING_COLUMNS = ("PassengerId", "source")


@dataclass(frozen=True)
class Imputation:
    """One imputed column: how, with what value(s), and which passengers it touched."""

    column: str
    method: str
    passenger_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CleaningReport:
    duplicates_removed: list[int]
    imputations: list[Imputation]
    missing_kept: dict[str, int]


def _strip(column: pd.Series) -> pd.Series:
    """Strip white space; empty strings become missing."""
    stripped = column.str.strip()
    return stripped.mask(stripped == "")


def clean_passengers(raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed, de-duplicated passengers with the gaps the model cannot use filled.

    Missing ports get the most frequent port, and missing fares the median fare of the
    passenger's class. Missing ages are left missing: LightGBM routes them itself, and
    the service receives passengers of unknown age too.
    """
    # The raw contract's coercion gives every column its type (it passed, or we'd not be here).
    table = RawPassengers.validate(raw)
    for name in STRING_COLUMNS:
        table[name] = _strip(table[name])

    passenger_columns = [c for c in table.columns if c not in BOOKKEEPING_COLUMNS]
    duplicated = table.duplicated(subset=passenger_columns, keep="first")
    duplicates_removed = table.loc[duplicated, "PassengerId"].tolist()
    table = table.loc[~duplicated].reset_index(drop=True)

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

    report = CleaningReport(
        duplicates_removed=duplicates_removed,
        imputations=imputations,
        missing_kept={"Age": int(table["Age"].isna().sum())},
    )
    return table, report
