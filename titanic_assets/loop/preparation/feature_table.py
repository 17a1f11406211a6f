"""Preparation: the model's training table and its contract."""

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.contract_checks import contract_check
from titanic_assets.loop.metadata import materialize_result, table_metadata


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        ins=loop.ins("labelled_rows"),
        group_name=loop.named("preparation"),
        kinds={"pandas", "numpy"},
    )
    def feature_table(labelled_rows) -> dg.MaterializeResult:
        """The model's training table: the features of each labelled row, and the label.

        Computed by the domain's design, the same code the service runs, so training and
        serving cannot disagree. What the design learns from labelled rows is learned from
        every other labelled row, each row's own label left out, as in training.
        """
        from titanic_assets.ml.modeling import build_feature_table, labels_of
        from titanic_assets.ml.schemas import feature_contract

        table = build_feature_table(loop.domain, labelled_rows)
        return materialize_result(
            value=table,
            metadata={
                **table_metadata(table, feature_contract(loop.domain)),
                "positive_rate": float(labels_of(loop.domain, table).mean()),
                "features": len(table.columns) - 2,
            },
        )

    return [feature_table, contract_check(loop, "feature_table", "feature_contract")]
