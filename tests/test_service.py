"""The BentoML service over real HTTP: the session's `bentoml serve` process (`server` in
tests/conftest.py), with two workers, its own model store and prediction log, fed by models
promoted while it runs.

The tests run in file order against one server: readiness before any model, then model A
(every endpoint, every invalid input, the log, the metrics), then the switch to model B
under load.
"""

import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SWITCH_DEADLINE, save_model
from titanic_assets.core import registry
from titanic_assets.core.prediction_log import read_prediction_log
from titanic_assets.domains.titanic.contract import RAW_INPUTS
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import (
    ROOT,
    environment,
    poll,
    process_table,
)

MAX_BATCH = 1000


def local_probability(trained, passengers: list[dict]) -> np.ndarray:
    """What the trained pipeline says, the training way: through a pandas DataFrame."""
    return trained.predict_proba(pd.DataFrame(passengers, columns=list(RAW_INPUTS)))


# --- before any model ------------------------------------------------------------------


def test_service_is_live_but_not_ready_and_refuses_predictions_before_a_model_exists(server):
    assert server.get("/livez").status_code == 200
    assert server.get("/readyz").status_code == 503
    assert server.post("/predict", PASSENGER).status_code == 503
    assert server.get("/model_info").status_code == 503


def test_service_becomes_ready_with_the_first_promoted_model(server, model_a):
    poll("readiness", lambda: server.get("/readyz").status_code == 200, SWITCH_DEADLINE)


# --- predictions -----------------------------------------------------------------------


def test_predict_returns_survival_probability_threshold_and_model_version(server, model_a, trained):
    response = server.post("/predict", PASSENGER)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == model_a
    assert body["threshold"] == pytest.approx(trained.threshold)
    assert body["probability"] == pytest.approx(local_probability(trained, [PASSENGER])[0])
    assert body["survived"] is (body["probability"] >= body["threshold"])


def test_missing_optional_fields_are_scored_as_missing(server, model_a, trained):
    sparse = {"Pclass": 3, "Sex": "male", "SibSp": 0, "Parch": 0}
    response = server.post("/predict", sparse)
    assert response.status_code == 200
    expected = local_probability(trained, [dict.fromkeys(RAW_INPUTS) | sparse])[0]
    assert response.json()["probability"] == pytest.approx(expected)


def test_predict_batch_returns_one_prediction_per_passenger_in_order(
    server, model_a, trained, shipped_passengers
):
    rows = shipped_passengers[list(RAW_INPUTS)].head(200)
    passengers = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in rows.to_dict("records")
    ]
    response = server.post("/predict_batch", {"passengers": passengers})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == model_a
    probabilities = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(probabilities, local_probability(trained, passengers))
    assert [p["survived"] for p in body["predictions"]] == [
        p >= body["threshold"] for p in probabilities
    ]


def test_batch_of_the_maximum_size_is_accepted_and_one_more_is_rejected(server, model_a):
    assert server.post("/predict_batch", {"passengers": [PASSENGER] * MAX_BATCH}).status_code == 200
    oversized = server.post("/predict_batch", {"passengers": [PASSENGER] * (MAX_BATCH + 1)})
    assert oversized.status_code == 400
    [error] = oversized.json()["detail"]
    assert error["type"] == "too_long" and f"at most {MAX_BATCH}" in error["msg"]


def test_explain_contributions_add_up_to_the_raw_score(server, model_a, trained):
    response = server.post("/explain", PASSENGER)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == model_a
    assert sum(body["contributions"].values()) + body["bias"] == pytest.approx(body["raw_score"])
    columns = {name: [PASSENGER.get(name)] for name in RAW_INPUTS}
    matrix = trained.pipeline.matrix(columns)
    assert body["raw_score"] == pytest.approx(trained.pipeline.raw_score(matrix)[0])
    predicted = server.post("/predict", PASSENGER).json()["probability"]
    # The served probability is the raw score through the model's calibration.
    assert body["probability"] == pytest.approx(predicted)
    assert trained.calibration(1 / (1 + math.exp(-body["raw_score"]))) == pytest.approx(predicted)
    assert body["contributions"]["sex"] > 0  # a woman's sex raises her odds


