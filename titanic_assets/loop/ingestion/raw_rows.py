"""Ingestion: the labelled rows as they land, and their contract."""

import dagster as dg

from titanic_assets.defs.resources import LandingArea
from titanic_assets.loop import Loop
from titanic_assets.loop.contract_checks import contract_check
from titanic_assets.loop.metadata import materialize_result, table_metadata


def build(loop: Loop) -> list:
    @dg.asset(key_prefix=loop.prefix, group_name=loop.named("ingestion"), kinds={"pandas", "csv"})
    def raw_rows(
        context: dg.AssetExecutionContext, landing_area: LandingArea
    ) -> dg.MaterializeResult:
        """Every labelled file in the model's landing area, concatenated, untouched.

        New batches land beside the original file; `source` keeps where each row came from.
        The data version is a hash of the content, so retrains can tell new data from old.
        """
        from titanic_assets.ml.cleaning import with_row_ids
        from titanic_assets.ml.modeling import table_version
        from titanic_assets.ml.schemas import raw_contract

        notice = landing_area.layout_notice()
        if notice:
            context.log.warning(notice)
        landing = loop.landing(landing_area, seeded=True)
        table = with_row_ids(loop.domain, landing.read_rows(loop.domain.missing_values))
        version = table_version(table)
        files = table["source"].value_counts().sort_index()
        return materialize_result(
            value=table,
            data_version=dg.DataVersion(version),
            metadata={
                **table_metadata(table, raw_contract(loop.domain)),
                "landing_area": landing.location,
                "files": dg.MetadataValue.md(files.rename("rows").to_markdown()),
                "file_count": len(files),
                "data_version": version,
            },
        )

    return [raw_rows, contract_check(loop, "raw_rows", "raw_contract")]
