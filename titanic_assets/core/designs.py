"""A design for a domain whose model reads its inputs as they are (core/domain.Design).

Each number is a feature as it is (missing stays NaN: LightGBM routes it), each category
with allowed values is its position among them (a LightGBM categorical; missing or unknown
is NaN), and free text is not read. It learns nothing from labelled rows. A domain with
features of its own (Titanic's titles and travelling groups) writes its own design instead.

Standard library and numpy only: the service builds this matrix for every request.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from titanic_assets.core.contract import InputField


def _code(index: dict[str, float], value: Any) -> float:
    """A category's position among its allowed values (NaN: missing or unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    return index.get(str(value).strip().lower(), math.nan)


class InputDesign:
    """Every number and every category of the contract, in its order."""

    def __init__(self, inputs: Sequence[InputField]) -> None:
        used = [f for f in inputs if f.kind in ("int", "float") or f.allowed is not None]
        self.feature_names: tuple[str, ...] = tuple(f.name for f in used)
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
            values = columns[name]
            index = self._codes.get(name)
            if index is None:  # numpy reads None as NaN
                stacked.append(np.asarray(values, dtype=np.float64))
            else:
                stacked.append([_code(index, v) for v in values])
        return np.ascontiguousarray(np.array(stacked, dtype=np.float64).reshape(len(stacked), -1).T)
