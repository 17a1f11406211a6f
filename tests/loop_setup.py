"""The monitoring loop's setup, shared by its end-to-end test (tests/test_drift_loop.py) and
its benchmark (benchmarks/loop.py): a working directory with its own instance, stores and
folders, the first model materialized into it, and a shifted population to serve."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from tests.processes import BIN, ROOT

DAEMON = [str(BIN / "dagster-daemon"), "run", "-m", "titanic_assets.definitions"]


def loop_environment(work: Path) -> dict[str, str]:
    """The environment of a daemon and a service sharing `work`: instance (telemetry off),
    model store, landing, labels, inbox, exports, prediction log; drift reports refreshed
    every 200 rows and 5 s, models polled every second."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_PROFILE": "local",
        "TITANIC_LANDING_DIR": str(work / "landing"),
        "TITANIC_LABELS_DIR": str(work / "labels"),
        "TITANIC_INBOX_DIR": str(work / "inbox"),
        "TITANIC_EXPORTS_DIR": str(work / "exports"),
        "TITANIC_PREDICTION_LOG": str(work / "prediction_log"),
        "TITANIC_DRIFT_REFRESH_ROWS": "200",
        "TITANIC_DRIFT_REFRESH_SECONDS": "5",
        "TITANIC_MODEL_POLL_SECONDS": "1",
    }


def materialize_first_model(env: dict[str, str]) -> None:
    """The whole graph, as `make materialize` makes it: the first model is served."""
    subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "--select", "*",
         "-m", "titanic_assets.definitions"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip


def shifted_population(shipped: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """New third-class men, older and boarding at Queenstown, 80% of whom survive: inputs and
    outcomes both shifted from what the first model learned (it expects such men to die).
    New surnames and tickets, so none of them repeats a shipped passenger or shares a
    travelling group with another."""
    rng = np.random.default_rng(seed)
    men = shipped[(shipped["Pclass"] == 3) & (shipped["Sex"] == "male")]
    rows = men.iloc[rng.integers(0, len(men), n)].reset_index(drop=True)
    return rows.assign(
        Age=(rows["Age"] + 15).clip(upper=100),
        Embarked="Q",
        Name=[f"Shifted{seed}x{i}, Mr. Passenger" for i in range(n)],
        Ticket=[f"SHIFT{seed} {i}" for i in range(n)],
        Survived=(rng.random(n) < 0.8).astype(int),
    )
