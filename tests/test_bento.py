"""The packaged service away from the development machine: the bento is built, installed
from its own requirements into a clean virtualenv (not the project's .venv), started from
outside the repository, and follows the model store it is pointed at."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import PROMOTE
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import ROOT, free_port, poll, running

BENTOFILE = ROOT / "bento" / "bentofile.yaml"


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def save_model(store: Path, trained, threshold: float, work: Path) -> str:
    """Register a model as the pipeline does, in the store at `store`; its version."""
    import pickle

    payload = work / f"model-{threshold}.pkl"
    payload.write_bytes(
        pickle.dumps(
            {
                "name": "titanic_survival",
                "pipeline": trained.pipeline,
                "reference": trained_reference(),
                "reference_summary": {"rows": 0, "columns": {}},
                "metadata": {"threshold": threshold, "calibration": trained.calibration.as_dict()},
                "labels": {},
            }
        )
    )
    saved = subprocess.run(
        [sys.executable, "-c", PROMOTE, str(payload)],
        env={**os.environ, "BENTOML_HOME": str(store)},
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return saved.stdout.strip().rsplit(":", 1)[1]


def trained_reference():
    import pandas as pd

    from titanic_assets.domains.titanic.contract import RAW_INPUTS

    return pd.DataFrame({name: [] for name in RAW_INPUTS})


def test_the_bentofile_pins_the_versions_the_project_locks():
    """The bento unpickles the model with the library versions that trained it."""
    packages = yaml.safe_load(BENTOFILE.read_text())["python"]["packages"]
    pins = dict(line.split("#")[0].strip().split("==") for line in packages)
    assert pins == {name: importlib.metadata.version(name) for name in pins}
    assert {"lightgbm", "scikit-learn", "numpy", "fastapi", "pandas"} <= set(pins)


def test_the_built_bento_starts_from_its_own_requirements_and_follows_the_shared_store(
    materialized_graph, tmp_path
):
    trained = materialized_graph.value("trained_model")
    store = tmp_path / "store"  # the registry the pipeline writes, shared by path
    built = subprocess.run(
        [str(Path(sys.executable).parent / "bentoml"), "build", "-f", str(BENTOFILE), ".",
         "--output", "tag"],
        env={**os.environ, "BENTOML_HOME": str(tmp_path / "build"), "BENTOML_DO_NOT_TRACK": "true"},
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    name, version = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:").split(":")
    bento = tmp_path / "build" / "bentos" / name / version
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "fastapi==" in requirements and "bentoml==" in requirements
    assert not (bento / "models").exists()  # models come from the store, not the bento
    assert "titanic_survival" not in (bento / "bento.yaml").read_text().split("models:")[-1]

    venv = tmp_path / "venv"
    subprocess.run([*uv(), "venv", "-q", "-p", "3.11", str(venv)], check=True, timeout=300)
    subprocess.run(
        [*uv(), "pip", "install", "-q", "-p", str(venv / "bin" / "python"), "-r",
         "../env/python/requirements.txt"],
        cwd=bento / "src", check=True, timeout=900,
    )  # fmt: skip

    first = save_model(store, trained, 0.5, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    outside = tmp_path / "elsewhere"  # not the repository: only the bento's own files
    outside.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BENTOML_HOME": str(store),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_MODEL_POLL_SECONDS": "1",
        "TITANIC_PREDICTION_LOG": str(tmp_path / "prediction_log"),
    }
    command = [str(venv / "bin" / "bentoml"), "serve", str(bento), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    with running(command, tmp_path / "bento.log", env, cwd=outside):
        poll("the bento to be ready", lambda: httpx.get(f"{url}/readyz").is_success, 120)
        answer = httpx.post(f"{url}/predict", json=PASSENGER).json()
        assert answer["model_version"] == first
        assert answer["probability"] == pytest.approx(
            float(trained.predict_proba(trained_frame())[0])
        )

        statuses: list[int] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    statuses.append(client.post(f"{url}/predict", json=PASSENGER).status_code)

        client = threading.Thread(target=load)
        client.start()
        try:
            second = save_model(store, trained, 0.25, tmp_path)  # a promotion in the store
            poll(
                f"the bento to serve the newly promoted {second}",
                lambda: (
                    httpx.post(f"{url}/predict", json=PASSENGER).json()["model_version"] == second
                ),
                30,
            )
        finally:
            stop.set()
            client.join()
        assert statuses and set(statuses) == {200}


def trained_frame():
    import pandas as pd

    from titanic_assets.domains.titanic.contract import RAW_INPUTS

    return pd.DataFrame([PASSENGER], columns=list(RAW_INPUTS))
