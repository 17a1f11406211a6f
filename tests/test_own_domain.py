"""The domain interface is enough: a model nobody shipped, added the documented way.

A tiny synthetic domain (rain from weather readings: its own CSV, contract, features, words,
slices; string labels; no id column) is written into a temporary folder outside the
package, and an instance for it added to a copy of the project with `dg scaffold defs`.
With no engine change, the copy's code location loads both models side by side, the new
model's graph materializes headless as `make materialize MODEL=rain` runs it, and its
service answers in its own words, rejecting bad input with the field and the reason.
"""

import io
import shutil
import subprocess
import textwrap
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pandas as pd
import pytest

from titanic_assets.testing import BIN, ROOT, environment, model_service

DOMAIN_MODULE = '''
"""Rain tomorrow from today's weather readings: a synthetic domain for the tests."""

import math
from pathlib import Path

import numpy as np

from titanic_assets.core.contract import InputField
from titanic_assets.core.domain import Domain, MonitoredInput, Words

SEASONS = ("winter", "spring", "summer", "autumn")
INPUTS = (
    InputField("temperature", "float", "Degrees Celsius.", required=True, minimum=-30, maximum=50),
    InputField("humidity", "float", "Percent; null: no reading.", minimum=0, maximum=100),
    InputField("season", "category", "The season.", required=True, allowed=SEASONS),
    InputField("station", "text", "Where it was read.", max_length=40),
)


class WeatherDesign:
    """Its own features: the readings, the season's position, and a dryness index."""

    feature_names = ("temperature", "humidity", "season", "dryness")
    categorical = ("season",)

    def fitted(self, columns, labels, ids=None):
        return self

    def matrix(self, columns, exclude=None):
        temperature = np.asarray(columns["temperature"], dtype=np.float64)
        humidity = np.asarray(columns["humidity"], dtype=np.float64)
        season = [
            SEASONS.index(s) if isinstance(s, str) and s in SEASONS else math.nan
            for s in columns["season"]
        ]
        dryness = temperature * (100.0 - humidity) / 100.0
        return np.ascontiguousarray(
            np.array([temperature, humidity, season, dryness], dtype=np.float64).T
        )


DOMAIN = Domain(
    name="rain",
    title="Rain tomorrow, from today's weather",
    data=Path(__file__).parent / "readings.csv",
    inputs=INPUTS,
    label="rain_tomorrow",
    classes=("no", "yes"),
    id_column=None,
    words=Words(row="reading", rows="readings", decision="rain", probability="rain"),
    example={"temperature": 12.5, "humidity": 81.0, "season": "autumn", "station": "Pier"},
    design=WeatherDesign,
    fill_gaps=lambda table: (table, []),
    filled=(),
    monitored=(
        MonitoredInput("temperature", "temperature", numeric=True),
        MonitoredInput("humidity", "humidity", numeric=True),
        MonitoredInput("season", "season", numeric=False),
    ),
    slices={season: {"season": season} for season in SEASONS},
    leave_one_out={"leave-one-season-out": "season"},
    hyperparameters={"n_estimators": 60},  # few trees: a test's model, trained in seconds
)
'''

READING = {"temperature": 9.0, "humidity": 93.0, "season": "winter", "station": "Hill"}


