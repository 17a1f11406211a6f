"""The performance statistics on constructed samples (ml/performance.py)."""

import numpy as np
import pytest

from titanic_assets.ml import performance


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probabilities = rng.beta(0.8, 0.8, n)
    return (rng.random(n) < probabilities).astype(int), probabilities


def test_the_estimate_matches_realized_accuracy_when_probabilities_are_calibrated():
    labels, probabilities = calibrated(5000, 1)
    realized = performance.realized(labels, probabilities, 0.5)["accuracy"]
    estimate = performance.estimated_accuracy(probabilities, 0.5)
    assert abs(estimate - realized.estimate) < 0.025  # about 4 standard errors at 5,000 rows


def test_the_estimate_interval_holds_the_realized_accuracy_about_95_percent_of_the_time():
    inside = 0
    for seed in range(400):
        labels, probabilities = calibrated(150, 100 + seed)
        interval = performance.estimated_accuracy_interval(probabilities, 0.5)
        realized = np.mean((probabilities >= 0.5) == labels.astype(bool))
        inside += interval.low <= realized <= interval.high
    assert 0.91 <= inside / 400 <= 0.99  # 95% nominal; +-2.2 points is 2 standard errors


def test_the_estimate_misses_when_the_world_changes_under_the_probabilities():
    labels, probabilities = calibrated(5000, 2)
    flipped = 1 - labels  # outcomes no longer follow the probabilities
    realized = performance.realized(flipped, probabilities, 0.5)["accuracy"]
    assert performance.estimated_accuracy(probabilities, 0.5) > realized.high


def test_the_corrected_estimate_finds_what_overconfident_probabilities_hide():
    """Traffic on which the probabilities are over-confident (outcomes follow p shrunk
    toward 0.5): plain CBPE's interval misses the truth, the estimate corrected by a random
    tenth of outcomes covers it about 90% of the time at 90%, its error near the floor of
    100 outcomes (their own accuracy's mean absolute error here: about 0.032)."""
    rng = np.random.default_rng(7)
    covered, plain_covered, errors = 0, 0, []
    for _ in range(300):
        probabilities = rng.beta(0.8, 0.8, 1000)
        labels = (rng.random(1000) < 0.5 + 0.6 * (probabilities - 0.5)).astype(int)
        right = (probabilities >= 0.5) == labels.astype(bool)
        q = np.where(probabilities >= 0.5, probabilities, 1 - probabilities)
        sums = (q.sum(), np.sum(q * (1 - q)), 1000)
        labelled = rng.random(1000) < 0.10
        corrected = performance.corrected_estimate(
            right[labelled], probabilities[labelled], 0.5, *sums, confidence=0.90
        )
        plain = performance.estimated_accuracy_from_sums(*sums, confidence=0.90)
        truth = right.mean()
        covered += corrected.low <= truth <= corrected.high
        plain_covered += plain.low <= truth <= plain.high
        errors.append(abs(corrected.estimate - truth))
    assert plain_covered / 300 < 0.05
    assert 0.85 <= covered / 300 <= 0.95
    assert np.mean(errors) < 0.035


def test_with_no_outcomes_the_corrected_estimate_is_cbpe():
    _, probabilities = calibrated(200, 4)
    q = np.where(probabilities >= 0.5, probabilities, 1 - probabilities)
    sums = (q.sum(), np.sum(q * (1 - q)), 200)
    empty = np.array([], dtype=bool)
    assert performance.corrected_estimate(
        empty, np.array([]), 0.5, *sums
    ) == performance.estimated_accuracy_from_sums(*sums)


def test_intervals_narrow_with_more_rows_and_hold_the_value():
    small = performance.realized(*calibrated(50, 3), 0.5)
    large = performance.realized(*calibrated(2000, 3), 0.5)
    for name in ("accuracy", "roc_auc", "brier"):
        assert small[name].low <= small[name].estimate <= small[name].high
        assert large[name].high - large[name].low < small[name].high - small[name].low


@pytest.mark.parametrize("n", [1, 5, 29])
def test_too_few_outcomes_never_fail_the_check_even_all_wrong(n):
    assert performance.worse_than_promised(0, n, 0.83) >= performance.ALPHA


def test_a_clear_drop_on_enough_rows_fails_and_a_met_promise_passes():
    assert performance.worse_than_promised(int(0.70 * 300), 300, 0.83) < performance.ALPHA
    assert performance.worse_than_promised(int(0.83 * 300), 300, 0.83) > performance.ALPHA


def test_the_outcomes_needed_reach_the_power_asked():
    n = performance.outcomes_needed(0.83)
    assert performance.MIN_LABELLED <= n < 1000
    rng = np.random.default_rng(0)
    drops = rng.binomial(n, 0.73, 4000)
    fails = [performance.worse_than_promised(k, n, 0.83) < performance.ALPHA for k in drops]
    power = np.mean(fails)
    assert power > 0.93


def test_cbpe_is_not_trusted_when_realized_accuracy_falls_outside_its_interval():
    from titanic_assets.ml.statistics import Interval

    estimate = Interval(0.84, 0.80, 0.88)
    direction, verdict = performance.cbpe_trust(Interval(0.70, 0.64, 0.76), estimate)
    assert direction == "over-confident" and "not to be trusted" in verdict
    direction, verdict = performance.cbpe_trust(Interval(0.97, 0.93, 0.99), estimate)
    assert direction == "under-confident" and "refits the calibration" in verdict
    assert performance.cbpe_trust(Interval(0.82, 0.76, 0.88), estimate)[0] == "consistent"


def test_past_the_bootstrap_limit_the_intervals_are_the_normal_approximations_and_agree():
    from titanic_assets.ml.statistics import bootstrap, brier, roc_auc

    rng = np.random.default_rng(0)
    probabilities = rng.uniform(size=performance.BOOTSTRAP_MAX_ROWS + 1000)
    labels = (rng.uniform(size=len(probabilities)) < probabilities).astype(int)
    fast = performance.realized(labels, probabilities, 0.5)
    for name, metric in (("roc_auc", roc_auc), ("brier", brier)):
        slow = bootstrap(labels, probabilities, metric, 200)
        assert fast[name].estimate == pytest.approx(slow.estimate)
        assert type(fast[name].low) is float  # metadata takes plain floats, not numpy's
        assert fast[name].low == pytest.approx(slow.low, abs=0.003)
        assert fast[name].high == pytest.approx(slow.high, abs=0.003)
