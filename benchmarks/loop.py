"""The monitoring loop, measured. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/loop.py [--skip-processes] [--trials 20000]

1. How many outcomes the realized-performance check needs: for each promised accuracy, the
   fewest labelled rows at which the check (`ml.performance.worse_than_promised`) catches a
   10-point drop with >= 95% power (exact computation), and at that size its simulated
   false-alarm rate (true accuracy = promised) beside its power (promised - 0.10). The
   promised accuracies: the claim the pipeline makes for a model trained on the shipped
   passengers (ml/claims.py, the headline of the shift schemes, what the realized check is
   given; computed here as model_evaluation does without traffic, about ten seconds),
   beside 0.78 and 0.88 for comparison.
2. The estimate's error per constructed shift: every shipped passenger is scored by a model
   that did not train on them (5-fold, the real training code), then each shift is a sample
   of 300 of those passengers (a smaller pool whole, no passenger twice); CBPE's estimated
   accuracy (`ml.performance.estimated_accuracy`) beside the realized one. The concept
   shift (outcomes changed, inputs not) is the case CBPE cannot see by construction; it is
   there to show it.
3. The loop with the real processes (the Dagster daemon running the sensors, the service):
   a shifted population is served and its outcomes come back through POST /feedback; the
   time from the first shifted request to the retrained model answering, and the realized
   accuracy on fresh passengers of that population before and after.

The figures are written stamped (benchmarks/stamp.py) to benchmarks/results/loop-titanic.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp
from titanic_assets.domains.titanic import DOMAIN
from titanic_assets.ml import performance

RAW_INPUTS = DOMAIN.input_names
LABEL = DOMAIN.label
WORDS = DOMAIN.words  # the service's field names: the batch's key, the decision

SAMPLE = 300
COMPARED = (0.78, 0.88)  # promised accuracies shown beside the claim, for comparison


def shipped_passengers() -> pd.DataFrame:
    from titanic_assets.ml.cleaning import clean_rows

    return clean_rows(DOMAIN, pd.read_csv(DOMAIN.data).assign(source="shipped"))[0]


def claimed(table: pd.DataFrame):
    """The claim the pipeline makes for a model trained on `table` (model_evaluation's, with no
    traffic yet: no traffic-weighted scheme)."""
    from titanic_assets.ml import modeling

    return modeling.validate_under_shift(DOMAIN, modeling.train_model(DOMAIN, table), table).claim


def outcomes_needed(trials: int, claim) -> dict:
    rng = np.random.default_rng(0)
    print(f"1. the realized check: one-sided exact binomial, alpha={performance.ALPHA}, "
          f"from {performance.MIN_LABELLED} rows; drop to catch: 0.10")  # fmt: skip
    print(f"the pipeline's claim: accuracy {claim.accuracy} (headline: {claim.headline_scheme})")
    print(f"{'promised':>9} {'outcomes needed':>16} {'false alarms':>13} {'power':>7}")
    rows = []
    promised_accuracies = [(claim.accuracy.estimate, "the pipeline's claim")]
    promised_accuracies += [(p, "for comparison") for p in COMPARED]
    for promised, which in sorted(promised_accuracies):
        n = performance.outcomes_needed(promised)
        # The check fails exactly when correct <= the critical count; simulate the counts.
        fails = {
            k: performance.worse_than_promised(k, n, promised) < performance.ALPHA
            for k in range(n + 1)
        }
        null = rng.binomial(n, promised, trials)
        dropped = rng.binomial(n, promised - 0.10, trials)
        false_alarms = np.mean([fails[k] for k in null])
        power = np.mean([fails[k] for k in dropped])
        print(f"{promised:>9.3f} {n:>16d} {false_alarms:>13.2%} {power:>7.1%}   ({which})")
        rows.append(
            {
                "promised": round(promised, 3),
                "which": which,
                "outcomes needed": n,
                "false alarms": round(float(false_alarms), 4),
                "power": round(float(power), 3),
            }
        )
    return {
        "alpha": performance.ALPHA,
        "min_labelled": performance.MIN_LABELLED,
        "drop": 0.10,
        "trials": trials,
        "claim": {"accuracy": rounded(claim.accuracy), "headline": claim.headline_scheme},
        "promised": rows,
    }


def rounded(interval) -> dict[str, float]:
    """An Interval's estimate and bounds, to 3 places."""
    return {k: round(v, 3) for k, v in interval.as_dict().items()}


def out_of_fold(passengers: pd.DataFrame) -> pd.DataFrame:
    """Every passenger with the calibrated probability of a model that did not train on them."""
    from sklearn.model_selection import StratifiedKFold

    from titanic_assets.ml import modeling

    scored = passengers.assign(probability=np.nan, threshold=np.nan)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in folds.split(passengers, passengers[LABEL]):
        model = modeling.train_model(DOMAIN, passengers.iloc[train])
        rows = passengers.iloc[test]
        scored.loc[rows.index, "probability"] = model.predict_proba(rows[list(RAW_INPUTS)])
        scored.loc[rows.index, "threshold"] = model.threshold
    return scored


