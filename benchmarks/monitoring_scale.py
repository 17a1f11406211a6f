"""Monitoring at scale: what a sensor tick, an hourly run and the windows cost as history
grows. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/monitoring_scale.py [--sizes 1e6,1e7] [--quick]
        [--service] [--keep]

In a throwaway environment (its own Dagster instance, model store and prediction log) with
the first model promoted, synthetic traffic is written in the landing format the service
writes (core/prediction_log.py, core/outcomes.py): batch requests of 200 shipped passengers
per line, the promoted model's version and its real probabilities, two writers (workers)
with files rolled over at 64 MB, file times set to when they would have been written. The
history is spread over the 10 days before the newest hour, which holds NEWEST_HOUR
(1,000,000) predictions, the issue's "hour of 1,000,000 predictions"; ~10% of predictions
get their outcome 1-3 days later (files named by arrival and prediction hour; outcomes that
would arrive after now are not written). The model is backdated to 10 days ago, so "since
promotion" spans the whole history (what the checks judge).

Per history size (the larger extends the smaller: more writers in the same hours), after
the history hours are compacted once (timed as the backfill, straight through
core/compaction.py, not as Dagster runs):
- one tick of each sensor, in-process on the instance, as a long-lived code server
  evaluates it (after a warm-up tick);
- one hourly run of the newest hour (`hourly_traffic_job` for its partition) and the
  monitoring windows run (`monitoring_windows`: drift since promotion, last 24 hours and
  newest hour, model_performance, their checks), each in a fresh process: time of the run
  and of the whole process (imports included), and the process's peak RSS (wait4);
- a 24-hour drift window and a 7-day performance window on their own (fresh processes).
Each timed step runs `--repeat` (3) times; medians are printed.

`--service`: afterwards, the real service (2 workers) is sent 2,000,000 predictions through
/predict_batch at 200 passengers a request from several client threads, then
`python -m titanic_assets.commands.monitor --model titanic` (`make monitor`) is timed, and the
landing sensor's tick before and after the traffic.

The model measured is the Titanic one (MODEL): its prediction log folder under the log root,
its store names, its jobs and sensors (named per model).

Targets (issue 19): a sensor tick <= 1 s at any history size; an hour of 1,000,000
predictions compacted and monitored <= 20 s and <= 1 GB; the newest-hour run with 10x the
history within 20% of its time with 1x; `make monitor` after 2,000,000 predictions
<= 90 s and <= 1 GiB, no tick more than 5 s slower than before the traffic.

The figures are written stamped (benchmarks/stamp.py) to
benchmarks/results/monitoring_scale-titanic.json: the history written per size, the table
printed (seconds, MiB or counts per step and size), the checks' verdicts, and the service
phase's figures when it ran.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project root, for `benchmarks.stamp`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stamp import Stamp
from titanic_assets.testing import BIN, ROOT, environment, materialize_first_model, model_log

BATCH = 200
NEWEST_HOUR = 1_000_000
DAYS = 10
OUTCOME_SHARE = 0.10
MAX_FILE_BYTES = 64 * 2**20  # the writer's rollover (TITANIC_PREDICTION_LOG_MAX_MB)
POOL = 500  # distinct batches of passengers the lines are drawn from
WRITERS = 2  # worker processes writing the landing files
SERVICE_CLIENTS = 4
HOUR = "%Y%m%d%H"
MODEL = "titanic"  # the configured model measured (its instance, domain, store, log folder)
LANDING_SENSOR = f"{MODEL}_hourly_traffic_on_landing"
WINDOWS_SENSOR = f"{MODEL}_monitoring_windows_on_new_hours"


def model_parts():
    """The measured model's domain and its names in the model store."""
    from titanic_assets.core.domain import load_domain
    from titanic_assets.core.instances import read_instance
    from titanic_assets.core.registry import ModelStore

    instance = read_instance(MODEL)
    return load_domain(instance.domain), ModelStore(instance.serving_model_name)


# -- synthetic traffic in the landing format ---------------------------------------------------


