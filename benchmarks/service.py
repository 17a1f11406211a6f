"""Service figures for the README: the BentoML service against a Flask baseline, under wrk.

For one model (`--model`, default titanic; every request's body is its domain's example
row). Trains the model once, registers it in a temporary BentoML store, then for each server in
turn (the real `bentoml serve` service, and benchmarks/flask_baseline.py under gunicorn, both
with 2 worker processes on loopback): time from start to ready, single-prediction
throughput and p50/p99 latency at concurrency 1, 8 and 32, error counts, rows/s for
1,000-row batches, and resident memory per process. A few seconds per level. Between
the two, the constant-answer services of benchmarks/constant_service.py at the same levels:
the framework's own cost, alone and behind the service's plumbing.

The shadow section (`--only shadow` runs it alone) measures what a challenger costs: one
`bentoml serve` (2 workers, models polled every second) alternately with and without a
candidate shadowing the serving model, in interleaved rounds (off, on, on, off, ...: this
machine's throughput drifts between runs, so only figures taken side by side compare). Each
round: /predict at concurrency 32, 1,000-row batches, and the CPU seconds the service's
processes spent per request. The prediction log lines of every round are read back: each one
of a shadowed round must carry the challenger's answers, none of an unshadowed one.

The figures are written stamped (benchmarks/stamp.py) to
benchmarks/results/service-<model>.json (service-servers-<model>.json, ... for one section).

Needs wrk (`apt-get install wrk`). Run with `uv run python benchmarks/service.py`
(`--model adult_income`; `--only servers` or `--only shadow` for one section).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.stamp import Stamp
from titanic_assets.core.domain import Domain, load_domain
from titanic_assets.core.instances import instance_names
from titanic_assets.testing import BIN, environment, free_port, model_log, poll, running

# The model measured (`--model`, select()): the configured model served (TITANIC_MODEL), its
# store and log folder; its domain; the domain's example row, the body of every request;
# the batch body's key.
MODEL = "titanic"
DOMAIN: Domain = load_domain(MODEL)
EXAMPLE = DOMAIN.example
ROWS = DOMAIN.words.rows

WORKERS = 2
SECONDS = 5
CONCURRENCY = (1, 8, 32)
BATCH = 1000
# Connections for the batch figure, the same for both servers. Four per worker: with fewer,
# uvicorn's eager accept can hand every keep-alive connection to one worker (seen here: one
# worker at 100% CPU, the other idle) and the figure measures the kernel, not the service.
BATCH_CONNECTIONS = 4 * WORKERS
# The shadow section: rounds of each kind (off and on), its load, and how many /model_info
# answers in a row must name the challenger (or none) before a round starts. An answer does
# not say which worker gave it, and one idle worker may take every new connection, so a
# round also waits for each worker's own log line of the swap.
SHADOW_ROUNDS = 6
SHADOW_CONNECTIONS = 32
SHADOW_BATCH_SECONDS = 3
SWITCH_PROBES = 3
IDLE_SECONDS = 3
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


def select(model: str) -> None:
    """Measure `model`: its domain, its example row, its batch key."""
    global MODEL, DOMAIN, EXAMPLE, ROWS
    MODEL, DOMAIN = model, load_domain(model)
    EXAMPLE, ROWS = DOMAIN.example, DOMAIN.words.rows


def labelled_rows(domain: Domain) -> Any:
    """The domain's shipped rows as the pipeline cleans them (read as the landing area
    reads a file: its missing values, row ids for a domain without an id column)."""
    import pandas as pd

    from titanic_assets.ml.cleaning import clean_rows, with_row_ids

    raw = pd.read_csv(domain.data, na_values=list(domain.missing_values))
    return clean_rows(domain, with_row_ids(domain, raw.assign(source=domain.data.name)))[0]


def store():
    """The served model's names in the BentoML model store (registry.ModelStore)."""
    from titanic_assets.core.instances import read_instance
    from titanic_assets.core.registry import ModelStore

    return ModelStore(read_instance(MODEL).serving_model_name)


def train_and_register(work: Path) -> tuple[Path, float]:
    """Train on the shipped data, save as the serving model; the pipeline file and threshold."""
    import bentoml

    from titanic_assets.core import registry

    tag, threshold = _train_and_save(store().serving, fraction=1.0)
    return Path(bentoml.models.get(tag).path_of(registry.PIPELINE_FILE)), threshold


