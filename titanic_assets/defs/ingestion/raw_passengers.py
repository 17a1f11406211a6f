"""Ingestion: the labelled passengers as they land, and their contract."""

import dagster as dg

from titanic_assets.defs.contract_checks import contract_check
from titanic_assets.defs.metadata import table_metadata
from titanic_assets.defs.resources import LandingArea


@dg.asset(group_name="ingestion", kinds={"pandas", "csv"})
def raw_passengers(landing_area: LandingArea) -> dg.MaterializeResult:
    """Every labelled passenger file in the landing area, concatenated, untouched.

    New batches land beside the original file; `source` keeps where each row came from.
    The data version is a hash of the content, so retrains can tell new data from old.
    """
    from titanic_assets.ml.modeling import table_version
    from titanic_assets.ml.schemas import RawPassengers

    table = landing_area.read_passengers()
    version = table_version(table)
    files = table["source"].value_counts().sort_index()
    return dg.MaterializeResult(
        value=table,
        data_version=dg.DataVersion(version),
        metadata={
            **table_metadata(table, RawPassengers),
            "landing_area": landing_area.location,
            "files": dg.MetadataValue.md(files.rename("rows").to_markdown()),
            "file_count": len(files),
            "data_version": version,
        },
    )


raw_passengers_contract = contract_check("raw_passengers", "RawPassengers")
