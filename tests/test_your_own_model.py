"""A model nobody shipped, added the documented way: docs/your-own-model.md, run as written.

The page's steps are read from the page and taken in order, in a copy of the project,
on a synthetic `rain.csv` of weather readings (its own columns, string labels, no id
column, a few missing humidities): `dg scaffold defs ... --data rain.csv` writes the domain
from the template and the instance's defs.yaml, the page's features.py (a feature derived
from two inputs) is written as shown, `make check` loads it beside the shipped models,
`make materialize MODEL=rain` trains and promotes its first model, `make serve`
serves it and the page's curl is answered, in the model's own words. Only what the page
says is yours to change is changed: the port (any free one). With no engine change, the
service then rejects bad input naming the field and the reason, scores batches and CSVs,
and explains.

`make` runs here with the test's `uv` first on PATH: it runs a command from this
environment instead of syncing one into the copy (`uv run X` is X from here).
"""

import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import bentoml
import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from titanic_assets.components import ModelLoopParams, ModelLoopScaffolder
from titanic_assets.core.domain import load_domain
from titanic_assets.scaffolding import ScaffoldError, write_domain
from titanic_assets.testing import BIN, ROOT, environment, free_port, poll, running

PAGE = ROOT / "docs" / "your-own-model.md"
PORT_ON_PAGE = "3002"  # the page: "any free one"
SERVES = "make serve"  # the step that runs until stopped ("in a second terminal")
READING = {"temperature": 9.0, "humidity": 93.0, "season": "winter", "station": "Hill"}

UV = """#!/bin/sh
# The test's uv: the environment is the test's own, never synced into the copy.
case "$1" in
  --version) echo "uv (the test's)" ;;
  sync) ;;
  run) shift; [ "$1" = "--frozen" ] && shift; name="$1"; shift; exec "{bin}/$name" "$@" ;;
  *) echo "the test's uv does not do $1" >&2; exit 2 ;;
esac
"""


def page_steps(page: Path = PAGE) -> list[tuple[str, str]]:
    """The page's steps, in order: each ```shell block, run as written (path ""), and each
    ```python block with a title, the file of that path written as shown."""
    pattern = r'^```(?:shell|python title="([^"]+)")\n(.*?)^```'
    return re.findall(pattern, page.read_text(), flags=re.S | re.M)


def shell_blocks(page: Path = PAGE) -> list[str]:
    """The page's ```shell blocks, in order: the commands a user runs as written."""
    return [text for path, text in page_steps(page) if not path]


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


def copy_of_the_project(root: Path) -> None:
    """The project's files (tracked and not ignored) copied to `root`."""
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in tracked:
        if (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)


