"""Training and evaluating a domain's model: pure functions, no Dagster.

The served model (core/models.py) is the domain's family (LightGBM by default) on the
domain's design (its features, and whatever the design learns from labelled rows, e.g.
Titanic's group evidence), with a Platt calibration fitted on its random folds'
out-of-fold probabilities and the domain's threshold.

- A design that learns from labelled rows learns from every labelled row the pipeline has
  (training rows, held-out rows, labelled traffic), and travels with the model, so the
  service scores with all of it; a labelled row is always scored without its own label
  (`exclude`). Inside cross-validation each fold fits its design on its training rows only.
- The calibration is fitted on out-of-fold probabilities of the training rows, labelled
  traffic in that split included, so each retrain refits it on the traffic it has.
- The held-out split is a property of each row (a hash of its id), so a row held out once
  stays held out when new data arrives, and models trained on different data can be
  compared on rows neither has seen.

Everything is seeded: the same rows give the same model and the same figures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from titanic_assets.core.domain import Domain
from titanic_assets.ml import claims, decisions, fitting, statistics, validation
from titanic_assets.ml.statistics import Interval, intervals_present

SEED = 20260401
TEST_PERCENT = 20
CV_FOLDS = validation.FOLDS
CV_REPEATS = validation.REPEATS


def labels_of(domain: Domain, table: pd.DataFrame) -> np.ndarray:
    """The label column as 1 (the positive class) and 0."""
    return domain.label_values(table[domain.label])


def build_feature_table(domain: Domain, table: pd.DataFrame) -> pd.DataFrame:
    """The id, the label and the model's features, each row's design fitted on every other
    labelled row (its own label left out): the feature table the data contract checks."""
    X = table[list(domain.input_names)].reset_index(drop=True)
    y = labels_of(domain, table)
    design = domain.design().fitted(X, y)
    matrix = design.matrix(X, exclude=list(range(len(y))))
    features = pd.DataFrame(matrix, columns=list(design.feature_names))
    key = domain.key
    labels = table[[key, domain.label]].reset_index(drop=True)
    return pd.concat([labels, features], axis=1)


def table_version(table: pd.DataFrame) -> str:
    """A short hash of a table's content: the same rows give the same version."""
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:16]


def held_out(ids: Any) -> np.ndarray:
    """Whether each row belongs to the held-out split: TEST_PERCENT of ids, by hash."""
    return np.array(
        [int(hashlib.sha256(f"{SEED}:{i}".encode()).hexdigest()[:8], 16) % 100 < TEST_PERCENT
         for i in ids]
    )  # fmt: skip


def split_ids(domain: Domain, table: pd.DataFrame) -> tuple[list[int], list[int]]:
    """The training and held-out ids (a stable split, see `held_out`)."""
    ids = table[domain.key].to_numpy()
    test = held_out(ids)
    return sorted(ids[~test].tolist()), sorted(ids[test].tolist())


