"""Shared fixtures: the shipped data, a landing area, one real materialization of the graph,
and one Titanic model service with its first promoted model."""

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest

from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import (
    BIN,
    ROOT,
    environment,
    free_port,
    model_log,
    model_service,
    poll,
    running,
    unpartitioned,
)

# No test touches the user's own stores (`make` exports DAGSTER_HOME=. and BENTOML_HOME=.bentoml)
# nor anything under the repository's data/: the instance, the model store, the prediction log
# the monitoring assets read, the landing areas and the exports are session directories (tests
# that need their own set them for the process they start).
os.environ.update(environment(Path(tempfile.mkdtemp(prefix="titanic-tests-"))))

from titanic_assets.core.domain import load_domain  # noqa: E402
from titanic_assets.definitions import defs as load_definitions  # noqa: E402
from titanic_assets.defs.resources import LocalLandingArea  # noqa: E402

defs = load_definitions()
TITANIC = load_domain("titanic")
RAW_INPUTS = TITANIC.input_names
SHIPPED_PASSENGERS = TITANIC.data


AFTER_THE_SERVICE_TESTS = "after_the_service_tests"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{AFTER_THE_SERVICE_TESTS}: runs at the end of the session, after test_service.py, "
        "which sees the session's service before any model is promoted",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked after_the_service_tests (tests/test_docs.py's requests to the session's
    service with its first model) run last: test_service.py needs that service without a
    model first, and files run in name order."""
    last = [item for item in items if item.get_closest_marker(AFTER_THE_SERVICE_TESTS)]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def shipped_passengers() -> pd.DataFrame:
    return pd.read_csv(SHIPPED_PASSENGERS)


def materialize_graph(
    instance: dg.DagsterInstance,
    landing: Path,
    storage: Path,
    raise_on_error: bool = True,
    **resources: dg.ConfigurableResource,
) -> dg.ExecuteInProcessResult:
    """Materialize every unpartitioned asset of the Titanic model with every check, as the
    UI's "Materialize all" does (the hours of traffic are partitions, for the sensor or a
    backfill), on `instance`, reading from the landing root `landing` (the model's folder
    under it: `landing/titanic`; and any other resource given)."""
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=unpartitioned("titanic"),
        instance=instance,
        resources={
            **defs.resources,
            "landing_area": LocalLandingArea(directory=str(landing)),
            "io_manager": dg.FilesystemIOManager(base_dir=str(storage)),
            **resources,
        },
        raise_on_error=raise_on_error,
    )


@dataclass
class MaterializedGraph:
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    landing: Path
    storage: Path

    def value(self, asset: str):
        return self.result.asset_value(dg.AssetKey(["titanic", asset]))

    def metadata(self, asset: str) -> dict:
        [event] = [
            e
            for e in self.result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == f"titanic/{asset}"
        ]
        return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="session")
def materialized_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaterializedGraph]:
    """The whole graph materialized once, from the shipped data, on a temporary instance."""
    root = tmp_path_factory.mktemp("graph")
    (root / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "instance")) as instance:
        result = materialize_graph(instance, root / "landing", root / "storage")
        yield MaterializedGraph(result, instance, root / "landing", root / "storage")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gcp-storage-emulator process on a free loopback port, for the session (the gcp
    profile's tests and batch scoring's share it, each in buckets of its own); yields its URL
    for the client."""
    port = free_port()
    command = [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1",
               "--port", str(port), "--in-memory"]  # fmt: skip
    log = tmp_path_factory.mktemp("gcs") / "emulator.log"
    with running(command, log, os.environ):
        url = f"http://127.0.0.1:{port}"
        poll("the GCS emulator to answer", lambda: httpx.get(url).status_code > 0)
        yield url


# --- the survival service, for the tests over HTTP ----------------------------------------


@pytest.fixture(scope="session")
def service_with_unwritable_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The survival service on the session's model store with a prediction log it cannot
    write (its directory lies under a file); yields its URL. One for the session: the
    prediction log's fault test and the Prometheus tests of its alert share it."""
    work = tmp_path_factory.mktemp("unwritable-log")
    (work / "not-a-directory").write_text("")
    overrides = {
        "BENTOML_HOME": os.environ["BENTOML_HOME"],  # the store the graph registers into
        "TITANIC_PREDICTION_LOG": str(work / "not-a-directory" / "log"),
    }
    with model_service(work, overrides) as url:
        yield url


