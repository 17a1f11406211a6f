"""Shared fixtures: the shipped data, a landing area, and one real materialization of the graph."""

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from titanic_assets.testing import environment

# No test touches the user's own stores (`make` exports DAGSTER_HOME=. and BENTOML_HOME=.bentoml)
# nor anything under the repository's data/: the instance, the model store, the prediction log
# the monitoring assets read, the landing areas and the exports are session directories (tests
# that need their own set them for the process they start).
os.environ.update(environment(Path(tempfile.mkdtemp(prefix="titanic-tests-"))))

from titanic_assets.definitions import defs as load_definitions  # noqa: E402
from titanic_assets.defs.resources import SHIPPED_PASSENGERS, LocalLandingArea  # noqa: E402

defs = load_definitions()


@pytest.fixture(scope="session")
def shipped_passengers() -> pd.DataFrame:
    return pd.read_csv(SHIPPED_PASSENGERS)


def materialize_graph(
    instance: dg.DagsterInstance, landing: Path, storage: Path, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    """Materialize every asset of the code location with every check, as the UI's
    "Materialize all" does, on `instance`, reading from the landing folder `landing`."""
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        resources={
            **defs.resources,
            "landing_area": LocalLandingArea(directory=str(landing)),
            "io_manager": dg.FilesystemIOManager(base_dir=str(storage)),
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
        return self.result.asset_value(asset)

    def metadata(self, asset: str) -> dict:
        [event] = [
            e
            for e in self.result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == asset
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
