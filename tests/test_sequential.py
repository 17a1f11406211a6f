"""The shadow-evaluation confidence sequence (ml/sequential.py): it holds at every look, it
narrows with evidence, and decide() promotes, retires or waits as the evidence says."""

import math

import numpy as np
import pytest

from titanic_assets.ml.sequential import (
    ALPHA,
    Budget,
    PairedEvidence,
    decide,
    log_wealth_above,
    log_wealth_below,
    lower_bound,
    upper_bound,
)

STREAMS, STEPS = 200, 2000
SLACK = 0.03  # about two standard errors of a 5% rate over 200 streams
THRESHOLD = math.log(1 / ALPHA)


def streams(p_win: float, p_loss: float, seed: int, shape=(STREAMS, STEPS)) -> np.ndarray:
    u = np.random.default_rng(seed).random(shape)
    return np.where(u < p_win, 1, np.where(u < p_win + p_loss, -1, 0))


def running_counts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.cumsum(d == 1, axis=-1), np.cumsum(d == 0, axis=-1), np.cumsum(d == -1, axis=-1))


# (p_win, p_loss): equal models agreeing on 85%; a 3-point gain; no ties and 10 points worse.
DISTRIBUTIONS = [(0.075, 0.075), (0.09, 0.06), (0.45, 0.55)]


@pytest.mark.parametrize("p_win,p_loss", DISTRIBUTIONS)
def test_each_bound_covers_the_true_mean_at_every_step_in_all_but_alpha_of_streams(
    p_win: float, p_loss: float
) -> None:
    mean = p_win - p_loss
    wins, ties, losses = running_counts(streams(p_win, p_loss, seed=7))
    # lower > mean exactly when the 'above' gambler's wealth at the mean reached 1/alpha
    # (test_the_bounds_are_where_the_wealth_crosses), so this checks all 2,000 looks.
    lower_missed = (log_wealth_above(mean, wins, ties, losses) >= THRESHOLD).any(axis=1)
    upper_missed = (log_wealth_below(mean, wins, ties, losses) >= THRESHOLD).any(axis=1)
    assert lower_missed.mean() <= ALPHA + SLACK
    assert upper_missed.mean() <= ALPHA + SLACK
    assert (lower_missed | upper_missed).mean() <= 2 * ALPHA + SLACK


def test_a_fixed_n_interval_checked_at_every_step_fails_the_same_coverage_check() -> None:
    """The check above can fail: a one-sided 95% z-bound, recomputed after every outcome,
    misses the true mean (0) at some step in far more than 5% of the same streams."""
    wins, ties, losses = running_counts(streams(0.075, 0.075, seed=7))
    n = np.arange(1, STEPS + 1)
    mean = (wins - losses) / n
    sd = np.sqrt(np.maximum((wins + losses) / n - mean**2, 1e-12) * n / np.maximum(n - 1, 1))
    naive_lower = np.where(n >= 30, mean - 1.645 * sd / np.sqrt(n), -1.0)
    assert (naive_lower > 0).any(axis=1).mean() > ALPHA + SLACK


def test_the_bounds_are_where_the_wealth_crosses() -> None:
    rng = np.random.default_rng(3)
    wins, ties, losses = rng.integers(0, 400, size=(3, 300))
    m = rng.uniform(-0.5, 0.5, size=300)
    lower, upper = lower_bound(wins, ties, losses), upper_bound(wins, ties, losses)
    crossed_above = log_wealth_above(m, wins, ties, losses) >= THRESHOLD
    crossed_below = log_wealth_below(m, wins, ties, losses) >= THRESHOLD
    assert np.array_equal(lower > m, crossed_above)
    assert np.array_equal(upper < m, crossed_below)


def test_the_bounds_at_sampled_steps_cover_the_mean() -> None:
    """The properties themselves (not the wealth), at 12 looks along each stream."""
    d = streams(0.09, 0.06, seed=11)
    steps = np.unique(np.geomspace(1, STEPS, 12).astype(int)) - 1
    wins, ties, losses = (c[:, steps] for c in running_counts(d))
    lower, upper = lower_bound(wins, ties, losses), upper_bound(wins, ties, losses)
    assert (lower <= upper).all()
    assert ((lower > 0.03) | (upper < 0.03)).any(axis=1).mean() <= 2 * ALPHA + SLACK


def test_the_interval_narrows_as_outcomes_accumulate() -> None:
    widths = [
        PairedEvidence(10 * k, 85 * k, 5 * k).upper - PairedEvidence(10 * k, 85 * k, 5 * k).lower
        for k in (1, 10, 100)
    ]
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.03  # 10,000 outcomes pin a 5-point gain to within +-1.5 points


def test_ties_narrow_the_interval_without_moving_it_off_zero() -> None:
    few, many = PairedEvidence(ties=100), PairedEvidence(ties=10_000)
    assert few.lower < 0 < few.upper and many.lower < 0 < many.upper
    assert many.upper - many.lower < few.upper - few.lower < 0.15
    # The same wins and losses with more ties around them: a narrower interval.
    assert (PairedEvidence(20, 900, 10).upper - PairedEvidence(20, 900, 10).lower) < (
        PairedEvidence(20, 100, 10).upper - PairedEvidence(20, 100, 10).lower
    )
    assert decide(many, Budget()).action == "keep_shadowing"