def step(block: str, root: Path, env: dict[str, str]) -> str:
    """One of the page's blocks, run by a shell in the project's root; its output."""
    run = subprocess.run(["bash", "-ec", block], cwd=root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"{block}\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    return run.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    """The page's steps, run in order in a copy of the project with `rain.csv` in its root;
    yields the copy, the environment, the service's URL and each block's output. The step
    that serves runs until the module's tests are done; the steps after it wait until it is
    ready, as its user would."""
    root = tmp_path_factory.mktemp("project")
    copy_of_the_project(root)
    readings().to_csv(root / "rain.csv", index=False)
    tools = tmp_path_factory.mktemp("tools")
    (tools / "uv").write_text(UV.format(bin=BIN))
    (tools / "uv").chmod(0o755)
    work = tmp_path_factory.mktemp("work")
    env = environment(work, {"PYTHONPATH": str(root), "TITANIC_SERVING_WORKERS": "1"})
    env["PATH"] = f"{tools}:{env['PATH']}"  # (PYTHONPATH: the copy, as `uv sync` installs it)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    outputs: dict[str, str] = {}  # each block's, by its command's first words
    with contextlib.ExitStack() as stack:
        for path, block in page_steps():
            block = block.replace(PORT_ON_PAGE, str(port))
            if path:
                (root / path).write_text(block)
            elif block.startswith(SERVES):
                log = work / "service.log"
                stack.enter_context(running(["bash", "-ec", block], log, env, root))
                try:
                    poll("the service", lambda: httpx.get(f"{url}/readyz").is_success, 120)
                except AssertionError as error:
                    raise AssertionError(f"{error}\n{log.read_text()[-3000:]}") from None
            else:
                outputs[" ".join(block.split()[:3])] = step(block, root, env)
        yield root, env, url, outputs


def test_the_page_s_steps_are_the_scaffold_a_check_the_first_model_a_service_and_a_request():
    """What the rest follows: the page's shell blocks, as a user reads them. (Its links are
    relative, each to a file of the repository.)"""
    links = re.findall(r"\]\(([^)#]+)\)", PAGE.read_text())
    assert links and all((PAGE.parent / link).is_file() for link in links), links
    firsts = [" ".join(b.split()[:3]) for b in shell_blocks()]
    assert firsts == [
        "uv run dg",
        "make check",
        "make materialize MODEL=rain",
        "make serve MODEL=rain",
        "curl -s -X",
    ]


def test_the_scaffold_writes_the_domain_from_the_template_and_the_data(page) -> None:
    """The contract read off the CSV (kinds, ranges, categories, which are required), the
    CSV copied, the instance naming the domain; the generated code is in the project's
    style (ruff); `make check` loaded it beside the shipped models."""
    root = page[0]
    folder = root / "titanic_assets/domains/rain"
    assert "domain: rain" in (root / "titanic_assets/defs/rain/defs.yaml").read_text()
    assert (folder / "data/rain.csv").read_bytes() == (root / "rain.csv").read_bytes()
    for ruff in (["check"], ["format", "--check"]):
        linted = subprocess.run([str(BIN / "ruff"), *ruff, str(folder)], capture_output=True)
        assert linted.returncode == 0, linted.stdout.decode()
    namespace: dict = {}
    exec((folder / "contract.py").read_text(), namespace)
    fields = {f.name: f for f in namespace["INPUTS"]}
    assert list(fields) == ["temperature", "humidity", "season", "station"]
    data = readings()
    temperature, humidity = fields["temperature"], fields["humidity"]
    assert (temperature.kind, temperature.required) == ("float", True)
    assert (temperature.minimum, temperature.maximum) == (
        data.temperature.min(),
        data.temperature.max(),
    )
    assert (humidity.kind, humidity.required) == ("float", False)  # some are missing
    assert fields["season"].allowed == ("autumn", "spring", "summer", "winter")
    assert (fields["station"].kind, fields["station"].required) == ("category", True)


def test_the_first_model_is_trained_registered_and_served(page) -> None:
    root, env, _, _ = page
    models = subprocess.run(
        [str(BIN / "bentoml"), "models", "list"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "rain_model:" in models  # the default store name: <instance>_model


def test_the_service_answers_the_page_s_request_in_the_model_s_own_words(page) -> None:
    _, _, url, outputs = page
    [curl] = [out for block, out in outputs.items() if block.startswith("curl")]
    answer = json.loads(curl)
    assert isinstance(answer["rain_tomorrow"], bool)  # the label's name: the decision
    assert 0.0 <= answer["probability"] <= 1.0
    with httpx.Client(base_url=url, timeout=30) as client:
        one = client.post("/predict", json=READING)
        assert one.status_code == 200, one.text
        assert one.json()["probability"] == answer["probability"]
        batch = client.post("/predict_batch", json={"rows": [READING, READING]})
        assert batch.status_code == 200, batch.text
        assert [p["probability"] for p in batch.json()["predictions"]] == [
            answer["probability"]
        ] * 2
        bad = client.post("/predict", json={**READING, "season": "monsoon"})
        assert bad.status_code == 400
        assert "season" in bad.text
        info = client.get("/model_info").json()
        assert info["raw_inputs"] == ["temperature", "humidity", "season", "station"]
        # The inputs as they are, and the page's feature of your own.
        assert info["features"] == [*info["raw_inputs"], "dew_point_spread"]
        csv = "temperature,humidity,season,station\n9.0,93.0,winter,Hill\n9.0,93.0,monsoon,Hill\n"
        scored = client.post("/predict_csv", content=csv, headers={"content-type": "text/csv"})
        [valid, rejected] = pd.read_csv(io.StringIO(scored.text)).to_dict("records")
        assert valid["row"] == 1 and valid["rain_tomorrow"] in (0, 1, True, False)
        assert rejected["row"] == 2 and "season" in rejected["reason"]
    # BentoML's own client, typed from this model's /schema.json.
    with bentoml.SyncHTTPClient(url, server_ready_timeout=30) as bento_client:
        assert bento_client.predict(READING)["probability"] == answer["probability"]
        explained = bento_client.explain(READING)
        assert set(explained["contributions"]) == set(info["features"])
        assert explained["contributions"]["dew_point_spread"] != 0.0  # the model reads it


# The scaffold's refusals, and its domain anywhere importable: in process, no project copy.


def test_data_the_loop_cannot_learn_from_as_it_is_writes_nothing_and_says_why(tmp_path) -> None:
    data = tmp_path / "rain.csv"
    table = readings(60)
    table.to_csv(data, index=False)
    cases = [
        ("rain_tomorrow", "maybe", "not a value of 'rain_tomorrow'"),
        ("season", "winter", "must take two values, not 4"),
        ("humidity_label", "yes", "label 'humidity_label' is not a column"),
    ]
    for label, positive, reason in cases:
        with pytest.raises(ScaffoldError, match=re.escape(reason)):
            write_domain(tmp_path / "domains", "rain", data, label, positive)
    with pytest.raises(ScaffoldError, match="must be a Python identifier"):
        write_domain(tmp_path / "domains", "my-rain", data, "rain_tomorrow", "yes")
    assert not (tmp_path / "domains").exists() or not any((tmp_path / "domains").iterdir())
    # Through the scaffolder, as `dg scaffold defs` calls it: the instance's folder dg made
    # is not left behind to block the next try.
    target = tmp_path / "titanic_assets/defs/rain"
    target.mkdir(parents=True)
    request = dg.ScaffoldRequest(
        type_name="titanic_assets.components.ModelLoop",
        target_path=target,
        scaffold_format="yaml",
        project_root=tmp_path,
        params=ModelLoopParams(data=str(data), label="rain_tomorrow", positive="maybe"),
    )
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="no model scaffolded"):
        ModelLoopScaffolder().scaffold(request)
    assert not target.exists()
    assert not (tmp_path / "titanic_assets/domains/rain").exists()


def test_a_scaffolded_domain_loads_outside_the_package_with_whole_number_or_true_false_labels(
    tmp_path, monkeypatch
) -> None:
    """0/1 labels, an id column, free text: a domain written anywhere on the path loads by
    its module name (as `--domain <module>` names it)."""
    table = readings(60).assign(
        rain_tomorrow=lambda t: (t.rain_tomorrow == "yes").astype(int),
        reading_id=range(1, 61),
        note=[f"note {i}" for i in range(60)],  # 60 distinct values: free text
    )
    table.to_csv(tmp_path / "readings.csv", index=False)
    write_domain(tmp_path, "rain_elsewhere", tmp_path / "readings.csv", "rain_tomorrow", "1",
                 id_column="reading_id")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    domain = load_domain("rain_elsewhere")
    assert domain.classes == (0, 1) and domain.id_column == "reading_id"
    assert domain.input_names == ("temperature", "humidity", "season", "station", "note")
    assert domain.fields["note"].kind == "text"
    assert domain.fields["note"].max_length == max(len(n) for n in table.note)
    assert "note" not in domain.design().feature_names
    assert [m.name for m in domain.monitored] == ["temperature", "humidity", "season", "station"]
    # True/False labels: read back by the landing area as the words, so classes are words.
    readings(60).assign(rain_tomorrow=lambda t: t.rain_tomorrow == "yes").to_csv(
        tmp_path / "flags.csv", index=False
    )
    write_domain(tmp_path, "rain_flags", tmp_path / "flags.csv", "rain_tomorrow", "True")
    assert load_domain("rain_flags").classes == ("False", "True")
