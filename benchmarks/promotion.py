"""How often each promotion rule takes the wrong decision. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/promotion.py [--seeds 100]

Two situations, each repeated over many seeds, both rules side by side in one run:

- An equally good retrain: champion and candidate are the same model trained on two random
  90% samples of the same passengers. The right decision is to promote (or at least not to
  reject it for noise).
- A worse candidate: trained on passengers a quarter of whose outcomes were flipped (about
  10 accuracy points worse). The right decision is to keep the champion.

The old rule (before the paired comparison) compared each model's metrics on its own random
20% split with a 0.01 tolerance; the new rule (ml/promotion.py) scores both on the same
held-out passengers neither trained on and decides by a paired bootstrap against a 0.06
non-inferiority margin.

A second section (`--only shadow` runs it alone, in well under a minute) measures the shadow
rule of ml/sequential.py: a challenger predicting beside the champion, outcomes arriving one at
a time, the decision taken after EVERY outcome. Simulated streams for a challenger equal to the
champion, 5 accuracy points worse and 5 better; both models agree on 85% of passengers and the
champion is right on 80%. Beside it, in the same run, a fixed-n one-sided 95% paired z-test
re-checked after every outcome (from the 30th), whose false-promotion rate continuous looking
inflates, and the same test looked at once, at the budget's end, as it was designed to be.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.defs.resources import SHIPPED_PASSENGERS
from titanic_assets.ml import candidates, modeling, promotion, sequential, statistics
from titanic_assets.ml.cleaning import clean_passengers

OLD_TOLERANCE = 0.01

SHADOW_STREAMS = 1000
BUDGETS = (500, 1000, 2000)  # outcomes a challenger may shadow before it is retired
NAIVE_MIN_N = 30
Z_95 = 1.6449  # one-sided 95%
# (name, P(only the challenger right), P(only the champion right), promoting is right).
# Both right: 0.80 - P(only the champion right); both wrong: the rest of the 85% they agree on.
SHADOW_SITUATIONS = (
    ("equal", 0.075, 0.075, False),
    ("5 points worse", 0.05, 0.10, False),
    ("5 points better", 0.10, 0.05, True),
)


def fit(passengers: pd.DataFrame, seed: int):
    # LightGBM with different seeds: two equally good retrains (the linear model is
    # deterministic whatever the seed).
    return candidates.lightgbm(
        passengers[list(RAW_INPUTS)], passengers["Survived"].to_numpy(), seed=seed
    )


def scores(model, passengers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return passengers["Survived"].to_numpy(), model.predict_proba(passengers[list(RAW_INPUTS)])


def flipped(passengers: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    flip = rng.random(len(passengers)) < share
    return passengers.assign(
        Survived=np.where(flip, 1 - passengers["Survived"], passengers["Survived"])
    )


def old_rule(passengers: pd.DataFrame, candidate_noise: float, seed: int) -> bool:
    """Each model judged on its own random split; promote within 0.01 on accuracy and AUC."""
    metrics = []
    for split_seed, noise in ((seed, 0.0), (seed + 10_000, candidate_noise)):
        train, test = train_test_split(
            passengers, test_size=0.2, stratify=passengers["Survived"], random_state=split_seed
        )
        model = fit(flipped(train, noise, split_seed), split_seed)
        y, p = scores(model, test)
        metrics.append((statistics.accuracy(y, p >= 0.5), statistics.roc_auc(y, p)))
    (champion_acc, champion_auc), (candidate_acc, candidate_auc) = metrics
    return (
        candidate_acc >= champion_acc - OLD_TOLERANCE
        and candidate_auc >= champion_auc - OLD_TOLERANCE
    )


def new_rule(passengers: pd.DataFrame, candidate_noise: float, seed: int) -> tuple[bool, float]:
    """Both models scored on the same held-out passengers (the stable split)."""
    test = passengers[modeling.held_out(passengers["PassengerId"])]
    pool = passengers.drop(test.index)
    models = []
    for sample_seed, noise in ((seed, 0.0), (seed + 10_000, candidate_noise)):
        sample = pool.sample(frac=0.9, random_state=sample_seed)
        models.append(fit(flipped(sample, noise, sample_seed), sample_seed))
    y, champion = scores(models[0], test)
    _, candidate = scores(models[1], test)
    decision = promotion.decide_promotion(y, champion, candidate, 0.5, 0.5, seed=seed)
    return decision.promote, statistics.accuracy(y, candidate >= 0.5) - statistics.accuracy(
        y, champion >= 0.5
    )


def first_step(crossed: np.ndarray) -> np.ndarray:
    """The 1-based step at which each stream (row) first crossed, or inf."""
    return np.where(crossed.any(axis=1), crossed.argmax(axis=1) + 1.0, np.inf)


def shadow_streams(p_win: float, p_loss: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Running counts of wins (only the challenger right) and losses, one row per stream."""
    passengers = np.random.default_rng(seed).random((SHADOW_STREAMS, max(BUDGETS)))
    return (
        np.cumsum(passengers < p_win, axis=1),
        np.cumsum((passengers >= p_win) & (passengers < p_win + p_loss), axis=1),
    )


