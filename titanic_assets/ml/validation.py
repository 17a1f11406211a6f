"""Validation that anticipates shift: fold schemes, importance weights, weighted metrics.
Pure functions, no Dagster.

Repeated random k-fold estimates accuracy on rows *like the training ones* (for a domain
whose rows come in groups that share fate, with their groups partly known). Traffic need not
be like that; each scheme below asks what happens under one plausible difference:

- `random_folds`: 5 x 5 repeated stratified k-fold.
- `group_folds`: 5 x 5 StratifiedGroupKFold over the domain's groups (Domain.groups, e.g.
  families travelling together): no validation row has a group-mate in training. A domain
  without groups has every row its own group: its group folds are random folds, and
  modeling.validate_under_shift reuses the random scheme's (no second 25 fits).
- `leave_one_out_by(X, column)`: one fold per value of an input the domain names
  (Domain.leave_one_out): train on the others, validate on it, a population the model has
  not seen. Claimed when the domain says so (Domain.shift_claimed, e.g. a port of embarkation
  which reproduced what unseen rows measured), else shown.
- either k-fold scheme re-weighted to recent traffic (`traffic_weights`): validation rows
  weighted by p(traffic | x) / p(training | x) from a classifier on the raw inputs.

`summarize` gives accuracy (and its lift over the domain's baseline rule) with a 95%
interval (Nadeau-Bengio over repeated folds; a bootstrap over groups for the one-pass
schemes), ROC-AUC with its interval, and the expected calibration error, all weighted when
weights are given. ml/claims.py turns the schemes into the interval the model states.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold

from titanic_assets.core.contract import InputField
from titanic_assets.ml import statistics
from titanic_assets.ml.statistics import Interval, intervals_present

SEED = 20260401
FOLDS = 5
REPEATS = 5
GROUP_RESAMPLES = 1000
# Folds' fits at a time: one per core this process may use (each LightGBM fit keeps to one
# thread and releases the GIL, so threads suffice, and each fit's figures are the same as
# fitted one after another).
FIT_THREADS = len(os.sched_getaffinity(0))
# The schemes a claim's interval spans: what traffic may plausibly look like.
SHIFT_SCHEMES = ("group 5x5", "group 5x5, traffic-weighted")  # and the domain's claimed


@dataclass(frozen=True)
class Fold:
    train: np.ndarray
    test: np.ndarray
    repeat: int


def random_folds(y: np.ndarray, seed: int = SEED) -> list[Fold]:
    splits = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=seed)
    return [
        Fold(train, test, i // FOLDS)
        for i, (train, test) in enumerate(splits.split(np.zeros(len(y)), y))
    ]


def group_folds(y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> list[Fold]:
    """Folds that never split a group between training and validation."""
    folds = []
    for repeat in range(REPEATS):
        splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed + repeat)
        folds += [
            Fold(train, test, repeat) for train, test in splitter.split(np.zeros(len(y)), y, groups)
        ]
    return folds


def leave_one_out_by(X: pd.DataFrame, column: str) -> list[Fold]:
    """One fold per value of `column`: validate on it, train on the others; rows where the
    column is missing always train."""
    values = X[column].reset_index(drop=True)
    rows = np.arange(len(X))
    missing = values.isna().to_numpy()
    return [
        Fold(rows[(values != v).to_numpy() | missing], rows[(values == v).to_numpy()], 0)
        for v in sorted(values.dropna().unique())
    ]


def input_design(X: pd.DataFrame, inputs: Sequence[InputField]) -> np.ndarray:
    """Raw inputs as numbers for the training-vs-traffic classifier: a number as itself
    (missing: the column's median, and a missing indicator), a category one-hot over its
    allowed values (the first left out); free text is not used."""
    columns = []
    for spec in inputs:
        values = X[spec.name]
        if spec.allowed is not None:
            text = values.astype(str).str.strip().str.lower()
            allowed = [str(v).lower() for v in spec.allowed]
            if spec.kind == "int":
                numbers = pd.to_numeric(values, errors="coerce")
                text = numbers.map(lambda v: str(int(v)) if v == v else "")
            columns += [text.eq(v) for v in allowed[1:]]
        elif spec.kind in ("int", "float"):
            numbers = pd.to_numeric(values, errors="coerce")
            columns += [numbers.isna(), numbers.fillna(numbers.median()).fillna(0.0)]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def traffic_weights(
    X: pd.DataFrame, traffic: pd.DataFrame, inputs: Sequence[InputField], clip: float = 10.0
) -> np.ndarray:
    """Importance weights of the labelled rows for the traffic's mix: a logistic classifier
    tells labelled rows from traffic rows on the raw inputs, and w = p/(1-p) x n_labelled /
    n_traffic, clipped to [1/clip, clip], mean 1."""
    from sklearn.linear_model import LogisticRegression

    both = pd.concat([X, traffic], ignore_index=True)
    design = input_design(both, inputs)
    target = np.r_[np.zeros(len(X)), np.ones(len(traffic))]
    mean, scale = design.mean(0), design.std(0) + 1e-9
    classifier = LogisticRegression(solver="liblinear", intercept_scaling=10.0).fit(
        (design - mean) / scale, target
    )
    p = classifier.predict_proba((design[: len(X)] - mean) / scale)[:, 1]
    weights = np.clip(p / (1 - p) * len(X) / len(traffic), 1 / clip, clip)
    return weights / weights.mean()


def effective_size(weights: np.ndarray) -> float:
    """How many unweighted rows the weighted ones are worth (Kish)."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None = None, bins=10
) -> float:
    """statistics.expected_calibration_error, rows weighted by `weights`."""
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    index = statistics.bin_index(probabilities, bins)
    error = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            share = w[inside].sum() / w.sum()
            gap = np.average(labels[inside], weights=w[inside]) - np.average(
                probabilities[inside], weights=w[inside]
            )
            error += share * abs(gap)
    return float(error)


