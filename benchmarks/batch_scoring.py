"""How fast batch scoring is and whether its memory stays flat. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/batch_scoring.py [--rows 10000 1000000] [--chunk-rows N]

Input: unlabelled passenger files resampled (with replacement, new PassengerIds) from the
shipped CSV, 1% of rows made invalid so the rejects path is exercised. The model: one
trained on the shipped data as the pipeline does. Each size is scored by
`batch_scoring.score_file` (what the batch_predictions asset runs per file) in a fresh subprocess,
from a local file to local files, so the peak RSS belongs to that run alone; the RSS after
imports and model loading is printed beside it, so what scoring itself adds is visible.
The figures are written stamped (benchmarks/stamp.py) to
benchmarks/results/batch_scoring-titanic.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp

# Peak RSS from VmHWM: it starts afresh at exec, unlike ru_maxrss, which Linux carries over
# from the forking parent (here, one holding a million-row table).
CHILD = """
import json, pickle, sys, time
from titanic_assets.core import batch_scoring
from titanic_assets.core.domain import load_domain
domain = load_domain("titanic")
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
with open(sys.argv[1], "rb") as handle:
    model = pickle.load(handle)
import pandas, numpy  # noqa: F401  (imported before the baseline, as in a Dagster run)
baseline = peak_kb()
started = time.perf_counter()
with open(sys.argv[2], "rb") as source, open(sys.argv[3], "wb") as out, \\
        open(sys.argv[4], "wb") as rejects:
    summary = batch_scoring.score_file(source, model, out, rejects, domain.inputs,
                                       domain.id_column, domain.words.decision,
                                       chunk_rows=int(sys.argv[5]))
seconds = time.perf_counter() - started
peak = peak_kb()
print(json.dumps({"rows": summary.rows, "scored": summary.scored, "rejected": summary.rejected,
                  "seconds": seconds, "baseline_mb": baseline / 1024, "peak_mb": peak / 1024}))
"""


def registered_model(work: Path) -> Path:
    """A model trained on the shipped data, pickled as the registry would load it."""
    from datetime import UTC, datetime

    import pandas as pd

    from titanic_assets.core.domain import load_domain
    from titanic_assets.core.instances import read_instance
    from titanic_assets.core.registry import PIPELINE_FILE, RegisteredModel
    from titanic_assets.ml.cleaning import clean_rows
    from titanic_assets.ml.modeling import train_model

    domain = load_domain("titanic")
    raw = pd.read_csv(domain.data).assign(source=domain.data.name)
    trained = train_model(domain, clean_rows(domain, raw)[0])
    (work / PIPELINE_FILE).write_bytes(pickle.dumps(trained.pipeline))
    model = RegisteredModel(
        tag=f"{read_instance('titanic').serving_model_name}:benchmark", version="benchmark",
        path=str(work), created_at=datetime.now(UTC), threshold=trained.threshold, metadata={},
        labels={},
    )  # fmt: skip
    model.pipeline  # noqa: B018 (loaded here, pickled with the model)
    path = work / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


def passenger_file(work: Path, rows: int, seed: int = 7) -> Path:
    import numpy as np
    import pandas as pd

    from titanic_assets.core.domain import load_domain

    domain = load_domain("titanic")
    shipped = pd.read_csv(domain.data).drop(columns=[domain.label])
    rng = np.random.default_rng(seed)
    table = shipped.iloc[rng.integers(0, len(shipped), rows)].reset_index(drop=True)
    table[domain.id_column] = np.arange(1, rows + 1)
    broken = rng.choice(rows, size=rows // 100, replace=False)
    table.loc[broken, "Pclass"] = 4
    path = work / f"passengers-{rows}.csv"
    table.to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--chunk-rows", type=int, default=None)
    args = parser.parse_args()
    from titanic_assets.core.batch_scoring import CHUNK_ROWS
    from titanic_assets.core.domain import load_domain

    run = Stamp("batch_scoring", "titanic")
    chunk_rows = args.chunk_rows or CHUNK_ROWS
    sizes = []
    with tempfile.TemporaryDirectory(prefix="batch-scoring-bench-") as tmp:
        work = Path(tmp)
        model = registered_model(work)
        print(f"chunk_rows={chunk_rows}")
        print(f"{'rows':>10} {'rejected':>9} {'seconds':>8} {'rows/s':>10} "
              f"{'RSS after load':>15} {'peak RSS':>9} {'input MB':>9}")  # fmt: skip
        for rows in args.rows:
            source = passenger_file(work, rows)
            outputs = [str(work / "out.csv"), str(work / "rejects.csv")]
            command = [sys.executable, "-c", CHILD, str(model), str(source), *outputs,
                       str(chunk_rows)]  # fmt: skip
            started = time.perf_counter()
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            figures = json.loads(output.strip().splitlines()[-1])
            assert figures["rows"] == rows, figures
            process = time.perf_counter() - started
            print(
                f"{rows:>10,} {figures['rejected']:>9,} {figures['seconds']:>8.2f} "
                f"{rows / figures['seconds']:>10,.0f} {figures['baseline_mb']:>12.0f} MB "
                f"{figures['peak_mb']:>6.0f} MB {source.stat().st_size / 1e6:>9.1f}"
                f"   (process {process:.1f} s)"
            )
            sizes.append(
                {
                    "rows": rows,
                    "rejected": figures["rejected"],
                    "seconds": round(figures["seconds"], 2),
                    "rows_per_second": round(rows / figures["seconds"]),
                    "rss_after_load_mb": round(figures["baseline_mb"]),
                    "peak_rss_mb": round(figures["peak_mb"]),
                    "input_mb": round(source.stat().st_size / 1e6, 1),
                    "process_seconds": round(process, 1),
                }
            )
    stamped = run.save({"chunk_rows": chunk_rows, "sizes": sizes}, load_domain("titanic").family)
    print(f"stamped: {stamped}")


if __name__ == "__main__":
    main()
