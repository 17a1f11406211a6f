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
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.defs.resources import SHIPPED_PASSENGERS
from titanic_assets.ml import candidates, modeling, promotion, statistics
from titanic_assets.ml.cleaning import clean_passengers

OLD_TOLERANCE = 0.01


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    raw = pd.read_csv(SHIPPED_PASSENGERS).assign(source=SHIPPED_PASSENGERS.name)
    passengers, _ = clean_passengers(raw)
    started = time.perf_counter()
    rows = []
    for situation, noise, right in (
        ("equally good retrain", 0.0, True),
        ("worse candidate", 0.25, False),
    ):
        old = [old_rule(passengers, noise, s) for s in range(args.seeds)]
        new = [new_rule(passengers, noise, s) for s in range(args.seeds)]
        rows.append(
            {
                "situation": situation,
                "right decision": "promote" if right else "keep the champion",
                "old rule: wrong": f"{np.mean([o != right for o in old]):.0%}",
                "new rule: wrong": f"{np.mean([n != right for n, _ in new]):.0%}",
                "median accuracy difference": f"{np.median([d for _, d in new]):+.3f}",
            }
        )
    print(f"{args.seeds} seeds per situation, {time.perf_counter() - started:.0f} s")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
