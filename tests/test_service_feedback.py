"""Outcomes sent back over real HTTP: ids on every prediction, POST /feedback, the store.

The session's `bentoml serve` with two workers (tests/conftest.py), after test_service.py has
put it through its models: outcomes stored by one worker must be seen by the other
(conflicts are detected across workers), and nothing already stored is lost or changed by a
rejected request.
"""

import pytest

from tests.conftest import Server
from titanic_assets.core.outcomes import read_outcomes
from titanic_assets.core.prediction_log import read_prediction_log
from titanic_assets.testing import PASSENGER


@pytest.fixture(scope="module", autouse=True)
def a_model_serves(model_a: str) -> None:
    """Predictions need a model: model A, or whichever test_service.py left serving."""


def stored(server: Server) -> dict[str, bool]:
    table = read_outcomes(server.log)
    return dict(zip(table["id"], table["survived"], strict=True))


def test_every_prediction_has_an_id_returned_and_logged(server):
    single = server.post("/predict", PASSENGER).json()
    batch = server.post("/predict_batch", {"passengers": [PASSENGER] * 3}).json()
    assert single["id"] == single["request_id"]
    ids = [p["id"] for p in batch["predictions"]]
    assert ids == [f"{batch['request_id']}-{i}" for i in range(3)]
    logged = set(read_prediction_log(server.log)["prediction_id"])
    assert {single["id"], *ids} <= logged


def test_a_client_request_id_becomes_the_prediction_id(server):
    response = server.client.post(
        server.url + "/predict", json=PASSENGER, headers={"X-Request-ID": "client-42"}
    )
    assert response.status_code == 200
    assert response.json()["id"] == "client-42"
    bad = server.client.post(
        server.url + "/predict", json=PASSENGER, headers={"X-Request-ID": "no spaces allowed"}
    )
    assert bad.status_code == 400
    assert "X-Request-ID" in bad.text


def test_feedback_is_stored_once_and_repeats_are_idempotent(server):
    batch = server.post("/predict_batch", {"passengers": [PASSENGER] * 4}).json()
    ids = [p["id"] for p in batch["predictions"]]
    outcomes = [{"id": i, "survived": n % 2 == 0} for n, i in enumerate(ids)]
    first = server.post("/feedback", {"outcomes": outcomes})
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 4, "stored": 4}
    # Sent again many times, spread over both workers: accepted, nothing new stored.
    for _ in range(6):
        again = server.post("/feedback", {"outcomes": outcomes})
        assert again.json() == {"received": 4, "stored": 0}
    assert {i: stored(server)[i] for i in ids} == {o["id"]: o["survived"] for o in outcomes}
    assert len(read_outcomes(server.log)) == len(stored(server))


def test_a_conflicting_outcome_is_409_on_every_worker_and_changes_nothing(server):
    one = server.post("/predict", PASSENGER).json()["id"]
    assert server.post("/feedback", {"outcomes": [{"id": one, "survived": True}]}).is_success
    before = stored(server)
    for _ in range(6):  # both workers must know what the other stored
        conflict = server.post("/feedback", {"outcomes": [{"id": one, "survived": False}]})
        assert conflict.status_code == 409
        assert conflict.json()["detail"]["ids"] == [one]
    assert stored(server) == before


def test_unknown_ids_are_named_and_nothing_of_the_batch_is_stored(server):
    known = server.post("/predict", PASSENGER).json()["id"]
    before = stored(server)
    response = server.post(
        "/feedback",
        {"outcomes": [{"id": known, "survived": True}, {"id": "never-predicted", "survived": 0}]},
    )
    # survived=0 is not a boolean: the body is malformed before ids are looked at.
    assert response.status_code == 422
    response = server.post(
        "/feedback",
        {
            "outcomes": [
                {"id": known, "survived": True},
                {"id": "never-predicted", "survived": False},
            ]
        },
    )
    assert response.status_code == 404
    assert response.json()["detail"]["ids"] == ["never-predicted"]
    assert stored(server) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"outcomes": []},
        {"outcomes": [{"id": "x"}]},
        {"outcomes": [{"id": "x", "survived": "yes"}]},
        {"outcomes": [{"id": "x", "survived": True, "extra": 1}]},
    ],
)
def test_malformed_feedback_is_422_naming_the_field(server, body):
    before = stored(server)
    response = server.post("/feedback", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert stored(server) == before


def test_a_line_cut_short_by_a_crash_is_skipped(server):
    (server.log / "outcomes-20260101-crashed-1.jsonl").write_text('{"timestamp": 1, "ids": ["a')
    one = server.post("/predict", PASSENGER).json()["id"]
    assert server.post("/feedback", {"outcomes": [{"id": one, "survived": True}]}).is_success
    assert stored(server)[one] is True