def _rows(domain: Domain, table: pd.DataFrame, ids: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    rows = table.set_index(domain.key).loc[ids].reset_index()
    return rows[list(domain.input_names)], labels_of(domain, rows)


def baseline_rule(domain: Domain, X: pd.DataFrame, y_train: np.ndarray) -> np.ndarray:
    """The domain's baseline rule's decisions, or the trivial rule's: one decision for every
    row, the training majority class (or the cheaper one, for a domain with costs)."""
    if domain.baseline is not None:
        return np.asarray(domain.baseline.decide(X)).astype(int)
    return np.full(len(X), decisions.for_domain(domain).constant_decision(y_train))


def baseline_name(domain: Domain) -> str:
    if domain.baseline is not None:
        return domain.baseline.name
    return "majority" if domain.costs is None else "cheaper_constant"


def _groups(domain: Domain, X: pd.DataFrame) -> np.ndarray:
    """Each row's group for group folds (Domain.groups), or each row its own."""
    return np.arange(len(X)) if domain.groups is None else domain.groups(X)


@dataclass(frozen=True)
class CrossValidation:
    """What repeated random cross-validation on the training split expects of the model
    (calibration nested in each fold, so its calibration error is the out-of-sample one)."""

    accuracy: Interval
    roc_auc: Interval
    brier: Interval
    baselines: dict[str, Interval]  # accuracy of the trivial rules on the same folds
    # The domain's decision metric gained over the baseline rule, fold by fold: accuracy
    # added, or (a domain with costs) cost saved per row.
    lift_over_baseline: Interval
    calibration_error: float  # on the pooled out-of-fold predictions, mean over repeats
    calibration_noise_floor: float  # what a perfectly calibrated model would show there
    folds: int
    threshold: float  # the decisions' threshold (a costed domain's: least out-of-fold cost)
    expected_cost: Interval | None = None  # per row, for a domain with costs

    def as_dict(self) -> dict[str, Any]:
        return {
            **intervals_present(expected_cost=self.expected_cost),
            "threshold": self.threshold,
            "accuracy": self.accuracy.as_dict(),
            "roc_auc": self.roc_auc.as_dict(),
            "brier": self.brier.as_dict(),
            "baselines": {k: v.as_dict() for k, v in self.baselines.items()},
            "lift_over_baseline": self.lift_over_baseline.as_dict(),
            "calibration_error": self.calibration_error,
            "calibration_noise_floor": self.calibration_noise_floor,
            "folds": self.folds,
        }


def cross_validate(
    domain: Domain, X: pd.DataFrame, y: np.ndarray
) -> tuple[CrossValidation, validation.OutOfFold]:
    """5 x 5 repeated stratified folds of the calibrated model, beside the trivial rules on
    the same folds. A domain with costs decides at the threshold with the least expected
    cost on these out-of-fold probabilities (pooled over repeats)."""
    folds = validation.random_folds(y)
    oof = validation.run_folds(
        fitting.fitter(domain), X, y, folds, domain.threshold, fitting.calibrator()
    )
    threshold = domain.threshold
    if domain.costs is not None:
        repeats = sorted(oof.probabilities)
        pooled = np.concatenate([oof.probabilities[r] for r in repeats])
        threshold = decisions.for_domain(domain).best_threshold(np.tile(y, len(repeats)), pooled)
        oof = validation.decided_at(oof, threshold)
    rule = baseline_rule(domain, X, y)
    scheme = validation.summarize(oof, y, rule, _groups(domain, X), costs=domain.costs)
    brier, ruled, majority = [], [], []
    for fold in folds:
        t = fold.test
        brier.append(statistics.brier(y[t], oof.probabilities[fold.repeat][t]))
        ruled.append(statistics.accuracy(y[t], rule[t]))
        majority.append(statistics.accuracy(y[t], int(y[fold.train].mean() >= 0.5)))
    share = 1 / CV_FOLDS
    first = oof.probabilities[0]
    return CrossValidation(
        accuracy=scheme.accuracy,
        roc_auc=scheme.roc_auc,
        brier=statistics.repeated_cv_interval(np.array(brier), share),
        baselines={
            "majority": statistics.repeated_cv_interval(np.array(majority), share),
            baseline_name(domain): statistics.repeated_cv_interval(np.array(ruled), share),
        },
        lift_over_baseline=scheme.lift_over_baseline,
        calibration_error=scheme.calibration_error,
        calibration_noise_floor=statistics.calibration_noise_floor(first),
        folds=len(folds),
        threshold=threshold,
        expected_cost=scheme.expected_cost,
    ), oof


@dataclass
class TrainedModel:
    """The fitted model and everything needed to use and judge it."""

    pipeline: Any  # the served model (core/models.py): its design and its family's model
    calibration: Any  # core/calibration.py
    threshold: float
    hyperparameters: dict[str, Any]
    cross_validation: CrossValidation
    random_folds: validation.OutOfFold = field(repr=False)  # the CV's out-of-fold outputs
    data_version: str  # table_version of the labelled rows it was trained on
    train_ids: list[int] = field(repr=False)
    test_ids: list[int] = field(repr=False)
    evidence_ids: list[int] = field(repr=False)  # the labelled rows its design learned from
    calibration_rows: dict[str, int] = field(default_factory=dict)  # by source kind

    def predict_proba(self, rows: Any, exclude: Any = None) -> np.ndarray:
        """Calibrated probability of the positive class per row, from raw input columns.
        `exclude[i]`: row i's id when it is labelled, so its own label is left out of what
        the design learned."""
        return self.calibration(self.pipeline.predict_proba(rows, exclude))


def train_model(domain: Domain, table: pd.DataFrame) -> TrainedModel:
    """Cross-validate and calibrate on the training split, fit on all of it, then give the
    model's design every labelled row."""
    from titanic_assets.core.outcomes import is_feedback

    key = domain.key
    train_ids, test_ids = split_ids(domain, table)
    X, y = _rows(domain, table, train_ids)
    cross_validation, out_of_fold = cross_validate(domain, X, y)
    # The calibration: fitted on the random folds' raw out-of-fold probabilities (every
    # training row once per repeat, pooled), the model on all training rows.
    raw = np.concatenate([out_of_fold.raw[r] for r in sorted(out_of_fold.raw)])
    calibration = fitting.fit_calibration(
        raw, np.tile(y, len(out_of_fold.raw)), fitting.CALIBRATION
    )
    model = fitting.fitter(domain)(X, y)
    labelled = table.sort_values(key)
    model.set_evidence(
        labelled[list(domain.input_names)].reset_index(drop=True),
        labels_of(domain, labelled),
        labelled[key].tolist(),
    )
    training = table[table[key].isin(train_ids)]
    traffic = int(is_feedback(training["source"]).sum()) if "source" in training else 0
    return TrainedModel(
        pipeline=model,
        calibration=calibration,
        threshold=cross_validation.threshold,
        hyperparameters={
            "family": model.family,
            "candidate": fitting.candidate(domain),
            **model.describe(),
        },
        cross_validation=cross_validation,
        random_folds=out_of_fold,
        data_version=table_version(table[[key, *domain.input_names, domain.label]]),
        train_ids=train_ids,
        test_ids=test_ids,
        evidence_ids=labelled[key].tolist(),
        calibration_rows={"all": len(y), "labelled traffic": traffic},
    )


@dataclass(frozen=True)
class ShiftValidation:
    """The model under each validation scheme, and the interval it claims."""

    schemes: dict[str, validation.SchemeResult]
    claim: claims.Claim
    traffic_rows: int  # recent traffic the weighted schemes were weighted to (0: none)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schemes": {k: v.as_dict() for k, v in self.schemes.items()},
            "claim": self.claim.as_dict(),
            "traffic_rows": self.traffic_rows,
        }

    def table(self) -> str:
        """Markdown: scheme x (accuracy [95%], ROC-AUC [95%], lift over the baseline, ECE),
        and the expected cost per row first for a domain with costs."""
        costed = self.claim.expected_cost is not None
        lines = [
            "| scheme | "
            + ("expected cost [95%] | " if costed else "")
            + "accuracy [95%] | ROC-AUC [95%] | lift over the baseline [95%] | ECE | "
            "rows (effective) | claimed |",
            "|---|---|---|---|---|---|---|" + ("---|" if costed else ""),
        ]
        for name, r in self.schemes.items():
            claimed = "yes" if name in self.claim.schemes or name == "random 5x5" else "shown"
            cost = f"{r.expected_cost} | " if costed else ""
            lines.append(
                f"| {name} | {cost}{r.accuracy} | {r.roc_auc} | {r.lift_over_baseline} | "
                f"{r.calibration_error:.3f} | {r.rows} ({r.effective_rows:.0f}) | {claimed} |"
            )
        c = self.claim
        cost = f"**{c.expected_cost}** | " if costed else ""
        lines.append(
            f"| **claimed** | {cost}**{c.accuracy}** | {c.roc_auc} | {c.lift_over_baseline} | | | "
            f"headline: {c.headline_scheme} |"
        )
        return "\n".join(lines)


