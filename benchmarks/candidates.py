"""The candidate tables: Titanic's candidates x validation schemes (the README's), and for
any domain the engine's model families against each other (`--model NAME`).

Titanic (no `--model`): every candidate x every validation scheme, on the 891
shipped passengers (the held-out split included: this compares models, it does not
evaluate the served one; model_evaluation does that on the training split).

Cell: accuracy at the candidate's threshold [95% interval] · ROC-AUC · ECE (10 bins,
pooled out-of-fold, mean over repeats; calibration nested in every fold). "+ fed back":
each random half of a validation fold is scored with the other half's outcomes added to
the group evidence, without refitting (serving-time evidence from every labelled
passenger). "traffic-weighted": validation rows weighted to a traffic mix that is richer
in Cherbourg and Queenstown (S 0.62, C 0.26, Q 0.12, drawn from the shipped rows), by the
same classifier model_evaluation uses on the real traffic.

Families (`--model NAME`): on the domain's training split only (the rows the pipeline
trains on; its held-out rows stay unseen by the choice), 5 x 5 repeated stratified folds,
Platt calibration nested as the engine nests it (ml/validation.run_folds), for LightGBM and
an L2 logistic regression (core/models.LinearModel) at each C of LOGISTIC_C and with C
chosen inside each fold by an inner 5-fold log-loss (the honest figure: picking the best
fixed C after seeing them all is not). Cell: ROC-AUC [95%] (Nadeau-Bengio over the 25
folds); the expected cost per row of deciding at the threshold that minimizes cost on the
*other* folds' out-of-fold probabilities of the same repeat (ml/decisions.py's choice),
applied to the fold (the domain's costs, Domain.costs, or `--costs`: German credit's
documentation prices accepting a bad applicant at 5, rejecting a good one at 1; for
calibrated probabilities the theory's threshold is 1 / (1 + 5) = 1/6, shown too); the
ECE; and each
candidate's ROC-AUC and cost minus LightGBM's, fold by fold (the same folds: a paired
interval, narrower than the two intervals side by side suggest).
`--sample N`: N training rows drawn at random (Adult's 26,000 take long).

Run: `uv run python benchmarks/candidates.py` (a few minutes on 2 cores; `--only NAME ...`
for some candidates); `uv run python benchmarks/candidates.py --model german_credit` (about
a minute).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from titanic_assets.core.domain import Costs, Domain, load_domain
from titanic_assets.domains.titanic import DOMAIN, candidates
from titanic_assets.domains.titanic.wcg import travelling_groups
from titanic_assets.ml import claims, decisions, fitting, modeling, statistics, validation
from titanic_assets.ml.cleaning import clean_rows, with_row_ids

TRAFFIC_MIX = {"S": 0.62, "C": 0.26, "Q": 0.12}


def simulated_traffic(X: pd.DataFrame, rows: int = 418, seed: int = validation.SEED):
    """Shipped rows redrawn so that the ports follow TRAFFIC_MIX."""
    port = X["Embarked"].fillna("S")
    share = port.value_counts(normalize=True)
    p = port.map(lambda e: TRAFFIC_MIX[e] / share[e]).to_numpy()
    rng = np.random.default_rng(seed)
    return X.iloc[rng.choice(len(X), size=rows, replace=True, p=p / p.sum())]


def titanic_table(only: list[str] | None) -> None:
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
    for name in only or candidates.CANDIDATES:
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


LOGISTIC_C = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def training_rows(domain: Domain, sample: int | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The domain's shipped rows in the pipeline's training split (its held-out split as the
    pipeline draws it from the shipped file landed as it is named), `sample` of them."""
    raw = pd.read_csv(domain.data, na_values=list(domain.missing_values))
    table, _ = clean_rows(domain, with_row_ids(domain, raw.assign(source=domain.data.name)))
    train_ids, _ = modeling.split_ids(domain, table)
    rows = table.set_index(domain.key).loc[train_ids].reset_index()
    if sample is not None and sample < len(rows):
        rows = rows.sample(sample, random_state=validation.SEED).reset_index(drop=True)
    return rows[list(domain.input_names)], modeling.labels_of(domain, rows)


def logistic(domain: Domain, c: float) -> fitting.Fit:
    return fitting.logistic_regression(
        dataclasses.replace(domain, family="logistic_regression", hyperparameters={"C": c})
    )


