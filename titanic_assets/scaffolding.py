"""A new domain from a labelled CSV: what `dg scaffold defs titanic_assets.components.ModelLoop
<name> --data <csv> --label <column> --positive <value>` writes beside the instance's
defs.yaml (components.ModelLoopScaffolder; the steps: docs/your-own-model.md).

The domain's files come from the template in titanic_assets/templates/domain/, filled with
what the data says: one InputField per column but the label (and the id column), its kind,
range, categories and whether it is ever missing; an example row; the inputs drift
monitoring watches. The CSV is copied into the domain's data/. The result is a starting
point for the user to review, not a judgement: the generated files say what to check.

Scaffolding time only (pandas): neither the loop nor the service imports it.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).parent / "templates" / "domain"
MAX_CATEGORIES = 30  # a text column with more distinct values is free text, not a category
LINE = 100  # the project's line length (pyproject.toml)


class ScaffoldError(ValueError):
    """A domain that cannot be written from this data, named with why."""


@dataclass(frozen=True)
class Column:
    """One input as the data shows it."""

    name: str
    kind: str  # "int", "float", "category" or "text"
    required: bool
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    max_length: int | None = None
    missing: int = 0
    rows: int = 0

    def source(self, data_file: str) -> str:
        """The InputField(...) for this column, as a line or lines of contract.py."""
        if self.kind in ("int", "float"):
            seen = f"{self.minimum:g} to {self.maximum:g}"
        elif self.kind == "category":
            seen = f"{len(self.allowed)} values"
        else:
            seen = f"text up to {self.max_length} characters"
        missing = f", {self.missing} of {self.rows} missing" if self.missing else ""
        arguments = [repr(self.name), repr(self.kind), repr(f"In {data_file}: {seen}{missing}.")]
        if self.required:
            arguments.append("required=True")
        if self.kind in ("int", "float"):
            arguments += [f"minimum={self.minimum!r}", f"maximum={self.maximum!r}"]
        elif self.kind == "category":
            arguments.append(f"allowed={_tuple(self.allowed, 8)}")
        else:
            arguments.append(f"max_length={self.max_length}")
        return _call("InputField", arguments, 4) + ","


def _tuple(values: tuple[Any, ...], indent: int) -> str:
    """A tuple literal, on one line if it fits, else one value a line."""
    if len(values) == 1:
        return f"({values[0]!r},)"
    flat = f"({', '.join(repr(v) for v in values)})"
    if indent + len("allowed=") + len(flat) + 1 <= LINE:
        return flat
    inner = " " * (indent + 4)
    return "(\n" + "".join(f"{inner}{v!r},\n" for v in values) + " " * indent + ")"


def _call(function: str, arguments: list[str], indent: int) -> str:
    """`function(arguments)` at `indent`, on one line if it fits, else one argument a line."""
    pad = " " * indent
    flat = f"{pad}{function}({', '.join(arguments)})"
    if len(flat) + 1 <= LINE and "\n" not in flat:
        return flat
    inner = " " * (indent + 4)
    return f"{pad}{function}(\n" + "".join(f"{inner}{a},\n" for a in arguments) + f"{pad})"


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value a literal writes."""
    return value.item() if hasattr(value, "item") else value


def _column(name: str, values: Any) -> Column:
    import pandas as pd

    present = values.dropna()
    missing, rows = int(values.isna().sum()), len(values)
    if present.empty:
        raise ScaffoldError(f"column {name!r} has no value in the data")
    common = {"name": name, "required": missing == 0, "missing": missing, "rows": rows}
    if pd.api.types.is_bool_dtype(values):
        return Column(kind="category", allowed=("False", "True"), **common)
    if pd.api.types.is_numeric_dtype(values):
        whole = pd.api.types.is_integer_dtype(values) or bool((present % 1 == 0).all())
        low, high = _plain(present.min()), _plain(present.max())
        if whole:
            return Column(kind="int", minimum=int(low), maximum=int(high), **common)
        return Column(kind="float", minimum=float(low), maximum=float(high), **common)
    text = present.astype(str)
    distinct = sorted(text.unique())
    if len(distinct) <= MAX_CATEGORIES:
        return Column(kind="category", allowed=tuple(distinct), **common)
    return Column(kind="text", max_length=int(text.str.len().max()), **common)


def _identifier(text: str) -> str:
    """`text` as a field name a client can send: lower case, words joined by underscores."""
    name = re.sub(r"\W+", "_", str(text)).strip("_").lower() or "positive"
    return f"{name}_" if keyword.iskeyword(name) or name[0].isdigit() else name


