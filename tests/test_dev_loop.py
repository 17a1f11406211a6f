"""`make dev` as a newcomer runs it: both servers come up, and Ctrl-C (or SIGTERM) stops
every process it started within 10 s."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from titanic_assets.testing import ROOT, environment, free_port, poll, process_table

STOP_SECONDS = 10


def descendants(root: int) -> set[int]:
    """Every live process below `root`, from /proc (whatever session each one is in)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in process_table().items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            still.add(pid)
    return still


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_make_dev_serves_both_and_stops_everything_on_a_signal(tmp_path, stop_signal):
    env = environment(tmp_path)
    dagster_port, service_port = free_port(), free_port()
    env["TITANIC_HOME"] = str(tmp_path)  # where make dev keeps its feedback token
    # The Makefile sets DAGSTER_HOME to the repository unless told otherwise on its command line.
    command = ["make", "dev", f"DAGSTER_HOME={env['DAGSTER_HOME']}", f"DAGSTER_PORT={dagster_port}",
               f"SERVICE_PORT={service_port}"]  # fmt: skip
    # Its own session, as a terminal gives it; Ctrl-C signals the whole foreground group.
    make = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True,
        stdout=(tmp_path / "dev.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    started: set[int] = set()
    try:
        poll(
            "the Dagster UI",
            lambda: httpx.get(f"http://127.0.0.1:{dagster_port}/server_info").is_success,
            120,
        )
        poll(
            "the model service",
            lambda: httpx.get(f"http://127.0.0.1:{service_port}/livez").is_success,
            120,
        )
        # Outcomes need the token make dev made and printed; predictions need none.
        token = (tmp_path / ".feedback_token").read_text().strip()
        assert f"Bearer {token}" in (tmp_path / "dev.log").read_text()
        feedback = f"http://127.0.0.1:{service_port}/feedback"
        outcome = {"outcomes": [{"id": "not-predicted", "survived": True}]}
        assert httpx.post(feedback, json=outcome).status_code == 401
        authorized = {"Authorization": f"Bearer {token}"}
        assert httpx.post(feedback, json=outcome, headers=authorized).status_code == 404
        started = descendants(make.pid)
        assert len(started) >= 6  # uv, supervisor, dg, webserver, daemon, code server, bentoml

        os.killpg(make.pid, stop_signal)
        stopped_at = time.monotonic()
        make.wait(STOP_SECONDS + 5)
        while alive(started) and time.monotonic() - stopped_at < STOP_SECONDS:
            time.sleep(0.2)
        assert not alive(started), (tmp_path / "dev.log").read_text()[-3000:]
        assert time.monotonic() - stopped_at <= STOP_SECONDS
    finally:
        for pid in alive(started | descendants(make.pid)) | {make.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