def estimate_error(table: pd.DataFrame) -> list[dict]:
    scored = out_of_fold(table)
    age = scored["Age"]
    shifts = {
        "none (a random sample)": np.ones(len(scored), bool),
        "first-class women": ((scored["Pclass"] == 1) & (scored["Sex"] == "female")).to_numpy(),
        "children and the elderly": ((age < 14) | (age > 55)).to_numpy(),
        "third-class men": ((scored["Pclass"] == 3) & (scored["Sex"] == "male")).to_numpy(),
        "embarked at Cherbourg": (scored["Embarked"] == "C").to_numpy(),
        "women and children first, 3:1": None,  # weighted, below
    }
    rng = np.random.default_rng(1)
    print(f"\n2. CBPE estimate vs realized accuracy, {SAMPLE} passengers per shift, each scored "
          "out of fold (5-fold, the real training code)")  # fmt: skip
    print(f"{'shift':<38} {'rows':>5} {'realized [95% CI]':>22} {'estimated':>10} {'|error|':>8}")
    female_or_child = ((scored["Sex"] == "female") | (age < 14)).to_numpy()
    rows = []
    for name, mask in shifts.items():
        if mask is None:
            weights = np.where(female_or_child, 3.0, 1.0)
            pool = scored
        else:
            weights = np.ones(int(mask.sum()))
            pool = scored[mask]
        size = min(SAMPLE, len(pool))  # a small pool is taken whole: no repeated passengers
        sample = pool.iloc[rng.choice(len(pool), size, replace=False, p=weights / weights.sum())]
        rows.append(report(name, sample, sample[LABEL].to_numpy()))
    # Concept shift: the same inputs as a random sample, a quarter of the outcomes flipped.
    sample = scored.iloc[rng.choice(len(scored), SAMPLE, replace=False)]
    flipped = sample[LABEL].to_numpy().copy()
    flip = rng.random(SAMPLE) < 0.25
    flipped[flip] = 1 - flipped[flip]
    rows.append(report("concept shift (25% outcomes flipped)", sample, flipped))
    return rows


def report(name: str, rows: pd.DataFrame, labels: np.ndarray) -> dict:
    probabilities = rows["probability"].to_numpy()
    threshold = float(rows["threshold"].iloc[0])
    realized = performance.realized(labels, probabilities, threshold)["accuracy"]
    estimated = performance.estimated_accuracy(probabilities, threshold)
    error = abs(estimated - realized.estimate)
    print(f"{name:<38} {len(rows):>5} {str(realized):>22} {estimated:>10.3f} {error:>8.3f}")
    return {
        "shift": name,
        "rows": len(rows),
        **{f"realized {k}": v for k, v in rounded(realized).items()},
        "estimated": round(estimated, 3),
        "absolute error": round(error, 3),
    }


def loop_with_processes() -> dict:
    import httpx

    from titanic_assets.domains.titanic.examples import shifted_population
    from titanic_assets.testing import (
        DAEMON,
        QUICK_LOOP,
        environment,
        materialize_first_model,
        model_service,
        poll,
        running,
    )

    shipped = pd.read_csv(DOMAIN.data)
    with tempfile.TemporaryDirectory(prefix="titanic-loop-") as tmp:
        work = Path(tmp)
        env = environment(work, QUICK_LOOP)
        materialize_first_model(env)
        with model_service(work, env) as url, running(DAEMON, work / "daemon.log", env):
            client = httpx.Client(base_url=url, timeout=60)

            def score(table: pd.DataFrame) -> tuple[list[str], list[bool], str]:
                ids, answers, version = [], [], ""
                for start in range(0, len(table), 100):
                    part = table.iloc[start : start + 100][list(RAW_INPUTS)].astype(object)
                    body = {WORDS.rows: part.where(part.notna(), None).to_dict("records")}
                    response = client.post("/predict_batch", json=body).raise_for_status().json()
                    ids += [p["id"] for p in response["predictions"]]
                    answers += [p[WORDS.decision] for p in response["predictions"]]
                    version = response["model_version"]
                return ids, answers, version

            def serving() -> str:
                return client.get("/model_info").json()["model_version"]

            first = poll("the first model", serving, 300)
            before = accuracy(score, shifted_population(shipped, 300, seed=10))
            started = time.monotonic()
            shifted = shifted_population(shipped, 250, seed=11)
            ids, _, _ = score(shifted)
            outcomes = [
                {"id": i, WORDS.decision: bool(s)} for i, s in zip(ids, shifted[LABEL], strict=True)
            ]
            client.post("/feedback", json={"outcomes": outcomes}).raise_for_status()
            score(
                shifted_population(shipped, 200, seed=12)
            )  # more traffic: a report after the outcomes
            second = poll(
                "the retrained model to answer",
                lambda: (v := serving()) != first and v,
                900,
            )
            elapsed = time.monotonic() - started
            after = accuracy(score, shifted_population(shipped, 300, seed=13))
    print("\n3. the loop with the real daemon and service: 250 shifted passengers served, their "
          "outcomes sent to /feedback, 200 more served")  # fmt: skip
    print(f"time from the first shifted request to the retrained model answering: {elapsed:.0f} s")
    print(f"realized accuracy on 300 fresh shifted passengers: before {before} ({first}), "
          f"after {after} ({second})")  # fmt: skip
    return {
        "seconds_to_retrained_model": round(elapsed),
        "realized_accuracy_before": rounded(before),
        "realized_accuracy_after": rounded(after),
        "model_before": first,
        "model_after": second,
    }


def accuracy(score, table: pd.DataFrame):
    _, answers, _ = score(table)
    right = int((np.array(answers) == table[LABEL].astype(bool).to_numpy()).sum())
    return performance.wilson(right, len(table))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20000)
    parser.add_argument("--skip-processes", action="store_true")
    args = parser.parse_args()
    run = Stamp("loop", "titanic")
    table = shipped_passengers()
    figures = {
        "realized_check": outcomes_needed(args.trials, claimed(table)),
        "estimate_error": {"sample": SAMPLE, "shifts": estimate_error(table)},
    }
    if not args.skip_processes:
        figures["loop_with_processes"] = loop_with_processes()
    print(f"stamped: {run.save(figures, family=DOMAIN.family)}")


if __name__ == "__main__":
    main()
