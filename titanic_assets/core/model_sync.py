"""The serving model from the pipeline's machine to a service on another machine.

The `serving_model_archive` asset holds the serving model as a BentoML archive; in the gcp
profile its IO manager (GCSPickleIOManager) stores it in the bucket, at
`<TITANIC_GCS_IO_PREFIX>/serving_model_archive`. On the serving machine,
`python -m titanic_assets.core.model_sync` polls that object and imports each new archive into the
local BentoML store (BENTOML_HOME), where the service's own store poll switches to it.

No Dagster here: the serving machine needs only bentoml and google-cloud-storage. The bucket
is trusted as the model store is: both hold pickles.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARCHIVE_ASSET = "serving_model_archive"
logger = logging.getLogger("titanic.model_sync")


@dataclass(frozen=True)
class ModelArchive:
    """One stored model, exported with `bentoml.models.export_model`, and its tag."""

    tag: str
    archive: bytes


def export_archive(tag: str) -> ModelArchive:
    """The model `tag` of the local store as a portable archive."""
    import bentoml

    with tempfile.TemporaryDirectory() as folder:
        path = bentoml.models.export_model(tag, str(Path(folder) / "model.bentomodel"))
        return ModelArchive(tag=str(bentoml.models.get(tag).tag), archive=Path(path).read_bytes())


def import_archive(model: ModelArchive) -> bool:
    """Put the archived model in the local store; False when the store has it already."""
    import bentoml

    try:
        bentoml.models.get(model.tag)
        return False
    except bentoml.exceptions.NotFound:
        pass
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.bentomodel"
        path.write_bytes(model.archive)
        bentoml.models.import_model(str(path))
    return True


class BucketModelSource:
    """The archive object that the gcp profile's IO manager writes, read with the GCS client.

    Credentials are application default credentials, or none with STORAGE_EMULATOR_HOST set.
    """

    def __init__(self, bucket: str, io_prefix: str, client: Any = None) -> None:
        from google.cloud import storage

        self.client = client or storage.Client(project=os.getenv("GOOGLE_CLOUD_PROJECT"))
        self.bucket = bucket
        self.object_name = f"{io_prefix.strip('/')}/{ARCHIVE_ASSET}".lstrip("/")
        self._generation: int | None = None

    def pull(self) -> str | None:
        """Import the archive if it changed since the last pull; the imported tag, else None."""
        blob = self.client.bucket(self.bucket).get_blob(self.object_name)
        if blob is None or blob.generation == self._generation:
            return None
        model = pickle.loads(blob.download_as_bytes())
        if not isinstance(model, ModelArchive):
            raise TypeError(f"gs://{self.bucket}/{self.object_name} holds no ModelArchive")
        self._generation = blob.generation
        return model.tag if import_archive(model) else None


def main(argv: list[str] | None = None) -> None:
    """Poll the bucket forever (or once, with --once), importing each new serving model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default=os.getenv("TITANIC_GCS_BUCKET"))
    parser.add_argument("--io-prefix", default=os.getenv("TITANIC_GCS_IO_PREFIX", "dagster"))
    parser.add_argument(
        "--poll-seconds", type=float, default=float(os.getenv("TITANIC_MODEL_POLL_SECONDS", "10"))
    )
    parser.add_argument("--once", action="store_true", help="pull once and exit")
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("the bucket is needed: --bucket or TITANIC_GCS_BUCKET")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    source = BucketModelSource(args.bucket, args.io_prefix)
    while True:
        try:
            tag = source.pull()
            if tag:
                logger.info("Imported %s from gs://%s/%s", tag, args.bucket, source.object_name)
        except Exception:  # a transient bucket error: keep the current model, try again
            logger.exception("Could not pull the serving model")
            if args.once:
                raise
        if args.once:
            return
        time.sleep(args.poll_seconds)


if __name__ == "__main__":
    # Through the package module, so unpickled archives are this module's ModelArchive.
    from titanic_assets.core.model_sync import main as package_main

    package_main()
