"""One passenger's way through the service is the batch way, only cheaper: the raw score
through LightGBM's single-row C API (core/single_row.py) is the booster's own `predict`, on
the shipped passengers and on inputs no passenger has (missing values everywhere, unseen and
negative categories, extreme and tiny values); one value's calibration and the log line's
rounding on Python floats are numpy's."""

import json
import pickle

import numpy as np
import pytest

from titanic_assets.core import prediction_log
from titanic_assets.core.calibration import Calibration, IsotonicCalibration, sigmoid
from titanic_assets.core.single_row import SingleRowScorer
from titanic_assets.domains.titanic import candidates
from titanic_assets.domains.titanic.contract import RAW_INPUTS

# Values that sit on LightGBM's edges: its zero threshold (1e-35f) and either side of it,
# signed zeros and infinities, categories it never saw, negative and fractional ones, and
# numbers too big for the int it casts a category to.
EDGES = np.array(
    [np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, float(np.float32(1e-35)),
     -float(np.float32(1e-35)), np.inf, -np.inf, -0.5, -1.0, 0.5, 1.5, 2.9999, 7.0, 8.0,
     100.0, 2.0**31, 2.0**40, 1e308, -1e308]
)  # fmt: skip


@pytest.fixture(scope="module", params=[candidates.lightgbm_wcg])  # the served design
def fitted(request, shipped_passengers):
    """A served model and the shipped passengers' design matrix, as the pipeline fits it."""
    X = shipped_passengers[list(RAW_INPUTS)]
    y = shipped_passengers["Survived"].to_numpy()
    model = request.param(X, y)
    model.set_evidence(X, y, shipped_passengers["PassengerId"].tolist())
    return model, model.matrix(X)


def single_rows(model, matrix: np.ndarray) -> np.ndarray:
    scorer = SingleRowScorer(model.booster)
    return np.array([scorer.score(row) for row in matrix])


def lightgbm(model, matrix: np.ndarray) -> np.ndarray:
    return model.booster.predict(matrix, raw_score=True, num_threads=1)


def test_the_model_uses_categorical_splits_and_missing_value_rules(fitted) -> None:
    """Otherwise the edge cases below would test nothing."""
    model, _ = fitted
    kinds = set()

    def walk(node):
        if "split_index" in node:
            kinds.add((node["decision_type"], node["missing_type"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in model.booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    assert ("==", "None") in kinds and ("<=", "NaN") in kinds and ("<=", "None") in kinds


def test_single_rows_score_the_shipped_passengers_as_lightgbm(fitted) -> None:
    model, matrix = fitted
    np.testing.assert_allclose(single_rows(model, matrix), lightgbm(model, matrix), atol=1e-6)


def test_single_rows_score_odd_inputs_as_lightgbm(fitted) -> None:
    model, matrix = fitted
    rng = np.random.default_rng(7)
    rows = matrix[rng.integers(0, len(matrix), 3000)]
    missing = np.where(rng.random(rows.shape) < 0.3, np.nan, rows)
    scaled = rows * rng.choice([-1.0, 1e-40, 0.5, 3.0, 1e6, -1e6], size=rows.shape)
    edges = EDGES[rng.integers(0, len(EDGES), rows.shape)]
    mixed = np.where(rng.random(rows.shape) < 0.5, edges, rows)
    for odd in (missing, scaled, edges, mixed):
        np.testing.assert_allclose(single_rows(model, odd), lightgbm(model, odd), atol=1e-6)


def test_a_model_scores_one_row_through_the_scorer_and_still_pickles(fitted) -> None:
    model, matrix = fitted
    one = model.raw_score(matrix[:1])
    assert model.__dict__.get("_scorer") is not None
    np.testing.assert_allclose(one, lightgbm(model, matrix[:1]), atol=1e-6)
    again = pickle.loads(pickle.dumps(model))
    assert "_scorer" not in again.__dict__
    np.testing.assert_allclose(again.raw_score(matrix[:1]), one, atol=1e-6)
    # A batch goes through LightGBM's predict as before.
    np.testing.assert_array_equal(model.raw_score(matrix[:5]), lightgbm(model, matrix[:5]))


@pytest.mark.parametrize(
    "calibration",
    [
        Calibration(),
        Calibration(slope=1.3, intercept=-0.2),
        IsotonicCalibration((0.1, 0.4, 0.8), (0.05, 0.5, 0.9)),
    ],
)
def test_one_value_is_calibrated_as_an_array_is(calibration) -> None:
    values = np.concatenate([np.linspace(0, 1, 1001), [1e-300, 1e-9, 1 - 1e-9]])
    one = np.array([calibration.one(float(v)) for v in values])
    np.testing.assert_allclose(one, calibration(values), rtol=1e-12, atol=0)


def test_sigmoid_of_one_value_is_numpys() -> None:
    scores = np.array([-1e4, -800.0, -30.0, -1.0, 0.0, 0.3, 5.0, 800.0, 1e4])
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-scores))
    np.testing.assert_allclose([sigmoid(s) for s in scores], expected, rtol=1e-12, atol=0)


def test_a_few_probabilities_are_rounded_for_the_log_as_numpy_rounds_them() -> None:
    rng = np.random.default_rng(3)
    halves = (np.arange(-2000, 2000) + 0.5) / 1e6  # ties, as x * 1e6 sees them
    values = np.concatenate(
        [rng.random(20000), halves, rng.normal(0, 1e3, 2000), -rng.random(2000) * 1e-6,
         [0.0, -0.0, 1.0, 1e-300, -1e-300, 1e300, np.nan, np.inf, -np.inf]]
    )  # fmt: skip
    expected = np.round(values, 6)
    for start in range(0, len(values), 8):  # a request's few values at a time
        got = prediction_log.rounded(values[start : start + 8].tolist())
        want = expected[start : start + 8].tolist()
        # The same floats, signs of zero and NaN included (as json.dumps writes them).
        assert json.dumps(got) == json.dumps(want)


def test_one_passenger_gets_the_features_a_batch_gives_them(fitted, shipped_passengers) -> None:
    """The service builds one passenger's features alone; training builds them in bulk."""
    model, matrix = fitted
    X = shipped_passengers[list(RAW_INPUTS)]
    odd = {name: [None] for name in RAW_INPUTS}  # every optional field missing
    odd.update(Sex=["female"], Pclass=[3], Name=["Nobody"])
    for i in range(0, len(X), 7):
        one = {name: [value] for name, value in X.iloc[i].items()}
        np.testing.assert_array_equal(model.matrix(one), matrix[i : i + 1])
    assert model.matrix(odd).shape == (1, matrix.shape[1])