def readings(n: int = 500, seed: int = 7) -> pd.DataFrame:
    """Weather readings whose rain follows humidity, warmth and season, with a few missing
    humidities: learnable (ROC-AUC about 0.9), not trivial."""
    rng = np.random.default_rng(seed)
    season = rng.choice(["winter", "spring", "summer", "autumn"], n)
    temperature = rng.normal(15, 8, n).clip(-30, 50).round(1)
    humidity = rng.uniform(20, 100, n).round(1)
    wet_season = np.isin(season, ["winter", "autumn"])
    score = 0.09 * (humidity - 60) - 0.06 * (temperature - 15) + 0.8 * wet_season
    rain = rng.random(n) < 1 / (1 + np.exp(-score))
    table = pd.DataFrame(
        {
            "temperature": temperature,
            "humidity": humidity,
            "season": season,
            "station": rng.choice(["Pier", "Hill", "Airport"], n),
            "rain_tomorrow": np.where(rain, "yes", "no"),
        }
    )
    table.loc[rng.random(n) < 0.03, "humidity"] = np.nan
    return table


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the project with an instance `rain` added, the domain outside it, and the
    environment that finds both (as a team's own package would be installed)."""
    root = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in tracked:
        if (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    domains = tmp_path_factory.mktemp("domains")
    (domains / "rain_domain").mkdir()
    (domains / "rain_domain" / "__init__.py").write_text(textwrap.dedent(DOMAIN_MODULE))
    readings().to_csv(domains / "rain_domain" / "readings.csv", index=False)
    work = tmp_path_factory.mktemp("work")
    env = environment(work, {"PYTHONPATH": f"{root}:{domains}"})
    # The documented way to add an instance: a defs.yaml naming the domain.
    subprocess.run(
        [str(BIN / "dg"), "scaffold", "defs", "titanic_assets.components.ModelLoop", "rain",
         "--domain", "rain_domain"],
        cwd=root, env=env, check=True, capture_output=True,
    )  # fmt: skip
    assert "domain: rain_domain" in (root / "titanic_assets/defs/rain/defs.yaml").read_text()
    return root, env


@pytest.fixture(scope="module")
def rain_model(project) -> tuple[Path, dict[str, str]]:
    """The rain model's graph materialized headless, as `make materialize MODEL=rain` does."""
    root, env = project
    run = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "titanic_assets.definitions",
         "--select", "key:rain/* and not key:rain/hourly_traffic"],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return project


def test_the_new_model_loads_beside_titanic_and_materializes_headless(rain_model) -> None:
    """(Materializing it loaded the copy's whole code location: both models' definitions.)"""
    root, env = rain_model
    models = subprocess.run(
        [str(BIN / "bentoml"), "models", "list"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "rain_model:" in models  # the default store name: <instance>_model


def test_the_new_model_serves_in_its_own_words(rain_model, tmp_path: Path) -> None:
    root, env = rain_model
    overrides = {k: env[k] for k in ("PYTHONPATH", "BENTOML_HOME", "TITANIC_PREDICTION_LOG")}
    with (
        model_service(tmp_path, overrides, model="rain", cwd=root) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        one = client.post("/predict", json=READING)
        assert one.status_code == 200, one.text
        assert isinstance(one.json()["rain"], bool)
        assert 0.0 <= one.json()["probability"] <= 1.0
        batch = client.post("/predict_batch", json={"readings": [READING, READING]})
        assert batch.status_code == 200, batch.text
        assert [p["probability"] for p in batch.json()["predictions"]] == [
            one.json()["probability"]
        ] * 2
        bad = client.post("/predict", json={**READING, "season": "monsoon"})
        assert bad.status_code == 400
        assert "season" in bad.text
        info = client.get("/model_info").json()
        assert info["raw_inputs"] == ["temperature", "humidity", "season", "station"]
        assert info["features"] == ["temperature", "humidity", "season", "dryness"]
        csv = "temperature,humidity,season\n9.0,93.0,winter\n9.0,93.0,monsoon\n"
        scored = client.post("/predict_csv", content=csv, headers={"content-type": "text/csv"})
        [valid, rejected] = pd.read_csv(io.StringIO(scored.text)).to_dict("records")
        assert valid["row"] == 1 and valid["rain"] in (0, 1, True, False)
        assert rejected["row"] == 2 and "season" in rejected["reason"]
        # BentoML's own client, typed from this model's /schema.json.
        with bentoml.SyncHTTPClient(url, server_ready_timeout=30) as bento_client:
            assert bento_client.predict(READING)["probability"] == one.json()["probability"]
            rows = bento_client.predict_batch(readings=[READING])["predictions"]
            assert rows[0]["rain"] == one.json()["rain"]
            explained = bento_client.explain(READING)
            assert set(explained["contributions"]) == set(info["features"])
