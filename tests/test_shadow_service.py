"""The challenger in the real service: it scores every passenger in the shadow, its answers
are logged under the same prediction ids and never returned, /model_info names it, and a
challenger that fails to score costs no request (bento/service.py, bento/model_slots.py)."""

import copy
import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SWITCH_DEADLINE
from titanic_assets.core import registry
from titanic_assets.domains.titanic.contract import RAW_INPUTS
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import ROOT, poll

STORE = registry.ModelStore("titanic_survival")  # the Titanic model's store names


def challenger_command(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "titanic_assets.commands.challenger", *args],
        env={**os.environ, "BENTOML_HOME": str(server.store)}, cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip


def shadowed_lines(server, request_id: str) -> list[dict]:
    lines = []
    for path in server.log.glob("predictions-*.jsonl"):
        lines += [json.loads(x) for x in path.read_text().splitlines() if request_id in x]
    return lines


def shadows_everywhere(server, version: str | None, probes: int = 20) -> bool:
    for _ in range(probes):
        info = server.get("/model_info").json()
        assert "challenger" in info, info
        challenger = info["challenger"]
        if (challenger and challenger["model_version"]) != version:
            return False
    return True


def test_a_named_challenger_scores_every_passenger_in_the_shadow(
    server, model_a, trained, tmp_path
):
    threshold = trained.threshold + 0.1
    candidate = server.promote(trained, threshold, tmp_path, name=STORE.candidate)
    challenger_command(server, "shadow", candidate, "--reason", "test")
    poll("every worker to shadow", lambda: shadows_everywhere(server, candidate), SWITCH_DEADLINE)
    info = server.get("/model_info").json()
    assert info["challenger"]["threshold"] == pytest.approx(threshold)
    assert info["model_version"] != candidate

    passengers = [PASSENGER, {**PASSENGER, "Sex": "male", "Pclass": 3, "Age": None}]
    response = server.client.post(
        server.url + "/predict_batch",
        json={"passengers": passengers},
        headers={"X-Request-ID": "shadowed-batch"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert all(set(p) == {"id", "survived", "probability"} for p in answer["predictions"])
    assert "challenger" not in answer

    [line] = poll("the shadowed line", lambda: shadowed_lines(server, "shadowed-batch"), 10)
    shadow = line["challenger"]
    assert shadow["model_version"] == candidate
    expected = trained.predict_proba(pd.DataFrame(passengers, columns=list(RAW_INPUTS)))
    np.testing.assert_allclose(shadow["probability"], expected, atol=1e-6)
    assert shadow["predicted"] == [bool(p >= threshold) for p in shadow["probability"]]
    assert line["ids"] == [p["id"] for p in answer["predictions"]]
    assert line["model_version"] == answer["model_version"]


def test_a_challenger_that_fails_to_score_costs_no_request_and_retiring_stops_the_shadow(
    server, model_a, trained, tmp_path
):
    broken = copy.copy(trained)
    broken.pipeline = copy.copy(trained.pipeline)
    broken.pipeline.classifier = None  # loads, then fails on every passenger
    candidate = server.promote(broken, 0.5, tmp_path, name=STORE.candidate)
    challenger_command(server, "shadow", candidate, "--reason", "test: a broken candidate")
    poll("every worker to shadow", lambda: shadows_everywhere(server, candidate), SWITCH_DEADLINE)

    statuses = [
        server.client.post(
            server.url + "/predict", json=PASSENGER, headers={"X-Request-ID": f"broken-{i}"}
        ).status_code
        for i in range(10)
    ]

    assert statuses == [200] * 10
    lines = [line for i in range(10) for line in shadowed_lines(server, f"broken-{i}")]
    assert len(lines) == 10 and not any("challenger" in line for line in lines)
    metrics = httpx.get(server.url + "/metrics").text
    assert "titanic_challenger_failures_total{error=" in metrics

    challenger_command(server, "retire", "--reason", "test: broken")
    poll(
        "every worker to stop shadowing", lambda: shadows_everywhere(server, None), SWITCH_DEADLINE
    )
    shown = challenger_command(server, "show").stdout
    assert f"{STORE.candidate}:{candidate}: retired" in shown
