"""The harness the tests and the benchmarks share: real processes on free loopback ports, each
in a throwaway environment of its own and stopped with everything it started, waits that
poll with a deadline, and the monitoring loop's setup. (Each domain's example rows are its
own: e.g. titanic_assets/domains/titanic/examples.py.)

It lives in the package, not in tests/, so that benchmarks/ can use it without importing the
tests. Nothing here depends on pytest: a wait that runs out raises `NeverHappened`, which a
test reports as a failure like any failed assertion.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import dagster as dg
import httpx
import psutil

from titanic_assets.core.settings import child_environment

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAEMON = [str(BIN / "dagster-daemon"), "run", "-m", "titanic_assets.definitions"]

# The monitoring loop at a pace a test can wait for: a drift report every 200 rows or 5 s,
# new models picked up within a second.
QUICK_LOOP = {
    "TITANIC_DRIFT_REFRESH_SECONDS": "5",
    "TITANIC_MODEL_POLL_SECONDS": "1",
}


def unpartitioned(model: str = "titanic") -> dg.AssetSelection:
    """ "Materialize all" of a model's unpartitioned graph: the hours of traffic are
    partitions, which the landing sensor or a backfill materializes."""
    return dg.AssetSelection.key_prefixes([model]) - dg.AssetSelection.assets(
        dg.AssetKey([model, "hourly_traffic"])
    )


T = TypeVar("T")


class NeverHappened(AssertionError):
    """A poll's deadline passed; the message names what was awaited. An AssertionError, so a
    test fails on it as it fails on an assert."""


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it), for a server to bind next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll(what: str, probe: Callable[[], T], seconds: float = 90, every: float = 0.5) -> T:
    """The first truthy value of probe(), tried every `every` s; NeverHappened naming `what`
    after `seconds`. A server not answering yet (httpx.HTTPError) counts as not yet."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = probe()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(every)
    raise NeverHappened(f"Timed out waiting for {what} ({seconds:g} s)")


def stop_process_groups(*processes: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to each process's group, up to `grace` s for the leaders to exit, then SIGKILL
    to whatever is left: a group outlives its leader when a child (a Dagster code server)
    ignores or misses the signal. A BentoML worker runs in a session of its own, out of its
    server's group: every descendant is noted before the signal, and any still running when
    the groups are killed is killed too (its server, killed first, can no longer stop it)."""
    descendants = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            descendants += psutil.Process(process.pid).children(recursive=True)
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for descendant in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            descendant.kill()  # (psutil checks it is still that process, not a reused pid)
    # A kill takes effect a moment later: wait until each is gone (or a zombie, dead but not
    # yet reaped by whoever inherited it).
    deadline = time.monotonic() + 5
    while any(_running(d) for d in descendants) and time.monotonic() < deadline:
        time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    """Whether it still runs (a zombie does not)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def running(
    command: list[str], log: Path, env: Mapping[str, str], cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    """`command` in its own process group, output to `log`; on exit the whole group is
    stopped, so no server or worker it started outlives the test."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        stop_process_groups(process)


def environment(work: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with every store and folder moved under `work`: a Dagster
    instance (telemetry and the UI's tours off), the BentoML model store (not tracked), and
    the local profile's landing, labels, inbox and exports folders and prediction log. So a
    test or benchmark never reads or writes the user's own instance, models or data."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # Not the repository's dagster.yaml: its storage paths are relative to the repository.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    moved = {
        "DAGSTER_HOME": str(home),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_PROFILE": "local",
        "TITANIC_LANDING_DIR": str(work / "landing"),
        "TITANIC_LABELS_DIR": str(work / "labels"),
        "TITANIC_INBOX_DIR": str(work / "inbox"),
        "TITANIC_EXPORTS_DIR": str(work / "exports"),
        "TITANIC_PREDICTION_LOG": str(work / "prediction_log"),
    }
    return child_environment(**{**moved, **(overrides or {})})


@contextlib.contextmanager
def model_services(
    works: Sequence[Path],
    overrides: Mapping[str, str] | None = None,
    model: str = "titanic",
    cwd: Path = ROOT,
) -> Iterator[list[str]]:
    """`bentoml serve` as `make serve MODEL=<model>` runs it, one per working directory, each
    on a free port in that directory's environment (one worker unless told; its log in
    work/service.log).
    All are started before any is waited for, so their start-ups overlap; yields their URLs
    once each answers /livez, which it does before any model is promoted."""
    with contextlib.ExitStack() as stack:
        urls = []
        for work in works:
            port = free_port()
            settings = {"TITANIC_SERVING_WORKERS": "1", "TITANIC_MODEL": model}
            env = environment(work, {**settings, **(overrides or {})})
            command = [str(BIN / "bentoml"), "serve", "bento.service:ModelService",
                       "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
            stack.enter_context(running(command, work / "service.log", env, cwd))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            poll(f"{url} to answer /livez", lambda url=url: httpx.get(f"{url}/livez").is_success)
        yield urls


@contextlib.contextmanager
def model_service(
    work: Path,
    overrides: Mapping[str, str] | None = None,
    model: str = "titanic",
    cwd: Path = ROOT,
) -> Iterator[str]:
    """One model's service (see model_services; `cwd`: the project it serves from); yields
    its URL."""
    with model_services([work], overrides, model, cwd) as [url]:
        yield url


def process_table() -> dict[int, tuple[int, list[str]]]:
    """Every process on the machine, from /proc: pid -> (parent pid, command line). Finds
    what a server started (its workers) whatever process group or session each is in."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:  # gone meanwhile
                continue
            table[int(entry.name)] = (parent, [c.decode(errors="replace") for c in command])
    return table


def materialize_first_model(env: Mapping[str, str], model: str = "titanic") -> None:
    """A model's whole graph in `env`, as `make materialize` makes it: its first model is
    served."""
    selection = f"key:{model}/* and not key:{model}/hourly_traffic"
    subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "--select", selection,
         "-m", "titanic_assets.definitions"],
        cwd=ROOT, env=dict(env), check=True, capture_output=True,
    )  # fmt: skip


def model_log(work: Path, model: str = "titanic") -> Path:
    """Where a model's prediction log is under a test's working directory (`environment`)."""
    from titanic_assets.core.instances import read_instance

    return work / "prediction_log" / read_instance(model).prediction_log


def compact_log(location: str | Path, model: str = "titanic") -> list:
    """Compact every hour of a model's prediction log, as monitoring's hourly runs do (the
    landing sensor's, or `make monitor`); what each hour's compaction read and wrote."""
    from titanic_assets.core.compaction import compact_hour
    from titanic_assets.core.domain import load_domain
    from titanic_assets.core.instances import read_instance
    from titanic_assets.core.log_files import LogPlace

    inputs = load_domain(read_instance(model).domain).inputs
    place = LogPlace(location)
    landed = place.landing()
    return [compact_hour(place, hour, landed, inputs) for hour in sorted({f.hour for f in landed})]
