"""Performance on labelled traffic, realized and estimated, each with its uncertainty.

Realized: accuracy with a Wilson interval; ROC-AUC and Brier score with percentile bootstrap
intervals (no closed form that holds on small, unbalanced samples); a calibration table.

Estimated (before outcomes arrive): confidence-based performance estimation, the idea of
NannyML's CBPE. If the probabilities are calibrated, a row predicted positive with
probability p is right with probability p, one predicted negative with probability 1 - p, so
expected accuracy is the mean of those. It is written here rather than taken from `nannyml`
because nannyml pins lightgbm < 4.6 (this project runs a newer one) and the accuracy estimate
is these few lines; it is only as good as the calibration of the probabilities.

CBPE is only as good as the calibration on *this* traffic, and shifted traffic is where it is
not (on 418 unseen rows of the first domain it said 0.838 where the truth was 0.785). Once some
outcomes are back, `corrected_estimate` uses them: the difference estimator of survey
sampling, the whole window's accuracy as the labelled rows' realized correct count plus the
unlabelled rows' expected count from a line fitted on the labelled ones (right ~ a + b q,
q CBPE's probability that the row is right: the regression estimator, which needs only the
unlabelled rows' sum of q, a sum the hourly summaries keep). Unbiased when the labelled
rows are a random share of the window's; its interval adds the line's own uncertainty to the
unlabelled rows' outcome noise, both from the labelled rows' residuals. benchmarks/estimation.py
measures its error and coverage beside plain CBPE on shifted traffic.

The realized check's rule (`worse_than_promised`): a one-sided exact binomial test of
"accuracy >= promised" on the labelled rows, failing at p < ALPHA, and only with at least
MIN_LABELLED rows: a handful of outcomes (often the first, unrepresentative ones to come
back) never fails it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from titanic_assets.ml.statistics import Interval, bin_index, bootstrap, brier, roc_auc

ALPHA = 0.01  # false-alarm rate of the realized check
MIN_LABELLED = 30  # below this the check does not decide (outcomes may be a biased few)
CONFIDENCE = 0.95  # of every interval reported
BOOTSTRAP = 200
BOOTSTRAP_MAX_ROWS = 5_000  # beyond, normal-approximation intervals (see `realized`)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """A proportion with its Wilson score interval."""
    if n == 0:
        return Interval(float("nan"), 0.0, 1.0)
    result = stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return Interval(successes / n, float(result.low), float(result.high))


def realized(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Accuracy, ROC-AUC, Brier score (each an Interval) on labelled rows; AUC needs both
    outcomes present (else None). Past BOOTSTRAP_MAX_ROWS rows the intervals are the normal
    approximations (Hanley-McNeil for ROC-AUC, the mean's standard error for Brier), which
    agree with the bootstrap there and cost one pass instead of BOOTSTRAP: months of labelled
    traffic would otherwise make every evaluation slower."""
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    correct = int(((probabilities >= threshold) == labels.astype(bool)).sum())
    both = len(labels) > 0 and labels.min() != labels.max()
    if len(labels) > BOOTSTRAP_MAX_ROWS:
        return {
            "accuracy": wilson(correct, len(labels)),
            "roc_auc": _hanley_mcneil(labels, probabilities) if both else None,
            "brier": _mean_interval((probabilities - labels) ** 2),
        }
    return {
        "accuracy": wilson(correct, len(labels)),
        "roc_auc": bootstrap(labels, probabilities, roc_auc, BOOTSTRAP) if both else None,
        "brier": bootstrap(labels, probabilities, brier, BOOTSTRAP) if len(labels) else None,
    }


def _z(confidence: float = CONFIDENCE) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _mean_interval(values: np.ndarray) -> Interval:
    mean = float(values.mean())
    half = _z() * float(values.std(ddof=1)) / float(np.sqrt(len(values)))
    return Interval(mean, mean - half, mean + half)


def _hanley_mcneil(labels: np.ndarray, probabilities: np.ndarray) -> Interval:
    """ROC-AUC with Hanley and McNeil's (1982) standard error."""
    auc = float(roc_auc(labels, probabilities))
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    half = _z() * float(np.sqrt(max(variance, 0.0)))
    return Interval(auc, max(0.0, auc - half), min(1.0, auc + half))


def estimated_accuracy(probabilities: np.ndarray, threshold: float) -> float:
    """CBPE's expected accuracy: each row is right with the probability of what it predicts."""
    p = np.asarray(probabilities, dtype=float)
    if len(p) == 0:
        return float("nan")
    return float(np.where(p >= threshold, p, 1 - p).mean())


def estimated_accuracy_interval(
    probabilities: np.ndarray, threshold: float, confidence: float = CONFIDENCE
) -> Interval:
    """CBPE's expected accuracy with the interval the realized accuracy of these very rows
    should fall in if the probabilities are calibrated: each row is right with probability
    q, so the count right has variance sum q(1 - q) (a normal approximation)."""
    p = np.asarray(probabilities, dtype=float)
    q = np.where(p >= threshold, p, 1 - p)
    return estimated_accuracy_from_sums(float(q.sum()), float(np.sum(q * (1 - q))), len(p))


def estimated_accuracy_from_sums(
    expected_correct: float, variance: float, n: int, confidence: float = CONFIDENCE
) -> Interval:
    """The same from sums kept per hour of traffic: the sum of q, of q(1 - q), and the rows."""
    if n == 0:
        return Interval(float("nan"), 0.0, 1.0)
    half = float(stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(variance) / n)
    estimate = expected_correct / n
    return Interval(estimate, max(0.0, estimate - half), min(1.0, estimate + half))