SERVING_NAME = "titanic_survival"  # the Titanic model's serving name (its defs.yaml)
SWITCH_DEADLINE = 60.0  # the bound for every worker to serve a promoted model
# Writes one model into the service's store, as the serving_model asset does.
PROMOTE = """
import pickle, sys
from titanic_assets.core import registry
print(registry.save(**pickle.load(open(sys.argv[1], "rb"))))
"""


def registered(folder: Path, pipeline, calibration, tag: str = "model:1"):
    """`pipeline` pickled into `folder` and read as the registry reads a stored model (with
    `calibration` and threshold 0.5): what the service scores and explains with."""
    from datetime import UTC, datetime

    from titanic_assets.core import registry

    (folder / registry.PIPELINE_FILE).write_bytes(pickle.dumps(pipeline))
    return registry.RegisteredModel(
        tag=tag,
        version=tag.split(":")[1],
        path=str(folder),
        created_at=datetime.now(UTC),
        threshold=0.5,
        metadata={"calibration": calibration.as_dict()},
        labels={},
    )


def save_model(
    store: Path, trained, threshold: float, payload: Path, name: str = SERVING_NAME
) -> str:
    """Save a trained model as `<name>:<new version>` in the model store at `store`, as the
    serving_model asset does (in a process of its own: BentoML reads BENTOML_HOME once);
    returns its tag."""
    reference = pd.DataFrame({column: [] for column in RAW_INPUTS})
    payload.write_bytes(
        pickle.dumps(
            {
                "name": name,
                "pipeline": trained.pipeline,
                "reference": reference,
                "reference_summary": {"rows": 0, "columns": {}},
                "metadata": {
                    "threshold": threshold,
                    "calibration": trained.calibration.as_dict(),
                    "metrics": {"held_out": {"roc_auc": 0.87, "accuracy": 0.83}},
                    "train_rows": 712,
                    "trained_at": "2026-01-01T00:00:00+00:00",
                    "data_version": "test-data",
                    "code_version": "test-code",
                    "domain": "titanic",
                },
                "labels": {"data_version": "test-data", "code_version": "test-code"},
            }
        )
    )
    saved = subprocess.run(
        [sys.executable, "-c", PROMOTE, str(payload)],
        env={**os.environ, "BENTOML_HOME": str(store)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return saved.stdout.strip()


@dataclass
class Server:
    url: str
    store: Path
    log: Path
    client: httpx.Client
    versions: dict[str, float] = field(default_factory=dict)  # promoted version -> threshold

    def post(self, path: str, body=None, content: bytes | None = None) -> httpx.Response:
        if content is not None:
            return self.client.post(
                self.url + path, content=content, headers={"content-type": "application/json"}
            )
        return self.client.post(self.url + path, json=body)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.url + path)

    def promote(self, trained, threshold: float, tmp: Path, name: str = SERVING_NAME) -> str:
        """Save a trained model as `<name>:<new version>` in the service's store (the serving
        name promotes it; the candidate name keeps it a candidate)."""
        tag = save_model(
            self.store, trained, threshold, tmp / f"model-{len(self.versions)}.pkl", name
        )
        version = tag.rsplit(":", 1)[1]
        if name == SERVING_NAME:
            self.versions[version] = threshold
        return version

    def serves_everywhere(self, version: str, probes: int = 20) -> bool:
        """`probes` consecutive answers all came from `version`, each on a connection of its
        own, so that every worker answers some (one kept-alive connection stays on one)."""
        for _ in range(probes):
            response = httpx.post(
                self.url + "/predict", json=PASSENGER, headers=self.client.headers, timeout=30
            )
            if response.status_code != 200 or response.json()["model_version"] != version:
                return False
        return True


@pytest.fixture(scope="session")
def trained(materialized_graph):
    return materialized_graph.value("trained_model")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`bentoml serve` as `make serve` runs it: two workers, an empty store, a 1 s poll.

    One for the session (starting it costs a test module half a minute); test_service.py
    sees it before any model is promoted. The feedback tests start their own: it takes
    outcomes only with a token."""
    work = tmp_path_factory.mktemp("service")
    env = {"TITANIC_MODEL_POLL_SECONDS": "1", "TITANIC_SERVING_WORKERS": "2"}
    with model_service(work, env) as url, httpx.Client(timeout=30) as client:
        yield Server(url, work / "bentoml", model_log(work), client)


@pytest.fixture(scope="session")
def model_a(server: Server, trained, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The first promoted model, served by every worker."""
    version = server.promote(trained, trained.threshold, tmp_path_factory.mktemp("a"))
    poll(
        f"every worker to serve the first promoted model {version}",
        lambda: server.serves_everywhere(version),
        SWITCH_DEADLINE,
    )
    return version