def test_no_outcomes_is_no_evidence() -> None:
    e = PairedEvidence()
    assert (e.n, e.lower, e.upper) == (0, -1.0, 1.0) and math.isnan(e.mean)
    decision = decide(e, Budget(max_outcomes=500))
    assert decision.action == "keep_shadowing" and "no outcomes yet" in decision.reason


def test_updates_one_at_a_time_equal_the_batch_in_any_order() -> None:
    d = streams(0.1, 0.05, seed=5, shape=(300,))
    one_by_one = PairedEvidence()
    for x in d:
        one_by_one = one_by_one.update(int(x))
    assert one_by_one == PairedEvidence.from_differences(d)
    assert one_by_one == PairedEvidence.from_differences(d[::-1])
    assert one_by_one.n == 300 and one_by_one.mean == pytest.approx(d.mean())


def test_a_difference_other_than_minus_one_zero_or_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"one of \(-1, 0, 1\)"):
        PairedEvidence().update([1, 0, 2])
    with pytest.raises(ValueError, match="one of"):
        PairedEvidence(small=0.2).update([0.5])


def test_costed_differences_count_by_size_and_bound_the_mean_cost_saved() -> None:
    """German credit's sizes: an accepted bad applicant costs 5, a rejected good one 1, so in
    units of the dearer error a disagreement is worth 1 or 0.2."""
    d = [1, 0.2, 0.2, -0.2, 0, -1, 0.2]
    e = PairedEvidence.from_differences(d, small=0.2)
    assert (e.wins, e.losses, e.small_wins, e.small_losses, e.ties) == (1, 1, 3, 1, 1)
    assert e.mean == pytest.approx(np.mean(d))
    assert e.lower < e.mean < e.upper
    # Under no difference, looked at after every 50 outcomes, it promotes at most alpha of
    # the time; a challenger saving a tenth of the dearer error per row is promoted.
    rng = np.random.default_rng(5)
    sizes = np.array([-1, -0.2, 0, 0.2, 1])
    null = rng.choice(sizes, p=[0.05, 0.15, 0.6, 0.15, 0.05], size=(400, 600))
    promoted = np.zeros(400, bool)
    for n in range(50, 601, 50):
        part = null[:, :n]
        counts = [(part == v).sum(axis=1) for v in (1, 0, -1, 0.2, -0.2)]
        lower = lower_bound(counts[0], counts[1], counts[2], ALPHA, counts[3], counts[4], 0.2)
        promoted |= lower > 0
    assert promoted.mean() <= ALPHA
    better = rng.choice(sizes, p=[0.02, 0.1, 0.5, 0.2, 0.18], size=600)
    assert PairedEvidence.from_differences(better, small=0.2).lower > 0


def test_a_clearly_better_challenger_is_promoted_with_its_numbers() -> None:
    e = PairedEvidence.from_differences(streams(0.15, 0.03, seed=1, shape=(1000,)))
    decision = decide(e, Budget(max_outcomes=2000))
    assert decision.action == "promote"
    assert f"after {e.n} outcomes" in decision.reason and f"{e.lower:+.3f}" in decision.reason


def test_a_clearly_worse_challenger_is_retired_as_worse() -> None:
    e = PairedEvidence.from_differences(streams(0.03, 0.15, seed=2, shape=(1000,)))
    decision = decide(e, Budget(max_outcomes=2000))
    assert decision.action == "retire" and decision.reason.startswith("challenger worse")
    assert f"{e.upper:+.3f}" in decision.reason


def test_a_little_evidence_keeps_the_challenger_shadowing() -> None:
    e = PairedEvidence.from_differences([1, 1, 0, 0, 0, 1, 0, -1, 0, 0])
    assert e.lower < 0 < e.upper
    assert decide(e, Budget(max_outcomes=500)).action == "keep_shadowing"


def test_a_spent_budget_retires_a_challenger_not_shown_better() -> None:
    e = PairedEvidence.from_differences(streams(0.075, 0.075, seed=4, shape=(500,)))
    assert e.lower < 0 < e.upper
    by_outcomes = decide(e, Budget(max_outcomes=500))
    assert by_outcomes.action == "retire" and by_outcomes.reason.startswith("budget spent")
    assert "500 outcomes" in by_outcomes.reason and "not shown better" in by_outcomes.reason
    assert decide(e, Budget(max_days=14), days_shadowed=14).action == "retire"
    assert decide(e, Budget(max_outcomes=1000, max_days=14), days_shadowed=3).action == (
        "keep_shadowing"
    )


def test_evidence_that_arrives_with_the_budget_still_promotes() -> None:
    e = PairedEvidence.from_differences(streams(0.15, 0.03, seed=1, shape=(1000,)))
    assert decide(e, Budget(max_outcomes=1000)).action == "promote"