def test_model_info_describes_the_serving_model(server, model_a, trained):
    response = server.get("/model_info")
    assert response.status_code == 200
    info = response.json()
    assert info["model_version"] == model_a
    assert info["tag"] == f"titanic_survival:{model_a}"
    assert info["threshold"] == pytest.approx(trained.threshold)
    assert info["data_version"] == "test-data" and info["code_version"] == "test-code"
    assert info["trained_at"] and info["registered_at"]
    assert info["metrics"]["held_out"]["roc_auc"] == 0.87
    assert info["raw_inputs"] == list(RAW_INPUTS)
    assert {"sex", "wcg_share"} <= set(info["features"])
    assert info["max_batch"] == MAX_BATCH


def test_openapi_page_documents_every_endpoint_and_the_input_contract(server, model_a):
    spec = server.get("/docs.json").json()
    assert {
        "/predict",
        "/predict_batch",
        "/explain",
        "/model_info",
        "/readyz",
        "/livez",
        "/metrics",
    } <= set(spec["paths"])
    passengers = [  # one schema per endpoint that takes passengers
        schema
        for schema in spec["components"]["schemas"].values()
        if "Pclass" in schema.get("properties", {})
    ]
    assert passengers
    for passenger in passengers:
        fields = passenger["properties"]
        assert (fields["Pclass"]["minimum"], fields["Pclass"]["maximum"]) == (1, 3)
        assert fields["Sex"]["enum"] == ["male", "female"]
        assert passenger["additionalProperties"] is False
        assert passenger["example"]["Name"]


def test_bentomls_own_client_calls_every_endpoint(server, model_a):
    """`bentoml.SyncHTTPClient`, which types its calls from the service's /schema.json, calls
    the prediction APIs; the mounted FastAPI routes (not in /schema.json) through its httpx
    client. A batch's rows reach the service as sent: a misspelt field is named, not dropped
    on the way (bento/plumbing.py's client_schema)."""
    import bentoml

    sparse = {"Pclass": 3, "Sex": "male", "SibSp": 0, "Parch": 0}
    with bentoml.SyncHTTPClient(server.url, server_ready_timeout=30) as client:
        single = client.predict(PASSENGER)
        assert single["model_version"] == model_a
        batch = client.predict_batch(passengers=[PASSENGER, sparse])
        expected = [single["probability"], server.post("/predict", sparse).json()["probability"]]
        assert [p["probability"] for p in batch["predictions"]] == pytest.approx(expected)
        assert client.explain(PASSENGER)["probability"] == pytest.approx(single["probability"])
        with pytest.raises(bentoml.exceptions.InvalidArgument, match="extra_forbidden"):
            client.predict_batch(passengers=[PASSENGER | {"age": 30}])

        assert client.client.get("/model_info").json()["model_version"] == model_a
        unknown = {"outcomes": [{"id": "no-such-prediction", "survived": True}]}
        assert client.client.post("/feedback", json=unknown).status_code == 404
        csv = "PassengerId,Pclass,Sex,SibSp,Parch,Embarked\n1,3,male,0,0,S\n2,4,male,0,0,S\n"
        scored = client.client.post(
            "/predict_csv", content=csv, headers={"content-type": "text/csv"}
        )
        assert scored.status_code == 200
        [valid, rejected] = pd.read_csv(io.StringIO(scored.text)).to_dict("records")
        assert valid["model_version"] == model_a and rejected["reason"] == "Pclass not 1, 2 or 3"


# --- invalid input: always a 4xx naming the field and the reason -------------------------


