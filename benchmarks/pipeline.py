"""Pipeline figures for the README, per model: a full materialization's wall time and peak
memory as `make materialize MODEL=<model>` runs it, training alone, and (Adult) training
time against rows.

- Code location load: importing the definitions and building the repository.
- Full materialization: `dg launch --assets 'key:<model>/* and not key:<model>/hourly_traffic'`
  (every asset and check but the hourly traffic partitions), in a throwaway environment
  (testing.environment: its own Dagster instance, BentoML store and landing area, seeded
  with the domain's shipped data), on this checkout's code. Wall time of the whole command,
  start-up included; peak memory sampled every 0.2 s over the command's process tree: the
  sum of every process's resident memory (what the machine must hold) and the largest one;
  the CPU seconds of the whole tree (user + system: what a shared machine's load cannot
  inflate much, unlike wall time). Then each step's own wall time, from the run's step
  statistics (trained_model, model_evaluation, ...).
- Training alone: ml.modeling.train_model on the cleaned shipped rows (5 x 5 repeated CV,
  calibration, the final fit), wall and CPU seconds (CPU counts every thread's: the folds'
  fits run one per core, ml/validation.FIT_THREADS).
- Training against rows (Adult by default, `--scaling`): train_model on 1/4, 1/2 and all of
  the shipped rows (a seeded sample); each time's ratio to the quarter's beside the rows'
  ratio. Growing at most linearly: the time ratio is no larger than the rows ratio.

Each figure is measured in a fresh process, so imports and caches of one measurement do not
flatter the next; median of `--repeats` runs, min-max in brackets. The machine may be shared:
the load average at the start and the end is in each model's stamped results file,
benchmarks/results/pipeline-<model>.json (benchmarks/stamp.py), and CPU seconds are given
beside wall seconds where they mean something.

    uv run --frozen python benchmarks/pipeline.py [--model adult_income] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the checkout's packages first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import ROOT, Stamp
from titanic_assets.core.instances import instance_names

REPEATS = 3
SCALING_MODEL = "adult_income"
FRACTIONS = (0.25, 0.5, 1.0)
SAMPLE_EVERY = 0.2  # seconds between memory samples

LOAD = """
import time
started = time.perf_counter()
from titanic_assets.definitions import defs
defs().get_repository_def()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

TRAIN = """
import sys, time
import pandas as pd
from titanic_assets.core.domain import load_domain
from titanic_assets.ml.cleaning import clean_rows, with_row_ids
from titanic_assets.ml.modeling import train_model

model_name, fraction = sys.argv[1], float(sys.argv[2])
domain = load_domain(model_name)
raw = pd.read_csv(domain.data, na_values=list(domain.missing_values))
raw = with_row_ids(domain, raw.assign(source=domain.data.name))  # as the landing area reads it
table = clean_rows(domain, raw)[0]
if fraction < 1:
    table = table.sample(frac=fraction, random_state=27)
started, cpu = time.perf_counter(), time.process_time()
model = train_model(domain, table)
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "cpu_seconds": time.process_time() - cpu,
    "rows": len(table),
    "training_rows": len(model.train_ids),
    "cv_accuracy": model.cross_validation.accuracy.estimate,
    "family": model.hyperparameters["family"],
}))
"""


def environment(work: Path) -> dict[str, str]:
    """testing.environment under `work`, with this checkout's code first on the path."""
    from titanic_assets.testing import environment as moved

    return moved(work, {"PYTHONPATH": str(ROOT), "DAGSTER_DISABLE_TELEMETRY": "yes"})


def measure(script: str, *args: str) -> dict:
    """Run `script` in a fresh interpreter (with `args`) and return the JSON it prints last."""
    code = "import json\n" + textwrap.dedent(script)
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DAGSTER_DISABLE_TELEMETRY": "yes"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script.strip().splitlines()[0]} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _tree_rss(root) -> tuple[int, int]:
    """The summed and the largest resident memory (bytes) of `root` and its descendants."""
    import psutil

    sizes = []
    for process in [root, *root.children(recursive=True)]:
        try:
            sizes.append(process.memory_info().rss)
        except psutil.Error:  # gone meanwhile
            continue
    return sum(sizes), max(sizes, default=0)


def materialize(model: str) -> dict:
    """`make materialize MODEL=<model>`'s command in a throwaway environment: wall and CPU
    seconds, peak memory (the process tree's sum and its largest process, MB), each step's
    seconds."""
    import resource

    import psutil

    bin_folder = Path(sys.executable).parent
    selection = f"key:{model}/* and not key:{model}/hourly_traffic"
    with tempfile.TemporaryDirectory(prefix=f"pipeline-{model}-") as folder:
        work = Path(folder)
        log = work / "dg.log"
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(bin_folder / "dg"), "launch", "--assets", selection],
                cwd=ROOT, env=environment(work), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                root = psutil.Process(process.pid)
                peak_sum = peak_one = 0
                while process.poll() is None:
                    total, largest = _tree_rss(root)
                    peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
                    time.sleep(SAMPLE_EVERY)
                seconds = time.perf_counter() - started
            finally:  # interrupted: nothing of the run outlives the benchmark
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        # Every process of the tree has been waited for by its parent: their CPU is counted.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        if process.returncode != 0:
            raise RuntimeError(f"dg launch failed for {model}:\n{log.read_text()[-3000:]}")
        steps = step_seconds(work / "dagster_home")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_sum / 2**20,
        "peak_process_mb": peak_one / 2**20,
        "steps": steps,
    }


