"""deploy/prometheus on a real Prometheus: it scrapes a running survival service and the
instance metrics exporter, the project's own series arrive, every alert rule loads, and a
failed drift check recorded on the Dagster instance fires the drift alert."""

import json
import os
import shutil
import sys
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest
import yaml

from titanic_assets.loop.monitoring.check_results import watched_checks
from titanic_assets.testing import ROOT, environment, free_port, poll, running

DEPLOY = ROOT / "deploy" / "prometheus"
JOB = "titanic-survival-service"
INSTANCE_JOB = "titanic-dagster-instance"


@pytest.fixture(scope="module")
def service(service_with_unwritable_log: str) -> str:
    """The session's survival service with a prediction log it cannot write (conftest.py);
    it exports metrics whether or not a model is promoted yet."""
    return service_with_unwritable_log


@pytest.fixture(scope="module")
def instance_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an empty local instance (SQLite), as a fresh deployment's."""
    return environment(tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="module")
def instance_metrics(
    instance_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The instance metrics exporter on a free port, reading that instance; yields host:port."""
    port = free_port()
    exporter = "titanic_assets.commands.instance_metrics"
    command = [sys.executable, "-m", exporter, "--port", str(port)]
    log = tmp_path_factory.mktemp("instance-metrics") / "exporter.log"
    with running(command, log, instance_env):
        url = f"http://127.0.0.1:{port}"
        poll("the instance metrics to answer", lambda: httpx.get(f"{url}/metrics").is_success)
        yield url.removeprefix("http://")


@pytest.fixture(scope="module")
def prometheus(
    service: str, instance_metrics: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Prometheus with the shipped configuration and rules, its targets set to the service
    and the instance metrics exporter started here."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("The prometheus binary is not installed (Debian package `prometheus`)")
    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    targets = {JOB: service.removeprefix("http://"), INSTANCE_JOB: instance_metrics}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets.pop(job["job_name"])]}]
    assert not targets, f"no scrape job for {targets}"
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "alerts.yml", work / "alerts.yml")
    port = free_port()
    command = [
        binary,
        f"--config.file={work / 'prometheus.yml'}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(command, work / "prometheus.log", os.environ):
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
    assert {
        "TitanicServerErrorRate",
        "TitanicPredictLatencyHigh",
        "TitanicDriftCheckFailed",
        "TitanicRealizedAccuracyWorse",
    } <= loaded


@pytest.mark.parametrize(
    ("check", "alert"),
    [("drift", "TitanicDriftCheckFailed"), ("performance", "TitanicRealizedAccuracyWorse")],
)
def test_a_failed_monitoring_check_on_the_instance_fires_its_alert(
    prometheus: str, instance_env: dict[str, str], check: str, alert: str
) -> None:
    poll(
        "the instance target to be up",
        lambda: query(prometheus, f'up{{job="{INSTANCE_JOB}"}} == 1'),
    )
    assert query(prometheus, f"titanic_{check}_check_passed") == []  # no evaluation yet

    key = watched_checks("titanic")[check]
    with dg.DagsterInstance.from_config(instance_env["DAGSTER_HOME"]) as instance:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=key.asset_key, check_name=key.name, passed=False)
        )

    def firing() -> list[dict]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts").json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == alert
                and a["state"] == "firing"]  # fmt: skip

    poll(f"{alert} to fire", firing)


def test_an_unwritable_prediction_log_fires_its_alert(service: str, prometheus: str) -> None:
    def firing() -> list[dict]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts").json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "TitanicPredictionLogFailing"
                and a["state"] == "firing"]  # fmt: skip

    poll("TitanicPredictionLogFailing to fire", firing)
    assert httpx.get(f"{service}/livez").is_success  # the service itself keeps running


def test_every_grafana_panel_query_runs_on_prometheus(service: str, prometheus: str) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "titanic-service.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert expressions
    for expression in expressions:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}).json()
        assert answer["status"] == "success", (expression, answer)
    httpx.post(f"{service}/predict", json={})
    poll(
        "the request rate panel to return series",
        lambda: query(prometheus, expressions[0]),
    )