def sequential_crossings(wins: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First steps at which decide() would promote (lower > 0) and retire as worse (upper < 0).

    lower > 0 exactly when the wealth betting 'above 0' reached 1/alpha (tests/test_sequential
    pins this), and at m = 0 a tie pays nothing, so the wealth depends on wins and losses
    alone: one table over (wins, losses) serves every stream and step.
    """
    w, lo = np.meshgrid(np.arange(wins.max() + 1), np.arange(losses.max() + 1), indexing="ij")
    threshold = np.log(1 / sequential.ALPHA)
    above = sequential.log_wealth_above(0.0, w, 0, lo) >= threshold
    below = sequential.log_wealth_below(0.0, w, 0, lo) >= threshold
    return first_step(above[wins, losses]), first_step(below[wins, losses])


def z_scores(wins: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """The paired z statistic of mean(d) after every outcome (nan before NAIVE_MIN_N)."""
    n = np.arange(1, wins.shape[1] + 1)
    mean = (wins - losses) / n
    variance = ((wins + losses) / n - mean**2) * n / np.maximum(n - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = mean / np.sqrt(variance / n)
    return np.where(n >= NAIVE_MIN_N, z, np.nan)


def decided(promote_at: np.ndarray, retire_at: np.ndarray, budget: int):
    """Promoted, retired as worse, and after how many outcomes, when the first crossing
    decides and a challenger undecided at the budget is retired."""
    stop = np.minimum(np.minimum(promote_at, retire_at), budget)
    promoted = (promote_at <= budget) & (promote_at < retire_at)
    return promoted, (retire_at <= budget) & (retire_at < promote_at), stop


def shadow_section() -> None:
    started = time.perf_counter()
    rows = []
    for seed, (situation, p_win, p_loss, right) in enumerate(SHADOW_SITUATIONS):
        wins, losses = shadow_streams(p_win, p_loss, seed)
        seq_promote, seq_retire = sequential_crossings(wins, losses)
        z = z_scores(wins, losses)
        naive_promote, naive_retire = first_step(z > Z_95), first_step(z < -Z_95)
        for budget in BUDGETS:
            seq, seq_worse, seq_stop = decided(seq_promote, seq_retire, budget)
            naive, naive_worse, naive_stop = decided(naive_promote, naive_retire, budget)
            rows.append(
                {
                    "challenger": situation,
                    "budget": budget,
                    "right": "promote" if right else "keep champion",
                    "sequential: promoted": f"{seq.mean():.1%}",
                    "sequential: retired as worse": f"{seq_worse.mean():.1%}",
                    "sequential: median outcomes": f"{np.median(seq_stop):.0f}",
                    "fixed-n re-checked: promoted": f"{naive.mean():.1%}",
                    "fixed-n re-checked: retired as worse": f"{naive_worse.mean():.1%}",
                    "fixed-n re-checked: median outcomes": f"{np.median(naive_stop):.0f}",
                    "fixed-n looked at once: promoted": f"{(z[:, budget - 1] > Z_95).mean():.1%}",
                }
            )
    print(
        f"\nShadow evaluation, decision after every outcome: {SHADOW_STREAMS} streams per "
        f"challenger, alpha {sequential.ALPHA}, {time.perf_counter() - started:.0f} s. "
        f"'promoted' is a false promotion for the equal and worse challengers and a correct "
        f"one for the better; median outcomes to a decision counts a spent budget as the budget."
    )
    print(pd.DataFrame(rows).to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--only", choices=("retrain", "shadow"), help="run one section")
    args = parser.parse_args()
    if args.only != "shadow":
        retrain_section(args.seeds)
    if args.only != "retrain":
        shadow_section()


def retrain_section(seeds: int) -> None:
    raw = pd.read_csv(SHIPPED_PASSENGERS).assign(source=SHIPPED_PASSENGERS.name)
    passengers, _ = clean_passengers(raw)
    started = time.perf_counter()
    rows = []
    for situation, noise, right in (
        ("equally good retrain", 0.0, True),
        ("worse candidate", 0.25, False),
    ):
        old = [old_rule(passengers, noise, s) for s in range(seeds)]
        new = [new_rule(passengers, noise, s) for s in range(seeds)]
        rows.append(
            {
                "situation": situation,
                "right decision": "promote" if right else "keep the champion",
                "old rule: wrong": f"{np.mean([o != right for o in old]):.0%}",
                "new rule: wrong": f"{np.mean([n != right for n, _ in new]):.0%}",
                "median accuracy difference": f"{np.median([d for _, d in new]):+.3f}",
            }
        )
    print(f"{seeds} seeds per situation, {time.perf_counter() - started:.0f} s")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
