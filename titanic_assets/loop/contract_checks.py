"""The Pandera data contracts as blocking Dagster asset checks, naming the offending rows.

Blocking: when one fails, nothing downstream of its table runs, so a bad table never trains
a model. Each stage declares the checks of its own tables with `contract_check`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import check_result, markdown_table

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 10


def _failure_cases(table: pd.DataFrame, contract: Any) -> pd.DataFrame | None:
    """Pandera's failure cases for the table, or None when it satisfies the contract.

    A table read from several files is validated file by file, on the columns each file
    really had, so a batch missing a column fails even when other batches have it.
    """
    import pandas as pd
    import pandera.errors

    columns_by_file = table.attrs.get("columns_by_file") or {None: list(table.columns)}
    found = []
    for name, columns in columns_by_file.items():
        part = table if name is None else table.loc[table["source"] == name, columns]
        try:
            contract.validate(part, lazy=True)
        except pandera.errors.SchemaErrors as errors:
            cases = errors.failure_cases.copy()
            # A missing column concerns every row of the file that lacks it.
            missing = cases["check"] == "column_in_dataframe"
            every_row = (
                cases[missing]
                .drop(columns="index")
                .merge(pd.DataFrame({"index": part.index}), how="cross")
            )
            cases = pd.concat([cases[~missing], every_row])
            if name is not None:
                cases["file"] = name
            found.append(cases)
    return pd.concat(found, ignore_index=True) if found else None


def contract_result(
    table: pd.DataFrame, contract: Any, id_column: str | None = None
) -> dg.AssetCheckResult:
    """Validate a table against a Pandera contract, naming every failing column and row
    (`id_column`: the rows' ids, listed too)."""
    import pandas as pd

    from titanic_assets.ml.schemas import contract_name

    cases = _failure_cases(table, contract)
    if cases is None:
        return check_result(
            passed=True,
            metadata={"rows_validated": len(table), "contract": contract_name(contract)},
        )
    cases["failure_case"] = cases["failure_case"].astype(str)
    # For a missing or unexpected column Pandera names the schema as the "column" and puts
    # the column's name in failure_case.
    about_a_column = cases["check"].astype(str).str.startswith("column_in_")
    cases["column"] = cases["column"].where(~about_a_column, cases["failure_case"]).astype(str)
    keys = ["file", "column", "check"] if "file" in cases else ["column", "check"]
    summary = (
        cases.groupby(keys, sort=False)
        .agg(
            failures=("index", "nunique"),
            examples=("failure_case", lambda v: ", ".join(v.unique()[:5])),
        )
        .reset_index()
    )
    row_index = pd.to_numeric(cases["index"], errors="coerce").dropna().astype(int).unique()
    offending = table.loc[table.index.intersection(row_index)]
    return check_result(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{contract_name(contract)} failed: "
            + "; ".join(f"{r.column}: {r.check}" for r in summary.itertuples())
        ),
        metadata={
            "failing_columns": ", ".join(sorted(summary["column"].unique())),
            "failures": dg.MetadataValue.md(summary.to_markdown(index=False)),
            "offending_row_count": len(offending),
            "offending_rows": markdown_table(offending, SAMPLE_ROWS),
            "offending_row_index": dg.MetadataValue.json([int(i) for i in row_index[:100]]),
            "offending_ids": dg.MetadataValue.json(
                offending[id_column].head(100).tolist() if id_column in offending else []
            ),
        },
    )


def contract_check(loop: Loop, asset: str, contract: str) -> dg.AssetChecksDefinition:
    """A blocking check that this model's `asset` satisfies its Pandera contract
    `ml.schemas.<contract>(domain)`."""

    @dg.asset_check(
        asset=loop.key(asset),
        name=f"{asset}_contract",
        blocking=True,
        description=f"The table satisfies the Pandera contract ml.schemas.{contract} of the "
        f"{loop.domain.name} domain.",
    )
    def _check(table) -> dg.AssetCheckResult:
        from titanic_assets.ml import schemas

        built = getattr(schemas, contract)(loop.domain)
        return contract_result(table, built, loop.domain.key)

    return _check
