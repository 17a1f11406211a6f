"""The README's candidate table: every candidate x every validation scheme, on the 891
shipped passengers (the held-out split included: this compares models, it does not
evaluate the served one; model_evaluation does that on the training split).

Cell: accuracy at the candidate's threshold [95% interval] · ROC-AUC · ECE (10 bins,
pooled out-of-fold, mean over repeats; calibration nested in every fold). "+ fed back":
each random half of a validation fold is scored with the other half's outcomes added to
the group evidence, without refitting (serving-time evidence from every labelled
passenger). "traffic-weighted": validation rows weighted to a traffic mix that is richer
in Cherbourg and Queenstown (S 0.62, C 0.26, Q 0.12, drawn from the shipped rows), by the
same classifier model_evaluation uses on the real traffic.

Run: `uv run python benchmarks/candidates.py` (a few minutes on 2 cores; `--only NAME ...`
for some candidates).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from titanic_assets.domains.titanic import DOMAIN, candidates
from titanic_assets.domains.titanic.wcg import travelling_groups
from titanic_assets.ml import claims, fitting, validation
from titanic_assets.ml.cleaning import clean_rows

TRAFFIC_MIX = {"S": 0.62, "C": 0.26, "Q": 0.12}


def simulated_traffic(X: pd.DataFrame, rows: int = 418, seed: int = validation.SEED):
    """Shipped rows redrawn so that the ports follow TRAFFIC_MIX."""
    port = X["Embarked"].fillna("S")
    share = port.value_counts(normalize=True)
    p = port.map(lambda e: TRAFFIC_MIX[e] / share[e]).to_numpy()
    rng = np.random.default_rng(seed)
    return X.iloc[rng.choice(len(X), size=rows, replace=True, p=p / p.sum())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(candidates.CANDIDATES), metavar="NAME",
                        help="these candidates alone (default: every one)")  # fmt: skip
    args = parser.parse_args()
    raw = pd.read_csv(DOMAIN.data).assign(source="shipped")
    passengers, _ = clean_rows(DOMAIN, raw)
    X = passengers[list(DOMAIN.input_names)].reset_index(drop=True)
    y = passengers[DOMAIN.label].to_numpy()
    groups = travelling_groups(X)
    women = DOMAIN.baseline.decide(X).astype(int)
    weights = validation.traffic_weights(X, simulated_traffic(X), DOMAIN.inputs)
    print(f"traffic weights: effective rows {validation.effective_size(weights):.0f}/{len(X)}")
    folds = {
        "random 5x5": validation.random_folds(y),
        "group 5x5": validation.group_folds(y, groups),
        "leave-one-port-out": validation.leave_one_out_by(X, "Embarked"),
        "leave-one-class-out": validation.leave_one_out_by(X, "Pclass"),
    }
    columns = [
        "random 5x5",
        "random 5x5 + fed back",
        "group 5x5",
        "group 5x5 + fed back",
        "group 5x5, traffic-weighted",
        "leave-one-port-out",
        "leave-one-class-out",
    ]
    lines = [f"| candidate | {' | '.join(columns)} | claimed | fit (s) |"]
    lines.append("|---" * (len(columns) + 3) + "|")
    for name in args.only or candidates.CANDIDATES:
        fit, method = candidates.CANDIDATES[name]
        calibrate = fitting.calibrator(method)
        started = time.perf_counter()
        fit(X, y)
        fit_seconds = time.perf_counter() - started
        oof = {k: validation.run_folds(fit, X, y, f, 0.5, calibrate) for k, f in folds.items()}
        for k in ("random 5x5", "group 5x5"):
            oof[f"{k} + fed back"] = validation.run_folds(
                fit, X, y, folds[k], 0.5, calibrate, feedback=True
            )
        results = {k: validation.summarize(o, y, women, groups) for k, o in oof.items()}
        results["group 5x5, traffic-weighted"] = validation.summarize(
            oof["group 5x5"], y, women, groups, weights
        )
        claim = claims.claim(results, DOMAIN.shift_claimed)
        cells = [results[c].cell() for c in columns]
        lines.append(
            f"| {name} | {' | '.join(cells)} | {claim.accuracy} ({claim.headline_scheme}) | "
            f"{fit_seconds:.2f} |"
        )
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
