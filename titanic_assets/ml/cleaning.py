"""Cleaning a raw labelled table: pure functions, no Dagster.

The engine's part is the same for every domain: the raw contract's coercion gives each
column its type, text is stripped (empty text is missing), and rows that repeat another row
in everything but their id and source are removed. The domain then fills the gaps its
model cannot use (`Domain.fill_gaps`), saying what it imputed and for which rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from titanic_assets.core.domain import Imputation

if TYPE_CHECKING:
    from titanic_assets.core.domain import Domain

BOOKKEEPING_COLUMNS = ("source",)


@dataclass(frozen=True)
class CleaningReport:
    duplicates_removed: list[int]  # ids
    imputations: list[Imputation]
    missing_kept: dict[str, int]  # inputs left missing: the model handles them


def _strip(column: pd.Series) -> pd.Series:
    """Strip white space; empty strings become missing."""
    stripped = column.str.strip()
    return stripped.mask(stripped == "")


def clean_rows(domain: Domain, raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed, de-duplicated rows with the gaps the domain's model cannot use filled."""
    from titanic_assets.ml.schemas import raw_contract

    # The raw contract's coercion gives every column its type (it passed, or we'd not be here).
    table = raw_contract(domain).validate(raw)
    text = [f.name for f in domain.inputs if f.kind in ("text", "category")]
    for name in [*text, "source"]:
        table[name] = _strip(table[name])
    key = domain.key
    content = [c for c in table.columns if c not in (key, *BOOKKEEPING_COLUMNS)]
    duplicated = table.duplicated(subset=content, keep="first")
    duplicates_removed = table.loc[duplicated, key].tolist()
    table = table.loc[~duplicated].reset_index(drop=True)
    table, imputations = domain.fill_gaps(table)
    missing = {
        f.name: int(table[f.name].isna().sum())
        for f in domain.inputs
        if f.kind in ("int", "float") and table[f.name].isna().any()
    }
    return table, CleaningReport(duplicates_removed, imputations, missing)


def with_row_ids(domain: Domain, table: pd.DataFrame) -> pd.DataFrame:
    """The landed table with ids for a domain that has none: a hash of each row's file and
    line, so a row keeps its id (and its held-out split) when other files land, and no id
    reaches the range of labelled traffic's (core/outcomes.FEEDBACK_IDS)."""
    import hashlib

    if domain.id_column is not None:
        return table
    lines = table.groupby("source").cumcount()
    ids = [
        1 + int(hashlib.sha256(f"{source}:{line}".encode()).hexdigest()[:11], 16)
        for source, line in zip(table["source"], lines, strict=True)
    ]
    numbered = table.assign(**{domain.key: ids})
    by_file = table.attrs.get("columns_by_file")  # the contract checks each file's own
    if by_file is not None:
        numbered.attrs["columns_by_file"] = {f: [*c, domain.key] for f, c in by_file.items()}
    return numbered
