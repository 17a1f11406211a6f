"""Validation under shift, group evidence and explanations: fast unit tests of the pure
functions (ml/validation.py, domains/titanic/wcg.py, core/models.py, core/calibration.py)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from tests.conftest import RAW_INPUTS, TITANIC, registered
from titanic_assets.core.calibration import calibration_from_dict
from titanic_assets.domains.titanic import candidates
from titanic_assets.domains.titanic.wcg import (
    WomenChildrenEvidence,
    linear_design,
    travelling_groups,
)
from titanic_assets.ml import claims, validation
from titanic_assets.ml.fitting import fit_calibration
from titanic_assets.ml.statistics import Interval


@pytest.fixture(scope="module")
def labelled(shipped_passengers) -> tuple[pd.DataFrame, np.ndarray]:
    return shipped_passengers[list(RAW_INPUTS)], shipped_passengers["Survived"].to_numpy()


def test_leave_one_port_out_never_trains_on_the_port_it_validates(labelled) -> None:
    X, _ = labelled
    folds = validation.leave_one_out_by(X, "Embarked")
    ports = X["Embarked"]
    assert len(folds) == ports.nunique()
    for fold in folds:
        [port] = ports.iloc[fold.test].unique()
        assert not (ports.iloc[fold.train] == port).any()
        # Every row is in exactly one of the two; a row with no port always trains.
        assert len(fold.train) + len(fold.test) == len(X)
        assert set(np.flatnonzero(ports.isna().to_numpy())) <= set(fold.train)


def test_group_folds_never_split_a_travelling_group(labelled) -> None:
    X, y = labelled
    groups = travelling_groups(X)
    folds = validation.group_folds(y, groups)
    assert len(folds) == validation.FOLDS * validation.REPEATS
    for fold in folds:
        assert not set(groups[fold.train]) & set(groups[fold.test])
    # Passengers sharing a ticket are one group.
    tickets = X["Ticket"].to_numpy()
    for ticket in pd.Series(tickets).value_counts().index[:20]:
        assert len(set(groups[tickets == ticket])) == 1


def test_evidence_never_counts_a_passengers_own_outcome() -> None:
    family = pd.DataFrame(
        {
            "Name": [
                "Smith, Mrs. Ann",
                "Smith, Miss. Beth",
                "Smith, Master. Carl",
                "Smith, Mr. Dan",
            ],
            "Sex": ["female", "female", "male", "male"],
            "Age": [40.0, 10.0, 5.0, 42.0],
            "Pclass": [3, 3, 3, 3],
            "Fare": [20.0, 20.0, 20.0, 20.0],
            "Ticket": ["A1", "A1", "A1", "A1"],
        }
    )
    outcomes = [1, 0, 0, 0]
    evidence = WomenChildrenEvidence(family, outcomes, ids=[11, 12, 13, 14])
    known, share = evidence.lookup(family, exclude=[11, 12, 13, 14])
    # The other women and boys only (the man never counts); never oneself.
    np.testing.assert_array_equal(known, [2, 2, 2, 3])
    np.testing.assert_allclose(share, [0.0, 0.5, 0.5, 1 / 3])
    # Without leaving it out, the mother's own survival would count for her.
    assert evidence.lookup(family.iloc[[0]])[0][0] == 3


def test_validation_rows_get_evidence_from_the_fold_training_rows_only(labelled) -> None:
    X, y = labelled
    flipped = 1 - y
    fold = validation.random_folds(y)[0]
    train = X.iloc[fold.train].reset_index(drop=True)
    test = X.iloc[fold.test].reset_index(drop=True)
    model = candidates.linear_wcg(train, y[fold.train])
    # Validation rows' outcomes cannot move their probabilities: they are not evidence.
    before = model.predict_proba(test)
    same = candidates.linear_wcg(train, y[fold.train])
    assert np.array_equal(before, same.predict_proba(test))
    model.set_evidence(train, y[fold.train])
    assert np.array_equal(before, model.predict_proba(test))
    model.set_evidence(pd.concat([train, test]), np.r_[y[fold.train], flipped[fold.test]])
    assert not np.array_equal(before, model.predict_proba(test))


def test_claim_spans_the_shift_schemes_to_random_folds_upper_bound() -> None:
    def result(estimate, low, high):
        i = Interval(estimate, low, high)
        return validation.SchemeResult(i, i, i, 0.03, 25, 700, 700.0)

    schemes = {
        "random 5x5": result(0.85, 0.82, 0.88),
        "group 5x5": result(0.80, 0.76, 0.84),
        "leave-one-port-out": result(0.79, 0.75, 0.83),
        "leave-one-class-out": result(0.70, 0.60, 0.80),  # shown, not claimed
    }
    claim = claims.claim(schemes, claimed=TITANIC.shift_claimed)
    assert claim.headline_scheme == "leave-one-port-out"
    assert claim.accuracy == Interval(0.79, 0.75, 0.88)
    batch = claims.batch_interval(claim.accuracy, 418)
    assert batch.low < claim.accuracy.low and batch.high > claim.accuracy.high


def test_a_traffic_weighted_scheme_with_few_effective_rows_is_shown_not_claimed() -> None:
    def result(estimate, low, high, effective=700.0):
        i = Interval(estimate, low, high)
        return validation.SchemeResult(i, i, i, 0.03, 25, 700, effective)

    schemes = {
        "random 5x5": result(0.85, 0.82, 0.88),
        "group 5x5": result(0.80, 0.76, 0.84),
        "leave-one-port-out": result(0.79, 0.75, 0.83),
        # Traffic concentrated on a few kinds of passenger: a degenerate weighted figure.
        "group 5x5, traffic-weighted": result(0.50, 0.20, 0.80, effective=23.0),
    }
    claim = claims.claim(schemes, claimed=TITANIC.shift_claimed)
    assert claim.accuracy == Interval(0.79, 0.75, 0.88)
    assert "group 5x5, traffic-weighted" not in claim.schemes
    assert "23 effective rows" in claim.set_aside["group 5x5, traffic-weighted"]
    assert claim.as_dict()["set_aside"] == claim.set_aside
    # Enough effective rows: claimed, and it is the worst.
    schemes["group 5x5, traffic-weighted"] = result(0.70, 0.60, 0.80, effective=250.0)
    again = claims.claim(schemes, claimed=TITANIC.shift_claimed)
    assert again.headline_scheme == "group 5x5, traffic-weighted" and not again.set_aside
    assert again.accuracy == Interval(0.70, 0.60, 0.88)


def test_calibration_never_sees_the_labels_of_the_fold_it_calibrates(labelled) -> None:
    """Cross-fitted calibration (repeated schemes): a fold's calibration is fitted on the
    other folds of its repeat, so its probabilities stay when its own labels flip."""
    X, y = labelled
    folds = validation.random_folds(y)
    fit, method = candidates.CANDIDATES[candidates.SERVED]

    def calibrate(raw, labels):
        return fit_calibration(raw, labels, method)

    first = validation.run_folds(fit, X, y, folds, 0.5, calibrate)
    changed = y.copy()
    changed[folds[0].test] = 1 - changed[folds[0].test]
    # Refit only the calibration of fold 0: its raw scores are the same models' outputs.
    seen = ~np.isnan(first.raw[0])
    others = seen.copy()
    others[folds[0].test] = False
    mapping = calibrate(first.raw[0][others], changed[others])
    np.testing.assert_allclose(
        mapping(first.raw[0][folds[0].test]), first.probabilities[0][folds[0].test]
    )


def test_isotonic_calibration_from_metadata_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(400)
    y = (rng.random(400) < p**2).astype(int)
    fitted = fit_calibration(p, y, "isotonic")
    again = calibration_from_dict(fitted.as_dict())
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    grid = np.linspace(-0.1, 1.1, 301)
    np.testing.assert_allclose(again(grid), reference.predict(grid), atol=1e-12)
    assert calibration_from_dict({"slope": 2.0, "intercept": 0.0})(0.5) == pytest.approx(0.5)


class Stored:
    """A benchmark candidate (its input matrix is `design`) behind the stored model's
    interface (core/models.py: `matrix`, `raw_score`, `contributions`, `feature_names`,
    `family`): the registry explains any family that has it."""

    def __init__(self, model) -> None:
        self.model = model
        self.family = model.family
        self.feature_names = model.feature_names

    @property
    def booster(self):
        return self.model.booster

    def matrix(self, columns, exclude=None):
        return self.model.matrix(columns, exclude)

    def raw_score(self, matrix):
        return self.model.raw_score(matrix)

    def contributions(self, matrix):
        return self.model.contributions(matrix)


@pytest.mark.parametrize(
    "fit", [candidates.linear_wcg, candidates.lightgbm, candidates.lightgbm_wcg]
)
def test_explain_contributions_sum_to_the_raw_score_for_every_family(
    fit, labelled, tmp_path: Path
) -> None:
    X, y = labelled
    fitted = fit(X, y)
    # A benchmark candidate through Stored; the served one is a BoostedModel.
    model = fitted if hasattr(fitted, "matrix") else Stored(fitted)
    calibration = fit_calibration(fitted.predict_proba(X), y, "isotonic")
    served = registered(tmp_path, model, calibration, "t:1")
    rows = X.iloc[:25]
    explanations = served.explain(rows)
    probabilities = served.probabilities(rows)
    raw = model.raw_score(model.matrix(rows))
    for explanation, probability, score in zip(explanations, probabilities, raw, strict=True):
        total = sum(explanation.contributions.values()) + explanation.bias
        assert total == pytest.approx(explanation.raw_score, abs=1e-9)
        assert explanation.raw_score == pytest.approx(score, abs=1e-9)
        assert explanation.probability == pytest.approx(probability)
        assert list(explanation.contributions) == list(model.feature_names)
    if fit is candidates.linear_wcg:
        with pytest.raises(AttributeError, match="not a LightGBM booster"):
            served.booster  # noqa: B018
        # coefficient x value, exactly
        matrix = linear_design(rows, fitted.evidence)
        first = explanations[0].contributions
        assert first["female"] == pytest.approx(fitted.coefficients[0] * matrix[0, 0])


def test_a_retrain_refits_the_calibration_with_the_labelled_traffic_it_has(
    shipped_passengers,
) -> None:
    """Labelled traffic in the training split feeds the out-of-fold calibration: traffic
    whose outcomes contradict the model moves the calibration of the next retrain."""
    from titanic_assets.core.outcomes import FEEDBACK_SOURCE
    from titanic_assets.ml import modeling

    passengers = shipped_passengers.assign(source="shipped.csv")
    traffic = passengers["PassengerId"] > 691  # the last 200 came back as feedback
    passengers.loc[traffic, "source"] = f"{FEEDBACK_SOURCE}model:1"
    first = modeling.train_model(TITANIC, passengers)
    in_training = passengers["PassengerId"].isin(first.train_ids) & traffic
    assert first.calibration_rows["labelled traffic"] == in_training.sum() > 100
    surprised = passengers.copy()
    surprised.loc[traffic, "Survived"] = 1 - surprised.loc[traffic, "Survived"]
    second = modeling.train_model(TITANIC, surprised)
    assert second.calibration_rows == first.calibration_rows
    assert second.calibration != first.calibration
