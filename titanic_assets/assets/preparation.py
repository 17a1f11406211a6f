"""Preparation: the cleaned passenger table and the engineered features."""

import dagster as dg

from titanic_assets.metadata import table_metadata


@dg.asset(group_name="preparation", kinds={"pandas"})
def passengers(raw_passengers) -> dg.Output:
    """Cleaned, typed passengers: duplicates removed, missing ports and fares imputed.

    Ages stay missing where unknown: LightGBM handles them natively, as it must at serving
    time. What was imputed, how, and for whom is in the metadata.
    """
    from titanic_assets.cleaning import clean_passengers
    from titanic_assets.schemas import Passengers

    table, report = clean_passengers(raw_passengers)
    imputed = {
        f"imputed/{item.column}": dg.MetadataValue.json(
            {
                "method": item.method,
                "rows": len(item.passenger_ids),
                "passenger_ids": item.passenger_ids,
            }
        )
        for item in report.imputations
    }
    return dg.Output(
        table,
        metadata={
            **table_metadata(table, Passengers),
            "duplicates_removed": len(report.duplicates_removed),
            "duplicate_passenger_ids": dg.MetadataValue.json(report.duplicates_removed),
            "imputed_columns": ", ".join(i.column for i in report.imputations) or "none",
            **imputed,
            "missing_kept": dg.MetadataValue.json(report.missing_kept),
        },
    )


@dg.asset(group_name="preparation", kinds={"pandas", "numpy"})
def passenger_features(passengers) -> dg.Output:
    """The model's training table: engineered features per passenger, and the label.

    Title (rare titles grouped), family size, travelling alone, deck, fare per person and
    the encoded raw fields, computed by titanic_assets.features, the same code the service
    runs, so training and serving cannot disagree.
    """
    from titanic_assets.cleaning import build_feature_table
    from titanic_assets.schemas import PassengerFeatureTable

    table = build_feature_table(passengers)
    return dg.Output(
        table,
        metadata={
            **table_metadata(table, PassengerFeatureTable),
            "survival_rate": float(table["Survived"].mean()),
        },
    )