@pytest.mark.parametrize(
    ("change", "field", "error_type"),
    [
        ({"Pclass": "1"}, "Pclass", "int_type"),
        ({"Pclass": 4}, "Pclass", "less_than_equal"),
        ({"Pclass": 0}, "Pclass", "greater_than_equal"),
        ({"Sex": "M"}, "Sex", "literal_error"),
        ({"Age": -1}, "Age", "greater_than_equal"),
        ({"Age": 121}, "Age", "less_than_equal"),
        ({"Age": "old"}, "Age", "float_type"),
        ({"Fare": False}, "Fare", "float_type"),
        ({"SibSp": -1}, "SibSp", "greater_than_equal"),
        ({"Parch": 1.5}, "Parch", "int_type"),
        ({"Fare": -3.0}, "Fare", "greater_than_equal"),
        ({"Embarked": "X"}, "Embarked", "literal_error"),
        ({"Name": 42}, "Name", "string_type"),
        ({"Cabin": ["C85"]}, "Cabin", "string_type"),
        ({"Ticket": "x" * 31}, "Ticket", "string_too_long"),
        ({"SibSp": 11}, "SibSp", "less_than_equal"),
        ({"Fare": 1000.5}, "Fare", "less_than_equal"),
        ({"Deck": "C"}, "Deck", "extra_forbidden"),
        ({"Sex": None}, "Sex", "literal_error"),
    ],
)
@pytest.mark.parametrize("endpoint", ["/predict", "/explain"])
def test_invalid_field_is_rejected_with_a_4xx_naming_field_and_reason(
    server, model_a, endpoint, change, field, error_type
):
    response = server.post(endpoint, PASSENGER | change)
    assert 400 <= response.status_code < 500
    [error] = response.json()["detail"]
    assert error["loc"] == [field]
    assert error["type"] == error_type
    assert error["msg"]


def test_missing_required_field_is_named(server, model_a):
    body = {k: v for k, v in PASSENGER.items() if k != "Sex"}
    response = server.post("/predict", body)
    assert response.status_code == 400
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["Sex"], "missing")]


def test_invalid_passenger_in_a_batch_is_named_by_position_and_field(server, model_a):
    response = server.post("/predict_batch", {"passengers": [PASSENGER, PASSENGER | {"Fare": -1}]})
    assert response.status_code == 400
    [error] = response.json()["detail"]
    assert error["loc"] == ["passengers", 1, "Fare"]


@pytest.mark.parametrize(
    ("endpoint", "content", "error_type"),
    [
        ("/predict", b'{"Pclass": 1, "Sex": "female"', "json_invalid"),
        ("/predict", b"", "missing"),  # an empty body is an empty passenger
        (
            "/predict",
            b'{"Pclass": 1, "Age": NaN, "Sex": "female", "SibSp": 0, "Parch": 0}',
            "finite_number",
        ),
        ("/predict", b"[]", "model_type"),
        ("/predict_batch", b'{"passengers": [{', "json_invalid"),
        ("/predict_batch", b"[{", "json_invalid"),
        ("/predict_batch", b'{"passengers": []}', "too_short"),
        ("/predict_batch", b'{"passengers": {}}', "list_type"),
        ("/predict_batch", b'{"passengers": [], "extra": 1}', "extra_forbidden"),
        ("/predict_batch", b"[]", "model_type"),
    ],
)
def test_malformed_body_is_rejected_with_a_4xx(server, model_a, endpoint, content, error_type):
    response = server.post(endpoint, content=content)
    assert 400 <= response.status_code < 500
    assert error_type in {e["type"] for e in response.json()["detail"]}


# --- what the service records ----------------------------------------------------------


def test_prediction_log_receives_every_prediction_with_inputs_and_outputs(server, model_a):
    started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    single = server.post("/predict", PASSENGER).json()
    batch = server.post(
        "/predict_batch", {"passengers": [PASSENGER, PASSENGER | {"Age": None}]}
    ).json()

    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    log = read_prediction_log(server.log, PASSENGER_FIELDS, since=started.to_pydatetime())
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    row = log[log["request_id"] == single["request_id"]].iloc[0]
    assert row["endpoint"] == "predict" and row["model_version"] == model_a
    assert {name: row[name] for name in RAW_INPUTS} == PASSENGER
    assert row["probability"] == pytest.approx(single["probability"], abs=1e-6)
    assert row["predicted"] == single["survived"]
    rows = log[log["request_id"] == batch["request_id"]]
    assert len(rows) == 2 and rows["endpoint"].eq("predict_batch").all()
    assert rows["Age"].iloc[0] == PASSENGER["Age"] and pd.isna(rows["Age"].iloc[1])


