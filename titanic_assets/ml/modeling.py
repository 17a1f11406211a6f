"""Training and evaluating the survival model: pure functions, no Dagster.

The served model (core/models.BoostedWCGSurvival) is LightGBM on the engineered features
and women-and-children-group evidence (core/wcg.py), with a Platt calibration fitted on its
random folds' out-of-fold probabilities and the threshold 0.5. It was chosen by validation
under plausible shift (ml/validation.py; the README's table): on random folds every
candidate with group evidence scores alike; the first LightGBM fell furthest when a port
was new (0.77, what 418 unseen passengers measured: 0.78 where random cross-validation
claimed 0.84); the linear WCG model held there but, with no age or port, could not learn
a fed-back population that differs in those.

- Group evidence is built from every labelled passenger the pipeline has (training rows,
  held-out rows, labelled traffic) and travels with the model, so the service scores with
  all of it; a labelled passenger is always scored without their own outcome (`exclude`).
  Inside cross-validation each fold builds its evidence from its training rows only.
- The calibration is fitted on out-of-fold probabilities of the training rows, labelled
  traffic in that split included, so each retrain refits it on the traffic it has.
- The held-out split is a property of each passenger (a hash of the PassengerId), so a
  passenger held out once stays held out when new data arrives, and models trained on
  different data can be compared on passengers neither has seen.

Everything is seeded: the same passengers give the same model and the same figures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.core.features import FEATURES, PassengerFeatures
from titanic_assets.core.wcg import travelling_groups
from titanic_assets.ml import candidates, statistics, validation
from titanic_assets.ml.statistics import Interval

SEED = 20260401
TEST_PERCENT = 20
CV_FOLDS = validation.FOLDS
CV_REPEATS = validation.REPEATS
THRESHOLD = 0.5
LABEL = "Survived"
MODEL = candidates.SERVED  # the candidate served: fitting function and calibration method


def build_feature_table(passengers: pd.DataFrame) -> pd.DataFrame:
    """PassengerId, Survived and the engineered features (core/features.FEATURES), the
    group evidence from every other labelled passenger (each passenger's own outcome left
    out): the feature table the data contract checks."""
    matrix = PassengerFeatures().fit_transform(passengers[list(RAW_INPUTS)], passengers[LABEL])
    features = pd.DataFrame(matrix, columns=list(FEATURES))
    labels = passengers[["PassengerId", LABEL]].reset_index(drop=True)
    return pd.concat([labels, features], axis=1)


def table_version(table: pd.DataFrame) -> str:
    """A short hash of a table's content: the same rows give the same version."""
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:16]


def held_out(passenger_ids: Any) -> np.ndarray:
    """Whether each passenger belongs to the held-out split: TEST_PERCENT of ids, by hash."""
    return np.array(
        [int(hashlib.sha256(f"{SEED}:{i}".encode()).hexdigest()[:8], 16) % 100 < TEST_PERCENT
         for i in passenger_ids]
    )  # fmt: skip


def split_ids(passengers: pd.DataFrame) -> tuple[list[int], list[int]]:
    """The training and held-out PassengerIds (a stable split, see `held_out`)."""
    ids = passengers["PassengerId"].to_numpy()
    test = held_out(ids)
    return sorted(ids[~test].tolist()), sorted(ids[test].tolist())


def _rows(passengers: pd.DataFrame, ids: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    rows = passengers.set_index("PassengerId").loc[ids].reset_index()
    return rows[list(RAW_INPUTS)], rows[LABEL].to_numpy()


def sex_only(passengers: pd.DataFrame) -> np.ndarray:
    """The baseline rule: women survive, men do not."""
    return (passengers["Sex"].astype(str).str.strip().str.lower() == "female").to_numpy()


def calibrator(name: str = MODEL) -> Any:
    """`calibrate(raw, labels)` for run_folds: the candidate's calibration method (None
    for a candidate served uncalibrated)."""
    method = candidates.CANDIDATES[name][1]
    if method == "none":
        return None
    return lambda raw, labels: candidates.fit_calibration(raw, labels, method)


@dataclass(frozen=True)
class CrossValidation:
    """What repeated random cross-validation on the training split expects of the model
    (calibration nested in each fold, so its calibration error is the out-of-sample one)."""

    accuracy: Interval
    roc_auc: Interval
    brier: Interval
    baselines: dict[str, Interval]  # accuracy of the trivial rules on the same folds
    lift_over_sex_only: Interval  # accuracy minus the sex-only rule's, fold by fold
    calibration_error: float  # on the pooled out-of-fold predictions, mean over repeats
    calibration_noise_floor: float  # what a perfectly calibrated model would show there
    folds: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.as_dict(),
            "roc_auc": self.roc_auc.as_dict(),
            "brier": self.brier.as_dict(),
            "baselines": {k: v.as_dict() for k, v in self.baselines.items()},
            "lift_over_sex_only": self.lift_over_sex_only.as_dict(),
            "calibration_error": self.calibration_error,
            "calibration_noise_floor": self.calibration_noise_floor,
            "folds": self.folds,
        }


