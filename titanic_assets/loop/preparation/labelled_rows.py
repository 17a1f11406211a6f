"""Preparation: the cleaned labelled table and its contract."""

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.contract_checks import contract_check
from titanic_assets.loop.metadata import materialize_result, table_metadata


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        ins=loop.ins("raw_rows", "labelled_traffic"),
        group_name=loop.named("preparation"),
        kinds={"pandas"},
    )
    def labelled_rows(raw_rows, labelled_traffic) -> dg.MaterializeResult:
        """Cleaned, typed labelled rows: the landed batches and the labelled traffic (rows
        the service scored whose outcome came back), duplicates removed, the gaps the
        domain's model cannot use filled. `source` keeps each row's provenance: its landing
        file, or `feedback:<tag>` of the model that served it.

        What was imputed, how, and for which rows is in the metadata. The data version is a
        hash of the labelled rows as the model reads them; a model trained on them carries it.
        """
        import pandas as pd

        from titanic_assets.core.outcomes import is_feedback
        from titanic_assets.ml.cleaning import clean_rows
        from titanic_assets.ml.modeling import table_version
        from titanic_assets.ml.schemas import clean_contract

        domain = loop.domain
        traffic = labelled_traffic[list(raw_rows.columns)]
        table, report = clean_rows(domain, pd.concat([raw_rows, traffic], ignore_index=True))
        # Every id this table was made from, duplicates included: a model trained on it has
        # seen them all, so none of them is new evidence for a retrain (monitoring).
        table.attrs["duplicate_ids"] = report.duplicates_removed
        feedback = is_feedback(table["source"])
        version = table_version(table[[domain.key, *domain.input_names, domain.label]])
        imputed = {
            f"imputed/{item.column}": dg.MetadataValue.json(
                {"method": item.method, "rows": len(item.ids), "ids": item.ids}
            )
            for item in report.imputations
        }
        return materialize_result(
            value=table,
            data_version=dg.DataVersion(version),
            metadata={
                **table_metadata(table, clean_contract(domain)),
                "data_version": version,
                "landed_rows": int((~feedback).sum()),
                "feedback_rows": int(feedback.sum()),
                "duplicates_removed": len(report.duplicates_removed),
                "duplicate_ids": dg.MetadataValue.json(report.duplicates_removed),
                "imputed_columns": ", ".join(i.column for i in report.imputations) or "none",
                **imputed,
                "missing_kept": dg.MetadataValue.json(report.missing_kept),
            },
        )

    return [labelled_rows, contract_check(loop, "labelled_rows", "clean_contract")]