def test_metrics_expose_predictions_rejections_model_version_and_request_counts(server, model_a):
    server.post("/predict", PASSENGER | {"Age": 500})
    server.post("/predict", PASSENGER | {"Deck": "C"})
    text = server.get("/metrics").text
    assert 'titanic_predictions_total{endpoint="predict",outcome="positive"}' in text
    assert 'titanic_predictions_total{endpoint="predict",outcome="negative"}' in text
    assert 'titanic_rejected_inputs_total{endpoint="predict",reason="out_of_range"}' in text
    assert 'titanic_rejected_inputs_total{endpoint="predict",reason="unknown_field"}' in text
    assert f'titanic_serving_model{{version="{model_a}"}} 1.0' in text
    assert 'bentoml_service_request_total{endpoint="/predict",http_response_code="400"' in text


# --- model updates ---------------------------------------------------------------------


def test_newly_promoted_model_takes_over_in_every_worker_without_failed_or_mixed_requests(
    server, model_a, trained, tmp_path
):
    # Model B is the same pipeline with another threshold, so each answer shows which
    # model made it: its threshold and decision must match its model_version, whole.
    threshold_b = round(trained.threshold / 2, 3)
    answers: list[tuple[int, dict | None]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                response = client.post(server.url + "/predict", json=PASSENGER)
                answers.append((response.status_code, response.json()))

    clients = [threading.Thread(target=load) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        poll("requests in flight", lambda: len(answers) > 20, 30)
        version_b = server.promote(trained, threshold_b, tmp_path)
        poll(
            f"every worker to serve the newly promoted model {version_b}",
            lambda: server.serves_everywhere(version_b, probes=40),
            SWITCH_DEADLINE,
        )
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert {status for status, _ in answers} == {200}
    assert {body["model_version"] for _, body in answers} == {model_a, version_b}
    for _, body in answers:
        assert body["threshold"] == pytest.approx(server.versions[body["model_version"]])
        assert body["survived"] is (body["probability"] >= body["threshold"])
    text = server.get("/metrics").text
    assert f'titanic_serving_model{{version="{model_a}"}} 0.0' in text
    assert f'titanic_serving_model{{version="{version_b}"}} 1.0' in text
    assert server.get("/model_info").json()["model_version"] == version_b


def test_rollback_command_serves_an_earlier_version_again_without_failed_requests(
    server, model_a, trained, tmp_path
):
    """The documented rollback (`dg launch --job titanic_rollback_serving_model ...`) puts A's
    files back as the newest serving version; every worker switches, no request fails."""
    current = server.get("/model_info").json()["model_version"]
    assert current != model_a  # the previous test promoted model B
    answers: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                answers.append(client.post(server.url + "/predict", json=PASSENGER).status_code)

    clients = [threading.Thread(target=load) for _ in range(2)]
    for client in clients:
        client.start()
    try:
        config = {"ops": {"titanic_restore_serving_model": {"config": {"version": model_a}}}}
        env = environment(tmp_path, {"BENTOML_HOME": str(server.store), "VIRTUAL_ENV": sys.prefix})
        launched = subprocess.run(
            [str(Path(sys.executable).parent / "dg"), "launch", "--job",
             "titanic_rollback_serving_model",
             "--config-json", json.dumps(config)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert launched.returncode == 0, launched.stdout + launched.stderr
        restored = bentoml_model(server.store, "titanic_survival:latest")
        version = restored["tag"].split(":")[1]
        server.versions[version] = server.versions[model_a]
        poll(
            f"every worker to serve the restored model {version}",
            lambda: server.serves_everywhere(version, probes=40),
            SWITCH_DEADLINE,
        )
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert set(answers) == {200}
    assert restored["labels"]["restored_from"] == f"titanic_survival:{model_a}"
    assert server.get("/model_info").json()["threshold"] == pytest.approx(server.versions[model_a])


def bentoml_model(store: Path, tag: str) -> dict:
    """A stored model's labels and metadata, read in a process using the service's store."""
    shown = subprocess.run(
        [sys.executable, "-c",
         "import bentoml, json, sys; m = bentoml.models.get(sys.argv[1]); "
         "print(json.dumps({'tag': str(m.tag), 'labels': m.info.labels}, default=str))",
         tag],
        env={**os.environ, "BENTOML_HOME": str(store)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(shown.stdout)


def test_no_request_in_this_module_produced_a_server_error(server, model_a):
    text = server.get("/metrics").text
    server_errors = [
        line
        for line in text.splitlines()
        if line.startswith("bentoml_service_request_total")
        and 'http_response_code="5' in line
        and 'endpoint="/readyz"' not in line
        and not line.endswith(" 0.0")
    ]
    # The only 5xx allowed are the 503s answered before any model existed.
    assert all('http_response_code="503"' in line for line in server_errors), server_errors


def test_worker_logs_are_json_lines_a_log_platform_can_index(server, model_a):
    server.post("/predict", PASSENGER)
    log = server.store.parent / "service.log"

    def json_records() -> list[dict]:
        lines = log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def access_record() -> dict | None:
        return next((r for r in json_records() if "path=/predict" in r["message"]), None)

    record = poll("a JSON access-log record of /predict", access_record, 30)
    assert record["level"] == "INFO"
    assert record["component"].startswith("entry_service:TitanicSurvival")
    assert {"time", "logger", "message", "trace"} <= set(record)
    assert any(r["message"].startswith("Serving model") for r in json_records())


def test_client_errors_are_one_warning_line_naming_the_field(server, model_a):
    server.post("/predict", PASSENGER | {"Fare": 1234.5})
    log = server.store.parent / "service.log"

    def rejection() -> dict | None:
        records = [json.loads(line) for line in log.read_text().splitlines() if line[:1] == "{"]
        return next((r for r in records if "equal to 1000" in r["message"]), None)

    record = poll("a log record of the rejected request", rejection, 30)
    assert record["level"] == "WARNING"
    assert record["message"] == (
        "Rejected input on /predict (1): Fare: Input should be less than or equal to 1000"
    )
    assert "exception" not in record and "\n" not in record["message"]


@pytest.mark.parametrize("endpoint", ["/predict", "/predict_batch", "/explain"])
@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "text/plain", "application/xml", None]
)
def test_bodies_that_are_not_json_get_415_in_the_documented_error_shape(
    server, model_a, endpoint, content_type
):
    headers = {"content-type": content_type} if content_type else {}
    response = server.client.post(server.url + endpoint, content=b'{"a": 1}', headers=headers)
    assert response.status_code == 415
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["header", "content-type"]
    assert problem["type"] == "unsupported_media_type"


def test_schemathesis_finds_no_server_error_and_no_response_off_the_documented_schema(
    server, model_a
):
    """Every operation of the OpenAPI document, every phase (examples, coverage, fuzzing),
    every check: no 5xx, every response (4xx included) in its documented schema, invalid
    input rejected, valid input accepted."""
    fuzzed = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.url}/docs.json",
         "--checks", "all", "--max-examples", "100", "--seed", "20261124", "--workers", "1",
         "--no-color"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert fuzzed.returncode == 0, fuzzed.stdout[-6000:]
    assert " passed" in fuzzed.stdout and "failed" not in fuzzed.stdout


def service_workers(url: str) -> list[int]:
    """The pids of the BentoML workers of the service listening at `url`."""
    port = url.rsplit(":", 1)[1]
    processes = process_table()
    [arbiter] = [
        pid for pid, (_, cmd) in processes.items()
        if "serve" in cmd and "--port" in cmd and cmd[cmd.index("--port") + 1] == port
    ]  # fmt: skip
    return sorted(
        pid for pid, (parent, cmd) in processes.items()
        if parent == arbiter and "_bentoml_impl.worker.service" in cmd
    )  # fmt: skip


def test_a_worker_killed_under_load_is_replaced_and_every_answer_was_logged(server, model_a):
    """SIGKILL one of two workers under load: the other keeps answering, a new worker takes
    the dead one's place, and every request answered 200 is in the prediction log; only
    requests in flight at the kill may fail."""
    workers = service_workers(server.url)
    assert len(workers) == 2
    started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    answered: list[str] = []
    failed: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post(server.url + "/predict", json=PASSENGER)
                except httpx.TransportError as error:
                    failed.append(type(error).__name__)
                    continue
                if response.status_code == 200:
                    answered.append(response.json()["request_id"])
                else:
                    failed.append(str(response.status_code))

    clients = [threading.Thread(target=load) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        poll("requests in flight", lambda: len(answered) > 50, 30)
        os.kill(workers[0], signal.SIGKILL)
        before = len(answered)
        poll("answers after the kill", lambda: len(answered) > before + 100, 30)
        poll(
            "a new worker in place of the killed one",
            lambda: (
                len(service_workers(server.url)) == 2
                and workers[0] not in service_workers(server.url)
            ),
            60,
        )
        restarted = len(answered)
        poll("answers from both workers again", lambda: len(answered) > restarted + 100, 30)
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert len(failed) <= len(clients), failed  # at most the requests in flight at the kill
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    since = started.to_pydatetime()
    logged = set(read_prediction_log(server.log, PASSENGER_FIELDS, since=since)["request_id"])
    assert set(answered) <= logged


HALF_WRITTEN = """
import pickle, sys
import bentoml
from titanic_assets.core import registry
name, meta = registry.ModelStore("titanic_survival").serving, {"threshold": 0.5}
with bentoml.models.create(name, labels={}, metadata=meta) as m:
    whole = pickle.dumps(list(range(100_000)))
    open(m.path_of(registry.PIPELINE_FILE), "wb").write(whole[: len(whole) // 2])
print(m.tag)
"""


def test_a_half_written_model_in_the_store_leaves_the_current_one_serving(server, model_a):
    serving = server.get("/model_info").json()["model_version"]
    written = subprocess.run(
        [sys.executable, "-c", HALF_WRITTEN],
        env={**os.environ, "BENTOML_HOME": str(server.store)}, cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    broken = written.stdout.strip().rsplit(":", 1)[1]
    deadline = time.monotonic() + 4  # four poll intervals: every worker tried to load it
    answers = []
    while time.monotonic() < deadline:
        response = server.post("/predict", PASSENGER)
        answers.append((response.status_code, response.json().get("model_version")))
    assert set(answers) == {(200, serving)}, broken
    assert server.get("/readyz").status_code == 200
    # Reported once per worker, not at every poll.
    log = (server.store.parent / "service.log").read_text()
    assert 0 < log.count(f"Could not load titanic_survival:{broken}") <= 2

    # A worker that starts now, with the broken entry newest, serves the one before it.
    [first, _] = service_workers(server.url)
    os.kill(first, signal.SIGKILL)
    poll(
        "a new worker in place of the killed one",
        lambda: len(service_workers(server.url)) == 2 and first not in service_workers(server.url),
        60,
    )
    poll("every worker to serve the earlier model", lambda: server.serves_everywhere(serving), 60)
    with httpx.Client(timeout=30) as fresh:  # new connections, so both workers answer
        infos = [fresh.get(server.url + "/model_info") for _ in range(20)]
    assert {(r.status_code, r.json()["model_version"]) for r in infos} == {(200, serving)}


def test_a_model_still_being_copied_into_the_store_is_served_once_whole(
    server, model_a, trained, tmp_path
):
    """A worker that polls while a promotion is being copied in fails to load it: it keeps
    serving, and serves the new model once the copy is whole (it did not give up on it)."""
    serving = server.get("/model_info").json()["model_version"]
    staging = tmp_path / "staging"
    tag = save_model(staging, trained, trained.threshold, tmp_path / "model.pkl")
    name, version = tag.split(":")
    entry, target = staging / "models" / name / version, server.store / "models" / name / version
    shutil.copytree(entry, target, ignore=shutil.ignore_patterns(registry.PIPELINE_FILE))
    whole = (entry / registry.PIPELINE_FILE).read_bytes()
    (target / registry.PIPELINE_FILE).write_bytes(whole[: len(whole) // 2])
    (server.store / "models" / name / "latest").write_text(version)
    deadline = time.monotonic() + 4  # four poll intervals: every worker tried to load it
    while time.monotonic() < deadline:
        assert server.serves_everywhere(serving, probes=2)
    (target / registry.PIPELINE_FILE).write_bytes(whole)  # the copy goes on
    poll("every worker to serve the whole model", lambda: server.serves_everywhere(version), 30)


def test_predict_csv_scores_a_passenger_file_with_the_batch_rules(
    server, model_a, trained, shipped_passengers
):
    passengers = shipped_passengers.drop(columns=["Survived"]).head(40).astype(object)
    passengers.loc[3, "Sex"] = "unknown"
    passengers.loc[7, "Age"] = "200"
    response = server.client.post(
        server.url + "/predict_csv",
        content=passengers.to_csv(index=False).encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    answer = pd.read_csv(io.BytesIO(response.content))
    scored, rejected = answer[answer["reason"].isna()], answer[answer["reason"].notna()]
    assert len(scored) == 38
    assert rejected["row"].tolist() == [4, 8]
    assert rejected["reason"].tolist() == ["Sex not male or female", "Age not a number in 0-100"]
    valid = shipped_passengers.set_index("PassengerId").loc[scored["PassengerId"]].reset_index()
    np.testing.assert_allclose(scored["probability"], local_probability(trained, valid), atol=1e-6)


def test_predict_csv_refuses_other_media_types_and_oversized_files(server, model_a):
    wrong = server.client.post(
        server.url + "/predict_csv", content=b"a,b\n1,2\n", headers={"content-type": "text/plain"}
    )
    assert wrong.status_code == 415 and wrong.json()["detail"][0]["loc"] == ["content-type"]
    huge = server.client.post(
        server.url + "/predict_csv",
        content=b"PassengerId,Pclass\n" + b"1,3\n" * (11 * 2**20 // 4),
        headers={"content-type": "text/csv"},
    )
    assert huge.status_code == 413


def test_request_and_response_models_come_from_the_domain():
    """bento/schemas.py names no domain: another domain's words and contract give other
    models, fields and examples (here rows called "applicant", inputs with dashes)."""
    import dataclasses

    from bento.schemas import build
    from titanic_assets.core.contract import InputField
    from titanic_assets.core.domain import Words, load_domain

    inputs = (
        InputField("capital-gain", "float", "Gains.", required=True, minimum=0, maximum=1e6),
        InputField("sector", "category", "Where.", allowed=("public", "private")),
    )
    domain = dataclasses.replace(
        load_domain("titanic"),
        name="synthetic",
        inputs=inputs,
        id_column=None,
        words=Words(
            row="applicant", rows="applicants", decision="approved", probability="approval"
        ),
        example={"capital-gain": 10.0, "sector": "public"},
    )
    api = build(domain)
    assert (api.row.__name__, api.batch.__name__) == ("Applicant", "ApplicantBatch")
    assert api.batch_row.__name__ == "BatchApplicant"
    assert api.scored_row.__name__ == "ScoredApplicant"
    body = api.batch.model_validate({"applicants": [{"capital-gain": 5.0}]})
    assert body.applicants == [{"capital-gain": 5.0}]
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        api.batch.model_validate({"applicants": [{"capital-gain": 5.0, "age": 3}]})
    assert "approved" in api.prediction.model_fields
    assert "survived" not in api.prediction.model_fields
    assert api.feedback.model_validate({"id": "a", "approved": True}).approved is True
    assert api.batch.model_json_schema()["example"] == {"applicants": [domain.example]}
