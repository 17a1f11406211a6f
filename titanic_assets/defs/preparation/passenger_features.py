"""Preparation: the model's training table and its contract."""

import dagster as dg

from titanic_assets.defs.contract_checks import contract_check
from titanic_assets.defs.metadata import table_metadata


@dg.asset(group_name="preparation", kinds={"pandas", "numpy"})
def passenger_features(passengers) -> dg.MaterializeResult:
    """The model's training table: engineered features per passenger, and the label.

    Title (rare titles grouped), family size, travelling alone, deck, fare per person and
    the encoded raw fields, computed by titanic_assets.core.features, the same code the
    service runs, so training and serving cannot disagree. Its data version is a hash of its
    content: the model trained on it carries the same version.
    """
    from titanic_assets.ml.modeling import build_feature_table, table_version
    from titanic_assets.ml.schemas import PassengerFeatureTable

    table = build_feature_table(passengers)
    version = table_version(table)
    return dg.MaterializeResult(
        value=table,
        data_version=dg.DataVersion(version),
        metadata={
            **table_metadata(table, PassengerFeatureTable),
            "survival_rate": float(table["Survived"].mean()),
            "data_version": version,
        },
    )


passenger_features_contract = contract_check("passenger_features", "PassengerFeatureTable")
