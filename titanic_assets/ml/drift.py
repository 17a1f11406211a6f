"""Drift statistics of the model's raw inputs: pure functions, no Dagster.

The serving model's training rows are the reference; a window of logged traffic is the
current sample. Each input the domain monitors (Domain.monitored) gets one univariate test
from alibi-detect's TabularDrift (Kolmogorov-Smirnov for numbers, chi-squared for
categories) with a Bonferroni correction over them, and a Population Stability Index as the
size of the change.

Choices, and why:
- The domain says which inputs are numbers and which categories. Counts with a natural
  order are best numeric (KS): as categories their rare values would put tiny expected
  counts into a chi-squared test and raise false alarms on small windows. Free text is
  tested through what the model reads from it (e.g. a name's title).
- Missing values are a value, not an error. A missing category is its own category
  ("missing"). A missing number sorts below every number (-inf) in the KS test, so a
  change in how often a field is missing is drift just like a change in its values, and
  both shares are reported.
- Rare categories are pooled for the chi-squared test (fewer than MIN_EXPECTED expected
  rows in the smaller sample), as are categories the reference never had: without this,
  one row of a rare category (deck T) in a window of 50 is "drift" (3 false alarms in 20 windows
  of 50 rows in a first benchmark run). The PSI and the plots keep every category.
- A category the reference never had (one the model has never seen: an open category's new
  value, core/contract.py) is counted: each feature reports the share of the window's rows
  with one and the commonest of them, and a window where many rows bring one drifts.
- Bonferroni, not FDR: the inputs are correlated, a real shift moves several of them, and
  one per-input threshold (0.05 / their number) is easy to read.
- Below MIN_ROWS logged rows no test is run: the report says "not enough traffic" and is
  not a failure (see MIN_ROWS for how this number was chosen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from titanic_assets.core.domain import MonitoredInput

if TYPE_CHECKING:
    import pandas as pd

# Significance of the whole report (family-wise), split over the features by Bonferroni.
P_VALUE = 0.05
CORRECTION = "bonferroni"
# Fewer logged rows than this and the report says "not enough traffic". The tests keep
# false alarms under 5% from 50 rows on, but the PSI is noise below ~200 rows: on
# in-distribution traffic the largest PSI has a median of 0.37 ("major") at 50 rows, 0.15 at
# 100 and 0.07 ("stable") at 200 (benchmarks/drift.py).
MIN_ROWS = 200
MISSING = "missing"
# Chi-squared's rule of thumb: categories expected fewer times than this in the smaller
# sample are pooled into one, or a single rare title or deck in 50 rows raises an alarm.
MIN_EXPECTED = 5
PSI_BINS = 10
# Shares are floored at this before taking logs, so an empty bin gives a large, finite PSI.
PSI_FLOOR = 1e-4
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


def _as_category(value: Any) -> str | None:
    """A raw value as its category when the domain gives no reading: the stripped text."""
    return None if _is_blank(value) else str(value).strip()


def psi_reading(psi: float) -> str:
    """The common reading of a PSI: below 0.1 stable, up to 0.25 moderate, above major."""
    if psi < PSI_MODERATE:
        return "stable"
    return "moderate" if psi <= PSI_MAJOR else "major"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's test result and change magnitude."""

    feature: str
    test: str  # "KS" or "chi-squared"
    statistic: float
    p_value: float
    drifted: bool
    psi: float
    missing_share_reference: float
    missing_share_current: float
    # Of the window's rows, the share with a category the reference never had, and the
    # commonest such categories with their counts (a categorical feature's; numbers: none).
    unseen_share_current: float = 0.0
    unseen: tuple[tuple[str, int], ...] = ()

    @property
    def psi_reading(self) -> str:
        return psi_reading(self.psi)