def nested_logistic(domain: Domain, chosen: list[float]) -> fitting.Fit:
    """`fit(X, y)`: the C of LOGISTIC_C with the lowest inner 5-fold log-loss on these rows
    alone, refitted on all of them (each choice appended to `chosen`)."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    def fit(X: pd.DataFrame, y: Any) -> Any:
        y = np.asarray(y, dtype=int)
        inner = list(StratifiedKFold(5, shuffle=True, random_state=validation.SEED).split(X, y))
        losses = []
        for c in LOGISTIC_C:
            out = np.zeros(len(y))
            for train, test in inner:
                model = logistic(domain, c)(X.iloc[train].reset_index(drop=True), y[train])
                out[test] = model.predict_proba(X.iloc[test].reset_index(drop=True))
            losses.append(log_loss(y, out))
        chosen.append(LOGISTIC_C[int(np.argmin(losses))])
        return logistic(domain, chosen[-1])(X, y)

    return fit


def fold_figures(oof: validation.OutOfFold, y: np.ndarray, costs: Costs):
    """Per fold: ROC-AUC, the cost per row at the threshold with the least cost on the other
    folds of the same repeat (ml/decisions.py's, as the engine picks it), that threshold,
    and the cost at the theory's threshold."""
    metric = decisions.DecisionMetric(costs)
    theory = costs.false_positive / (costs.false_positive + costs.false_negative)
    figures: dict[str, list[float]] = {"auc": [], "picked": [], "threshold": [], "theory": []}
    for fold in oof.folds:
        p, t = oof.probabilities[fold.repeat], fold.test
        others = ~np.isnan(p)
        others[t] = False
        threshold = metric.best_threshold(y[others], p[others])
        figures["auc"].append(statistics.roc_auc(y[t], p[t]))
        figures["threshold"].append(threshold)
        figures["picked"].append(metric(y[t], p[t] >= threshold))
        figures["theory"].append(metric(y[t], p[t] >= theory))
    return {k: np.array(v) for k, v in figures.items()}


def family_table(domain: Domain, sample: int | None, costs: Costs) -> None:
    X, y = training_rows(domain, sample)
    folds = validation.random_folds(y)
    rule = np.full(len(y), int(y.mean() >= 0.5))
    every_row = np.arange(len(y))
    lightgbm_domain = domain if domain.family == "lightgbm" else dataclasses.replace(
        domain, family="lightgbm", hyperparameters={}
    )  # fmt: skip
    chosen: list[float] = []
    fits: dict[str, Callable[[], fitting.Fit]] = {
        "lightgbm+platt": lambda: fitting.lightgbm(lightgbm_domain),
        **{
            f"logistic_regression C={c:g}+platt": (lambda c=c: logistic(domain, c))
            for c in LOGISTIC_C
        },  # fmt: skip
        "logistic_regression, C nested+platt": lambda: nested_logistic(domain, chosen),
    }
    fp, fn = costs.false_positive, costs.false_negative
    theory = fp / (fp + fn)
    print(
        f"{domain.name}: {len(y)} training rows, {y.mean():.1%} positive; costs: false "
        f"positive {fp:g}, false negative {fn:g}; deciding every row negative costs "
        f"{fn * y.mean():.3f}, every row positive {fp * (1 - y.mean()):.3f}; served family: "
        f"{domain.family}"
    )
    lines = [
        "| candidate | ROC-AUC [95%] | cost at the picked threshold [95%] (its median) | "
        f"cost at {theory:.3f} [95%] | ECE | minus LightGBM's: ROC-AUC [95%], cost [95%] "
        "| fit (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    share = 1 / validation.FOLDS
    first = None
    for name, make in fits.items():
        started = time.perf_counter()
        oof = validation.run_folds(make(), X, y, folds, 0.5, fitting.calibrator("platt"))
        seconds = (time.perf_counter() - started) / len(folds)
        ece = validation.summarize(oof, y, rule, every_row).calibration_error
        figures = fold_figures(oof, y, costs)
        first = figures if first is None else first
        auc, picked, at_theory, paired_auc, paired_cost = (
            statistics.repeated_cv_interval(v, share)
            for v in (
                figures["auc"],
                figures["picked"],
                figures["theory"],
                figures["auc"] - first["auc"],
                figures["picked"] - first["picked"],
            )
        )
        lines.append(
            f"| {name} | {auc} | {picked} ({np.median(figures['threshold']):.3f}) | "
            f"{at_theory} | {ece:.3f} | {paired_auc}, {paired_cost} | {seconds:.2f} |"
        )
        print(lines[-1], flush=True)
    counts = {c: chosen.count(c) for c in LOGISTIC_C if c in chosen}
    print("\n".join(lines))
    print(f"nested C chosen per fold: {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(candidates.CANDIDATES),
        metavar="NAME",
        help="Titanic: these candidates alone (default: every one)",
    )
    parser.add_argument("--model", help="compare the model families on this domain")
    parser.add_argument("--sample", type=int, help="--model: this many training rows")
    parser.add_argument("--costs", nargs=2, type=float,
                        metavar=("FALSE_POSITIVE", "FALSE_NEGATIVE"),
                        help="--model: the cost of each error (default: the domain's, "
                             "Domain.costs, else 1 1: the error rate)")  # fmt: skip
    args = parser.parse_args()
    if args.model is None:
        titanic_table(args.only)
    else:
        domain = load_domain(args.model)
        costs = domain.costs or Costs(1.0, 1.0)
        if args.costs is not None:
            costs = Costs(*args.costs)
        family_table(domain, args.sample, costs)


if __name__ == "__main__":
    main()
