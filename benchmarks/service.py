"""Service figures for the README: the BentoML service against a Flask baseline, under wrk.

Trains the model once, registers it in a temporary BentoML store, then for each server in
turn (the real `bentoml serve` service, and benchmarks/flask_baseline.py under gunicorn, both
with 2 worker processes on loopback): time from start to ready, single-prediction
throughput and p50/p99 latency at concurrency 1, 8 and 32, error counts, rows/s for
1,000-passenger batches, and resident memory per process. A few seconds per level. Between
the two, the constant-answer services of benchmarks/constant_service.py at the same levels:
the framework's own cost, alone and behind the service's plumbing.

Needs wrk (`apt-get install wrk`). Run with `uv run python benchmarks/service.py`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from titanic_assets.testing import BIN, PASSENGER, environment, free_port, poll, running

WORKERS = 2
SECONDS = 5
CONCURRENCY = (1, 8, 32)
BATCH = 1000
# Connections for the batch figure, the same for both servers. Four per worker: with fewer,
# uvicorn's eager accept can hand every keep-alive connection to one worker (seen here: one
# worker at 100% CPU, the other idle) and the figure measures the kernel, not the service.
BATCH_CONNECTIONS = 4 * WORKERS
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


def train_and_register(work: Path) -> tuple[Path, float]:
    """Train on the shipped data, save as the serving model; the pipeline file and threshold."""
    import pandas as pd

    from titanic_assets.core import registry
    from titanic_assets.core.contract import RAW_INPUTS
    from titanic_assets.defs.resources import SHIPPED_PASSENGERS
    from titanic_assets.ml import modeling
    from titanic_assets.ml.cleaning import clean_passengers

    passengers, _ = clean_passengers(pd.read_csv(SHIPPED_PASSENGERS).assign(source="x"))
    model = modeling.train_survival_model(passengers)
    evaluation = modeling.evaluate(model, passengers)
    tag = registry.save(
        registry.SERVING_MODEL_NAME,
        pipeline=model.pipeline,
        reference=passengers[list(RAW_INPUTS)],
        reference_summary={},
        metadata={
            "threshold": model.threshold,
            "calibration": model.calibration.as_dict(),
            "metrics": {"held_out": evaluation.metrics},
            "train_rows": len(model.train_ids),
        },
        labels={"data_version": "benchmark", "code_version": "benchmark"},
    )
    import bentoml

    return Path(bentoml.models.get(tag).path_of(registry.PIPELINE_FILE)), model.threshold


@contextmanager
def serving(
    command: list[str], env: dict[str, str], ready_url: str, log: Path
) -> Iterator[tuple[subprocess.Popen, float]]:
    """A server in its own process group, stopped with it on exit; yields the process and
    the seconds from its start until ready_url answered 200."""
    import httpx

    started = time.perf_counter()
    with running(command, log, env) as process:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            return httpx.get(ready_url, timeout=2).status_code == 200

        poll(f"{command[0]} to answer {ready_url}", ready, 120, every=0.05)
        yield process, time.perf_counter() - started


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, body_file: Path, connections: int, seconds: int = SECONDS) -> dict:
    """One wrk run: requests/s, p50/p99 latency (ms), errors (non-2xx + socket errors)."""
    script = body_file.with_suffix(".lua")
    script.write_text(LUA.format(body=body_file))
    output = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _milliseconds(percentiles["50"]),
        "p99_ms": _milliseconds(percentiles["99"]),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, sockets.groups())) if sockets else 0),
    }


def memory_mib(process: subprocess.Popen) -> list[float]:
    """Resident memory of the server's processes (main process first), MiB."""
    import psutil

    root = psutil.Process(process.pid)
    tree = [root, *root.children(recursive=True)]
    return [round(p.memory_info().rss / 2**20, 1) for p in tree if p.is_running()]


def measure(name: str, process, ready_seconds: float, url: str, work: Path) -> dict:
    single, batch = work / f"{name}-single.json", work / f"{name}-batch.json"
    single.write_text(json.dumps(PASSENGER))
    batch.write_text(json.dumps({"passengers": [PASSENGER] * BATCH}))
    wrk(f"{url}/predict", single, 8, seconds=2)  # warm-up
    figures = {"ready_seconds": round(ready_seconds, 2)}
    for connections in CONCURRENCY:
        figures[f"c{connections}"] = wrk(f"{url}/predict", single, connections)
    # Two connections per worker: with one each, the kernel's port balancing often puts
    # both on the same worker and leaves the other idle.
    batched = wrk(f"{url}/predict_batch", batch, BATCH_CONNECTIONS)
    figures["batch_rows_per_second"] = round(batched["requests_per_second"] * BATCH)
    figures["batch_p50_ms"] = batched["p50_ms"]
    figures["batch_errors"] = batched["errors"]
    figures["memory_mib"] = memory_mib(process)
    return figures


