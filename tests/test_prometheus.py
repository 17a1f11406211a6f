"""deploy/prometheus on a real Prometheus: it scrapes a running survival service and the
project's own series arrive, and it loads every alert rule."""

import os
import shutil
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.processes import ROOT, free_port, poll, running, survival_service

DEPLOY = ROOT / "deploy" / "prometheus"
JOB = "titanic-survival-service"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The survival service with an empty model store: it exports metrics before any model
    is promoted."""
    with survival_service(tmp_path_factory.mktemp("service")) as url:
        yield url


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
    command = [
        binary,
        f"--config.file={work / 'prometheus.yml'}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(command, work / "prometheus.log", dict(os.environ)):
        url = f"http://127.0.0.1:{port}"
        poll("Prometheus to be ready", lambda: httpx.get(f"{url}/-/ready").is_success)
        yield url


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
