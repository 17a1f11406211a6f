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

A second section (`--only margin`) measures the trusted guard (`promotion.trusted_guard`) on
the trusted held-out passengers: how far below 0 the one-sided 95% lower bound of
(candidate - champion) falls for an equally good retrain and for a worse candidate (12% of
its training outcomes flipped), on all of them and per declared slice, and how often the
guard keeps each out at a few (margin, slice margin) pairs, ml/promotion.py's among them.

A third section (`--only shadow` runs it alone, in well under a minute) measures the shadow
rule of ml/sequential.py: a challenger predicting beside the champion, outcomes arriving one at
a time, the decision taken after EVERY outcome. Simulated streams for a challenger equal to the
champion, 5 accuracy points worse and 5 better; both models agree on 85% of passengers and the
champion is right on 80%. Beside it, in the same run, a fixed-n one-sided 95% paired z-test
re-checked after every outcome (from the 30th), whose false-promotion rate continuous looking
inflates, and the same test looked at once, at the budget's end, as it was designed to be.

The figures are written stamped (benchmarks/stamp.py) to benchmarks/results/promotion-titanic.json
(with `--only`, promotion-<section>-titanic.json): the tables printed, their shares as
fractions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp
from titanic_assets.domains.titanic import DOMAIN, candidates
from titanic_assets.ml import modeling, promotion, sequential, statistics
from titanic_assets.ml.cleaning import clean_rows

RAW_INPUTS = DOMAIN.input_names
LABEL = DOMAIN.label
SLICES = tuple(DOMAIN.slices)  # the trusted guard's declared slices, by name

OLD_TOLERANCE = 0.01
SECTIONS = ("retrain", "margin", "shadow")
WORSE_NOISE = 0.12  # share of the worse candidate's training outcomes flipped
# (margin, slice margin) pairs whose guard is measured beside ml/promotion.py's own.
# None: no slice judged (the rule before the slice guard).
MARGINS_TRIED = (
    (0.06, None), (0.05, None), (0.04, None), (0.03, None),
    (0.06, 0.25), (0.06, 0.2), (0.06, 0.3), (0.05, 0.15), (0.05, 0.2), (0.05, 0.25),
    (0.04, 0.25),
)  # fmt: skip

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
        passengers[list(RAW_INPUTS)], passengers[LABEL].to_numpy(), seed=seed
    )