def cross_validate(
    X: pd.DataFrame, y: np.ndarray, name: str = MODEL
) -> tuple[CrossValidation, validation.OutOfFold]:
    """5 x 5 repeated stratified folds of the calibrated candidate, beside the trivial rules
    on the same folds."""
    folds = validation.random_folds(y)
    fit = candidates.CANDIDATES[name][0]
    oof = validation.run_folds(fit, X, y, folds, THRESHOLD, calibrator(name))
    women = sex_only(X).astype(int)
    scheme = validation.summarize(oof, y, women, travelling_groups(X))
    brier, sex, majority = [], [], []
    for fold in folds:
        t = fold.test
        brier.append(statistics.brier(y[t], oof.probabilities[fold.repeat][t]))
        sex.append(statistics.accuracy(y[t], women[t]))
        majority.append(statistics.accuracy(y[t], int(y[fold.train].mean() >= 0.5)))
    share = 1 / CV_FOLDS
    first = oof.probabilities[0]
    return CrossValidation(
        accuracy=scheme.accuracy,
        roc_auc=scheme.roc_auc,
        brier=statistics.repeated_cv_interval(np.array(brier), share),
        baselines={
            "majority": statistics.repeated_cv_interval(np.array(majority), share),
            "sex_only": statistics.repeated_cv_interval(np.array(sex), share),
        },
        lift_over_sex_only=scheme.lift_over_sex_only,
        calibration_error=scheme.calibration_error,
        calibration_noise_floor=statistics.calibration_noise_floor(first),
        folds=len(folds),
    ), oof


@dataclass
class SurvivalModel:
    """The fitted model and everything needed to use and judge it."""

    pipeline: Any  # the served model (core/models.py): features, evidence, coefficients
    calibration: Any  # core/calibration.py
    threshold: float
    hyperparameters: dict[str, Any]
    cross_validation: CrossValidation
    random_folds: validation.OutOfFold = field(repr=False)  # the CV's out-of-fold outputs
    data_version: str  # table_version of the labelled passengers it was trained on
    train_ids: list[int] = field(repr=False)
    test_ids: list[int] = field(repr=False)
    evidence_ids: list[int] = field(repr=False)  # the labelled passengers behind the evidence
    calibration_rows: dict[str, int] = field(default_factory=dict)  # by source kind

    def predict_proba(self, passengers: Any, exclude: Any = None) -> np.ndarray:
        """Calibrated survival probability per passenger, from raw passenger columns.
        `exclude[i]`: passenger i's PassengerId when they are labelled, so their own
        outcome is left out of their group evidence."""
        return self.calibration(self.pipeline.predict_proba(passengers, exclude))


def train_survival_model(passengers: pd.DataFrame, name: str = MODEL) -> SurvivalModel:
    """Cross-validate and calibrate on the training split, fit on all of it, then give the
    model the group evidence of every labelled passenger."""
    from titanic_assets.core.outcomes import is_feedback

    train_ids, test_ids = split_ids(passengers)
    X, y = _rows(passengers, train_ids)
    cross_validation, out_of_fold = cross_validate(X, y, name)
    fit, method = candidates.CANDIDATES[name]
    # The calibration: fitted on the random folds' raw out-of-fold probabilities (every
    # training row once per repeat, pooled), the model on all training rows.
    raw = np.concatenate([out_of_fold.raw[r] for r in sorted(out_of_fold.raw)])
    calibration = candidates.fit_calibration(raw, np.tile(y, len(out_of_fold.raw)), method)
    model = fit(X, y)
    labelled = passengers.sort_values("PassengerId")
    model.set_evidence(
        labelled[list(RAW_INPUTS)].reset_index(drop=True),
        labelled[LABEL].to_numpy(),
        labelled["PassengerId"].tolist(),
    )
    training = passengers[passengers["PassengerId"].isin(train_ids)]
    traffic = int(is_feedback(training["source"]).sum()) if "source" in training else 0
    return SurvivalModel(
        pipeline=model,
        calibration=calibration,
        threshold=THRESHOLD,
        hyperparameters={"family": model.family, "candidate": name, **model.describe()},
        cross_validation=cross_validation,
        random_folds=out_of_fold,
        data_version=table_version(passengers[["PassengerId", *RAW_INPUTS, LABEL]]),
        train_ids=train_ids,
        test_ids=test_ids,
        evidence_ids=labelled["PassengerId"].tolist(),
        calibration_rows={"all": len(y), "labelled traffic": traffic},
    )


