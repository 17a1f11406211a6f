"""Shadow evaluation one outcome at a time: when a challenger has shown itself better.

Champion and challenger both predict every row; as each outcome comes back we get
d = (challenger right) - (champion right), one of -1, 0, +1. Monitoring looks at the evidence
after every outcome, for as long as it likes, so a fixed-n test would promote far more often
than its alpha says. The bounds here are a confidence sequence: they hold at every n at once.

Method: testing by betting (Waudby-Smith & Ramdas, "Estimating means of bounded random
variables by betting", JRSS-B 2024). To test "the mean is m", a gambler starts with 1 and
stakes a fraction of their wealth on each new d; a bet that d lands above m pays
1 + lam * (d - m) per unit of wealth. If the mean really is m, the wealth is a nonnegative
martingale, and by Ville's inequality it ever reaches 1/alpha with probability at most alpha.
The lower bound is the largest m whose gambler (betting the mean is above m) has 1/alpha now;
the upper bound mirrors it. Each gambler is a mixture, with equal weights, of constant stakes
lam = c / (1 + m), one for each c of BETS (a grid of constant bets, like the paper's grid
Kelly process and Cover's universal portfolio). A fixed-weight mixture of martingales is one,
so validity is exact, and:

- Because d takes three values and every stake is constant, the wealth depends only on the
  counts of wins, ties and losses: monitoring keeps three integers (O(1) per outcome) or
  recomputes them from the prediction log with one count, in any order.
- The mixture's log wealth is never more than log(len(BETS)) behind that of the best of its
  stakes in hindsight (less in practice: neighbouring stakes earn nearly as much), and the
  best stake is about gap / variance, so it adapts to the variance: ties (most pairs; both
  models usually agree) shrink the interval fast. At m = 0, the promotion question, ties pay
  nothing either way and the test reduces to a sequential sign test on the pairs where the
  models disagree (McNemar's idea), right whatever the tie rate is.
- In a scratch simulation when choosing (1,000 streams, 85% ties, a 5-point gain; not kept)
  it promoted sooner than the paper's predictable plug-in bets at the same alpha: median 437
  against 563 outcomes.

A domain judged by expected cost (Domain.costs) has two sizes of disagreement: d is the cost
the challenger saved on the row, in units of the dearer error, so a row of the positive class
gives -1, 0 or +1 and one of the negative class -small, 0 or +small (small = the cheaper
error's cost over the dearer's: 0.2 for German credit's 1 and 5). The payoff of a bet is the
same formula for any d in [-1, 1], so the mixture stays a nonnegative martingale and the bounds
stay valid; the wealth then depends on five counts.

`lower` is a (1 - alpha) lower confidence sequence: P(lower ever exceeds the mean) <= alpha,
which bounds the false-promotion rate of `decide` under continuous monitoring. `upper` is the
matching upper one; [lower, upper] is a (1 - 2 alpha) two-sided confidence sequence (the
convention of ml/promotion.py, whose 90% interval's lower end is a one-sided 95% bound).

Written here rather than taken from `confseq` (PyPI 0.0.11, January 2023): it has no wheel for
Python 3.11, its sdist compiles C++ against Boost, and it installs pytest, pandas and
matplotlib as runtime dependencies. Pure numpy/scipy, no Dagster and no BentoML.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np

ALPHA = 0.05
# The stakes mixed over, as fractions of the most a gambler can stake without risking ruin;
# log-spaced so the mixture suits gains from half a point to tens of points.
BETS = np.geomspace(0.005, 0.95, 100)
_BISECTIONS = 50  # the bounds to 2**-49 of the interval [-1, 1]


def log_wealth_above(
    m, wins, ties, losses, small_wins=0, small_losses=0, small: float = 0.0
) -> np.ndarray:
    """Log wealth of the mixture betting that the mean exceeds m, after these counts (wins
    and losses of size 1, and of size `small`, module doc).

    Broadcasts over its arguments (the benchmark and the tests evaluate many streams at
    once). With lam = c / (1 + m) an outcome d pays 1 + c (d - m) / (1 + m): a loss 1 - c, a
    tie 1 - c m / (1 + m), a win 1 + c (1 - m) / (1 + m); never negative for d >= -1, and
    none increasing in m, so neither is the wealth.
    """
    m = np.asarray(m, dtype=float)[..., None]
    scale = BETS / (1.0 + m)
    # Log payoff per win, tie, loss, small win and small loss for every stake:
    # shape (..., len(BETS), 5).
    payoffs = np.stack(
        np.broadcast_arrays(
            np.log1p(scale * (1.0 - m)),
            np.log1p(-scale * m),
            np.log1p(-BETS),
            np.log1p(scale * (small - m)),
            np.log1p(scale * (-small - m)),
        ),
        axis=-1,
    )
    counts = np.stack(
        np.broadcast_arrays(
            *(np.asarray(x, float) for x in (wins, ties, losses, small_wins, small_losses))
        ),
        -1,
    )
    # Each gambler's log wealth is counts . log payoffs: a matrix product, not a loop.
    paths = counts @ payoffs.T if payoffs.ndim == 2 else (payoffs @ counts[..., None])[..., 0]
    top = paths.max(axis=-1, keepdims=True)  # log of the equal-weight mean, without overflow
    return top[..., 0] + np.log(np.exp(paths - top).mean(axis=-1))


def log_wealth_below(
    m, wins, ties, losses, small_wins=0, small_losses=0, small: float = 0.0
) -> np.ndarray:
    """Log wealth of the mixture betting that the mean is below m: the mirror image (d -> -d)."""
    return log_wealth_above(
        -np.asarray(m, dtype=float), losses, ties, wins, small_losses, small_wins, small
    )


def lower_bound(
    wins, ties, losses, alpha: float = ALPHA, small_wins=0, small_losses=0, small: float = 0.0
) -> np.ndarray:
    """The largest m the 'above m' gambler has rejected (wealth >= 1/alpha), or -1.

    The wealth decreases in m, so bisection finds it; the end returned is the one still
    rejected, so rounding never makes the bound less conservative. Broadcasts over counts.
    """
    counts = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (wins, ties, losses, small_wins, small_losses))
    )
    threshold = np.log(1.0 / alpha)
    lo, hi = np.full(counts[0].shape, -1.0), np.full(counts[0].shape, 1.0)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        rejected = log_wealth_above(mid, *counts, small=small) >= threshold
        lo, hi = np.where(rejected, mid, lo), np.where(rejected, hi, mid)
    return lo


def upper_bound(
    wins, ties, losses, alpha: float = ALPHA, small_wins=0, small_losses=0, small: float = 0.0
) -> np.ndarray:
    """The smallest m the 'below m' gambler has rejected, or +1: the mirror of lower_bound."""
    return -lower_bound(losses, ties, wins, alpha, small_losses, small_wins, small)


@dataclass(frozen=True)
class PairedEvidence:
    """What the shadowed outcomes say about mean(challenger right - champion right), or for a
    domain with costs mean(cost the challenger saved) in units of the dearer error.

    Immutable: `update` returns new evidence. The counts are the whole state.
    """

    wins: int = 0  # outcomes only the challenger got right (d = +1)
    ties: int = 0  # both right or both wrong (d = 0)
    losses: int = 0  # only the champion got right (d = -1)
    alpha: float = ALPHA
    small_wins: int = 0  # d = +small: only the challenger right, where an error costs less
    small_losses: int = 0  # d = -small
    small: float = 0.0  # the cheaper error's cost over the dearer's (0: accuracy)

    def __post_init__(self) -> None:
        if min(self.wins, self.ties, self.losses, self.small_wins, self.small_losses) < 0:
            raise ValueError("counts cannot be negative")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0.0 <= self.small <= 1.0:
            raise ValueError(f"small must be in [0, 1], got {self.small}")

    @classmethod
    def from_differences(
        cls, differences, alpha: float = ALPHA, small: float = 0.0
    ) -> PairedEvidence:
        return cls(alpha=alpha, small=small).update(differences)

    def update(self, differences) -> PairedEvidence:
        """The evidence after more outcomes: one difference or a sequence of them."""
        d = np.atleast_1d(np.asarray(differences, dtype=float))
        sizes = (-1, 0, 1) if self.small == 0 else (-1, -self.small, 0, self.small, 1)
        if d.size and not np.isin(d, sizes).all():
            raise ValueError(f"a paired difference is one of {sizes}")
        small = self.small if self.small not in (0.0, 1.0) else None
        return replace(
            self,
            wins=self.wins + int((d == 1).sum()),
            ties=self.ties + int((d == 0).sum()),
            losses=self.losses + int((d == -1).sum()),
            small_wins=self.small_wins + (int((d == small).sum()) if small else 0),
            small_losses=self.small_losses + (int((d == -small).sum()) if small else 0),
        )

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses + self.small_wins + self.small_losses

    @property
    def mean(self) -> float:
        """The observed mean difference (nan before any outcome)."""
        gained = self.wins - self.losses + self.small * (self.small_wins - self.small_losses)
        return gained / self.n if self.n else float("nan")

    def _counts(self) -> tuple:
        return (self.wins, self.ties, self.losses, self.alpha, self.small_wins, self.small_losses)

    @cached_property
    def lower(self) -> float:
        return float(lower_bound(*self._counts(), small=self.small))

    @cached_property
    def upper(self) -> float:
        return float(upper_bound(*self._counts(), small=self.small))


@dataclass(frozen=True)
class Budget:
    """How long a challenger may shadow before it is retired for not having shown itself
    better. Either limit, or both (whichever runs out first); neither means no limit."""

    max_outcomes: int | None = None
    max_days: float | None = None

    def spent(self, outcomes: int, days: float) -> bool:
        return (self.max_outcomes is not None and outcomes >= self.max_outcomes) or (
            self.max_days is not None and days >= self.max_days
        )


@dataclass(frozen=True)
class Decision:
    action: Literal["promote", "retire", "keep_shadowing"]
    reason: str


def decide(
    evidence: PairedEvidence,
    budget: Budget,
    days_shadowed: float = 0.0,
    measure: str = "the accuracy difference",
) -> Decision:
    """Promote when the lower bound is above 0, retire when the upper bound is below 0 or the
    budget is spent first; otherwise keep shadowing. Safe to call after every outcome.
    `measure`: what the mean difference is, in words."""
    e = evidence
    level = f"{1 - e.alpha:.0%}"
    if e.n == 0:
        said = "no outcomes yet"
    else:
        cheaper = ""
        if e.small:
            cheaper = (
                f"; where an error costs {e.small:g} of the dearer one, {e.small_wins} only "
                f"the challenger, {e.small_losses} only the champion"
            )
        said = (
            f"after {e.n} outcomes ({e.wins} only the challenger got right, {e.losses} only "
            f"the champion, {e.ties} both or neither{cheaper}) {measure} is "
            f"{e.mean:+.3f}; bounds valid however often we look: {e.lower:+.3f} to {e.upper:+.3f}"
        )
    if e.lower > 0:
        return Decision("promote", f"challenger better: {said}; its {level} lower bound is above 0")
    if e.upper < 0:
        return Decision("retire", f"challenger worse: {said}; its {level} upper bound is below 0")
    if budget.spent(e.n, days_shadowed):
        limits = [
            f"{budget.max_outcomes} outcomes" if budget.max_outcomes is not None else "",
            f"{budget.max_days:g} days" if budget.max_days is not None else "",
        ]
        spent = " or ".join(x for x in limits if x)
        return Decision(
            "retire",
            f"budget spent ({spent}; {e.n} outcomes in {days_shadowed:g} days), "
            f"not shown better: {said}",
        )
    return Decision("keep_shadowing", f"not decided yet: {said}")