MIN_TRAFFIC_ROWS = 30  # fewer recent traffic rows: no traffic-weighted schemes


def validate_under_shift(
    domain: Domain, model: TrainedModel, table: pd.DataFrame, traffic: pd.DataFrame | None = None
) -> ShiftValidation:
    """The model refitted under each shift scheme on the training split (the random scheme
    is the training run's), and the claim they give. A domain without groups (each row its
    own) has random folds for group folds: the training run's serve as both."""
    X, y = _rows(domain, table, model.train_ids)
    groups = _groups(domain, X)
    rule = baseline_rule(domain, X, y)
    fit, calibrate = fitting.fitter(domain), fitting.calibrator()
    folds = {
        **({} if domain.groups is None else {"group 5x5": validation.group_folds(y, groups)}),
        **{
            name: validation.leave_one_out_by(X, column)
            for name, column in domain.leave_one_out.items()
        },
    }
    oof = {
        k: validation.run_folds(fit, X, y, f, model.threshold, calibrate) for k, f in folds.items()
    }
    oof["random 5x5"] = model.random_folds
    oof.setdefault("group 5x5", model.random_folds)
    order = ["random 5x5", "group 5x5", *(k for k in folds if k != "group 5x5")]
    costs = domain.costs
    schemes = {k: validation.summarize(oof[k], y, rule, groups, costs=costs) for k in order}
    traffic_rows = 0 if traffic is None else len(traffic)
    if traffic_rows >= MIN_TRAFFIC_ROWS:
        weights = validation.traffic_weights(X, traffic[list(domain.input_names)], domain.inputs)
        schemes["group 5x5, traffic-weighted"] = validation.summarize(
            oof["group 5x5"], y, rule, groups, weights, costs
        )
        schemes["random 5x5, traffic-weighted"] = validation.summarize(
            oof["random 5x5"], y, rule, groups, weights, costs
        )
    return ShiftValidation(schemes, claims.claim(schemes, domain.shift_claimed), traffic_rows)


