"""A design for a domain whose model reads its inputs as they are (core/domain.Design).

Each number is a feature as it is (missing stays NaN: LightGBM routes it), each category
with allowed values is its position among them (a LightGBM categorical; missing or unknown
is NaN), and free text is not read; then any derived features the domain names, each a
function of the input columns. It learns nothing from labelled rows. A domain whose features
learn from labelled rows (Titanic's travelling groups) writes its own design instead.

Standard library and numpy only: the service builds this matrix for every request.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Hashable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from titanic_assets.core.contract import InputField


def _code(index: dict[str, float], value: Any) -> float:
    """A category's position among its allowed values (NaN: missing or unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    return index.get(str(value).strip().lower(), math.nan)


Derived = Callable[[Mapping[str, Sequence[Any]]], Sequence[float]]


class InputDesign:
    """Every number and every category of the contract, in its order, then the `derived`
    features: name -> a function of the input columns (each a sequence of the rows' values,
    None or NaN where missing) giving one number per row, NaN where it cannot say. They are
    module-level functions, so a fitted model pickles its design by reference to them."""

    derived: Mapping[str, Derived] = MappingProxyType({})  # (a model pickled before them)

    def __init__(
        self, inputs: Sequence[InputField], derived: Mapping[str, Derived] | None = None
    ) -> None:
        used = [f for f in inputs if f.kind in ("int", "float") or f.allowed is not None]
        derived = dict(derived or {})
        for name, function in derived.items():
            try:
                pickle.dumps(function)
            except (pickle.PicklingError, AttributeError, TypeError):
                raise ValueError(
                    f"the derived feature {name} must be a module-level function: the model "
                    "is pickled with its design (a lambda or a nested function is not)"
                ) from None
        if clash := sorted(set(derived) & {f.name for f in inputs}):
            raise ValueError(f"derived features {clash} are named as inputs: name them apart")
        self.derived = derived
        self.feature_names: tuple[str, ...] = tuple(f.name for f in used) + tuple(derived)
        self.categorical: tuple[str, ...] = tuple(
            f.name for f in used if f.kind == "category" and f.allowed is not None
        )
        # Plain dicts, not closures: the fitted model (and its design) is pickled.
        self._codes = {
            f.name: {str(v).lower(): float(i) for i, v in enumerate(f.allowed)}
            for f in used
            if f.name in self.categorical
        }

    def fitted(
        self, columns: Mapping[str, Sequence[Any]], labels: Sequence[int], ids: Any = None
    ) -> InputDesign:
        return self

    def matrix(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        stacked = []
        for name in self.feature_names:
            if name in self.derived:
                stacked.append(self._derived(name, columns))
                continue
            values = columns[name]
            index = self._codes.get(name)
            if index is None:  # numpy reads None as NaN
                stacked.append(np.asarray(values, dtype=np.float64))
            else:
                stacked.append([_code(index, v) for v in values])
        return np.ascontiguousarray(np.array(stacked, dtype=np.float64).reshape(len(stacked), -1).T)

    def _derived(self, name: str, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        rows = len(columns[next(iter(columns))])  # (a DataFrame or a dict of columns)
        values = np.asarray(self.derived[name](columns), dtype=np.float64).reshape(-1)
        if len(values) != rows:
            raise ValueError(f"the derived feature {name} gave {len(values)} values, not {rows}")
        return values