@dataclass(frozen=True)
class ShiftValidation:
    """The model under each validation scheme, and the interval it claims."""

    schemes: dict[str, validation.SchemeResult]
    claim: validation.Claim
    traffic_rows: int  # recent traffic the weighted schemes were weighted to (0: none)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schemes": {k: v.as_dict() for k, v in self.schemes.items()},
            "claim": self.claim.as_dict(),
            "traffic_rows": self.traffic_rows,
        }

    def table(self) -> str:
        """Markdown: scheme x (accuracy [95%], ROC-AUC [95%], lift over sex-only, ECE)."""
        lines = [
            "| scheme | accuracy [95%] | ROC-AUC [95%] | lift over sex-only [95%] | ECE | "
            "rows (effective) | claimed |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in self.schemes.items():
            claimed = "yes" if name in self.claim.schemes or name == "random 5x5" else "shown"
            lines.append(
                f"| {name} | {r.accuracy} | {r.roc_auc} | {r.lift_over_sex_only} | "
                f"{r.calibration_error:.3f} | {r.rows} ({r.effective_rows:.0f}) | {claimed} |"
            )
        c = self.claim
        lines.append(
            f"| **claimed** | **{c.accuracy}** | {c.roc_auc} | {c.lift_over_sex_only} | | | "
            f"headline: {c.headline_scheme} |"
        )
        return "\n".join(lines)


MIN_TRAFFIC_ROWS = 30  # fewer recent traffic rows: no traffic-weighted schemes


def validate_under_shift(
    model: SurvivalModel,
    passengers: pd.DataFrame,
    traffic: pd.DataFrame | None = None,
    name: str = MODEL,
) -> ShiftValidation:
    """The model's candidate refitted under each shift scheme on the training split (the
    random scheme is the training run's), and the claim they give."""
    X, y = _rows(passengers, model.train_ids)
    groups = travelling_groups(X)
    women = sex_only(X).astype(int)
    fit, calibrate = candidates.CANDIDATES[name][0], calibrator(name)
    folds = {
        "group 5x5": validation.group_folds(y, groups),
        "leave-one-port-out": validation.leave_one_out_by(X, "Embarked"),
        "leave-one-class-out": validation.leave_one_out_by(X, "Pclass"),
    }
    oof = {
        k: validation.run_folds(fit, X, y, f, model.threshold, calibrate) for k, f in folds.items()
    }
    oof["random 5x5"] = model.random_folds
    order = ["random 5x5", *folds]
    schemes = {k: validation.summarize(oof[k], y, women, groups) for k in order}
    traffic_rows = 0 if traffic is None else len(traffic)
    if traffic_rows >= MIN_TRAFFIC_ROWS:
        weights = validation.traffic_weights(X, traffic[list(RAW_INPUTS)])
        schemes["group 5x5, traffic-weighted"] = validation.summarize(
            oof["group 5x5"], y, women, groups, weights
        )
        schemes["random 5x5, traffic-weighted"] = validation.summarize(
            oof["random 5x5"], y, women, groups, weights
        )
    return ShiftValidation(schemes, validation.claim(schemes), traffic_rows)


@dataclass
class Evaluation:
    """Held-out performance at the model's threshold, beside the trivial baselines, and what
    cross-validation expects of the model."""

    cross_validation: CrossValidation
    metrics: dict[str, float]
    intervals: dict[str, Interval]  # bootstrap 95% intervals of the headline metrics
    baselines: dict[str, float]  # accuracy of the trivial rules on the same rows
    lift: dict[str, Interval]  # accuracy minus each baseline's, paired bootstrap
    calibration_noise_floor: float
    confusion: list[list[int]]  # [[TN, FP], [FN, TP]]
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    feature_importance: dict[str, float] = field(repr=False)  # share of mean |contribution|
    shift: ShiftValidation | None = None  # the schemes and the claim

    @property
    def claim(self) -> validation.Claim | None:
        return self.shift.claim if self.shift is not None else None


def evaluate(
    model: SurvivalModel, passengers: pd.DataFrame, traffic: pd.DataFrame | None = None
) -> Evaluation:
    """Score the model's held-out split, with intervals and the baselines on the same rows,
    and validate it under shift (`traffic`: recent traffic's raw inputs, for weighting)."""
    X, y = _rows(passengers, model.test_ids)
    # Each held-out passenger's own outcome is in the evidence (every labelled passenger
    # is): left out of their own features.
    probabilities = model.predict_proba(X, exclude=model.test_ids)
    predicted = probabilities >= model.threshold
    contributions = model.pipeline.contributions(model.pipeline.design(X, model.test_ids))
    gains = np.abs(contributions[:, :-1]).mean(axis=0)
    majority = np.full(len(y), int(np.mean(passengers[LABEL]) >= 0.5))
    rules = {"majority": majority, "sex_only": sex_only(X)}
    single = {
        "accuracy": statistics.accuracy,
        "roc_auc": statistics.roc_auc,
        "brier": statistics.brier,
    }
    scored = {"accuracy": predicted, "roc_auc": probabilities, "brier": probabilities}
    intervals = {name: statistics.bootstrap(y, scored[name], fn) for name, fn in single.items()}
    return Evaluation(
        shift=validate_under_shift(model, passengers, traffic),
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
        },
        intervals=intervals,
        baselines={name: statistics.accuracy(y, rule) for name, rule in rules.items()},
        lift={
            name: statistics.paired_bootstrap(y, rule, predicted, statistics.accuracy)
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
    )