@dataclass
class Evaluation:
    """Held-out performance at the model's threshold, beside the trivial baselines, and what
    cross-validation expects of the model."""

    cross_validation: CrossValidation
    metrics: dict[str, float]
    intervals: dict[str, Interval]  # bootstrap 95% intervals of the headline metrics
    baselines: dict[str, float]  # the decision metric of the trivial rules on the same rows
    lift: dict[str, Interval]  # the decision metric gained over each baseline, paired bootstrap
    calibration_noise_floor: float
    confusion: list[list[int]]  # [[TN, FP], [FN, TP]]
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    feature_importance: dict[str, float] = field(repr=False)  # share of mean |contribution|
    shift: ShiftValidation | None = None  # the schemes and the claim
    # The decision metric on each of the domain's slices (Domain.slices): rows, 95% interval.
    slices: dict[str, tuple[int, Interval | None]] = field(default_factory=dict)

    def slice_table(self, metric: str) -> str:
        """Markdown: the held-out rows' decision metric per declared slice."""
        lines = [f"| slice | rows | {metric.replace('_', ' ')} [95%] |", "|---|---|---|"]
        for name, (rows, interval) in self.slices.items():
            lines.append(f"| {name} | {rows} | {interval if interval is not None else '-'} |")
        return "\n".join(lines)

    @property
    def claim(self) -> claims.Claim | None:
        return self.shift.claim if self.shift is not None else None


