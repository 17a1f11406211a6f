"""deploy/prometheus on a real Prometheus: it scrapes a running survival service and the
project's own series arrive, and it loads every alert rule."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "prometheus"
JOB = "titanic-survival-service"


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


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            start_new_session=True,  # its own process group, so its workers stop with it
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The survival service as `make serve` runs it, on a free port, with an empty model store
    (it answers and exports metrics before any model is promoted)."""
    work = tmp_path_factory.mktemp("service")
    port = free_port()
    env = {
        **os.environ,
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_PREDICTION_LOG": str(work / "prediction_log"),
        "TITANIC_SERVING_WORKERS": "1",
    }
    bentoml = str(Path(sys.executable).parent / "bentoml")
    process = start(
        [bentoml, "serve", "bento.service:TitanicSurvival", "--host", "127.0.0.1",
         "--port", str(port)],
        work / "service.log", env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        poll("the service to answer /livez", lambda: httpx.get(f"{url}/livez").is_success)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def prometheus(service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus with the shipped configuration and rules, its target set to the service."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("The prometheus binary is not installed (Debian package `prometheus`)")
    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    job["static_configs"] = [{"targets": [service.removeprefix("http://")]}]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "alerts.yml", work / "alerts.yml")
    port = free_port()
    process = start(
        [binary, f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        work / "prometheus.log", dict(os.environ),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        poll("Prometheus to be ready", lambda: httpx.get(f"{url}/-/ready").is_success)
        yield url
    finally:
        stop(process)


def query(prometheus: str, expression: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_service_and_sees_its_own_series(
    service: str, prometheus: str
) -> None:
    rejected = httpx.post(f"{service}/predict", json={"passenger": {"Pclass": 9}})
    assert rejected.status_code == 400

    poll("the scrape target to be up", lambda: query(prometheus, f'up{{job="{JOB}"}} == 1'))
    [series] = poll(
        "titanic_rejected_inputs_total to arrive",
        lambda: query(prometheus, 'titanic_rejected_inputs_total{reason="missing_field"}'),
    )
    assert series["metric"]["endpoint"] == "predict"
    assert float(series["value"][1]) >= 1
    requests = poll(
        "the service's request counter to arrive",
        lambda: query(
            prometheus,
            'bentoml_service_request_total{endpoint="/predict", http_response_code="400"} > 0',
        ),
    )
    assert requests


def test_prometheus_loads_every_alert_rule(prometheus: str) -> None:
    groups = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    shipped = {
        rule["alert"]
        for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert loaded == shipped
    assert {"TitanicServerErrorRate", "TitanicPredictLatencyHigh"} <= loaded