@dataclass(frozen=True)
class DriftReport:
    """The drift of one traffic window against the reference, ready to become metadata.

    `features` is empty when the window is below `min_rows`: no test was run.
    """

    n_reference: int
    n_current: int
    min_rows: int
    p_value: float  # family-wise significance
    threshold: float  # per-feature p-value threshold after the correction
    correction: str
    features: tuple[FeatureDrift, ...]

    @property
    def enough_traffic(self) -> bool:
        return self.n_current >= self.min_rows

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drift_detected(self) -> bool:
        return bool(self.drifted_features)

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def smallest_p_value(self) -> float | None:
        return min((f.p_value for f in self.features), default=None)

    @property
    def largest_psi(self) -> float | None:
        return max((f.psi for f in self.features), default=None)

    @property
    def unseen_categories(self) -> dict[str, dict[str, Any]]:
        """Per feature whose window brought categories the reference never had: their share
        of the rows and the commonest of them with their counts."""
        return {
            f.feature: {"share": round(f.unseen_share_current, 4), "values": dict(f.unseen)}
            for f in self.features
            if f.unseen
        }

    @property
    def summary(self) -> str:
        if not self.enough_traffic:
            return (
                f"not enough traffic: {self.n_current} logged rows, "
                f"at least {self.min_rows} are needed for a drift test"
            )
        if self.drift_detected:
            return (
                f"drift in {len(self.drifted_features)} of {len(self.features)} features "
                f"({', '.join(self.drifted_features)}) over {self.n_current} rows"
            )
        return f"no drift in {len(self.features)} features over {self.n_current} rows"

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per feature, for a table in the UI."""
        return [
            {
                "feature": f.feature,
                "test": f.test,
                "statistic": round(f.statistic, 4),
                "p_value": float(f"{f.p_value:.3g}"),
                "drifted": f.drifted,
                "psi": round(f.psi, 3),
                "psi_reading": f.psi_reading,
                "missing_reference": round(f.missing_share_reference, 3),
                "missing_current": round(f.missing_share_current, 3),
                "unseen_current": round(f.unseen_share_current, 3),
            }
            for f in self.features
        ]


def _check_columns(monitored: Sequence[MonitoredInput], table: pd.DataFrame, role: str) -> None:
    missing = sorted({f.column for f in monitored} - set(table.columns))
    if missing:
        raise ValueError(f"the {role} rows lack the model input column(s) {missing}")


def _numbers(table: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """Float column, NaN where missing; a clear error on values that are not numbers."""
    import pandas as pd

    raw = table[column]
    if raw.dtype == object:  # text from a log or a CSV: blank strings are missing values
        raw = raw.mask(raw.map(_is_blank).astype(bool))
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        examples = raw[bad].astype(str).unique()[:3].tolist()
        raise ValueError(
            f"{bad.sum()} {role} value(s) of {column} are not numbers, e.g. {examples}"
        )
    return values.to_numpy(np.float64)


def _labels(table: pd.DataFrame, feature: MonitoredInput) -> np.ndarray:
    """Category label per row; MISSING for missing values (labels computed once per value)."""
    import pandas as pd

    codes, uniques = pd.factorize(table[feature.column])
    category = feature.category or _as_category
    labels = [category(value) or MISSING for value in uniques] + [MISSING]
    return np.asarray(labels, dtype=object)[codes]  # code -1 (missing) takes the last one


def _psi(reference_bins: np.ndarray, current_bins: np.ndarray, n_bins: int) -> float:
    expected = np.bincount(reference_bins, minlength=n_bins) / len(reference_bins)
    actual = np.bincount(current_bins, minlength=n_bins) / len(current_bins)
    expected, actual = np.maximum(expected, PSI_FLOOR), np.maximum(actual, PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_bins(reference: np.ndarray) -> np.ndarray:
    """Bin edges fixed by the reference: its deciles, merged where values tie."""
    present = reference[~np.isnan(reference)]
    if present.size == 0:
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(present, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))


def _numeric_psi(reference: np.ndarray, current: np.ndarray) -> float:
    edges = numeric_bins(reference)
    missing_bin = len(edges) + 1

    def bins(values: np.ndarray) -> np.ndarray:
        index = np.searchsorted(edges, values, side="right")
        return np.where(np.isnan(values), missing_bin, index)

    return _psi(bins(reference), bins(current), missing_bin + 1)


def _categorical_psi(reference: np.ndarray, current: np.ndarray) -> float:
    import pandas as pd

    categories = pd.unique(reference)  # the reference's categories; anything else is unseen

    def bins(labels: np.ndarray) -> np.ndarray:
        codes = pd.Categorical(labels, categories=categories).codes.astype(np.int64)
        return np.where(codes < 0, len(categories), codes)

    return _psi(bins(reference), bins(current), len(categories) + 1)


def _common_categories(reference: np.ndarray, n: int) -> np.ndarray:
    """The reference's categories expected at least MIN_EXPECTED times in a sample of n."""
    import pandas as pd

    shares = pd.Series(reference).value_counts(normalize=True)
    return shares.index[shares * n >= MIN_EXPECTED].to_numpy()


