"""Preparation: the cleaned passenger table and its contract."""

import dagster as dg

from titanic_assets.defs.contract_checks import contract_check
from titanic_assets.defs.metadata import table_metadata


@dg.asset(group_name="preparation", kinds={"pandas"})
def passengers(raw_passengers, labelled_traffic) -> dg.MaterializeResult:
    """Cleaned, typed passengers: the landed batches and the labelled traffic (passengers the
    service scored whose outcome came back), duplicates removed, missing ports and fares
    imputed. `source` keeps each row's provenance: its landing file, or `feedback:<tag>`
    of the model that served it.

    Ages stay missing where unknown: LightGBM handles them natively, as it must at serving
    time. What was imputed, how, and for whom is in the metadata. The data version is a hash
    of the labelled passengers as the model reads them; a model trained on them carries it.
    """
    import pandas as pd

    from titanic_assets.core.contract import RAW_INPUTS
    from titanic_assets.core.outcomes import is_feedback
    from titanic_assets.ml.cleaning import clean_passengers
    from titanic_assets.ml.modeling import LABEL, table_version
    from titanic_assets.ml.schemas import Passengers

    traffic = labelled_traffic[list(raw_passengers.columns)]
    table, report = clean_passengers(pd.concat([raw_passengers, traffic], ignore_index=True))
    # Every PassengerId this table was made from, duplicates included: a model trained on
    # it has seen them all, so none of them is new evidence for a retrain (monitoring).
    table.attrs["duplicate_passenger_ids"] = report.duplicates_removed
    feedback = is_feedback(table["source"])
    version = table_version(table[["PassengerId", *RAW_INPUTS, LABEL]])
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
    return dg.MaterializeResult(
        value=table,
        data_version=dg.DataVersion(version),
        metadata={
            **table_metadata(table, Passengers),
            "data_version": version,
            "landed_rows": int((~feedback).sum()),
            "feedback_rows": int(feedback.sum()),
            "duplicates_removed": len(report.duplicates_removed),
            "duplicate_passenger_ids": dg.MetadataValue.json(report.duplicates_removed),
            "imputed_columns": ", ".join(i.column for i in report.imputations) or "none",
            **imputed,
            "missing_kept": dg.MetadataValue.json(report.missing_kept),
        },
    )


passengers_contract = contract_check("passengers", "Passengers")