def measure_single(url: str, work: Path) -> dict:
    single = work / "constant-single.json"
    single.write_text(json.dumps(PASSENGER))
    wrk(f"{url}/predict", single, 8, seconds=2)  # warm-up
    return {f"c{c}": wrk(f"{url}/predict", single, c) for c in CONCURRENCY}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="titanic-service-bench-"))
    os.environ.update(environment(work))  # the model is registered in work's store
    pipeline_file, threshold = train_and_register(work)
    results = {}

    env = environment(work, {"TITANIC_SERVING_WORKERS": str(WORKERS)})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "bentoml"), "serve", "bento.service:TitanicSurvival",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with serving(command, env, f"{url}/readyz", work / "bentoml.log") as (process, ready):
        results["bentoml"] = measure("bentoml", process, ready, url, work)

    # The same framework answering a constant (benchmarks/constant_service.py), alone and
    # behind the service's plumbing: what is left of the difference is the project's own work.
    for name in ("ConstantAnswer", "ConstantAnswerAsServed"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(BIN / "bentoml"), "serve", f"benchmarks.constant_service:{name}",
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        with serving(command, env, f"{url}/livez", work / f"{name}.log"):
            results[name] = measure_single(url, work)

    env = environment(
        work, {"TITANIC_PIPELINE": str(pipeline_file), "TITANIC_THRESHOLD": str(threshold)}
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
               "benchmarks.flask_baseline:app"]  # fmt: skip
    with serving(command, env, f"{url}/health", work / "flask.log") as (process, ready):
        results["flask"] = measure("flask", process, ready, url, work)

    report(results)
    shutil.rmtree(work, ignore_errors=True)


def report(results: dict) -> None:
    print(json.dumps(results, indent=2))
    rows = [
        ("time to ready (s)", lambda r: f"{r['ready_seconds']:.1f}"),
        *[
            (
                f"c={c}: req/s, p50/p99 ms, errors",
                lambda r, c=c: (
                    f"{r[f'c{c}']['requests_per_second']:.0f}, "
                    f"{r[f'c{c}']['p50_ms']:.2f}/{r[f'c{c}']['p99_ms']:.2f}, {r[f'c{c}']['errors']}"
                ),
            )
            for c in CONCURRENCY
        ],
        (
            f"{BATCH}-passenger batches: rows/s (errors)",
            lambda r: f"{r['batch_rows_per_second']:,} ({r['batch_errors']})",
        ),
        ("memory per process (MiB, main first)", lambda r: ", ".join(map(str, r["memory_mib"]))),
    ]
    print("\n| figure | BentoML service | Flask + pandas baseline |\n| --- | --- | --- |")
    for label, cell in rows:
        print(f"| {label} | {cell(results['bentoml'])} | {cell(results['flask'])} |")
    speedup = (
        results["bentoml"]["c32"]["requests_per_second"]
        / results["flask"]["c32"]["requests_per_second"]
    )
    print(f"\nThroughput at concurrency 32: {speedup:.1f}x the Flask baseline.")
    ours, constant, served = (
        results["bentoml"],
        results["ConstantAnswer"],
        results["ConstantAnswerAsServed"],
    )
    print(
        "\n| concurrency | service req/s | constant-answer req/s | ratio | constant behind the "
        "service's plumbing req/s | ratio | service p50 / p99 ms | p99 / p50 "
        "| constant p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|"
    )
    for c in CONCURRENCY:
        a, b, m = ours[f"c{c}"], constant[f"c{c}"], served[f"c{c}"]
        print(
            f"| {c} | {a['requests_per_second']:.0f} | {b['requests_per_second']:.0f} | "
            f"{a['requests_per_second'] / b['requests_per_second']:.2f} | "
            f"{m['requests_per_second']:.0f} | "
            f"{a['requests_per_second'] / m['requests_per_second']:.2f} | "
            f"{a['p50_ms']:.2f} / {a['p99_ms']:.2f} | {a['p99_ms'] / a['p50_ms']:.1f} | "
            f"{b['p50_ms']:.2f} / {b['p99_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