def train_candidate() -> str:
    """A candidate trained on a 90% sample of the shipped data; its full tag. A model that
    answers differently from the serving one, so the shadow's answers are its own."""
    return _train_and_save(store().candidate, fraction=0.9)[0]


def _train_and_save(name: str, fraction: float) -> tuple[str, float]:
    """Train on `fraction` of the shipped rows and save under `name`; tag, threshold."""
    from titanic_assets.core import registry
    from titanic_assets.ml import modeling

    rows = labelled_rows(DOMAIN)
    if fraction < 1:
        rows = rows.sample(frac=fraction, random_state=7)
    model = modeling.train_model(DOMAIN, rows)
    evaluation = modeling.evaluate(DOMAIN, model, rows)
    tag = registry.save(
        name,
        pipeline=model.pipeline,
        reference=rows[list(DOMAIN.input_names)],
        reference_summary={},
        metadata={
            "threshold": model.threshold,
            "calibration": model.calibration.as_dict(),
            "metrics": {"held_out": evaluation.metrics},
            "train_rows": len(model.train_ids),
        },
        labels={"data_version": "benchmark", "code_version": "benchmark"},
    )
    return tag, model.threshold


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
    requests = re.search(r"(\d+) requests in", output)
    if requests is None or not re.search(r"^\s+99%", output, re.MULTILINE):
        raise RuntimeError(f"wrk printed no figures for {url}:\n{output}")
    # A latency of a second or more is printed with a trailing space ("1.40s ").
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": int(requests.group(1)),
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
    single.write_text(json.dumps(EXAMPLE))
    batch.write_text(json.dumps({ROWS: [EXAMPLE] * BATCH}))
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
    single.write_text(json.dumps(EXAMPLE))
    wrk(f"{url}/predict", single, 8, seconds=2)  # warm-up
    return {f"c{c}": wrk(f"{url}/predict", single, c) for c in CONCURRENCY}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=instance_names(), default=MODEL, help="the model served")
    parser.add_argument(
        "--only", choices=("servers", "shadow"), help="one section (default: both, servers first)"
    )
    parser.add_argument(
        "--rounds", type=int, default=SHADOW_ROUNDS, help="shadow rounds, each one off and one on"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    select(args.model)
    run = Stamp("service" if args.only is None else f"service-{args.only}", MODEL)
    work = Path(tempfile.mkdtemp(prefix=f"{MODEL}-service-bench-"))
    os.environ.update(environment(work))  # the models are registered in work's store
    pipeline_file, threshold = train_and_register(work)
    figures: dict[str, Any] = {"example": EXAMPLE, "workers": WORKERS, "seconds": SECONDS}
    if args.only in (None, "servers"):
        figures["servers"] = compare_servers(work, pipeline_file, threshold)
        report(figures["servers"])
    correct = True
    if args.only in (None, "shadow"):
        figures["shadow"] = measure_shadow(work, train_candidate(), args.rounds)
        correct = report_shadow(figures["shadow"])
    from titanic_assets.core import registry

    family = registry.load(store().promoted_tag()).family
    print(f"stamped: {run.save(figures, family=family)}")
    if not correct:
        sys.exit(
            "The prediction log did not match the shadow state of every round (above); "
            f"the logs are kept in {work}"
        )
    shutil.rmtree(work, ignore_errors=True)


def compare_servers(work: Path, pipeline_file: Path, threshold: float) -> dict:
    """The service, the constant-answer services and the Flask baseline, one after another."""
    results = {}
    env = environment(work, {"TITANIC_SERVING_WORKERS": str(WORKERS), "TITANIC_MODEL": MODEL})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "bentoml"), "serve", "bento.service:ModelService",
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
        work,
        {
            "TITANIC_PIPELINE": str(pipeline_file),
            "TITANIC_THRESHOLD": str(threshold),
            "TITANIC_MODEL": MODEL,
        },
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
               "benchmarks.flask_baseline:app"]  # fmt: skip
    with serving(command, env, f"{url}/health", work / "flask.log") as (process, ready):
        results["flask"] = measure("flask", process, ready, url, work)

    return results


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
            f"{BATCH}-row batches: rows/s (errors)",
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


# --- the shadow section --------------------------------------------------------------------


