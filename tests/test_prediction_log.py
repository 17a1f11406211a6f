"""The prediction log's writer under faults and over time: a full disk or an unwritable
directory never fails a prediction, files roll over by size, each hour has its own file
(retention is monitoring's, test_compaction.py)."""

import os
import socket
import time
from pathlib import Path

import httpx

from titanic_assets.core.prediction_log import (
    LogPolicy,
    PredictionLogWriter,
    read_prediction_log,
)
from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS
from titanic_assets.testing import poll

PASSENGER = {"Pclass": 3, "Sex": "male", "SibSp": 0, "Parch": 0}
COLUMNS = {f.name: [PASSENGER.get(f.name)] for f in PASSENGER_FIELDS}


def write(writer: PredictionLogWriter, request_id: str) -> bool:
    return writer.write(request_id, "predict", "v1", COLUMNS, [0.1], [False])


def own_file(location: Path) -> Path:
    hour = time.strftime("%Y%m%d%H", time.gmtime())
    return location / f"predictions-{hour}-{socket.gethostname()}-{os.getpid()}.jsonl"


def test_a_full_disk_drops_the_line_reports_it_and_recovers(tmp_path):
    failures, health = [], []
    writer = PredictionLogWriter(
        tmp_path, PASSENGER_FIELDS, on_failure=failures.append, on_health=health.append
    )
    own_file(tmp_path).symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    assert write(writer, "lost") is False
    assert [f.errno for f in failures] == [28] and health == [False] and not writer.healthy

    own_file(tmp_path).unlink()  # space again
    assert write(writer, "kept") is True
    assert health == [False, True] and writer.healthy
    assert read_prediction_log(tmp_path, PASSENGER_FIELDS)["request_id"].tolist() == ["kept"]


def test_an_unwritable_directory_is_reported_not_raised(tmp_path):
    (tmp_path / "a-file").write_text("")
    failures = []
    writer = PredictionLogWriter(
        tmp_path / "a-file" / "log", PASSENGER_FIELDS, on_failure=failures.append
    )
    assert not writer.healthy
    assert write(writer, "lost") is False
    assert len(failures) == 2  # at start-up, and for the request


def test_files_roll_over_by_size_and_the_reader_sees_every_part(tmp_path):
    writer = PredictionLogWriter(
        tmp_path, PASSENGER_FIELDS, LogPolicy(max_file_bytes=1000, keep_days=30)
    )
    for i in range(30):
        assert write(writer, f"r{i}")
    files = sorted(tmp_path.glob("predictions-*.jsonl"))
    assert len(files) > 3
    assert all(f.stat().st_size < 1000 + 400 for f in files)
    assert sorted(read_prediction_log(tmp_path, PASSENGER_FIELDS)["request_id"]) == sorted(
        f"r{i}" for i in range(30)
    )


def test_a_new_hour_starts_a_new_file_and_nothing_is_deleted(tmp_path):
    (tmp_path / "predictions-2020010100-otherhost-1.jsonl").write_text("")
    writer = PredictionLogWriter(tmp_path, PASSENGER_FIELDS, LogPolicy(keep_days=7))
    writer._hour = "1999123123"  # as if the process had been writing since an earlier hour
    assert write(writer, "now")
    hours = sorted(p.name.split("-")[1] for p in tmp_path.glob("predictions-*.jsonl"))
    assert hours == ["2020010100", time.strftime("%Y%m%d%H", time.gmtime())]


def test_the_service_answers_and_counts_when_its_log_cannot_be_written(
    materialized_graph, service_with_unwritable_log
):
    url = service_with_unwritable_log  # the graph's model in its store, its log under a file
    poll("readiness", lambda: httpx.get(f"{url}/readyz").is_success)
    answers = [httpx.post(f"{url}/predict", json=PASSENGER) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    metrics = httpx.get(f"{url}/metrics").text
    assert 'titanic_prediction_log_failures_total{error="ENOTDIR"}' in metrics
    assert "titanic_prediction_log_writable 0.0" in metrics