def corrected_estimate(
    labelled_correct: np.ndarray,
    labelled_probabilities: np.ndarray,
    threshold: float,
    expected_correct: float,
    variance: float,
    n: int,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The accuracy of a window of `n` rows (CBPE's sums over all of them: `expected_correct`
    and its `variance`) corrected by its labelled rows (module doc): whether each was decided
    right, and its served probability."""
    right = np.asarray(labelled_correct, dtype=float)
    p = np.asarray(labelled_probabilities, dtype=float)
    labelled = len(right)
    if labelled < 3 or n < labelled:
        return estimated_accuracy_from_sums(expected_correct, variance, n, confidence)
    q = np.where(p >= threshold, p, 1 - p)  # CBPE's probability that each row is right
    # right ~ a + b q on the labelled rows; b = 1 and a = 0 when CBPE is right.
    slope = float(np.cov(q, right)[0, 1] / q.var(ddof=1)) if q.var() > 1e-12 else 1.0
    intercept = float(right.mean() - slope * q.mean())
    residual = right - intercept - slope * q
    unlabelled = n - labelled
    expected_rest = max(expected_correct - q.sum(), 0.0)  # the sum of q over the others
    estimate = (right.sum() + intercept * unlabelled + slope * expected_rest) / n
    # The others' outcomes around their expectation, and the fit's own error over them.
    spread = residual.var(ddof=2) * (unlabelled + unlabelled**2 / labelled)
    half = float(stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(spread) / n)
    estimate = float(estimate)
    return Interval(
        min(max(estimate, 0.0), 1.0), max(0.0, estimate - half), min(1.0, estimate + half)
    )


def calibration_table(labels: np.ndarray, probabilities: np.ndarray, bins: int = 5) -> list[dict]:
    """Observed positive rate per predicted-probability bin (a calibration table)."""
    edges = np.linspace(0, 1, bins + 1)
    index = bin_index(probabilities, bins)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "rows": int(mask.sum()),
                    "mean predicted": round(float(np.mean(probabilities[mask])), 3),
                    "observed": round(float(np.mean(labels[mask])), 3),
                }
            )
    return rows


def worse_than_promised(correct: int, n: int, promised: float) -> float:
    """The p-value of "realized accuracy >= promised" given `correct` of `n` (1.0 below
    MIN_LABELLED rows: too few to decide)."""
    if n < MIN_LABELLED:
        return 1.0
    return float(stats.binomtest(correct, n, promised, alternative="less").pvalue)


def costlier_than_promised(total: float, squares: float, n: int, promised: float) -> float:
    """The p-value of "realized expected cost <= promised" from the labelled rows' costs (their
    sum and sum of squares): a one-sided t-test of the mean cost (1.0 below MIN_LABELLED rows,
    or when every row cost the same and no more than promised)."""
    if n < MIN_LABELLED:
        return 1.0
    mean = total / n
    variance = max(squares / n - mean**2, 0.0) * n / (n - 1)
    if variance == 0.0:
        return 0.0 if mean > promised else 1.0
    t = (mean - promised) / np.sqrt(variance / n)
    return float(stats.t.sf(t, n - 1))


def expected_cost(costs: np.ndarray) -> Interval:
    """The labelled rows' mean cost with its 95% normal interval."""
    if len(costs) < 2:
        return Interval(float(np.mean(costs)) if len(costs) else float("nan"), 0.0, float("inf"))
    return _mean_interval(np.asarray(costs, dtype=float))


def outcomes_needed(promised: float, drop: float = 0.10, power: float = 0.95) -> int:
    """The fewest labelled rows for which the check (at ALPHA) catches an accuracy `drop`
    below `promised` with at least `power`, by exact binomial computation."""
    for n in range(MIN_LABELLED, 5000):
        # The largest count of correct rows that still fails the check.
        critical = int(stats.binom.ppf(ALPHA, n, promised))
        while critical >= 0 and stats.binom.cdf(critical, n, promised) > ALPHA:
            critical -= 1
        if critical >= 0 and stats.binom.cdf(critical, n, promised - drop) >= power:
            return n
    return -1


def cbpe_trust(realized: Interval, estimate: Interval) -> tuple[str, str]:
    """Whether the confidence-based estimate can be trusted for this traffic, from labelled
    rows: its direction ("consistent", "over-confident", "under-confident") and a sentence.
    Not trusted when the realized accuracy's 95% interval lies wholly outside the estimate's
    (both over the same labelled rows): realized below means the probabilities were
    over-confident on this traffic (the estimate too high), above under-confident. The
    next retrain refits the calibration out-of-fold on its training split, which holds
    these labelled rows (all but the stable fifth held out)."""
    if realized.high < estimate.low:
        direction, relation = "over-confident", "below"
    elif realized.low > estimate.high:
        direction, relation = "under-confident", "above"
    else:
        return "consistent", (
            f"The confidence-based estimate is consistent with the realized accuracy "
            f"({realized} vs {estimate})."
        )
    return direction, (
        f"The confidence-based estimate is not to be trusted for this traffic: the "
        f"probabilities are {direction} (realized {realized} is {relation} the estimate "
        f"{estimate}). The next retrain refits the calibration out-of-fold on its training "
        f"split, which holds these labelled rows (all but the stable fifth held out)."
    )