@dataclass(frozen=True)
class OutOfFold:
    """A candidate's out-of-fold outputs under one scheme: per repeat, each row's
    probability and decision (NaN where the row was never validated)."""

    folds: list[Fold]
    probabilities: dict[int, np.ndarray]  # calibrated
    decisions: dict[int, np.ndarray]
    raw: dict[int, np.ndarray] | None = None  # before calibration


@dataclass(frozen=True)
class SchemeResult:
    accuracy: Interval
    roc_auc: Interval
    lift_over_baseline: Interval  # in the domain's decision metric, as a gain (ml/decisions.py)
    calibration_error: float
    folds: int
    rows: int  # validated rows per repeat
    effective_rows: float  # after importance weighting
    expected_cost: Interval | None = None  # per row, for a domain that declares costs

    def as_dict(self) -> dict[str, Any]:
        return {
            **intervals_present(expected_cost=self.expected_cost),
            "accuracy": self.accuracy.as_dict(),
            "roc_auc": self.roc_auc.as_dict(),
            "lift_over_baseline": self.lift_over_baseline.as_dict(),
            "calibration_error": self.calibration_error,
            "folds": self.folds,
            "rows": self.rows,
            "effective_rows": self.effective_rows,
        }

    def cell(self) -> str:
        return f"{self.accuracy} · {self.roc_auc.estimate:.3f} · {self.calibration_error:.3f}"


