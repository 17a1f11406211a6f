"""The promotion policy's guards: the trusted held-out passengers kept apart from labelled
traffic (whose outcomes come from clients), and the slices declared in advance, each with
its minimum size. Pure functions: no Dagster, no service."""

import numpy as np
import pandas as pd
import pytest

from titanic_assets.ml import promotion


def similar_models(rng: np.random.Generator, rows: int):
    """Outcomes and two equally good models' probabilities that disagree on a few rows."""
    labels = rng.integers(0, 2, rows)
    signal = np.where(labels == 1, 1.0, -1.0) * 1.2 + rng.normal(0, 1, rows)
    first = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.1, rows))))
    second = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.1, rows))))
    return labels, first, second


def right(labels: np.ndarray) -> np.ndarray:
    return np.where(labels == 1, 0.9, 0.1)


def test_a_candidate_that_learned_flipped_traffic_is_kept_by_the_trusted_passengers():
    """A flood of flipped outcomes: the candidate agrees with the flipped labels on the
    traffic (better there than the champion, as measured against them) and is worse on the
    passengers the pipeline trusts. Pooled, the traffic would hide it; kept apart, it is kept."""
    rng = np.random.default_rng(1)
    labels, champion, candidate = similar_models(rng, 300)
    traffic = np.zeros(300, bool)
    traffic[:120] = True
    champion[traffic] = 1 - right(labels[traffic])  # the clients' labels are flipped
    candidate[traffic] = right(labels[traffic])
    trusted = ~traffic
    wrong = trusted & (rng.random(300) < 0.2)
    candidate[wrong] = 1 - right(labels[wrong])  # 20% of the trusted rows turned wrong

    pooled = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5)  # all trusted
    assert pooled.comparison["accuracy"]["difference"]["estimate"] > 0  # pooled, it looks better
    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5, traffic=traffic)

    assert not decision.promote
    assert decision.comparison["accuracy on labelled traffic"]["non_inferior"]  # it won there
    on_trusted = decision.comparison["accuracy"]
    assert on_trusted["rows"] == 180 and not on_trusted["non_inferior"]
    assert "accuracy on the trusted passengers" in decision.reason


def test_too_few_trusted_passengers_never_promote_on_traffic_alone():
    rng = np.random.default_rng(2)
    labels, champion, candidate = similar_models(rng, 200)
    traffic = np.ones(200, bool)
    traffic[: promotion.MIN_ROWS - 1] = False
    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5, traffic=traffic)
    assert not decision.promote
    assert f"only {promotion.MIN_ROWS - 1} trusted passengers" in decision.reason


def slices_of(rows: int, big: str, small: str, small_rows: int) -> np.ndarray:
    names = np.full(rows, big, dtype=object)
    names[:small_rows] = small
    return names


def test_a_candidate_worse_on_one_declared_slice_is_kept_though_good_overall():
    rng = np.random.default_rng(3)
    labels, champion, candidate = similar_models(rng, 1500)
    slices = slices_of(1500, "male, class 3", "female, class 1", 40)
    champion[:40], candidate[:40] = right(labels[:40]), right(labels[:40])
    candidate[:15] = 1 - right(labels[:15])  # 15 of 40 first-class women turned wrong

    decision = promotion.decide_promotion(
        labels, champion, candidate, 0.5, 0.5, slices=slices, margin=promotion.MARGIN
    )

    assert not decision.promote, decision.reason
    assert decision.comparison["accuracy"]["non_inferior"]  # overall, within the margin
    assert decision.slices["female, class 1"]["verdict"] == "worse"
    assert decision.slices["male, class 3"]["verdict"] == "non-inferior"
    assert "trusted female, class 1 passengers" in decision.reason


def test_a_slice_below_its_minimum_is_too_few_to_judge_not_failed():
    rng = np.random.default_rng(4)
    labels, champion, candidate = similar_models(rng, 1500)
    minimum = promotion.MIN_SLICE_ROWS["female, class 2"]
    slices = slices_of(1500, "male, class 3", "female, class 2", minimum - 1)
    champion[: minimum - 1] = right(labels[: minimum - 1])
    candidate[: minimum - 1] = 1 - right(labels[: minimum - 1])  # all wrong, but too few

    decision = promotion.decide_promotion(
        labels, champion, candidate, 0.5, 0.5, slices=slices, margin=promotion.MARGIN
    )

    assert decision.promote, decision.reason
    small = decision.slices["female, class 2"]
    assert small == {"rows": minimum - 1, "minimum": minimum, "verdict": promotion.TOO_FEW}
    assert "accuracy on female, class 2" not in decision.comparison
    assert f"{promotion.TOO_FEW}: " in decision.reason and "female, class 2" in decision.reason
    # A declared slice with no passengers at all is reported too.
    assert decision.slices["male, class 1"]["rows"] == 0


def test_slices_are_sex_by_class_and_only_trusted_rows_count_in_them():
    rows = pd.DataFrame({"Sex": ["female", "male", "male", "female"], "Pclass": [1, 3, 2, 9]})
    assert promotion.slice_names(rows).tolist() == [
        "female, class 1",
        "male, class 3",
        "male, class 2",
        "",
    ]
    rng = np.random.default_rng(5)
    labels, champion, candidate = similar_models(rng, 200)
    slices = np.full(200, "male, class 3", dtype=object)
    traffic = np.zeros(200, bool)
    traffic[:150] = True
    decision = promotion.decide_promotion(
        labels, champion, candidate, 0.5, 0.5, traffic=traffic, slices=slices
    )
    assert decision.slices["male, class 3"]["rows"] == 50


def test_the_margin_narrows_as_trusted_passengers_accumulate():
    assert promotion.margin_for(promotion.MARGIN_ROWS) == promotion.MARGIN
    assert promotion.margin_for(40) == promotion.MARGIN  # fewer: never wider than measured
    assert promotion.margin_for(4 * promotion.MARGIN_ROWS) == pytest.approx(promotion.MARGIN / 2)
    assert promotion.margin_for(100_000) == promotion.MIN_MARGIN
    # Once thousands are shared, a candidate 5 points less accurate is kept out.
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 2, 1500)
    champion = right(labels)
    candidate = np.where(rng.random(1500) < 0.05, 1 - champion, champion)
    decision = promotion.decide_promotion(labels, champion, candidate, 0.5, 0.5)
    assert not decision.promote and decision.comparison["accuracy"]["margin"] == 0.02
