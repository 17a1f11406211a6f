"""Real server processes for the deployment tests: free loopback ports, polling with deadlines,
and the survival service as `make serve` runs it."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll(what: str, probe: Callable[[], object], seconds: float = 90) -> object:
    """The first truthy value of probe(), or a failure naming what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = probe()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"Timed out waiting for {what}")


@contextmanager
def running(
    command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    """A process in its own process group, stopped with all its children on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def survival_service(work: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The survival service on a free port with the model store in `work/bentoml`; yields its
    URL once it answers /livez (it does before any model is promoted)."""
    port = free_port()
    service_env = {
        **os.environ,
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_PREDICTION_LOG": str(work / "prediction_log"),
        "TITANIC_SERVING_WORKERS": "1",
        **(env or {}),
    }
    command = [str(BIN / "bentoml"), "serve", "bento.service:TitanicSurvival",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with running(command, work / "service.log", service_env):
        url = f"http://127.0.0.1:{port}"
        poll("the service to answer /livez", lambda: httpx.get(f"{url}/livez").is_success)
        yield url


def process_table() -> dict[int, tuple[int, list[str]]]:
    """Every process on the machine, from /proc: pid -> (parent pid, command line)."""
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
