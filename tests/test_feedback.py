"""Outcomes sent back over real HTTP: ids on every prediction, POST /feedback, the store.

One `bentoml serve` with two workers: outcomes stored by one worker must be seen by the
other (conflicts are detected across workers), and nothing already stored is lost or changed
by a rejected request. The service takes outcomes from two senders' tokens only; its client
sends the first with every request, predictions included (they need none).
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SWITCH_DEADLINE, Server
from titanic_assets.core.outcomes import read_outcomes, sender_id
from titanic_assets.core.prediction_log import read_prediction_log
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import model_log, model_service, poll

TOKEN, OTHER_TOKEN = "first-sender-token-0123456789", "second-sender-token-9876543210"


@pytest.fixture(scope="module")
def server(tmp_path_factory, materialized_graph) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("feedback")
    env = {
        "TITANIC_MODEL_POLL_SECONDS": "1",
        "TITANIC_SERVING_WORKERS": "2",
        "TITANIC_FEEDBACK_TOKEN": f"{TOKEN},{OTHER_TOKEN}",
    }
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    with (
        model_service(work, env) as url,
        httpx.Client(timeout=30, headers=authorized) as client,
    ):
        served = Server(url, work / "bentoml", model_log(work), client)
        trained = materialized_graph.value("trained_model")
        version = served.promote(trained, trained.threshold, work)
        poll("every worker to serve", lambda: served.serves_everywhere(version), SWITCH_DEADLINE)
        yield served


def stored(server: Server) -> dict[str, bool]:
    table = read_outcomes(server.log)
    return dict(zip(table["id"], table["outcome"], strict=True))


def test_every_prediction_has_an_id_returned_and_logged(server):
    single = server.post("/predict", PASSENGER).json()
    batch = server.post("/predict_batch", {"passengers": [PASSENGER] * 3}).json()
    assert single["id"] == single["request_id"]
    ids = [p["id"] for p in batch["predictions"]]
    assert ids == [f"{batch['request_id']}-{i}" for i in range(3)]
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    logged = set(read_prediction_log(server.log, PASSENGER_FIELDS)["prediction_id"])
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


def test_outcomes_need_an_accepted_token_and_predictions_none(server):
    answer = httpx.post(server.url + "/predict", json=PASSENGER)  # no credential
    assert answer.status_code == 200
    outcome = {"outcomes": [{"id": answer.json()["id"], "survived": True}]}
    before = stored(server)

    missing = httpx.post(server.url + "/feedback", json=outcome)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.text
    not_bearer = httpx.post(
        server.url + "/feedback", json=outcome, headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert not_bearer.status_code == 401
    for wrong in (TOKEN[:-1], TOKEN + "x", "x" * len(TOKEN)):
        refused = httpx.post(
            server.url + "/feedback", json=outcome, headers={"Authorization": f"Bearer {wrong}"}
        )
        assert refused.status_code == 403, wrong
    assert stored(server) == before


def test_each_stored_outcome_records_its_sender_never_the_token(server):
    ids = [
        p["id"]
        for p in server.post("/predict_batch", {"passengers": [PASSENGER] * 2}).json()[
            "predictions"
        ]
    ]
    assert server.post("/feedback", {"outcomes": [{"id": ids[0], "survived": True}]}).is_success
    other = httpx.post(
        server.url + "/feedback",
        json={"outcomes": [{"id": ids[1], "survived": False}]},
        headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
    )
    assert other.is_success

    senders = read_outcomes(server.log).set_index("id")["sender"]
    assert senders[ids[0]] == sender_id(TOKEN)
    assert senders[ids[1]] == sender_id(OTHER_TOKEN) != sender_id(TOKEN)
    written = b"".join(path.read_bytes() for path in server.log.glob("outcomes-*.jsonl"))
    assert TOKEN.encode() not in written and OTHER_TOKEN.encode() not in written
