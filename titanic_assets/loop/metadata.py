"""What a person sees in the Dagster UI: a table's size, schema and preview, and figures
rounded for reading.

`materialize_result` and `check_result` are Dagster's results with every figure of their
metadata rounded (`readable`: 3 decimals, 3 significant digits below 0.1): the UI shows a
number as stored, and 0.7655502392344498 reads as 0.766. Floats stay floats, so the UI still
plots them over materializations.
"""

from __future__ import annotations

import math
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


def readable(number: float) -> float:
    """A figure as an operator reads it: 3 decimals, or 3 significant digits below 0.1 (a
    p-value of 0.000423 stays 0.000423)."""
    number = float(number)
    if not math.isfinite(number) or number == 0.0:
        return number
    if abs(number) >= 0.1:
        return round(number, 3)
    return float(f"{number:.3g}")


def _rounded(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return readable(value)
    if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
        return dg.MetadataValue.float(readable(value.value))
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(_rounded(value.data))
    if type(value) is dict:  # not a metadata value that happens to be a mapping
        return {k: _rounded(v) for k, v in value.items()}
    if type(value) in (list, tuple):  # not a record such as a TableSchema
        return [_rounded(v) for v in value]
    return value


def rounded(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Metadata with every figure readable (module doc)."""
    return {key: _rounded(value) for key, value in (metadata or {}).items()}


def materialize_result(**kwargs: Any) -> dg.MaterializeResult:
    """dg.MaterializeResult, its metadata's figures rounded for reading."""
    return dg.MaterializeResult(**{**kwargs, "metadata": rounded(kwargs.get("metadata"))})


def check_result(**kwargs: Any) -> dg.AssetCheckResult:
    """dg.AssetCheckResult, its metadata's figures rounded for reading."""
    return dg.AssetCheckResult(**{**kwargs, "metadata": rounded(kwargs.get("metadata"))})
