"""The code location: every asset, check, job and resource in one Definitions.

Which storage backs the resources is chosen by the TITANIC_PROFILE environment variable,
from the mapping below; asset code never looks at the environment itself.
"""

import os

import dagster as dg

from titanic_assets import checks, sensors
from titanic_assets.assets import (
    distribution,
    ingestion,
    monitoring,
    preparation,
    scoring,
    serving,
    training,
)
from titanic_assets.resources import LocalLandingArea

PROFILE = os.getenv("TITANIC_PROFILE", "local")


def local_resources() -> dict:
    """Everything on this machine: a landing folder and pickles under the instance's storage."""
    return {
        "landing_area": LocalLandingArea(
            directory=os.getenv("TITANIC_LANDING_DIR", "data/landing")
        ),
        "scoring_inbox": LocalLandingArea(
            directory=os.getenv("TITANIC_INBOX_DIR", "data/inbox"),
            seed_with_shipped_passengers=False,
        ),
        # Files for people to download (e.g. the traffic window as CSV).
        "exports": LocalLandingArea(
            directory=os.getenv("TITANIC_EXPORTS_DIR", "data/exports"),
            seed_with_shipped_passengers=False,
        ),
        "io_manager": dg.FilesystemIOManager(),
    }


def gcp_resources() -> dict:
    """A GCP deployment: batches land under a bucket prefix, asset values are pickles beside them.

    Credentials are Google's application default credentials (no key in this repository);
    with STORAGE_EMULATOR_HOST set, the client talks to that emulator anonymously instead.
    """
    from dagster_gcp import GCSPickleIOManager, GCSResource

    from titanic_assets.resources import GCSLandingArea

    bucket = os.getenv("TITANIC_GCS_BUCKET")
    if not bucket:
        raise ValueError("TITANIC_PROFILE=gcp needs TITANIC_GCS_BUCKET, the bucket's name.")
    gcs = GCSResource(project=os.getenv("GOOGLE_CLOUD_PROJECT"))
    io_prefix = os.getenv("TITANIC_GCS_IO_PREFIX", "dagster")
    return {
        "gcs": gcs,
        "landing_area": GCSLandingArea(
            gcs=gcs, bucket=bucket, prefix=os.getenv("TITANIC_GCS_LANDING_PREFIX", "landing")
        ),
        "scoring_inbox": GCSLandingArea(
            gcs=gcs, bucket=bucket, prefix=os.getenv("TITANIC_GCS_INBOX_PREFIX", "inbox")
        ),
        "exports": GCSLandingArea(
            gcs=gcs, bucket=bucket, prefix=os.getenv("TITANIC_GCS_EXPORTS_PREFIX", "exports")
        ),
        "io_manager": GCSPickleIOManager(gcs=gcs, gcs_bucket=bucket, gcs_prefix=io_prefix),
    }


RESOURCES_BY_PROFILE = {"local": local_resources, "gcp": gcp_resources}

all_assets = dg.load_assets_from_modules(
    [ingestion, preparation, training, serving, distribution, monitoring, scoring]
)

model_training_job = dg.define_asset_job(
    "model_training",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("monitoring", "scoring"),
    description="Rematerialize the chain from the raw passengers to the evaluated model.",
)

defs = dg.Definitions(
    assets=all_assets,
    # One process per run, not per step: the graph is a chain of small steps, and a process
    # per step spends most of a run importing pandas and scikit-learn again.
    executor=dg.in_process_executor,
    asset_checks=dg.load_asset_checks_from_modules([checks, monitoring]),
    jobs=[model_training_job, sensors.drift_monitoring_job, scoring.batch_scoring_job],
    sensors=[
        sensors.drift_report_on_new_traffic,
        sensors.retrain_on_drift,
        scoring.batch_scoring_on_new_files,
    ],
    resources=RESOURCES_BY_PROFILE[PROFILE](),
)
