"""The code location: every definition under defs/, loaded the dg way, one process per run.

`dg dev`, `dagster dev` (workspace.yaml, [tool.dagster]) and `dg check defs` all load this.
Each model is a folder under defs/ with a `defs.yaml` (an instance of the ModelLoop
component, building that model's assets, checks, jobs and sensors); defs/resources.py picks
the storage for the profile in TITANIC_PROFILE.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        # One process per run, not per step: the graph is a chain of small steps, and a
        # process per step spends most of a run importing pandas and scikit-learn again.
        dg.Definitions(executor=dg.in_process_executor),
    )
