"""Ingestion: the labelled passengers as they land."""

import hashlib

import dagster as dg

from titanic_assets.metadata import table_metadata
from titanic_assets.resources import LandingArea


@dg.asset(group_name="ingestion", kinds={"pandas", "csv"})
def raw_passengers(landing_area: LandingArea) -> dg.Output:
    """Every labelled passenger file in the landing area, concatenated, untouched.

    New batches land beside the original file; `source_file` keeps where each row came from.
    The data version is a hash of the content, so retrains can tell new data from old.
    """
    from titanic_assets.schemas import RawPassengers

    table = landing_area.read_passengers()
    digest = hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:16]
    files = table["source_file"].value_counts().sort_index()
    return dg.Output(
        table,
        data_version=dg.DataVersion(digest),
        metadata={
            **table_metadata(table, RawPassengers),
            "landing_area": landing_area.location,
            "files": dg.MetadataValue.md(files.rename("rows").to_markdown()),
            "file_count": len(files),
            "data_version": digest,
        },
    )
