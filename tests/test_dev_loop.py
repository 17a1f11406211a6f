"""`make dev` as a newcomer runs it: Dagster and one service per configured model come up,
each service taking outcomes from every configured sender's token, and Ctrl-C (or SIGTERM)
stops every process it started within 10 s."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import save_model
from titanic_assets.commands.dev import TOKEN_FILE, feedback_tokens
from titanic_assets.core.instances import instance_names
from titanic_assets.core.settings import Settings
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import (
    ROOT,
    environment,
    free_port,
    poll,
    process_table,
    stop_process_groups,
)

STOP_SECONDS = 10
# Two senders' tokens, as an operator configures them (TITANIC_FEEDBACK_TOKEN="<a>,<b>").
SENDERS = ("first-dev-sender-token-0123456789", "second-dev-sender-token-9876543210")


@pytest.fixture(scope="module")
def first_model(tmp_path_factory: pytest.TempPathFactory, trained) -> dict[str, str]:
    """An environment whose store has a served Titanic model (the session's, saved as the
    serving_model asset saves it), so the services make predictions that outcomes can be
    sent for."""
    work = tmp_path_factory.mktemp("dev")
    env = environment(work)
    save_model(Path(env["BENTOML_HOME"]), trained, trained.threshold, work / "model.pkl")
    return env


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


def test_a_first_run_makes_an_owner_only_token_and_configured_tokens_replace_it(tmp_path):
    made = feedback_tokens(Settings(home=tmp_path))
    path = tmp_path / TOKEN_FILE
    assert len(made) == 1 and path.read_text().strip() == made[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert feedback_tokens(Settings(home=tmp_path)) == made  # kept across runs
    configured = Settings(home=tmp_path / "elsewhere", feedback_token=",".join(SENDERS))
    assert feedback_tokens(configured) == list(SENDERS)
    assert not (tmp_path / "elsewhere" / TOKEN_FILE).exists()


def send_outcome(service: str, token: str) -> httpx.Response:
    """A fresh prediction's outcome, sent with `token`."""
    predicted = httpx.post(f"{service}/predict", json=PASSENGER, timeout=30).raise_for_status()
    outcome = {"outcomes": [{"id": predicted.json()["id"], "survived": True}]}
    authorized = {"Authorization": f"Bearer {token}"}
    return httpx.post(f"{service}/feedback", json=outcome, headers=authorized, timeout=30)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_make_dev_serves_every_model_with_every_token_and_stops_everything_on_a_signal(
    tmp_path, first_model, stop_signal
):
    env = dict(first_model)
    dagster_port, service_port = free_port(), free_port()
    env["TITANIC_HOME"] = str(tmp_path)  # where make dev would keep a token it made
    env["TITANIC_FEEDBACK_TOKEN"] = ",".join(SENDERS)
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
        # One service per configured model on consecutive ports, in the models' sorted order.
        service = f"http://127.0.0.1:{service_port + instance_names().index('titanic')}"
        poll(
            "the Titanic model's service to serve its first model",
            lambda: httpx.post(f"{service}/predict", json=PASSENGER).is_success,
            120,
        )
        printed = (tmp_path / "dev.log").read_text()
        assert f"Model titanic: {service}" in printed
        assert "2 sender(s)" in printed and SENDERS[0] in printed
        assert not (tmp_path / TOKEN_FILE).exists()  # the configured tokens, none made
        # Outcomes need one of the configured tokens; predictions need none.
        feedback = f"{service}/feedback"
        outcome = {"outcomes": [{"id": "not-predicted", "survived": True}]}
        assert httpx.post(feedback, json=outcome).status_code == 401
        for token in SENDERS:
            authorized = {"Authorization": f"Bearer {token}"}
            assert httpx.post(feedback, json=outcome, headers=authorized).status_code == 404
            accepted = send_outcome(service, token)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json() == {"received": 1, "stored": 1}
        refused = send_outcome(service, "third-sender-token-not-configured")
        assert refused.status_code == 403, refused.text
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


def test_a_worker_in_a_session_of_its_own_is_stopped_with_its_server() -> None:
    """As BentoML starts its workers: in a new session, out of reach of a signal to the
    server's group. A server that does not stop its worker (here it ignores SIGTERM, and is
    killed after the grace) leaves no worker behind."""
    server_code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", server_code], start_new_session=True)
    poll("the worker to start", lambda: descendants(server.pid), 30)
    worker = descendants(server.pid)
    stop_process_groups(server, grace=1)
    assert server.returncode is not None
    assert not alive(worker), "the worker outlived its server"