def _category_codes(labels: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Codes of the kept categories; all others, new ones included, share one last code."""
    import pandas as pd

    codes = pd.Categorical(labels, categories=kept).codes.astype(np.int64)
    return np.where(codes < 0, len(kept), codes)


@dataclass(frozen=True)
class _Prepared:
    """Both samples as the test's float matrices, plus what the PSI and plots need."""

    reference: np.ndarray
    current: np.ndarray
    columns: dict[str, tuple[np.ndarray, np.ndarray]]  # feature -> (reference, current)


def _read(
    feature: MonitoredInput, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """One feature of both samples: floats with NaN, or category labels with MISSING."""
    if feature.numeric:
        return (
            _numbers(reference, feature.column, "reference"),
            _numbers(current, feature.column, "current"),
        )
    return _labels(reference, feature), _labels(current, feature)


def _prepare(
    monitored: Sequence[MonitoredInput], reference: pd.DataFrame, current: pd.DataFrame
) -> _Prepared:
    columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    test_reference, test_current = [], []
    for feature in monitored:
        ref, cur = _read(feature, reference, current)
        if feature.numeric:
            # Missing sorts below every number, so the KS test sees changes in missingness.
            test_reference.append(np.where(np.isnan(ref), -np.inf, ref))
            test_current.append(np.where(np.isnan(cur), -np.inf, cur))
        else:
            kept = _common_categories(ref, min(len(ref), len(cur)))
            test_reference.append(_category_codes(ref, kept))
            test_current.append(_category_codes(cur, kept))
        columns[feature.name] = (ref, cur)
    return _Prepared(
        reference=np.column_stack(test_reference).astype(np.float64),
        current=np.column_stack(test_current).astype(np.float64),
        columns=columns,
    )


UNSEEN_SHOWN = 5  # the commonest unseen categories a feature's report names


def _unseen(reference: np.ndarray, current: np.ndarray) -> tuple[float, tuple]:
    """The share of `current`'s rows whose category (not missing) `reference` never had,
    and the commonest such categories with their counts."""
    import pandas as pd

    if current.dtype != object or not current.size:
        return 0.0, ()
    new = ~pd.Series(current).isin(pd.unique(reference)) & (current != MISSING)
    if not new.any():
        return 0.0, ()
    counts = pd.Series(current[new.to_numpy()]).value_counts().head(UNSEEN_SHOWN)
    return float(new.mean()), tuple((str(k), int(v)) for k, v in counts.items())


def _missing_share(values: np.ndarray) -> float:
    if values.dtype == object:
        return float(np.mean(values == MISSING)) if values.size else 0.0
    return float(np.mean(np.isnan(values))) if values.size else 0.0


def drift_report(
    monitored: Sequence[MonitoredInput],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    min_rows: int = MIN_ROWS,
    p_value: float = P_VALUE,
) -> DriftReport:
    """Test each monitored input of `current` (traffic) against `reference` (training rows).

    Both tables hold the model's raw input columns (features.RAW_INPUTS); other columns
    are ignored. Raises ValueError when a column is absent, the reference is empty, or a
    numeric column holds something that is not a number.
    """
    _check_columns(monitored, reference, "reference")
    _check_columns(monitored, current, "current")
    if len(reference) == 0:
        raise ValueError("the reference has no rows: there is nothing to compare traffic with")
    prepared = _prepare(
        monitored, reference, current
    )  # bad values are an error even in a short window
    if len(current) < min_rows:
        return DriftReport(
            n_reference=len(reference),
            n_current=len(current),
            min_rows=min_rows,
            p_value=p_value,
            threshold=p_value / len(monitored),
            correction=CORRECTION,
            features=(),
        )

    from alibi_detect.cd import TabularDrift  # ~7 s and ~300 MB: only when a test runs

    categorical = [i for i, f in enumerate(monitored) if not f.numeric]
    detector = TabularDrift(
        prepared.reference,
        p_val=p_value,
        categories_per_feature={i: None for i in categorical},
        correction=CORRECTION,
    )
    result = detector.predict(prepared.current, drift_type="batch")["data"]
    threshold = float(result["threshold"])

    features = []
    for i, feature in enumerate(monitored):
        ref, cur = prepared.columns[feature.name]
        psi = _numeric_psi(ref, cur) if feature.numeric else _categorical_psi(ref, cur)
        p = float(result["p_val"][i])
        unseen_share, unseen = _unseen(ref, cur)
        features.append(
            FeatureDrift(
                feature=feature.name,
                test="KS" if feature.numeric else "chi-squared",
                statistic=float(result["distance"][i]),
                p_value=p,
                drifted=p < threshold,
                psi=psi,
                missing_share_reference=_missing_share(ref),
                missing_share_current=_missing_share(cur),
                unseen_share_current=unseen_share,
                unseen=unseen,
            )
        )
    return DriftReport(
        n_reference=len(reference),
        n_current=len(current),
        min_rows=min_rows,
        p_value=p_value,
        threshold=threshold,
        correction=CORRECTION,
        features=tuple(features),
    )


def drift_plots(
    monitored: Sequence[MonitoredInput],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    report: DriftReport,
    features: Sequence[str] | None = None,
) -> dict[str, str]:
    """Markdown images of reference vs current distributions, by default of the drifted features."""
    from titanic_assets.ml import plots

    wanted = report.drifted_features if features is None else list(features)
    if not wanted:
        return {}
    images = {}
    for feature in monitored:
        if feature.name not in wanted:
            continue
        ref, cur = _read(feature, reference, current)
        if feature.numeric:
            images[feature.name] = plots.numeric_drift(feature.name, ref, cur)
        else:
            images[feature.name] = plots.categorical_drift(feature.name, ref, cur)
    return images
