"""Pipeline figures for the README: code-location load time, a full materialization's wall
time and peak memory, and the training time alone.

Each figure is measured in a fresh Python process, so imports and caches of one measurement
do not flatter the next. Run with `make bench` or `uv run python benchmarks/pipeline.py`
(`--repeats 1` for a quick look). The materialization is the Titanic model's graph, as
`make materialize` runs it (every asset and check but the hourly traffic partitions).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

REPEATS = 3

LOAD = """
import time
started = time.perf_counter()
from titanic_assets.definitions import defs
defs().get_repository_def()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

MATERIALIZE = """
import resource, tempfile, time
from pathlib import Path
import dagster as dg
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea
from titanic_assets.testing import unpartitioned

defs = load_definitions()

root = Path(tempfile.mkdtemp())
with dg.instance_for_test(temp_dir=str(root)) as instance:
    started = time.perf_counter()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=unpartitioned("titanic"),
        instance=instance,
        resources={
            **defs.resources,
            "landing_area": LocalLandingArea(directory=str(root / "landing")),
            "io_manager": dg.FilesystemIOManager(base_dir=str(root / "storage")),
        },
    )
    seconds = time.perf_counter() - started
assert result.success
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
"""

TRAIN = """
import time
import pandas as pd
from titanic_assets.core.domain import load_domain
from titanic_assets.ml.cleaning import clean_rows
from titanic_assets.ml.modeling import train_model

domain = load_domain("titanic")
raw = pd.read_csv(domain.data).assign(source=domain.data.name)
table = clean_rows(domain, raw)[0]
started = time.perf_counter()
model = train_model(domain, table)
accuracy = model.cross_validation.accuracy.estimate
print(json.dumps({"seconds": time.perf_counter() - started, "cv_accuracy": accuracy}))
"""


def measure(script: str) -> dict[str, float]:
    """Run `script` in a fresh interpreter and return the JSON it prints last."""
    code = "import json\n" + textwrap.dedent(script)
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "yes"},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per figure")
    repeats = parser.parse_args().repeats
    loads = [measure(LOAD)["seconds"] for _ in range(repeats)]
    runs = [measure(MATERIALIZE) for _ in range(repeats)]
    trainings = [measure(TRAIN) for _ in range(repeats)]

    print(f"runs per figure: {repeats} (median shown, min-max in brackets)")
    print(
        f"code location load:        {statistics.median(loads):6.2f} s"
        f"  [{min(loads):.2f}-{max(loads):.2f}]"
    )
    seconds = [r["seconds"] for r in runs]
    peaks = [r["peak_mb"] for r in runs]
    print(
        f"full materialization:      {statistics.median(seconds):6.2f} s"
        f"  [{min(seconds):.2f}-{max(seconds):.2f}]  (all assets and checks, in process)"
    )
    print(
        f"  peak memory (RSS):       {statistics.median(peaks):6.0f} MB"
        f"  [{min(peaks):.0f}-{max(peaks):.0f}]"
    )
    train_seconds = [t["seconds"] for t in trainings]
    print(
        f"training alone:            {statistics.median(train_seconds):6.2f} s"
        f"  [{min(train_seconds):.2f}-{max(train_seconds):.2f}]"
        f"  (5 x 5 repeated CV + calibration + fit; CV accuracy {trainings[0]['cv_accuracy']:.3f})"
    )


if __name__ == "__main__":
    main()
