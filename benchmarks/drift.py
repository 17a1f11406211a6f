"""How good and how fast the drift report is. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/drift.py [--repetitions 200] [--skip-scale]
        [--skip-windows] [--skip-quality]

Reference: what production uses, the serving model's training rows (the seeded training
split of the cleaned shipped passengers, raw inputs; (a) prints how many). In-distribution
traffic: samples drawn with replacement from all cleaned passengers (the population the
training rows came from, held-out rows included).

(a) Detection quality, per sample size: the false-alarm rate (reports that find drift in
    in-distribution traffic; target <= 5%) and the detection rate of constructed shifts
    (target >= 95% at 200 rows).
(b) Scale: wall time and peak RSS of one report over 100,000 and 1,000,000 logged rows,
    each in a fresh subprocess so the peak belongs to that run alone. Logged names are
    made unique so the title is really extracted once per row.
(c) Large windows: monitoring tests a window through a uniform sample of at most 20,000 of
    its rows (core/traffic_windows.py). Side by side on the same 60,000-row windows: the
    report over every row and over the sample, false alarms and detection of mild shifts.

The figures are written stamped (benchmarks/stamp.py) to benchmarks/results/drift-titanic.json:
rates as shares of the repetitions, the sections run (a skipped one is left out).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp
from titanic_assets.core.domain import load_domain
from titanic_assets.ml import drift
from titanic_assets.ml.cleaning import clean_rows
from titanic_assets.ml.modeling import split_ids

SAMPLE_SIZES = (50, 100, 200, 1000)
SCALE_ROWS = (100_000, 1_000_000)
SEED = 7
DOMAIN = load_domain("titanic")
MONITORED = DOMAIN.monitored  # the inputs monitoring tests


def population_and_reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(DOMAIN.data).assign(source=DOMAIN.data.name)
    passengers, _ = clean_rows(DOMAIN, raw)
    train_ids, _ = split_ids(DOMAIN, passengers)
    reference = passengers[passengers[DOMAIN.id_column].isin(train_ids)]
    inputs = list(DOMAIN.input_names)
    return passengers[inputs], reference[inputs].reset_index(drop=True)


Traffic = Callable[[pd.DataFrame, int, np.random.Generator], pd.DataFrame]


def _sample(population: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return population.iloc[rng.integers(0, len(population), n)].reset_index(drop=True)


SCENARIOS: dict[str, Traffic] = {
    "in-distribution": _sample,
    "ages +15 years": lambda p, n, rng: _sample(p, n, rng).assign(Age=lambda t: t["Age"] + 15),
    "fares x2.5": lambda p, n, rng: _sample(p, n, rng).assign(Fare=lambda t: t["Fare"] * 2.5),
    "all third-class men": lambda p, n, rng: _sample(
        p[(p["Pclass"] == 3) & (p["Sex"] == "male")], n, rng
    ),
    "all embarked at Q": lambda p, n, rng: _sample(p, n, rng).assign(Embarked="Q"),
}


def detection_quality(repetitions: int) -> dict:
    population, reference = population_and_reference()
    rng = np.random.default_rng(SEED)
    print(
        f"(a) detection quality: reference {len(reference)} training rows, "
        f"{repetitions} repetitions per cell, min_rows disabled to test every size"
    )
    header = f"{'scenario':<22}" + "".join(f"{f'n={n}':>10}" for n in SAMPLE_SIZES)
    print(header)
    alarms_by_feature: dict[str, int] = {}
    noise_psi: dict[int, list[float]] = {n: [] for n in SAMPLE_SIZES}
    table = []
    for name, traffic in SCENARIOS.items():
        rates = []
        for n in SAMPLE_SIZES:
            alarms = 0
            for _ in range(repetitions):
                report = drift.drift_report(
                    MONITORED, reference, traffic(population, n, rng), min_rows=0
                )
                alarms += report.drift_detected
                if name == "in-distribution":
                    noise_psi[n].append(report.largest_psi)
                    for feature in report.drifted_features:
                        alarms_by_feature[feature] = alarms_by_feature.get(feature, 0) + 1
            rates.append(alarms / repetitions)
        label = "false alarms" if name == "in-distribution" else "detected"
        print(f"{name:<22}" + "".join(f"{r:>10.1%}" for r in rates) + f"   ({label})")
        table.append(_by_size({"scenario": name, "rate of": label}, rates, 3))
    print(f"false alarms by feature (all sizes): {alarms_by_feature or 'none'}")
    # PSI is not a test: on in-distribution traffic it is pure sampling noise, ~bins/n.
    psi = []
    for label, q in (("largest PSI, median", 50), ("largest PSI, 95th pct", 95)):
        figures = [np.percentile(noise_psi[n], q) for n in SAMPLE_SIZES]
        print(f"{label:<22}" + "".join(f"{f:>10.3f}" for f in figures) + "   (in-distribution)")
        psi.append(_by_size({"in-distribution": label}, figures, 4))
    return {
        "reference_rows": len(reference),
        "repetitions": repetitions,
        "rates": table,
        "false_alarms_by_feature": alarms_by_feature or "none",
        "largest_psi": psi,
    }


def _by_size(record: dict, values: list[float], digits: int) -> dict:
    """A table row: `record` and one value per sample size."""
    return record | {
        f"n={n}": round(float(v), digits) for n, v in zip(SAMPLE_SIZES, values, strict=True)
    }


MILD: dict[str, Traffic] = {
    "in-distribution": _sample,
    "ages +1 year": lambda p, n, rng: _sample(p, n, rng).assign(Age=lambda t: t["Age"] + 1),
    "fares x1.05": lambda p, n, rng: _sample(p, n, rng).assign(Fare=lambda t: t["Fare"] * 1.05),
}


def sampled_windows(repetitions: int, rows: int = 60_000) -> dict:
    from titanic_assets.core.traffic_windows import WINDOW_SAMPLE

    population, reference = population_and_reference()
    rng = np.random.default_rng(SEED)
    print(
        f"\n(c) windows of {rows:,} rows: every row vs a uniform {WINDOW_SAMPLE:,}-row sample, "
        f"{repetitions} repetitions"
    )
    print(f"{'scenario':<22}{'every row':>12}{'sample':>12}")
    table = []
    for name, traffic in MILD.items():
        full = sampled = 0
        for _ in range(repetitions):
            window = traffic(population, rows, rng)
            sample = window.iloc[rng.permutation(rows)[:WINDOW_SAMPLE]]
            full += drift.drift_report(MONITORED, reference, window).drift_detected
            sampled += drift.drift_report(MONITORED, reference, sample).drift_detected
        label = "false alarms" if name == "in-distribution" else "detected"
        print(f"{name:<22}{full / repetitions:>12.1%}{sampled / repetitions:>12.1%}   ({label})")
        table.append(
            {
                "scenario": name,
                "rate of": label,
                "every row": round(full / repetitions, 3),
                "sample": round(sampled / repetitions, 3),
            }
        )
    return {
        "window_rows": rows,
        "sample_rows": WINDOW_SAMPLE,
        "repetitions": repetitions,
        "rates": table,
    }


def _scale_child(rows: int) -> None:
    """One report over `rows` logged rows; prints JSON figures (run in a fresh process)."""
    population, reference = population_and_reference()
    current = _sample(population, rows, np.random.default_rng(SEED))
    current["Name"] = current["Name"] + " #" + pd.Series(np.arange(rows)).astype(str)
    started = time.perf_counter()
    import alibi_detect  # noqa: F401  a fixed cost per process, reported on its own

    imported = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = drift.drift_report(MONITORED, reference, current)
    reported = time.perf_counter()
    drift.drift_plots(MONITORED, reference, current, report, features=["Age", "Embarked"])
    plotted = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": rows,
                "import_seconds": imported - started,
                "report_seconds": reported - imported,
                "plots_seconds": plotted - reported,
                "peak_rss_before_mb": before / 1024,
                "peak_rss_mb": peak / 1024,
                "drift": report.drift_detected,
            }
        )
    )


def scale() -> list[dict]:
    print("\n(b) scale: one report per fresh process (ru_maxrss = peak RSS of that process)")
    print(
        f"{'rows':>10} {'import s':>9} {'report s':>9} {'2 plots s':>10} "
        f"{'RSS before MB':>14} {'peak RSS MB':>12}"
    )
    table = []
    for rows in SCALE_ROWS:
        output = subprocess.run(
            [sys.executable, __file__, "--scale-child", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"{rows:>10,} {figures['import_seconds']:>9.2f} {figures['report_seconds']:>9.2f} "
            f"{figures['plots_seconds']:>10.2f} {figures['peak_rss_before_mb']:>14.0f} "
            f"{figures['peak_rss_mb']:>12.0f}"
        )
        table.append({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-windows", action="store_true")
    parser.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        _scale_child(args.scale_child)
        return
    run = Stamp("drift", "titanic")
    figures = {}
    if not args.skip_quality:
        figures["detection_quality"] = detection_quality(args.repetitions)
    if not args.skip_windows:
        figures["large_windows"] = sampled_windows(max(20, args.repetitions // 5))
    if not args.skip_scale:
        figures["scale"] = scale()
    print(f"stamped: {run.save(figures, family=DOMAIN.family)}")


if __name__ == "__main__":
    main()