def step_seconds(home: Path) -> dict[str, float]:
    """Each step's wall seconds in the instance's one run, longest first."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        [run] = instance.get_runs(limit=2)
        stats = instance.get_run_step_stats(run.run_id)
        steps = {
            s.step_key: round(s.end_time - s.start_time, 2)
            for s in stats
            if s.start_time is not None and s.end_time is not None
        }
    finally:
        instance.dispose()
    return dict(sorted(steps.items(), key=lambda item: -item[1]))


def spread(values: list[float], digits: int = 2) -> str:
    return (
        f"{statistics.median(values):.{digits}f}  [{min(values):.{digits}f}-"
        f"{max(values):.{digits}f}]"
    )


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "runs": [round(v, 3) for v in values],
    }


def scaling(model: str, repeats: int) -> dict:
    """train_model on FRACTIONS of the model's rows: seconds and CPU seconds, and each
    one's ratio to the smallest fraction's beside the rows' ratio."""
    by_fraction = {}
    for fraction in FRACTIONS:
        runs = [measure(TRAIN, model, str(fraction)) for _ in range(repeats)]
        by_fraction[fraction] = {
            "rows": runs[0]["rows"],
            "training_rows": runs[0]["training_rows"],
            "seconds": summary([r["seconds"] for r in runs]),
            "cpu_seconds": summary([r["cpu_seconds"] for r in runs]),
        }
    first = by_fraction[FRACTIONS[0]]
    print(f"\ntraining against rows ({model}; median of {repeats}; ratios to the first row):")
    print("| rows | training rows | wall s | CPU s | rows ratio | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for figures in by_fraction.values():
        figures["rows_ratio"] = round(figures["rows"] / first["rows"], 3)
        for kind in ("seconds", "cpu_seconds"):
            ratio = figures[kind]["median"] / first[kind]["median"]
            figures[f"{kind}_ratio"] = round(ratio, 3)
        print(
            f"| {figures['rows']:,} | {figures['training_rows']:,} | "
            f"{figures['seconds']['median']:.1f} | {figures['cpu_seconds']['median']:.1f} | "
            f"{figures['rows_ratio']:.2f} | {figures['seconds_ratio']:.2f} | "
            f"{figures['cpu_seconds_ratio']:.2f} |"
        )
    last = by_fraction[FRACTIONS[-1]]
    linear = last["cpu_seconds_ratio"] <= last["rows_ratio"]
    print(
        f"CPU time grows {'at most' if linear else 'MORE than'} linearly with rows: "
        f"x{last['cpu_seconds_ratio']:.2f} for x{last['rows_ratio']:.2f} the rows"
    )
    return {"by_fraction": {str(k): v for k, v in by_fraction.items()}, "at_most_linear": linear}


def main() -> None:
    models = instance_names()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=models, action="append",
                        help="a model to measure (repeatable; default: every one)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per figure")
    parser.add_argument(
        "--scaling", default=SCALING_MODEL, help="the model whose training is timed against "
        f"rows when it is measured (default {SCALING_MODEL}; 'none': no such figure)"
    )  # fmt: skip
    args = parser.parse_args()
    repeats = args.repeats
    print(f"runs per figure: {repeats} (median shown, min-max in brackets)")
    for model in args.model or models:
        run = Stamp("pipeline", model)
        loads = [measure(LOAD)["seconds"] for _ in range(repeats)]
        runs = [materialize(model) for _ in range(repeats)]
        trainings = [measure(TRAIN, model, "1") for _ in range(repeats)]
        seconds = [r["seconds"] for r in runs]
        cpu = [r["cpu_seconds"] for r in runs]
        peaks = [r["peak_mb"] for r in runs]
        largest = [r["peak_process_mb"] for r in runs]
        train_seconds = [t["seconds"] for t in trainings]
        train_cpu = [t["cpu_seconds"] for t in trainings]
        step_names = list(runs[0]["steps"])
        steps = {name: summary([r["steps"].get(name, float("nan")) for r in runs])
                 for name in step_names}  # fmt: skip
        print(f"\n== {model} (load average at start {run.load_at_start})")
        print(f"code location load:        {spread(loads)} s")
        print(f"full materialization:      {spread(seconds)} s  (make materialize MODEL={model})")
        print(f"  CPU, all processes:      {spread(cpu)} s")
        print(f"  peak memory, all processes: {spread(peaks, 0)} MB")
        print(f"  peak memory, largest one:   {spread(largest, 0)} MB")
        for name in step_names[:4]:
            print(f"  step {name}: {spread(steps[name]['runs'])} s")
        print(
            f"training alone:            {spread(train_seconds)} s wall, "
            f"{spread(train_cpu)} s CPU  ({trainings[0]['training_rows']:,} training rows; "
            f"5 x 5 repeated CV + calibration + fit; CV accuracy "
            f"{trainings[0]['cv_accuracy']:.3f})"
        )
        figures = {
            "code_location_load_seconds": summary(loads),
            "materialization_seconds": summary(seconds),
            "materialization_cpu_seconds": summary(cpu),
            "materialization_peak_mb": summary(peaks),
            "materialization_peak_largest_process_mb": summary(largest),
            "materialization_step_seconds": steps,
            "training_seconds": summary(train_seconds),
            "training_cpu_seconds": summary(train_cpu),
            "training_rows": trainings[0]["training_rows"],
            "cv_accuracy": trainings[0]["cv_accuracy"],
            "repeats": repeats,
        }
        if model == args.scaling:
            figures["training_by_rows"] = scaling(model, repeats)
        path = run.save(figures, family=trainings[0]["family"])
        print(f"stamped: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