class Traffic:
    """Lines of batch requests built as strings: a pool of scored batches of shipped
    passengers, each line one of them with a fresh request id, ids and timestamp."""

    def __init__(self, seed: int = 7) -> None:
        import numpy as np
        import pandas as pd

        from titanic_assets.core import registry

        domain, store = model_parts()
        names = domain.input_names
        model = registry.load(store.promoted_tag())
        shipped = pd.read_csv(domain.data)
        self.version = model.version
        probabilities = np.round(model.probabilities(shipped[list(names)]), 6)
        predicted = probabilities >= model.threshold
        encoded = {
            name: [json.dumps(None if _missing(v) else _plain(v)) for v in shipped[name]]
            for name in names
        }
        rng = np.random.default_rng(seed)
        self.bodies, self.truth = [], []
        for _ in range(POOL):
            rows = rng.integers(0, len(shipped), BATCH)
            inputs = ",".join(
                f'"{name}":[' + ",".join(encoded[name][i] for i in rows) + "]" for name in names
            )
            self.bodies.append(
                f'"inputs":{{{inputs}}},"probability":['
                + ",".join(repr(float(probabilities[i])) for i in rows)
                + '],"predicted":['
                + ",".join("true" if predicted[i] else "false" for i in rows)
                + "]}\n"
            )
            positive = (shipped[domain.label] == domain.positive).to_numpy()
            self.truth.append(["true" if positive[i] else "false" for i in rows])
        # A batch's i-th passenger is `<request id>-<i>`: the ids list is the id joined in.
        self.id_parts = ['"'] + [f'-{i}","' for i in range(BATCH - 1)] + [f'-{BATCH - 1}"']
        self.passengers = shipped[list(names)]  # for the service phase
        self.rows_key = domain.words.rows  # the batch body's key
        self.rng = random.Random(seed)

    def write_hour(
        self, log: Path, hour: datetime, predictions: int, writers: list[str], now: float
    ) -> tuple[int, int]:
        """`predictions` (rounded to whole batches) made in `hour`, spread over `writers`'
        files, and their outcomes that arrived by `now`; returns (predictions, outcomes)."""
        rng, start = self.rng, hour.timestamp()
        label = hour.strftime(HOUR)
        lines = max(0, round(predictions / BATCH))
        stamps = sorted(start + rng.random() * 3600 for _ in range(lines))
        files: dict[str, tuple] = {}  # writer -> (handle, part, size, path)
        outcomes: dict[str, list[str]] = {}  # arrival hour -> lines
        last_arrival: dict[str, float] = {}
        paths = []
        head = f',"model_version":"{self.version}","endpoint":"predict_batch","ids":['
        for n, stamp in enumerate(stamps):
            writer = writers[n % len(writers)]
            rid = os.urandom(16).hex()
            which = rng.randrange(POOL)
            line = (
                f'{{"request_id":"{rid}","timestamp":{stamp!r}{head}'
                f"{rid.join(self.id_parts)}],{self.bodies[which]}"
            )
            handle, part, size, path = files.get(writer, (None, 0, 0, None))
            if handle is None or size >= MAX_FILE_BYTES:
                if handle is not None:
                    handle.close()
                    part += 1
                suffix = f"-p{part}" if part else ""
                path = log / f"predictions-{label}-{writer}{suffix}.jsonl"
                handle, size = path.open("w", encoding="utf-8"), 0
                paths.append(path)
            handle.write(line)
            files[writer] = (handle, part, size + len(line), path)
            arrival = stamp + rng.uniform(1, 3) * 86400  # OUTCOME_SHARE of each batch
            if arrival < now:
                picked = rng.sample(range(BATCH), round(BATCH * OUTCOME_SHARE))
                arrived = datetime.fromtimestamp(arrival, UTC).strftime(HOUR)
                outcomes.setdefault(arrived, []).append(
                    json.dumps(
                        {
                            "timestamp": arrival,
                            "ids": [f"{rid}-{i}" for i in picked],
                            "outcome": [self.truth[which][i] == "true" for i in picked],
                            "sender": "token:benchmark",
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                )
                last_arrival[arrived] = max(last_arrival.get(arrived, 0.0), arrival)
        for handle, *_ in files.values():
            handle.close()
        written = min(start + 3600, now)
        for path in paths:  # as written then: a sensor sees old files as old
            os.utime(path, (written, written))
        count = 0
        for arrived, found in outcomes.items():
            path = log / f"outcomes-{arrived}-{label}-{writers[0]}-feedback.jsonl"
            with path.open("a", encoding="utf-8") as handle:
                handle.writelines(found)
            os.utime(path, (last_arrival[arrived], last_arrival[arrived]))
            count += round(BATCH * OUTCOME_SHARE) * len(found)
        return lines * BATCH, count


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def history_hours(newest: datetime) -> list[datetime]:
    """The hours of the DAYS days before the newest hour."""
    return [newest - timedelta(hours=h) for h in range(DAYS * 24, 0, -1)]


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- measuring -----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed_child(step: str, env: dict[str, str], *extra: str) -> dict:
    """This script's `--step` in a fresh process: its report (JSON, last line of stdout)
    with the process's wall time and peak RSS (MiB; os.wait4 gives this child's alone)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, __file__, "--step", step, *extra],
            cwd=ROOT, env=env, stdout=out, stderr=err, text=True,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"step {step} failed:\n{err.read()[-3000:]}")
        report = json.loads(out.read().strip().splitlines()[-1])
    report["wall"] = wall
    report["peak_mib"] = usage.ru_maxrss / 1024
    report["cpu"] = usage.ru_utime + usage.ru_stime  # less hurt by a busy machine than wall
    return report


def repeated(times: int, measure: Callable[[], dict]) -> dict:
    """Medians of every figure over `times` runs."""
    runs = [measure() for _ in range(times)]
    return {key: median([r[key] for r in runs]) for key in runs[0] if _number(runs[0][key])} | {
        key: runs[-1][key] for key in runs[0] if not _number(runs[0][key])
    }


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Sensors:
    """Ticks of the model's two sensors, in-process on the environment's instance."""

    def __init__(self, log_root: Path) -> None:
        import dagster as dg

        from titanic_assets.definitions import defs
        from titanic_assets.defs.resources import MonitoringPolicy, PredictionLog

        self.dg = dg
        self.definitions = defs()
        self.instance = dg.DagsterInstance.get()
        self.resources = {  # the log's root: each model reads its own folder under it
            "prediction_log": PredictionLog(location=str(log_root)),
            "monitoring_policy": MonitoringPolicy(),
        }
        self.cpu: list[float] = []  # CPU time of each tick

    def tick(self, name: str, cursor: str | None) -> tuple[float, object]:
        sensor = self.definitions.get_sensor_def(name)
        started, cpu = time.perf_counter(), time.process_time()
        context = self.dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources=self.resources,
            definitions=self.definitions,
        )
        result = sensor.evaluate_tick(context)
        self.cpu.append(time.process_time() - cpu)
        return time.perf_counter() - started, result

    def landing(self, times: int) -> dict:
        """A tick a minute after the previous look (what landed in the last minute is
        requested); the listing is what costs."""
        self.tick(LANDING_SENSOR, None)  # warm-up (first tick: every hour)
        seconds, requests = [], 0
        for _ in range(times):
            cursor = json.dumps({"seen_at": time.time() - 60, "requested_at": 0.0})
            took, result = self.tick(LANDING_SENSOR, cursor)
            seconds.append(took)
            requests = len(result.run_requests or [])
        return {"seconds": median(seconds), "requests": requests, "cpu": median(self.cpu[-times:])}

    def first_landing(self) -> float:
        return self.tick(LANDING_SENSOR, None)[0]

    def windows(self, times: int) -> dict:
        self.tick(WINDOWS_SENSOR, None)
        seconds, requests = [], 0
        for _ in range(times):
            took, result = self.tick(WINDOWS_SENSOR, None)
            seconds.append(took)
            requests = len(result.run_requests or [])
        return {"seconds": median(seconds), "requests": requests, "cpu": median(self.cpu[-times:])}


def backfill(log: Path, skip: set[str]) -> dict:
    """Compact every stale hour but `skip` straight through core/compaction.py."""
    from titanic_assets.commands.monitor import stale_hours
    from titanic_assets.core.compaction import compact_hour
    from titanic_assets.core.log_files import LogPlace

    inputs = model_parts()[0].inputs
    place = LogPlace(log)
    started = time.perf_counter()
    landing = place.landing()
    rows = 0
    hours = [h for h in stale_hours(place) if h not in skip]
    for hour in hours:
        rows += compact_hour(place, hour, [f for f in landing if f.hour == hour], inputs).rows
    seconds = time.perf_counter() - started
    return {"hours": len(hours), "rows": rows, "seconds": seconds}


def backdate_model(env: dict[str, str], when: datetime) -> str:
    """Move the promoted model's creation time (its promotion) to `when` in the throwaway
    store, so "since promotion" spans the synthetic history. Returns its version."""
    latest = Path(env["BENTOML_HOME"]) / "models" / model_parts()[1].serving / "latest"
    version = latest.read_text().strip()
    info = latest.parent / version / "model.yaml"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    info.write_text(
        re.sub(r"^creation_time: .*$", f"creation_time: '{stamp}'", info.read_text(), flags=re.M)
    )
    return version


# -- the steps run in fresh processes --------------------------------------------------------


def run_step(step: str, hour: str) -> None:
    import dagster as dg

    started = time.perf_counter()
    if step in ("hourly", "windows"):
        from titanic_assets.definitions import defs
        from titanic_assets.loop.monitoring.hourly_traffic import partition_key

        job = defs().resolve_job_def(
            f"{MODEL}_hourly_traffic_job" if step == "hourly" else f"{MODEL}_monitoring_windows"
        )
        with dg.DagsterInstance.get() as instance:
            began = time.perf_counter()
            if step == "hourly":
                result = job.execute_in_process(
                    partition_key=partition_key(hour), instance=instance, raise_on_error=False
                )
            else:
                result = job.execute_in_process(instance=instance, raise_on_error=False)
            run = time.perf_counter() - began
        checks = {e.check_name: bool(e.passed) for e in result.get_asset_check_evaluations()}
        report = {"run": run, "success": result.success, "checks": json.dumps(checks)}
    else:
        from titanic_assets.core.instances import read_instance
        from titanic_assets.core.log_files import LogPlace
        from titanic_assets.core.settings import load_settings
        from titanic_assets.core.traffic_windows import drift_sample, labelled_rows, traffic_window
        from titanic_assets.ml import drift, performance

        domain, store = model_parts()
        model = store.promoted_model()
        place = LogPlace(read_instance(MODEL).log_location(load_settings().prediction_log))
        now = datetime.now(UTC)
        began = time.perf_counter()
        if step == "day-drift":
            window = traffic_window(place, "24 h", model.version, now - timedelta(hours=24), now)
            sample = drift_sample(place, window)
            if not len(sample):  # as drift_report does: an empty window is "not enough"
                sample = model.reference().iloc[:0]
            result = drift.drift_report(domain.monitored, model.reference(), sample)
            report = {"rows": window.rows, "tested": result.n_current}
        else:
            window = traffic_window(place, "7 days", model.version, now - timedelta(days=7), now)
            labelled = labelled_rows(place, window)
            labels = labelled["outcome"].astype(bool).to_numpy().astype(int)
            performance.realized(labels, labelled["probability"].to_numpy(float), model.threshold)
            report = {"rows": window.rows, "labelled": len(labelled)}
        report["run"] = time.perf_counter() - began
    report["in_process"] = time.perf_counter() - started
    print(json.dumps(report))


# -- the service phase ------------------------------------------------------------------------


def send_through_service(work: Path, traffic: Traffic, predictions: int) -> dict:
    import httpx

    from titanic_assets.testing import model_service

    shipped = traffic.passengers.astype(object)
    passengers = [
        {k: (None if _missing(v) else _plain(v)) for k, v in row.items()}
        for row in shipped.to_dict("records")
    ]
    requests = predictions // BATCH
    done, failed = [0], [0]
    lock = threading.Lock()

    def client(seed: int, url: str) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=60) as session:
            while True:
                with lock:
                    if done[0] + failed[0] >= requests:
                        return
                    done[0] += 1
                body = {traffic.rows_key: rng.choices(passengers, k=BATCH)}
                if not session.post(f"{url}/predict_batch", json=body).is_success:
                    with lock:
                        done[0] -= 1
                        failed[0] += 1

    with model_service(work, {"TITANIC_SERVING_WORKERS": "2"}, MODEL) as url:
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i, url)) for i in range(SERVICE_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    return {"predictions": done[0] * BATCH, "failed": failed[0], "seconds": seconds}


# -- the benchmark ----------------------------------------------------------------------------


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def fmt(value: float, unit: str = "s") -> str:
    if value != value:  # nan
        return "-"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.1f} s"
    return f"{value:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="history sizes (predictions)")
    parser.add_argument("--newest-hour", type=float, default=NEWEST_HOUR)
    parser.add_argument("--quick", action="store_true", help="small sizes: 2e4,2e5; 2e4 newest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--service", action="store_true", help="also the service phase")
    parser.add_argument("--service-predictions", type=float, default=2e6)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--work", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--hour", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        run_step(args.step, args.hour)
        return
    sizes = [int(float(s)) for s in ("2e4,2e5" if args.quick else args.sizes).split(",")]
    newest_rows = int(2e4 if args.quick else args.newest_hour)
    work = args.work or Path(tempfile.mkdtemp(prefix="monitoring-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = environment(work)
    env["TITANIC_DRIFT_REFRESH_SECONDS"] = "0"
    os.environ.update(env)
    warnings.filterwarnings("ignore", message="Starting in dagster 1.11, get_sensor_def")
    run = Stamp("monitoring_scale", MODEL)
    try:
        figures = benchmark(args, sizes, newest_rows, work, env)
        print(f"stamped: {run.save(figures, family=model_parts()[0].family)}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work}")


def benchmark(args, sizes: list[int], newest_rows: int, work: Path, env: dict) -> dict:
    started = time.perf_counter()
    log = model_log(work, MODEL)  # the model's folder under the log root
    serving = model_parts()[1].serving
    if (Path(env["BENTOML_HOME"]) / "models" / serving / "latest").exists():
        shutil.rmtree(log, ignore_errors=True)  # a kept work directory: its model, new traffic
    else:
        materialize_first_model(env, MODEL)
    now = datetime.now(UTC)
    newest = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    version = backdate_model(env, newest - timedelta(days=DAYS, hours=1))
    print(
        f"work dir {work}; model {version} promoted (backdated {DAYS} days); "
        f"set-up {time.perf_counter() - started:.0f} s"
    )
    log.mkdir(parents=True, exist_ok=True)
    traffic = Traffic()
    newest_hour = newest.strftime(HOUR)
    writing = time.perf_counter()
    written, _ = traffic.write_hour(
        log, newest, newest_rows, [f"bench-{i}" for i in range(WRITERS)], time.time()
    )
    print(
        f"newest hour {newest_hour}: {written:,} predictions in "
        f"{time.perf_counter() - writing:.0f} s"
    )
    hours = history_hours(newest)
    results: dict[int, dict] = {}
    written_history: list[dict] = []
    history = 0
    for generation, size in enumerate(sizes):
        extra = size - history
        writing = time.perf_counter()
        outcomes = 0
        writers = [f"bench-g{generation}-{i}" for i in range(WRITERS)]
        per_hour = extra / len(hours)
        for i, hour in enumerate(hours):
            # Whole batches, spread evenly over the hours.
            count = round((i + 1) * per_hour / BATCH) * BATCH - round(i * per_hour / BATCH) * BATCH
            if count:
                made, labelled = traffic.write_hour(log, hour, count, writers, time.time())
                history += made
                outcomes += labelled
        write_seconds = time.perf_counter() - writing
        files, gib = sum(1 for _ in os.scandir(log)), du(log) / 2**30
        print(
            f"history {history:,} predictions (+{outcomes:,} outcomes) in {files:,} files, "
            f"{gib:.2f} GiB; written in {write_seconds:.0f} s"
        )
        filled = backfill(log, skip={newest_hour})
        print(
            f"backfill: {filled['hours']} hours, {filled['rows']:,} rows in "
            f"{filled['seconds']:.0f} s ({filled['rows'] / filled['seconds']:,.0f} rows/s)"
        )
        written_history.append(
            {
                "history size": size,
                "predictions": history,
                "outcomes": outcomes,
                "files": files,
                "GiB": round(gib, 2),
                "write seconds": round(write_seconds),
            }
        )
        results[size] = measure(args.repeat, log, env, newest_hour, filled)
        steps = report(sizes, results)
    figures = {
        "newest_hour_predictions": written,
        "repeats": args.repeat,
        "history": written_history,
        "steps": steps,
        "checks": {
            f"{s / 1e6:g}M history": {
                "hourly run success": r["hourly"]["success"],
                "windows checks passed": json.loads(r["windows"]["checks"]),
            }
            for s, r in results.items()
        },
    }
    if args.service:
        figures["service"] = service(args, work, env, log, traffic)
    return figures


def measure(times: int, log: Path, env: dict, newest_hour: str, filled: dict) -> dict:
    figures: dict = {"backfill": filled}
    sensors = Sensors(Path(env["TITANIC_PREDICTION_LOG"]))
    figures["hourly"] = repeated(times, lambda: timed_child("hourly", env, "--hour", newest_hour))
    figures["landing_first"] = sensors.first_landing()
    figures["landing"] = sensors.landing(times)
    figures["windows_tick"] = sensors.windows(times)
    figures["windows"] = repeated(times, lambda: timed_child("windows", env))
    # Parts of the windows run, once each.
    figures["day"] = timed_child("day-drift", env)
    figures["week"] = timed_child("week-performance", env)
    figures["files"] = sum(1 for _ in os.scandir(log))
    sensors.instance.dispose()
    return figures


def report(sizes: list[int], results: dict[int, dict]) -> list[dict]:
    """Prints the table; returns it as records (numbers, each step's unit)."""
    done = [s for s in sizes if s in results]
    columns = ["step", *[f"{s / 1e6:g}M history" for s in done]]
    if len(done) == 2:
        columns.append(f"{done[1] / done[0]:g}x / 1x")
    records: list[dict] = []

    def record(name: str, unit: str, values: list[float]) -> None:
        """A row's numbers (nan, not measured: None); an indented step named with its parent."""
        digits = None if unit in ("MiB", "count") else 3
        rounded = [None if v != v else round(v, digits) for v in values]
        if name.startswith(" "):  # "hourly run ...: run" then "  its process": the run's
            parent = records[-1]["step"].split(" · ")[0].removesuffix(": run")
            name = f"{parent} · {name.strip()}"
        sized = dict(zip(columns[1 : len(done) + 1], rounded, strict=True))
        records.append({"step": name, "unit": unit, **sized})

    def row(name: str, get: Callable[[dict], float], unit: str = "s") -> list[str]:
        values = [get(results[s]) for s in done]
        record(name, unit, values)
        cells = [fmt(v, unit) for v in values]
        if len(done) == 2:
            cells.append(f"{values[1] / values[0]:.2f}" if values[0] else "-")
        return [name, *cells]

    def count(name: str, get: Callable[[dict], float]) -> list[str]:
        values = [get(results[s]) for s in done]
        record(name, "count", values)
        return [name, *[f"{v:,.0f}" for v in values], *([""] if len(done) == 2 else [])]

    rows = [
        count("landing files (predictions + outcomes)", lambda r: r["files"]),
        row("backfill: history hours compacted (once)", lambda r: r["backfill"]["seconds"]),
        count("backfill rows/s", lambda r: r["backfill"]["rows"] / r["backfill"]["seconds"]),
        row("landing sensor tick (target <= 1 s)", lambda r: r["landing"]["seconds"]),
        count("  hours it requested", lambda r: r["landing"]["requests"]),
        row("  its CPU", lambda r: r["landing"]["cpu"]),
        row("landing sensor, first tick ever (no cursor)", lambda r: r["landing_first"]),
        row("windows sensor tick (target <= 1 s)", lambda r: r["windows_tick"]["seconds"]),
        row("  its CPU", lambda r: r["windows_tick"]["cpu"]),
        row("hourly run of the newest hour: run", lambda r: r["hourly"]["run"]),
        row("  its process (imports, definitions, run)", lambda r: r["hourly"]["wall"]),
        row("  its CPU (user + system)", lambda r: r["hourly"]["cpu"]),
        row("  its peak RSS", lambda r: r["hourly"]["peak_mib"], "MiB"),
        row("monitoring windows run: run", lambda r: r["windows"]["run"]),
        row("  its process", lambda r: r["windows"]["wall"]),
        row("  its CPU (user + system)", lambda r: r["windows"]["cpu"]),
        row("  its peak RSS", lambda r: r["windows"]["peak_mib"], "MiB"),
        row(
            "newest hour compacted + monitored (runs)",
            lambda r: r["hourly"]["run"] + r["windows"]["run"],
        ),
        row("24-hour drift window (summaries, sample, tests)", lambda r: r["day"]["run"]),
        row("  its peak RSS", lambda r: r["day"]["peak_mib"], "MiB"),
        row("7-day performance window (labelled rows, metrics)", lambda r: r["week"]["run"]),
        count("  its labelled rows", lambda r: r["week"]["labelled"]),
        row("  its peak RSS", lambda r: r["week"]["peak_mib"], "MiB"),
    ]
    table("monitoring at scale (medians of the repeats)", columns, rows)
    for s in done:
        print(
            f"  {s / 1e6:g}M: windows checks {results[s]['windows']['checks']}, "
            f"hourly run success {results[s]['hourly']['success']}"
        )
    return records


def service(args, work: Path, env: dict, log: Path, traffic: Traffic) -> dict:
    sensors = Sensors(Path(env["TITANIC_PREDICTION_LOG"]))
    before = sensors.landing(args.repeat)["seconds"]
    windows_before = sensors.windows(args.repeat)["seconds"]
    sent = send_through_service(work, traffic, int(args.service_predictions))
    print(
        f"service: {sent['predictions']:,} predictions in {sent['seconds']:.0f} s "
        f"({sent['predictions'] / sent['seconds']:,.0f}/s), {sent['failed']} failed requests"
    )
    after = sensors.landing(args.repeat)["seconds"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "python"), "-m", "titanic_assets.commands.monitor", "--model", MODEL],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    monitor_seconds = time.perf_counter() - started
    monitor_peak = usage.ru_maxrss / 1024
    windows_after = sensors.windows(args.repeat)["seconds"]
    table(
        f"`make monitor` after {sent['predictions']:,} predictions through /predict_batch",
        ["step", "figure", "target"],
        [
            ["make monitor: time", fmt(monitor_seconds), "<= 90 s"],
            ["make monitor: peak RSS", fmt(monitor_peak, "MiB"), "<= 1,024 MiB"],
            ["landing sensor tick before the traffic", fmt(before), ""],
            ["landing sensor tick after", fmt(after), "<= before + 5 s"],
            ["windows sensor tick before", fmt(windows_before), ""],
            ["windows sensor tick after", fmt(windows_after), "<= before + 5 s"],
        ],
    )
    print(f"  make monitor exit {process.returncode}; its output:")
    print("    " + "\n    ".join(output.strip().splitlines()[-12:]))
    sensors.instance.dispose()
    return {
        "predictions": sent["predictions"],
        "failed_requests": sent["failed"],
        "seconds": round(sent["seconds"], 1),
        "make_monitor_seconds": round(monitor_seconds, 1),
        "make_monitor_peak_mib": round(monitor_peak),
        "make_monitor_exit": process.returncode,
        "landing_tick_seconds": {"before": round(before, 3), "after": round(after, 3)},
        "windows_tick_seconds": {
            "before": round(windows_before, 3),
            "after": round(windows_after, 3),
        },
    }


if __name__ == "__main__":
    main()