def _label_classes(labels: Any, label: str, positive: str) -> tuple[Any, Any]:
    """(negative, positive) as the label's values: text, or whole numbers; True/False read
    as the words "True" and "False" (how the landing area reads them back: by the contract,
    as text)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(labels):
        labels = labels.astype(str)
    values = [_plain(v) for v in labels.dropna().unique()]
    if labels.isna().any():
        raise ScaffoldError(f"the label {label!r} is missing in some rows: every row needs one")
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in sorted(values, key=str)[:5])
        raise ScaffoldError(f"the label {label!r} must take two values, not {len(values)}: {shown}")
    matching = [v for v in values if str(v) == str(positive)]
    if not matching:
        raise ScaffoldError(
            f"the positive class {positive!r} is not a value of {label!r}: "
            + " or ".join(repr(str(v)) for v in values)
        )
    if any(isinstance(v, bool) or not isinstance(v, (str, int)) for v in values):
        raise ScaffoldError(f"the label {label!r} must be text, whole numbers or True/False")
    negative = values[1] if values[0] == matching[0] else values[0]
    return negative, matching[0]


def _example(table: Any, columns: list[Column]) -> dict[str, Any]:
    """The first row with every input, else the first row's present inputs."""
    complete = table[[c.name for c in columns]].dropna()
    row = (complete if len(complete) else table).iloc[0]
    example = {}
    for column in columns:
        value = _plain(row[column.name])
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if column.kind == "int":
            value = int(value)
        elif column.kind == "float":
            value = float(value)
        else:
            value = str(value)
        example[column.name] = value
    return example


def _quoted(text: str) -> str:
    """A string literal in double quotes, as the project writes them (in a comment)."""
    return json.dumps(text, ensure_ascii=False)


def _dict(values: dict[str, Any], indent: int) -> str:
    """A dict literal, one item a line."""
    inner = " " * (indent + 4)
    items = "".join(f"{inner}{k!r}: {v!r},\n" for k, v in values.items())
    return "{\n" + items + " " * indent + "}"


def write_domain(
    domains: Path,
    name: str,
    data: Path,
    label: str,
    positive: str,
    id_column: str | None = None,
) -> Path:
    """The domain `name` under `domains/`, from the template and the labelled CSV `data`
    (copied into its data/); its folder. Fails, writing nothing, on data the loop cannot
    learn from as it is (ScaffoldError)."""
    import pandas as pd

    if not name.isidentifier() or keyword.iskeyword(name):
        raise ScaffoldError(f"the domain name {name!r} must be a Python identifier, e.g. my_model")
    folder = domains / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists: choose another name, or --domain it")
    if not data.is_file():
        raise ScaffoldError(f"the data {data} does not exist")
    table = pd.read_csv(data)
    for needed, what in ((label, "label"), (id_column, "id column")):
        if needed is not None and needed not in table.columns:
            raise ScaffoldError(f"the {what} {needed!r} is not a column of {data.name}")
    if id_column is not None and not (
        pd.api.types.is_integer_dtype(table[id_column])
        and table[id_column].is_unique
        and table[id_column].min() >= 1
    ):
        raise ScaffoldError(f"the id column {id_column!r} must be unique whole numbers from 1")
    classes = _label_classes(table[label], label, positive)
    columns = [_column(c, table[c]) for c in table.columns if c not in (label, id_column)]
    if not any(c.kind != "text" for c in columns):
        raise ScaffoldError(f"{data.name} has no number or category for the model to read")

    categories = [c for c in columns if c.kind == "category"]
    first = categories[0] if categories else None
    values = {
        "name": name,
        "name_literal": repr(name),
        "title": f"{label} = {positive}, predicted from {data.name}",
        "data_file": data.name,
        "data_file_literal": repr(data.name),
        "id_note": f" and the id column {id_column}" if id_column else "",
        "fields": "\n".join(c.source(data.name) for c in columns),
        "label_literal": repr(label),
        "classes": repr(classes),
        "id_column": repr(id_column),
        "decision_literal": repr(_identifier(label)),
        "probability_literal": repr(f"{label} {positive}"),
        "example": _dict(_example(table, columns), 4),
        "monitored": "\n".join(
            f"        MonitoredInput({c.name!r}, {c.name!r}, numeric={c.kind != 'category'}),"
            for c in columns
            if c.kind != "text"
        ),
        "slice_example": (
            f"slices={{{_quoted(first.allowed[0])}: {{{_quoted(first.name)}: "
            f"{_quoted(first.allowed[0])}}}}}"
            if first
            else 'slices={"young": {"age": lambda age: age < 25}}'
        ),
        "shift_example": (
            f"leave_one_out={{{_quoted(f'leave-one-{first.name}-out')}: {_quoted(first.name)}}}"
            if first
            else 'leave_one_out={"leave-one-region-out": "region"}'
        ),
    }
    values["title_literal"] = repr(values["title"])
    folder.mkdir(parents=True)
    try:
        for template in sorted(TEMPLATE.glob("*.tmpl")):
            text = string.Template(template.read_text()).substitute(values)
            (folder / template.name.removesuffix(".tmpl")).write_text(text)
        (folder / "data").mkdir()
        shutil.copy2(data, folder / "data" / data.name)
    except BaseException:
        shutil.rmtree(folder)
        raise
    _format(folder)
    return folder


def _format(folder: Path) -> None:
    """The generated files in the project's style, when ruff is at hand (a development
    environment); as written otherwise."""
    ruff = Path(sys.executable).parent / "ruff"
    ruff_command = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff_command:
        subprocess.run([ruff_command, "format", "--quiet", str(folder)], check=False)
