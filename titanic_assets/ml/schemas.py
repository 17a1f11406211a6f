"""Data contracts for every table in the graph, as Pandera schemas built from the domain.

Each input takes its type and limits from the domain's one input contract (its
`InputField`s); the id, the label and the bookkeeping columns are the pipeline's own. They
run as blocking Dagster asset checks (defs/contract_checks.py): a table that breaks its
contract stops everything downstream of it. Built per domain at run time (a schema object,
not a class): the engine knows a domain only by what it declares.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pandera.pandas as pa

from titanic_assets.core.contract import InputField
from titanic_assets.core.domain import Domain

DTYPES = {"int": "int64", "float": "float64", "category": "str", "text": "str"}


def column(spec: InputField, nullable: bool | None = None) -> pa.Column:
    """The Pandera column for a contract field: its type, limits, allowed values and
    nullability (optional fields may be missing unless `nullable` says otherwise). An open
    category's unseen values are valid (rows scored with one come back as labelled
    traffic), as long as they are not too long."""
    checks = []
    if spec.open:
        checks.append(pa.Check.str_length(max_value=spec.longest))
    elif spec.allowed is not None:
        checks.append(pa.Check.isin(list(spec.allowed)))
    if spec.minimum is not None:
        checks.append(pa.Check.ge(spec.minimum))
    if spec.maximum is not None:
        checks.append(pa.Check.le(spec.maximum))
    if spec.max_length is not None:
        checks.append(pa.Check.str_length(max_value=spec.max_length))
    nullable = not spec.required if nullable is None else nullable
    dtype = "Int64" if spec.kind == "int" and nullable else DTYPES[spec.kind]
    return pa.Column(dtype, checks, nullable=nullable, description=spec.description)


def _label(domain: Domain, as_text: bool = False) -> pa.Column:
    values = [str(c) for c in domain.classes] if as_text else list(domain.classes)
    dtype = "str" if as_text or isinstance(domain.classes[0], str) else "int64"
    return pa.Column(dtype, pa.Check.isin(values), description=f"The label, one of {values}.")


def _columns(domain: Domain, filled: tuple[str, ...] = ()) -> dict[str, pa.Column]:
    return {
        domain.key: pa.Column("int64", pa.Check.ge(1), unique=True),
        domain.label: _label(domain),
        **{f.name: column(f, nullable=False if f.name in filled else None) for f in domain.inputs},
        "source": pa.Column(
            "str", description="The landing-area file the row came from, or `feedback:<tag>`."
        ),
    }


@cache
def raw_contract(domain: Domain) -> pa.DataFrameSchema:
    """The labelled rows as they land, from any batch file or from the service's labelled
    traffic. Coerced: a wrong type is a failure case per offending row, not one error."""
    return pa.DataFrameSchema(
        _columns(domain), name=f"{domain.name}: raw rows", coerce=True, strict=True
    )


@cache
def clean_contract(domain: Domain) -> pa.DataFrameSchema:
    """Cleaned and typed: no duplicate rows, the domain's gaps filled (Domain.filled)."""
    return pa.DataFrameSchema(
        _columns(domain, domain.filled), name=f"{domain.name}: rows", strict=True
    )


@cache
def labelled_traffic_contract(domain: Domain) -> pa.DataFrameSchema:
    """Rows the service scored whose outcome came back, as training rows: the inputs it was
    sent (already held to the input contract), the label, which model answered."""
    columns = {
        **_columns(domain),
        "prediction_id": pa.Column("str", unique=True),
        "model_version": pa.Column("str"),
    }
    return pa.DataFrameSchema(
        columns, name=f"{domain.name}: labelled traffic", coerce=True, strict=True
    )


@cache
def landed_outcomes_contract(domain: Domain) -> pa.DataFrameSchema:
    """Outcomes dropped in bulk in the labels landing area: a prediction id and its label.
    Read as text, so that a bad value fails on its own row, not the whole column's type."""
    return pa.DataFrameSchema(
        {
            "id": pa.Column("str", pa.Check.str_length(min_value=1), nullable=False),
            domain.label: _label(domain, as_text=True),
            "source": pa.Column("str", description="The labels file the row came from."),
        },
        name=f"{domain.name}: landed outcomes",
        coerce=True,
        strict=True,
    )


@cache
def feature_contract(domain: Domain) -> Any:
    """The model's training input: the domain's own contract of its features, or numbers
    (missing allowed) in the design's order, beside the id and the label."""
    if domain.feature_contract is not None:
        return domain.feature_contract()
    feature_names = domain.design().feature_names
    return pa.DataFrameSchema(
        {
            domain.key: pa.Column("int64", pa.Check.ge(1), unique=True),
            domain.label: _label(domain),
            **{name: pa.Column("float64", nullable=True) for name in feature_names},
        },
        name=f"{domain.name}: feature table",
        strict=True,
        ordered=True,
    )


def contract_name(contract: Any) -> str:
    """A contract's name for messages: a schema's name, or a DataFrameModel's class name."""
    return getattr(contract, "name", None) or contract.__name__