def _group_resamples(groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """Row multiplicities (resamples x rows) of a bootstrap over groups: each
    resample draws groups with replacement and keeps each drawn group whole."""
    _, inverse = np.unique(groups, return_inverse=True)
    count = inverse.max() + 1
    draws = np.random.default_rng(seed).integers(0, count, (GROUP_RESAMPLES, count))
    times = np.stack([np.bincount(d, minlength=count) for d in draws])
    return times[:, inverse].astype(np.float64)


def _accuracies(weights: np.ndarray, labels: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """Weighted accuracy per row of `weights` (resamples x rows)."""
    return weights @ (labels == decisions).astype(np.float64) / weights.sum(axis=1)


def _aucs(
    weights: np.ndarray, labels: np.ndarray, scores: np.ndarray, block: int = 100
) -> np.ndarray:
    """Weighted ROC-AUC per row of `weights` (ties count half): per distinct score, the
    weight of positives times the weight of negatives scored lower. The weights of each
    distinct score are summed over the rows sorted by score (not a rows x scores one-hot
    product: 1,000 resamples of Adult's ~24,500 one-pass rows took ~30 s that way), `block`
    rows of `weights` at a time (each row's figure is its own; the memory is a block's)."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # each distinct score
    positives, negatives = labels[order] == 1, labels[order] == 0
    aucs = np.empty(len(weights))
    for first in range(0, len(weights), block):
        sorted_weights = weights[first : first + block][:, order]
        positive = np.add.reduceat(sorted_weights * positives, starts, axis=1)
        negative = np.add.reduceat(sorted_weights * negatives, starts, axis=1)
        below = np.cumsum(negative, axis=1) - negative
        pairs = positive.sum(axis=1) * negative.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            aucs[first : first + block] = (positive * (below + 0.5 * negative)).sum(axis=1) / pairs
    return aucs


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(samples, [2.5, 97.5])
    return float(low), float(high)


def _accuracy(labels, decisions, weights) -> float:
    return float(np.average(labels == decisions, weights=weights))


def _costs(costs: Any, labels: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """What each row's decision cost (`costs`: a Domain.costs)."""
    from titanic_assets.ml.decisions import DecisionMetric

    return DecisionMetric(costs).per_row(labels, decisions)


def summarize(
    oof: OutOfFold,
    labels: np.ndarray,
    baseline: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray | None = None,
    costs: Any = None,
) -> SchemeResult:
    """A candidate's figures under one scheme (see the module doc). With `costs` (a domain's
    Domain.costs) also its expected cost per row, and its lift over the baseline is the
    cost it saves (else the accuracy it adds)."""
    labels = np.asarray(labels, dtype=int)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    repeats = sorted(oof.probabilities)
    expected_cost = None
    if len(repeats) > 1:
        share = 1 / (len(oof.folds) // len(repeats))
        acc, lift, auc, cost = [], [], [], []
        for fold in oof.folds:
            t = fold.test
            decided = oof.decisions[fold.repeat][t]
            acc.append(_accuracy(labels[t], decided, w[t]))
            if costs is None:
                lift.append(acc[-1] - _accuracy(labels[t], baseline[t], w[t]))
            else:
                cost.append(np.average(_costs(costs, labels[t], decided), weights=w[t]))
                ruled = np.average(_costs(costs, labels[t], baseline[t]), weights=w[t])
                lift.append(ruled - cost[-1])
            auc.append(float(_aucs(w[None, t], labels[t], oof.probabilities[fold.repeat][t])[0]))
        accuracy = statistics.repeated_cv_interval(np.array(acc), share)
        lift_interval = statistics.repeated_cv_interval(np.array(lift), share)
        roc_auc = statistics.repeated_cv_interval(np.array(auc), share)
        if costs is not None:
            expected_cost = statistics.repeated_cv_interval(np.array(cost), share)
    else:
        t = np.concatenate([fold.test for fold in oof.folds])
        y, g, wt = labels[t], groups[t], w[t]
        p, decided = oof.probabilities[0][t], oof.decisions[0][t]
        rule = baseline[t].astype(float)
        resampled = _group_resamples(g) * wt
        accuracies = _accuracies(resampled, y, decided)
        accuracy = Interval(_accuracy(y, decided, wt), *_percentiles(accuracies))
        if costs is None:
            lift_interval = Interval(
                accuracy.estimate - _accuracy(y, rule, wt),
                *_percentiles(accuracies - _accuracies(resampled, y, rule)),
            )
        else:
            spent, ruled = _costs(costs, y, decided), _costs(costs, y, rule)
            per_resample = resampled @ spent / resampled.sum(axis=1)
            ruled_resample = resampled @ ruled / resampled.sum(axis=1)
            estimate = float(np.average(spent, weights=wt))
            expected_cost = Interval(estimate, *_percentiles(per_resample))
            lift_interval = Interval(
                float(np.average(ruled, weights=wt)) - estimate,
                *_percentiles(ruled_resample - per_resample),
            )
        roc_auc = Interval(
            float(_aucs(wt[None, :], y, p)[0]), *_percentiles(_aucs(resampled, y, p))
        )
    errors = []
    for r in repeats:
        seen = ~np.isnan(oof.probabilities[r])
        errors.append(expected_calibration_error(labels[seen], oof.probabilities[r][seen], w[seen]))
    validated = int((~np.isnan(oof.probabilities[repeats[0]])).sum())
    seen = ~np.isnan(oof.probabilities[repeats[0]])
    return SchemeResult(
        accuracy=accuracy,
        roc_auc=roc_auc,
        lift_over_baseline=lift_interval,
        calibration_error=float(np.mean(errors)),
        folds=len(oof.folds),
        rows=validated,
        effective_rows=round(effective_size(w[seen]), 1),
        expected_cost=expected_cost,
    )


def _inner_raw(fit: Any, X: pd.DataFrame, y: np.ndarray, rows: np.ndarray, seed: int):
    """Raw out-of-fold probabilities of `rows` from 5 stratified folds among themselves."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(rows))
    inner = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for train, test in inner.split(np.zeros(len(rows)), y[rows]):
        model = fit(X.iloc[rows[train]].reset_index(drop=True), y[rows[train]])
        out[test] = model.predict_proba(X.iloc[rows[test]].reset_index(drop=True))
    return out, y[rows]


def decided_at(oof: OutOfFold, threshold: float) -> OutOfFold:
    """The same out-of-fold probabilities decided at another threshold."""
    decided = {
        r: np.where(np.isnan(p), np.nan, (p >= threshold).astype(np.float64))
        for r, p in oof.probabilities.items()
    }
    return OutOfFold(oof.folds, oof.probabilities, decided, oof.raw)


def _fits() -> ThreadPoolExecutor:
    """Where run_folds' fits run: FIT_THREADS of them side by side."""
    return ThreadPoolExecutor(FIT_THREADS, thread_name_prefix="fold")


def run_folds(
    fit: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[Fold],
    threshold: float,
    calibrate: Any = None,
    feedback: bool = False,
    seed: int = SEED,
) -> OutOfFold:
    """Fit `fit(X_train, y_train)` per fold and score the fold's validation rows, whose
    group evidence then comes from the fold's training rows only. With `feedback`, each
    random half of the validation rows is scored with the other half's outcomes added to
    the evidence (no refit): serving-time evidence from every labelled row, never a
    row's own outcome.

    Calibration never sees the fold's labels. `calibrate(raw, labels)` (a map raw ->
    calibrated) is fitted, in repeated k-fold schemes, on the raw out-of-fold probabilities
    of the *other* folds of the same repeat (cross-fitted: nesting inner folds in each of
    25 folds gave the same figures at six times the fits, 12 s for LightGBM's 5 x 5); in
    one-pass schemes (a value of an input left out), whose folds' models differ too much to
    share one map, on inner 5-fold out-of-fold probabilities of the fold's training rows.
    A model with `decide` (a rule) decides by it, else p >= threshold.

    The folds' fits (and the one-pass schemes' inner ones) run FIT_THREADS at a time: each is
    seeded and independent of the others, so the outputs are those of fitting in order."""
    y = np.asarray(y, dtype=int)
    repeats = sorted({fold.repeat for fold in folds})
    raw = {r: np.full(len(y), np.nan) for r in repeats}
    decisions = {r: np.full(len(y), np.nan) for r in repeats}
    rng = np.random.default_rng(seed)
    # The halves are drawn fold by fold, in order, whatever order the fits finish in.
    halves = [rng.random(len(fold.test)) < 0.5 if feedback else None for fold in folds]

    def scored(i: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Fold i's model's outputs: (validation rows, probabilities, decisions) per part."""
        fold = folds[i]
        model = fit(X.iloc[fold.train].reset_index(drop=True), y[fold.train])
        half = halves[i]
        parts = [np.ones(len(fold.test), bool)] if half is None else [half, ~half]
        outputs = []
        for part in parts:
            if half is not None:
                known = np.r_[fold.train, fold.test[~part]]
                model.set_evidence(X.iloc[known].reset_index(drop=True), y[known])
            rows = X.iloc[fold.test[part]].reset_index(drop=True)
            decided = model.decide(rows) if hasattr(model, "decide") else None
            outputs.append((fold.test[part], model.predict_proba(rows), decided))
        return outputs

    one_pass = calibrate is not None and len(repeats) == 1
    with _fits() as pool:
        fitted = [pool.submit(scored, i) for i in range(len(folds))]
        inner = [pool.submit(_inner_raw, fit, X, y, f.train, seed) for f in folds if one_pass]
        for fold, outputs in zip(folds, fitted, strict=True):
            for rows, probability, decided in outputs.result():
                raw[fold.repeat][rows] = probability
                if decided is not None:
                    decisions[fold.repeat][rows] = decided
        inner = [future.result() for future in inner]
    probabilities = {r: v.copy() for r, v in raw.items()}
    if calibrate is not None:
        for i, fold in enumerate(folds):
            if len(repeats) > 1:
                others = ~np.isnan(raw[fold.repeat])
                others[fold.test] = False
                inputs, labels = raw[fold.repeat][others], y[others]
            else:
                inputs, labels = inner[i]
            mapping = calibrate(inputs, labels)
            probabilities[fold.repeat][fold.test] = mapping(raw[fold.repeat][fold.test])
    for r in repeats:
        undecided = np.isnan(decisions[r]) & ~np.isnan(probabilities[r])
        decisions[r][undecided] = probabilities[r][undecided] >= threshold
    return OutOfFold(folds, probabilities, decisions, raw)