def evaluate(
    domain: Domain, model: TrainedModel, table: pd.DataFrame, traffic: pd.DataFrame | None = None
) -> Evaluation:
    """Score the model's held-out split, with intervals and the baselines on the same rows,
    and validate it under shift (`traffic`: recent traffic's raw inputs, for weighting)."""
    X, y = _rows(domain, table, model.test_ids)
    # Each held-out row's own label is in what the design learned (every labelled row's
    # is): left out of its own features.
    probabilities = model.predict_proba(X, exclude=model.test_ids)
    predicted = probabilities >= model.threshold
    contributions = model.pipeline.contributions(model.pipeline.matrix(X, model.test_ids))
    gains = np.abs(contributions[:, :-1]).mean(axis=0)
    metric = decisions.for_domain(domain)
    if domain.costs is None:
        rules = {"majority": np.full(len(y), int(np.mean(labels_of(domain, table)) >= 0.5))}
    else:  # the two constant decisions, priced
        rules = {f"always_{domain.classes[d]}": np.full(len(y), d) for d in (0, 1)}
    if domain.baseline is not None:
        rules[domain.baseline.name] = baseline_rule(domain, X, y)
    single = {
        "accuracy": statistics.accuracy,
        "roc_auc": statistics.roc_auc,
        "brier": statistics.brier,
    }
    scored = {"accuracy": predicted, "roc_auc": probabilities, "brier": probabilities}
    if domain.costs is not None:
        single["expected_cost"] = decisions.for_domain(domain)
        scored["expected_cost"] = predicted
    intervals = {name: statistics.bootstrap(y, scored[name], fn) for name, fn in single.items()}
    return Evaluation(
        shift=validate_under_shift(domain, model, table, traffic),
        cross_validation=model.cross_validation,
        metrics={
            "accuracy": statistics.accuracy(y, predicted),
            "precision": metrics.precision_score(y, predicted, zero_division=0),
            "recall": metrics.recall_score(y, predicted),
            "f1": metrics.f1_score(y, predicted),
            "roc_auc": metrics.roc_auc_score(y, probabilities),
            "pr_auc": metrics.average_precision_score(y, probabilities),
            "brier": metrics.brier_score_loss(y, probabilities),
            "calibration_error": statistics.expected_calibration_error(y, probabilities),
            **({} if domain.costs is None else {"expected_cost": metric(y, predicted)}),
        },
        intervals=intervals,
        baselines={name: metric(y, rule) for name, rule in rules.items()},
        lift={
            name: statistics.paired_bootstrap(y, rule, predicted, metric.gain)
            for name, rule in rules.items()
        },
        calibration_noise_floor=statistics.calibration_noise_floor(probabilities),
        confusion=metrics.confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
        labels=y,
        probabilities=probabilities,
        feature_importance={
            name: float(g)
            for name, g in zip(model.pipeline.feature_names, gains / gains.sum(), strict=True)
        },
        slices=_by_slice(domain, X, y, predicted),
    )


MIN_SLICE_ROWS = 10  # fewer held-out rows in a slice: counted, no interval


def _by_slice(
    domain: Domain, X: pd.DataFrame, y: np.ndarray, predicted: np.ndarray
) -> dict[str, tuple[int, Interval | None]]:
    """The decision metric on each declared slice of these rows, with a bootstrap interval:
    how the model treats each group the domain names (e.g. sex x class, sex x race)."""
    from titanic_assets.ml.promotion import slice_names

    names = slice_names(domain.slices, X)
    metric = decisions.for_domain(domain)
    figures: dict[str, tuple[int, Interval | None]] = {}
    for name in domain.slices:
        rows = names == name
        n = int(rows.sum())
        interval = None
        if n >= MIN_SLICE_ROWS:
            interval = statistics.bootstrap(y[rows], predicted[rows], metric, resamples=500)
        figures[name] = (n, interval)
    return figures
