"""The Dagster UI in a real browser: `dagster dev` (webserver and daemon) on a temporary
instance, driven by Playwright in Debian's headless Chromium. An operator's path: find the
asset graph, materialize the titanic_model_training job, see the run succeed, read the check
results and the evaluation metrics; then drop a file in the Titanic model's scoring inbox and
see the sensor score it.

Screenshots go to tests/artifacts/; with TITANIC_UPDATE_DOCS_SCREENSHOTS=1 the graph and the
model_evaluation page are also copied to docs/images/, which docs/asset-graph.md shows. Playwright
never downloads a browser here: it launches /usr/bin/chromium.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from titanic_assets.core.domain import load_domain
from titanic_assets.testing import BIN, ROOT, environment, free_port, poll, running

SHIPPED_PASSENGERS = load_domain("titanic").data
MODEL_TRAINING_JOB = "titanic_model_training"
BATCH_SCORING_JOB = "titanic_batch_scoring"

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMAGES = ROOT / "docs" / "images"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ASSETS = {  # a group (the stage) -> an asset in it
    "ingestion": "raw_rows",
    "training": "model_evaluation",
    "serving": "serving_model",
    "scoring": "batch_predictions",
}
RUNS = "{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt)"
    ),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`dagster dev` on a free port with its own instance, landing folder, inbox and model
    store; yields the UI's URL and the working directory."""
    work = tmp_path_factory.mktemp("ui")
    port = free_port()
    command = [str(BIN / "dagster"), "dev", "-m", "titanic_assets.definitions",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with running(command, work / "dagster.log", environment(work)):
        url = f"http://127.0.0.1:{port}"
        poll("the Dagster webserver", lambda: httpx.get(f"{url}/server_info").is_success, 120)
        yield url, work


def runs(url: str) -> list[dict]:
    response = httpx.post(f"{url}/graphql", json={"query": RUNS}, timeout=30)
    return response.json()["data"]["runsOrError"]["results"]


def finished(url: str, job: str) -> dict | None:
    """The run of `job` once it has finished (None while none has), failing on a failure."""
    done = [r for r in runs(url) if r["jobName"] == job and r["status"] not in (
        "QUEUED", "NOT_STARTED", "STARTING", "STARTED", "MANAGED", "CANCELING")]  # fmt: skip
    if done and done[0]["status"] != "SUCCESS":
        pytest.fail(f"run {done[0]['runId']} of {job} ended {done[0]['status']}")
    return done[0] if done else None


def test_operator_materializes_everything_from_the_ui_and_reads_checks_and_metrics(
    dagster_ui: tuple[str, Path],
):
    from playwright.sync_api import expect, sync_playwright

    url, work = dagster_ui
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(60_000)

        page.goto(f"{url}/asset-groups")
        expect(page.get_by_role("button", name="Materialize all…")).to_be_visible()
        # Each model's stages are its own groups: the Titanic model's, one page each.
        for group, asset in ASSETS.items():
            page.goto(f"{url}/locations/titanic_assets.definitions/asset-groups/titanic_{group}")
            expect(page.get_by_text(asset, exact=True).first).to_be_visible()

        # The first model: its model_training job's "Materialize all", as the README says (the
        # whole lineage's asks which hours of traffic to include: they are partitions).
        page.goto(f"{url}/locations/titanic_assets.definitions/jobs/{MODEL_TRAINING_JOB}")
        page.get_by_role("button", name="Materialize all").click()
        # The job's default config is complete, so no launchpad: the run starts at once.
        page.wait_for_timeout(3_000)
        page.screenshot(path=ARTIFACTS / "model_training_launched.png")  # what the click did
        run = poll(
            "the model_training run to finish", lambda: finished(url, MODEL_TRAINING_JOB), 240
        )
        assert run["status"] == "SUCCESS"
        page.goto(f"{url}/locations/titanic_assets.definitions/asset-groups/titanic_monitoring")
        expect(page.get_by_text("hourly_traffic", exact=True).first).to_be_visible()
        page.wait_for_timeout(1_500)  # node statuses load after the graph, for the picture
        page.screenshot(path=ARTIFACTS / "asset_graph.png")

        page.goto(f"{url}/assets/titanic/model_evaluation")
        for metric in ("expected_accuracy", "held_out/accuracy", "reliability", "roc_curve"):
            expect(page.get_by_text(metric, exact=True).first).to_be_visible()
        expect(page.get_by_text("Latest materialization").first).to_be_visible()
        page.wait_for_timeout(1_500)  # the status panel loads after the metadata
        page.screenshot(path=ARTIFACTS / "model_evaluation.png")

        page.goto(f"{url}/assets/titanic/model_evaluation?view=checks")
        expect(page.get_by_text("model_quality_gate").first).to_be_visible()
        expect(page.get_by_text("Passed").first).to_be_visible()
        page.screenshot(path=ARTIFACTS / "model_evaluation_checks.png")

        # A file dropped in the inbox is noticed by the sensor and scored by the daemon's run.
        unlabelled = pd.read_csv(SHIPPED_PASSENGERS).drop(columns=["Survived"]).head(50)
        inbox = work / "inbox" / "titanic"  # the model's folder in the inbox
        inbox.mkdir(parents=True, exist_ok=True)
        unlabelled.to_csv(inbox / "arrivals.tmp", index=False)
        (inbox / "arrivals.tmp").rename(inbox / "arrivals.csv")
        scored = inbox / "predictions" / "arrivals.csv"
        poll("the sensor's batch scoring run", lambda: finished(url, BATCH_SCORING_JOB), 150)
        assert len(pd.read_csv(scored)) == 50

        page.goto(f"{url}/assets/titanic/batch_predictions")
        for entry in ("rows_scored", "rows_rejected", "predicted_positive_rate"):
            expect(page.get_by_text(entry, exact=True).first).to_be_visible()
        page.screenshot(path=ARTIFACTS / "batch_predictions.png")
        browser.close()

    if os.getenv("TITANIC_UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name in ("asset_graph.png", "model_evaluation.png"):
            shutil.copy(ARTIFACTS / name, DOCS_IMAGES / name)
