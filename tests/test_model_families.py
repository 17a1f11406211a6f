"""The engine's second model family: an L2 logistic regression (core/models.LinearModel),
chosen per domain (Domain.family), trained through the same ml/modeling.train_model as
LightGBM and served through the same interface: exact additive contributions, one row and
a batch scored alike, an unseen category and a missing number scored, and a pickle
(Dagster's IO manager, the model store) that scores identically."""

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from tests.conftest import registered
from titanic_assets.core.domain import load_domain
from titanic_assets.core.models import LinearModel
from titanic_assets.ml import fitting, modeling
from titanic_assets.ml.cleaning import clean_rows, with_row_ids


@pytest.fixture(scope="module")
def credit():
    """German credit with the logistic regression, trained on its shipped applicants as the
    pipeline lands them (rows numbered from the file's name and line)."""
    domain = dataclasses.replace(load_domain("german_credit"), family="logistic_regression")
    raw = pd.read_csv(domain.data).assign(source=domain.data.name)
    table, _ = clean_rows(domain, with_row_ids(domain, raw))
    return domain, table, modeling.train_model(domain, table)


def test_the_domain_s_family_is_the_one_trained_and_named(credit) -> None:
    domain, _, trained = credit
    assert isinstance(trained.pipeline, LinearModel)
    assert trained.hyperparameters["family"] == "logistic_regression"
    assert trained.hyperparameters["candidate"] == "logistic_regression+platt"
    assert trained.cross_validation.roc_auc.estimate > 0.72  # measures ~0.79
    assert fitting.candidate(dataclasses.replace(domain, family="lightgbm")) == "lightgbm+platt"
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        fitting.fitter(dataclasses.replace(domain, family="svm"))


def test_contributions_sum_to_the_raw_score_per_feature(credit) -> None:
    domain, table, trained = credit
    model = trained.pipeline
    matrix = model.matrix(table[list(domain.input_names)])
    contributions = model.contributions(matrix)
    assert contributions.shape == (len(table), len(model.feature_names) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), model.raw_score(matrix), atol=1e-9)
    # Measured from the average training row: one bias for every row, and each feature's
    # contributions average ~0 over the training rows.
    assert np.ptp(contributions[:, -1]) == 0
    assert np.abs(contributions[:, :-1].mean(axis=0)).max() < 0.05


def test_one_row_scores_as_in_a_batch(credit) -> None:
    """Exactly: /predict scores one row in Python floats, a batch on numpy."""
    domain, table, trained = credit
    model = trained.pipeline
    rows = table[list(domain.input_names)].head(50).copy()
    rows.loc[3, "status_sex"] = "female : single"  # never in the data
    rows.loc[4, "duration"] = None
    matrix = model.matrix(rows)
    one_by_one = np.concatenate([model.raw_score(matrix[i : i + 1]) for i in range(50)])
    np.testing.assert_array_equal(one_by_one, model.raw_score(matrix))


def test_an_unseen_category_and_a_missing_number_score(credit) -> None:
    domain, _, trained = credit
    example = domain.example
    # "female : single" is in the contract, never in the data: a category the model has not
    # seen scores as no known category; a missing number as its training median.
    rows = pd.DataFrame(
        [example, {**example, "status_sex": "female : single"}, {**example, "age": None}]
    )
    probabilities = trained.predict_proba(rows)
    assert np.isfinite(probabilities).all() and ((probabilities > 0) & (probabilities < 1)).all()
    model = trained.pipeline
    explained = model.contributions(model.matrix(rows))
    sex, age = model.feature_names.index("status_sex"), model.feature_names.index("age")
    assert explained[0, sex] != explained[1, sex]
    median_age = model.encoding.medians[list(model.encoding.numeric).index(age)]
    at_median = model.matrix(pd.DataFrame([{**example, "age": median_age}]))
    assert model.raw_score(model.matrix(rows.iloc[[2]])) == pytest.approx(
        model.raw_score(at_median)
    )


def test_a_pickled_model_scores_identically(credit) -> None:
    domain, table, trained = credit
    again = pickle.loads(pickle.dumps(trained))
    rows = table[list(domain.input_names)]
    np.testing.assert_array_equal(again.predict_proba(rows), trained.predict_proba(rows))
    matrix = trained.pipeline.matrix(rows.head(1))
    assert again.pipeline.raw_score(matrix) == trained.pipeline.raw_score(matrix)
    assert again.pipeline.describe() == trained.pipeline.describe()


def test_the_store_serves_and_explains_it(credit, tmp_path) -> None:
    """Through the registry, as the service reads it: one applicant's probability is the
    same alone as in a batch, /explain's parts add up, and asking for a booster says why
    there is none."""
    domain, table, trained = credit
    served = registered(tmp_path, trained.pipeline, trained.calibration, "german_credit:1")
    rows = table[list(domain.input_names)].head(20)
    batch = served.probabilities(rows)
    alone = [served.probabilities(rows.iloc[[i]])[0] for i in range(len(rows))]
    np.testing.assert_allclose(alone, batch, rtol=0, atol=1e-12)
    for explained, probability in zip(served.explain(rows), batch, strict=True):
        total = sum(explained.contributions.values()) + explained.bias
        assert total == pytest.approx(explained.raw_score, abs=1e-9)
        assert explained.probability == pytest.approx(probability)
    assert served.family == "logistic_regression"
    with pytest.raises(AttributeError, match="not a LightGBM booster"):
        served.booster  # noqa: B018
