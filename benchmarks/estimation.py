"""How far the estimate for unlabelled traffic can be trusted: plain CBPE beside CBPE corrected
by the labelled share (ml/performance.corrected_estimate), on shifted Titanic traffic.

    uv run --frozen python benchmarks/estimation.py [--draws 300] [--rows 1000]

Two shifts, from the shipped passengers:
- leave-one-port-out: the model is trained without the passengers of one port (Cherbourg,
  Southampton or Queenstown: each in turn), and the traffic is drawn from that port's;
- class shift: the model is trained on its usual training split, and the traffic is drawn
  from the held-out fifth so that 70% of it survived (38% did in the training data).

Each draw is `--rows` passengers drawn with replacement (a window of traffic from that
population), of which a random 10% or 30% have their outcome back; the truth is the window's
realized accuracy. Every figure is over `--draws` windows: the mean absolute error of each
estimate and how often its 90% interval covered the truth (the target: error <= 0.03,
coverage about 0.90), beside the labelled rows' own accuracy (`outcomes`: what the outcomes
alone say, the floor a correction from them can reach). Each labelled passenger is scored
without their own outcome in the group evidence, as the service scores a new passenger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp
from titanic_assets.core.domain import load_domain
from titanic_assets.ml import performance
from titanic_assets.ml.cleaning import clean_rows
from titanic_assets.ml.modeling import labels_of, train_model

CONFIDENCE = 0.90
SHARES = (0.10, 0.30)


def scored(domain, table, train, traffic) -> tuple[np.ndarray, np.ndarray, float]:
    """The traffic population's probabilities and labels from a model trained on `train`."""
    model = train_model(domain, train)
    rows = table[table[domain.key].isin(traffic)]
    ids = rows[domain.key].tolist()
    probabilities = model.predict_proba(rows[list(domain.input_names)], exclude=ids)
    return probabilities, labels_of(domain, rows), model.threshold


def windows(probabilities, labels, threshold, weights, share, draws, rows, seed):
    """(truth, plain, corrected, the outcomes alone) per drawn window."""
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(draws):
        pick = rng.choice(len(labels), size=rows, p=weights / weights.sum())
        p, y = probabilities[pick], labels[pick]
        right = ((p >= threshold) == y.astype(bool)).astype(float)
        q = np.where(p >= threshold, p, 1 - p)
        labelled = rng.random(rows) < share
        plain = performance.estimated_accuracy_from_sums(
            q.sum(), np.sum(q * (1 - q)), rows, CONFIDENCE
        )
        corrected = performance.corrected_estimate(
            right[labelled], p[labelled], threshold, q.sum(), np.sum(q * (1 - q)), rows, CONFIDENCE
        )
        alone = performance.wilson(int(right[labelled].sum()), int(labelled.sum()), CONFIDENCE)
        results.append((right.mean(), plain, corrected, alone))
    return results


def report(name: str, results) -> dict[str, dict[str, float]]:
    """Prints each estimate's figures over the windows; returns them."""
    truth = np.array([r[0] for r in results])
    figures = {}
    for label, index in (("CBPE", 1), ("corrected", 2), ("outcomes", 3)):
        estimates = [r[index] for r in results]
        error = np.mean(np.abs([e.estimate for e in estimates] - truth))
        covered = np.mean([e.low <= t <= e.high for e, t in zip(estimates, truth, strict=True)])
        width = np.mean([e.high - e.low for e in estimates])
        print(
            f"{name:<44} {label:<10} error {error:.3f}  coverage {covered:.2f}  "
            f"width {width:.3f}  truth {truth.mean():.3f}"
        )
        figures[label] = {
            "mean_absolute_error": round(float(error), 4),
            "coverage_90": round(float(covered), 3),
            "mean_width": round(float(width), 4),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    stamp = Stamp("estimation", "titanic")
    domain = load_domain("titanic")
    raw = pd.read_csv(domain.data).assign(source=domain.data.name)
    table, _ = clean_rows(domain, raw)
    key = domain.key
    scenarios = []
    for port in ("C", "S", "Q"):
        traffic = table.loc[table["Embarked"] == port, key]
        train = table[~table[key].isin(traffic)]
        p, y, threshold = scored(domain, table, train, traffic)
        scenarios.append(
            (f"leave-one-port-out ({port}, {len(y)} passengers)", p, y, threshold, np.ones(len(y)))
        )
    model_ids = train_model(domain, table)
    held_out = model_ids.test_ids
    train = table[table[key].isin(model_ids.train_ids)]
    p, y, threshold = scored(domain, table, train, held_out)
    survived = 0.70  # the traffic's survival rate, by weighting the held-out passengers
    weights = np.where(y == 1, survived / y.mean(), (1 - survived) / (1 - y.mean()))
    scenarios.append((f"class shift (70% survived, {len(y)} passengers)", p, y, threshold, weights))
    print(f"{args.draws} windows of {args.rows} passengers each; 90% intervals")
    figures: dict = {"windows": args.draws, "rows_per_window": args.rows, "scenarios": {}}
    for seed, (name, p, y, threshold, w) in enumerate(scenarios):
        for share in SHARES:
            results = windows(p, y, threshold, w, share, args.draws, args.rows, seed)
            label = f"{name}, {share:.0%} labelled"
            figures["scenarios"][label] = report(label, results)
    print(f"written to {stamp.save(figures, family='lightgbm')}")


if __name__ == "__main__":
    main()
