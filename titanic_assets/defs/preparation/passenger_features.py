"""Preparation: the model's training table and its contract."""

import dagster as dg

from titanic_assets.defs.contract_checks import contract_check
from titanic_assets.defs.metadata import table_metadata


@dg.asset(group_name="preparation", kinds={"pandas", "numpy"})
def passenger_features(passengers) -> dg.MaterializeResult:
    """The model's training table: engineered features per passenger, and the label.

    Title (rare titles grouped), family size, travelling alone, deck, fare per person and
    the encoded raw fields, computed by titanic_assets.core.features, the same code the
    service runs, so training and serving cannot disagree. The group evidence columns are
    computed from every other labelled passenger, each passenger's own outcome left out, as
    in training.
    """
    from titanic_assets.ml.modeling import build_feature_table
    from titanic_assets.ml.schemas import PassengerFeatureTable

    table = build_feature_table(passengers)
    return dg.MaterializeResult(
        value=table,
        metadata={
            **table_metadata(table, PassengerFeatureTable),
            "survival_rate": float(table["Survived"].mean()),
            "passengers_with_group_evidence": int((table["group_known"] > 0).sum()),
        },
    )


passenger_features_contract = contract_check("passenger_features", "PassengerFeatureTable")