def measure_shadow(work: Path, candidate: str, rounds: int) -> dict:
    """One service, `rounds` rounds of each kind: with `candidate` shadowing and without, in
    the order off, on, on, off, off, on, ... so that neither kind always runs first (this
    machine's throughput drifts) and the challenger changes only every other measurement."""
    import psutil

    env = environment(
        work,
        {
            "TITANIC_SERVING_WORKERS": str(WORKERS),
            "TITANIC_MODEL_POLL_SECONDS": "1",
            "TITANIC_MODEL": MODEL,
        },
    )
    single, batch = work / "shadow-single.json", work / "shadow-batch.json"
    single.write_text(json.dumps(EXAMPLE))
    batch.write_text(json.dumps({ROWS: [EXAMPLE] * BATCH}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "bentoml"), "serve", "bento.service:ModelService",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    service_log = work / "shadow.log"
    with serving(command, env, f"{url}/readyz", service_log) as (process, _):
        root = psutil.Process(process.pid)
        log = LogTail(model_log(work, MODEL))
        for on in (True, False):  # warm-up: both models have scored before any round counts
            set_shadow(url, candidate, on, service_log)
            wrk(f"{url}/predict", single, 8, seconds=2)
            wrk(f"{url}/predict_batch", batch, BATCH_CONNECTIONS, seconds=1)
        log.read()
        # What the service spends with no traffic (the workers polling the store every
        # second), in every round's CPU figure alike.
        idle = service_cpu_seconds(root)
        time.sleep(IDLE_SECONDS)
        idle = (service_cpu_seconds(root) - idle) / IDLE_SECONDS
        figures, shadowing = [], False
        for number in range(1, rounds + 1):
            for on in (False, True) if number % 2 else (True, False):
                swap = set_shadow(url, candidate, on, service_log) if on != shadowing else None
                shadowing = on
                figures.append(
                    {
                        "round": number,
                        "shadow": on,
                        "swap_seconds": swap,
                        **shadow_round(root, url, single, batch, log, candidate if on else None),
                    }
                )
        processes = [" ".join(p.cmdline()[:4]) for p in [root, *root.children(recursive=True)]]

    def commit(*paths: str) -> str:
        log = ["git", "log", "-1", "--format=%h", "--", *paths]
        return subprocess.run(log, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "commit": f"{commit('bento', 'titanic_assets')} (service code; checkout {commit()})",
        "candidate": candidate,
        "processes": processes,
        "idle_cpu_percent": round(idle * 100, 1),
        "rounds": figures,
    }


def set_shadow(url: str, candidate: str, on: bool, service_log: Path) -> float:
    """Record `candidate` as shadowing (on) or retired, as the operator command does; the
    seconds until SWITCH_PROBES /model_info answers in a row name it (or no challenger) and
    every worker has logged the swap (bento/model_slots.py: "Challenger: <tag or none>")."""
    import httpx

    from titanic_assets.core import registry

    started = time.perf_counter()
    offset = service_log.stat().st_size
    status = registry.SHADOWING if on else registry.RETIRED
    store().record_challenger(candidate, status, "benchmarks/service.py, shadow section")
    wanted = candidate.split(":", 1)[1] if on else None
    swapped = f"Challenger: {candidate if on else 'none'}"

    def switched() -> bool:
        for _ in range(SWITCH_PROBES):
            challenger = httpx.get(f"{url}/model_info", timeout=5).json()["challenger"]
            if (challenger and challenger["model_version"]) != wanted:
                return False
        with service_log.open("rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode(errors="replace").splitlines()
        workers = set()
        for line in lines:
            if swapped in line:  # a JSON log line (TITANIC_LOG_FORMAT's default)
                workers.add(json.loads(line)["component"])
        return len(workers) == WORKERS

    poll(f"every worker to name challenger {wanted}", switched, 60, every=0.1)
    return time.perf_counter() - started


def service_cpu_seconds(root) -> float:
    """User + system CPU seconds used so far by the server: its main process and every
    process under it (the workers)."""
    import psutil

    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def shadow_round(
    root, url: str, single: Path, batch: Path, log: LogTail, challenger: str | None
) -> dict:
    """/predict at SHADOW_CONNECTIONS, then 1,000-row batches, each with the service's
    CPU time per request (per row); then the round's prediction log lines checked against
    `challenger` (the tag that should shadow, None: none).

    wrk stops with requests in flight, which the service still answers and logs (a batch
    takes ~100 ms): each part ends when the service is quiet again, and the requests and
    rows are counted from the lines it logged, so each part's CPU time and count hold the
    same requests and no round's leftovers fall into the next."""
    before = service_cpu_seconds(root)
    single_run = wrk(f"{url}/predict", single, SHADOW_CONNECTIONS)
    between = settled(root)
    single_lines = log.read()
    batched = wrk(f"{url}/predict_batch", batch, BATCH_CONNECTIONS, SHADOW_BATCH_SECONDS)
    after = settled(root)
    batch_lines = log.read()
    requests = sum(len(worker) for worker in single_lines.values())
    rows = sum(len(line["ids"]) for worker in batch_lines.values() for line in worker)
    lines = {
        w: single_lines.get(w, []) + batch_lines.get(w, []) for w in {*single_lines, *batch_lines}
    }
    return {
        **single_run,
        "cpu_us_per_request": round((between - before) / requests * 1e6, 1),
        "batch_rows_per_second": round(batched["requests_per_second"] * BATCH),
        "batch_p50_ms": batched["p50_ms"],
        "batch_errors": batched["errors"],
        "cpu_us_per_batch_row": round((after - between) / rows * 1e6, 2),
        "log": check_log(lines, challenger),
    }


def settled(root, quiet: float = 0.1, every: float = 0.25) -> float:
    """The service's CPU seconds once it is quiet: under `quiet` of a CPU over `every` s
    (with no traffic it uses ~2%: the workers polling the store)."""
    deadline = time.monotonic() + 30
    last = service_cpu_seconds(root)
    while time.monotonic() < deadline:
        time.sleep(every)
        now = service_cpu_seconds(root)
        if now - last < quiet * every:
            return now
        last = now
    raise RuntimeError("the service kept busy 30 s after the load stopped")


class LogTail:
    """The prediction log's lines written since the last `read`, by worker (the process id
    in each file's name; core/prediction_log.py)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}
        self.read()

    def read(self) -> dict[str, list[dict]]:
        lines: dict[str, list[dict]] = {}
        for path in sorted(self.folder.glob("predictions-*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                data = handle.read()
            # Every request's line is written and flushed before it is answered, and wrk
            # has finished: no line is half-written.
            self.offsets[path] = self.offsets.get(path, 0) + len(data)
            if not data:  # e.g. the servers section's workers, in the same folder: not this one's
                continue
            worker = re.search(r"-(\d+)(?:-p\d+)?\.jsonl$", path.name).group(1)
            lines.setdefault(worker, []).extend(json.loads(line) for line in data.splitlines())
        return lines


def check_log(lines: dict[str, list[dict]], challenger: str | None) -> dict:
    """Whether every line carries the challenger's answers, one per row, from
    `challenger`'s version (when one should shadow), or none does (when none should)."""
    version = challenger.split(":", 1)[1] if challenger else None
    wrong: dict[str, list[float]] = {}  # worker: the wrong lines' times
    for worker, worker_lines in lines.items():
        for line in worker_lines:
            shadow = line.get("challenger")
            if version is None:
                right = shadow is None
            else:
                right = (
                    shadow is not None
                    and shadow["model_version"] == version
                    and len(shadow["probability"]) == len(shadow["predicted"]) == len(line["ids"])
                )
            if not right:
                wrong.setdefault(worker, []).append(line["timestamp"])
    start = min((line["timestamp"] for w in lines.values() for line in w), default=0)
    return {
        "lines_per_worker": {worker: len(worker_lines) for worker, worker_lines in lines.items()},
        "with_challenger": sum("challenger" in line for w in lines.values() for line in w),
        "wrong": sum(map(len, wrong.values())),
        # when the wrong lines were written, seconds into the round, by worker
        "wrong_at": {w: [round(t - start, 2) for t in ts[:5]] for w, ts in wrong.items()},
        "correct": not wrong and len(lines) == WORKERS,  # and both workers were checked
    }


def report_shadow(results: dict) -> bool:
    """The figures off and on side by side, the targets, each round; True when every round's
    log matched its shadow state."""
    print(json.dumps(results, indent=2))
    rounds = results["rounds"]
    off = [r for r in rounds if not r["shadow"]]
    on = [r for r in rounds if r["shadow"]]

    def median(kind: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in kind)

    def tail_ratio(kind: list[dict]) -> float:
        return statistics.median(r["p99_ms"] / r["p50_ms"] for r in kind)

    # Within a round the two kinds ran back to back, so their ratio is the least disturbed
    # by the machine's drift.
    def paired(key: str) -> list[float]:
        return [b[key] / a[key] for a in off for b in on if a["round"] == b["round"]]

    def spread(ratios: list[float]) -> str:
        return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"

    throughput = median(on, "requests_per_second") / median(off, "requests_per_second")
    print(
        f"\nShadow scoring, commit {results['commit']}; challenger {results['candidate']}; "
        f"{len(off)} rounds of each kind, /predict at concurrency {SHADOW_CONNECTIONS} "
        f"for {SECONDS} s, then {BATCH:,}-row batches for {SHADOW_BATCH_SECONDS} s; "
        f"{WORKERS} workers; with no traffic, the service used {results['idle_cpu_percent']}% "
        "of a CPU.\n"
    )
    print(
        "| figure | shadow off | shadow on | on / off, medians | on / off within each round: "
        "median (min-max) |\n| --- | --- | --- | --- | --- |"
    )
    for label, key, digits in (
        (f"/predict c={SHADOW_CONNECTIONS} req/s, median", "requests_per_second", 0),
        ("p50 ms, median", "p50_ms", 2),
        ("p99 ms, median", "p99_ms", 2),
        ("service CPU µs per request, median", "cpu_us_per_request", 0),
        (f"{BATCH:,}-row batches: rows/s, median", "batch_rows_per_second", 0),
        ("service CPU µs per batch row, median", "cpu_us_per_batch_row", 1),
    ):
        a, b = median(off, key), median(on, key)
        print(
            f"| {label} | {a:,.{digits}f} | {b:,.{digits}f} | {b / a:.2f} | {spread(paired(key))} |"
        )
    print(f"| p99 / p50, median of rounds | {tail_ratio(off):.1f} | {tail_ratio(on):.1f} | | |")
    for label, key in (("errors, all rounds (/predict)", "errors"),
                       ("errors, all rounds (batches)", "batch_errors")):  # fmt: skip
        print(f"| {label} | {sum(r[key] for r in off)} | {sum(r[key] for r in on)} | | |")
    print(
        "| log lines read: with the challenger's answers / all | "
        + " | ".join(
            f"{sum(r['log']['with_challenger'] for r in kind):,} / "
            f"{sum(sum(r['log']['lines_per_worker'].values()) for r in kind):,}"
            for kind in (off, on)
        )
        + " | | |"
    )
    swaps = {kind: [r["swap_seconds"] for r in rs if r["swap_seconds"]]
             for kind, rs in (("off", off), ("on", on))}  # fmt: skip
    print(
        "| seconds from the record to every worker switched, median | "
        + " | ".join(f"{statistics.median(s):.1f}" if s else "-" for s in swaps.values())
        + " | | |"
    )
    print(
        "\n| round | shadow | req/s | p50 / p99 ms | p99/p50 | CPU µs/req | errors "
        "| batch rows/s | CPU µs/row | log lines per worker (with challenger) | log right |"
        "\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for r in rounds:
        lines = ", ".join(map(str, r["log"]["lines_per_worker"].values()))
        print(
            f"| {r['round']} | {'on' if r['shadow'] else 'off'} | "
            f"{r['requests_per_second']:.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
            f"{r['p99_ms'] / r['p50_ms']:.1f} | {r['cpu_us_per_request']:.0f} | "
            f"{r['errors'] + r['batch_errors']} | {r['batch_rows_per_second']:,} | "
            f"{r['cpu_us_per_batch_row']:.1f} | {lines} ({r['log']['with_challenger']}) | "
            f"{'yes' if r['log']['correct'] else 'NO'} |"
        )
    met = {
        "throughput on >= 0.8 x off": throughput >= 0.8,
        "p99 <= 3 x p50, off": tail_ratio(off) <= 3,
        "p99 <= 3 x p50, on": tail_ratio(on) <= 3,
    }
    print("\nTargets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in met.items()))
    print(f"(throughput on / off: {throughput:.2f} of the medians, "
          f"{statistics.median(paired('requests_per_second')):.2f} the median within "
          "rounds)")  # fmt: skip
    return all(r["log"]["correct"] for r in rounds)


if __name__ == "__main__":
    main()
