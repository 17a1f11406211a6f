"""What a person sees of a table in the Dagster UI: size, schema and a preview."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_ROWS = 10


def markdown_table(table: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MarkdownMetadataValue:
    return dg.MetadataValue.md(table.head(rows).to_markdown(index=False))


def table_metadata(table: pd.DataFrame, contract: Any = None) -> dict[str, Any]:
    """Row count, column schema (from the Pandera contract when given) and a preview."""
    if contract is not None:
        from dagster_pandera import pandera_schema_to_dagster_type

        schema = pandera_schema_to_dagster_type(contract).metadata["schema"]
    else:
        schema = dg.TableSchema(
            columns=[dg.TableColumn(str(c), str(t)) for c, t in table.dtypes.items()]
        )
    return {
        "dagster/row_count": len(table),
        "dagster/column_schema": schema,
        "preview": markdown_table(table),
    }