def scores(model, passengers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return passengers[LABEL].to_numpy(), model.predict_proba(passengers[list(RAW_INPUTS)])


def flipped(passengers: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    flip = rng.random(len(passengers)) < share
    return passengers.assign(**{LABEL: np.where(flip, 1 - passengers[LABEL], passengers[LABEL])})


def markdown(rows: list[dict], formats: dict[str, str]) -> str:
    """The rows as the markdown table printed, each column named in `formats` in its format
    (the stamp keeps the numbers)."""
    shown = [{k: format(v, formats[k]) if k in formats else v for k, v in r.items()} for r in rows]
    return pd.DataFrame(shown).to_markdown(index=False)


def old_rule(passengers: pd.DataFrame, candidate_noise: float, seed: int) -> bool:
    """Each model judged on its own random split; promote within 0.01 on accuracy and AUC."""
    metrics = []
    for split_seed, noise in ((seed, 0.0), (seed + 10_000, candidate_noise)):
        train, test = train_test_split(
            passengers, test_size=0.2, stratify=passengers[LABEL], random_state=split_seed
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
    test = passengers[modeling.held_out(passengers[DOMAIN.id_column])]
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


def shadow_section() -> dict:
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
                    "sequential: promoted": round(float(seq.mean()), 3),
                    "sequential: retired as worse": round(float(seq_worse.mean()), 3),
                    "sequential: median outcomes": round(float(np.median(seq_stop))),
                    "fixed-n re-checked: promoted": round(float(naive.mean()), 3),
                    "fixed-n re-checked: retired as worse": round(float(naive_worse.mean()), 3),
                    "fixed-n re-checked: median outcomes": round(float(np.median(naive_stop))),
                    "fixed-n looked at once: promoted": round(
                        float((z[:, budget - 1] > Z_95).mean()), 3
                    ),
                }
            )
    seconds = time.perf_counter() - started
    print(
        f"\nShadow evaluation, decision after every outcome: {SHADOW_STREAMS} streams per "
        f"challenger, alpha {sequential.ALPHA}, {seconds:.0f} s. "
        f"'promoted' is a false promotion for the equal and worse challengers and a correct "
        f"one for the better; median outcomes to a decision counts a spent budget as the budget."
    )
    shares = [c for c in rows[0] if c.endswith(("promoted", "retired as worse"))]
    print(markdown(rows, dict.fromkeys(shares, ".1%")))
    return {
        "streams_per_challenger": SHADOW_STREAMS,
        "alpha": sequential.ALPHA,
        "seconds": round(seconds, 1),
        "decisions": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--only", choices=SECTIONS, help="run one section")
    args = parser.parse_args()
    run = Stamp("promotion" if args.only is None else f"promotion-{args.only}", "titanic")
    figures = {}
    if args.only in (None, "retrain"):
        figures["retrain"] = retrain_section(args.seeds)
    if args.only in (None, "margin"):
        figures["margin"] = margin_section(args.seeds)
    if args.only in (None, "shadow"):
        figures["shadow"] = shadow_section()
    print(f"stamped: {run.save(figures, family=DOMAIN.family)}")


def retrains_on_trusted(passengers: pd.DataFrame, noise: float, seed: int):
    """Champion and candidate (its training outcomes flipped with probability `noise`) on
    two 90% samples of the same passengers, scored on the trusted held-out rows: labels,
    both models' probabilities, and each row's slice."""
    test = passengers[modeling.held_out(passengers[DOMAIN.id_column])]
    pool = passengers.drop(test.index)
    models = []
    for sample_seed, share in ((seed, 0.0), (seed + 10_000, noise)):
        sample = pool.sample(frac=0.9, random_state=sample_seed)
        models.append(fit(flipped(sample, share, sample_seed), sample_seed))
    y, champion = scores(models[0], test)
    _, candidate = scores(models[1], test)
    return y, champion, candidate, promotion.slice_names(DOMAIN.slices, test)


def trusted_bounds(passengers: pd.DataFrame, noise: float, seed: int) -> dict[str, tuple]:
    """promotion.trusted_guard on one champion and candidate. "guard": its verdict, its
    margin and the share of passengers the two models decide differently; per group it
    judges: (rows, difference, one-sided 95% lower bound, judged). A slice too small to
    judge gets the same bootstrap here, for the table only."""
    y, champion, candidate, slices = retrains_on_trusted(passengers, noise, seed)
    guard = promotion.trusted_guard(y, champion, candidate, 0.5, 0.5, slices, SLICES, seed=seed)
    differ = float(np.mean((champion >= 0.5) != (candidate >= 0.5)))
    found: dict[str, tuple] = {"guard": (guard.passed, guard.margin, differ)}
    for name in ("accuracy", "roc_auc", *(f"accuracy, {s}" for s in SLICES)):
        c = guard.comparison[name]
        if "difference" in c:
            found[name] = (c["rows"], c["difference"]["estimate"], c["difference"]["low"], True)
            continue
        rows = slices == name.removeprefix("accuracy, ")
        d = statistics.paired_bootstrap(
            y[rows], champion[rows] >= 0.5, candidate[rows] >= 0.5, statistics.accuracy,
            seed=seed, level=promotion.LEVEL,
        )  # fmt: skip
        found[name] = (c["rows"], d.estimate, d.low, False)
    return found


def guard_rejects(found: dict[str, tuple], margin: float, slice_margin: float | None) -> bool:
    """Whether the trusted guard at these margins keeps the candidate out: its rule, applied
    to the lower bounds it computed (slices judged from promotion.MIN_SLICE_ROWS)."""
    if found["accuracy"][2] <= -margin or found["roc_auc"][2] <= -margin:
        return True
    return slice_margin is not None and any(
        found[f"accuracy, {name}"][3] and found[f"accuracy, {name}"][2] <= -slice_margin
        for name in SLICES
    )


def margin_section(seeds: int) -> dict:
    """How far below 0 the one-sided 95% lower bound of (candidate - champion) falls for
    two equally good retrains on the trusted held-out passengers, on the whole and per
    slice (the margin that lets 95% of them through is what the evidence supports), and
    how often the whole guard, at a few margins, keeps them and a worse candidate out."""
    raw = pd.read_csv(DOMAIN.data).assign(source=DOMAIN.data.name)
    passengers, _ = clean_rows(DOMAIN, raw)
    started = time.perf_counter()
    rows, sweep = [], []
    situations = (
        ("equally good retrain", 0.0),
        (f"worse candidate ({WORSE_NOISE:.0%} flipped)", WORSE_NOISE),
    )
    runs = {
        name: [trusted_bounds(passengers, noise, s) for s in range(seeds)]
        for name, noise in situations
    }
    for situation, found in runs.items():
        for group in (g for g in found[0] if g != "guard"):
            lows = np.array([f[group][2] for f in found])
            rows.append(
                {
                    "situation": situation,
                    "rows": group,
                    "passengers": found[0][group][0],
                    "judged": "yes" if found[0][group][3] else promotion.TOO_FEW,
                    "median difference": round(float(np.median([f[group][1] for f in found])), 4),
                    "lower bound: median": round(float(np.median(lows)), 4),
                    "5th percentile": round(float(np.quantile(lows, 0.05)), 4),
                    "1st percentile": round(float(np.quantile(lows, 0.01)), 4),
                    "at or below -0.05": round(float(np.mean(lows <= -0.05)), 3),
                    f"at or below -{promotion.SLICE_MARGIN}": round(
                        float(np.mean(lows <= -promotion.SLICE_MARGIN)), 3
                    ),
                }
            )
    margin = next(iter(runs.values()))[0]["guard"][1]
    current = (margin, promotion.SLICE_MARGIN)
    for pair in (current, *(p for p in MARGINS_TRIED if p != current)):
        row = {
            "margin": f"{pair[0]:.3f}" + (" (ml/promotion.py)" if pair == current else ""),
            "slice margin": pair[1] or "no slices",
        }
        for situation, found in runs.items():
            kept = np.mean([guard_rejects(f, *pair) for f in found])
            row[f"{situation}: kept out"] = round(float(kept), 3)
        sweep.append(row)
    # The rule above, at ml/promotion.py's margins, must give trusted_guard's own verdicts.
    disagree = sum(
        guard_rejects(f, *current) == f["guard"][0] for found in runs.values() for f in found
    )
    seconds = time.perf_counter() - started
    differ = {
        situation: round(float(np.median([f["guard"][2] for f in found])), 3)
        for situation, found in runs.items()
    }
    print(
        f"\nThe trusted guard on the {rows[0]['passengers']} trusted held-out passengers: "
        f"{seeds} seeds per situation, {seconds:.0f} s (slices judged "
        f"from {promotion.MIN_SLICE_ROWS} passengers; lower bounds at level {promotion.LEVEL} "
        f"two-sided, i.e. one-sided 95%). Champion and candidate decide differently on a "
        + ", ".join(
            f"median {share:.1%} of them ({situation})" for situation, share in differ.items()
        )
        + "."
    )
    signed = ("median difference", "lower bound: median", "5th percentile", "1st percentile")
    shares = [c for c in rows[0] if c.startswith("at or below")]
    print(markdown(rows, dict.fromkeys(signed, "+.3f") | dict.fromkeys(shares, ".0%")))
    print(
        f"\nKept out by the guard at each (margin, slice margin); the first row is "
        f"promotion.trusted_guard itself (its verdict and this rule disagree on {disagree} "
        f"of {2 * seeds} runs)."
    )
    print(markdown(sweep, {f"{situation}: kept out": ".1%" for situation in runs}))
    return {
        "seeds": seeds,
        "seconds": round(seconds, 1),
        "trusted_passengers": rows[0]["passengers"],
        "slices_judged_from": promotion.MIN_SLICE_ROWS,
        "median_share_decided_differently": differ,
        "lower_bounds": rows,
        "kept_out_by_margins": sweep,
        "verdicts_disagreeing_with_trusted_guard": disagree,
    }


def retrain_section(seeds: int) -> dict:
    raw = pd.read_csv(DOMAIN.data).assign(source=DOMAIN.data.name)
    passengers, _ = clean_rows(DOMAIN, raw)
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
                "old rule: wrong": round(float(np.mean([o != right for o in old])), 3),
                "new rule: wrong": round(float(np.mean([n != right for n, _ in new])), 3),
                "median accuracy difference": round(float(np.median([d for _, d in new])), 4),
            }
        )
    seconds = time.perf_counter() - started
    print(f"{seeds} seeds per situation, {seconds:.0f} s")
    formats = {"old rule: wrong": ".0%", "new rule: wrong": ".0%"}
    print(markdown(rows, formats | {"median accuracy difference": "+.3f"}))
    return {"seeds": seeds, "seconds": round(seconds, 1), "decisions": rows}


if __name__ == "__main__":
    main()
