"""The serving model from the pipeline's machine to a service on another machine.

Each model's `serving_model_archive` asset (key `<model>/serving_model_archive`) holds its
serving model as a BentoML archive; in the gcp profile its IO manager (GCSPickleIOManager)
stores it in the bucket, at `<TITANIC_GCS_IO_PREFIX>/<model>/serving_model_archive`. On the
serving machine,
`python -m titanic_assets.commands.model_sync` polls that object and imports each new archive
into the local BentoML store (BENTOML_HOME), where the service's own store poll switches to it.

No Dagster here: the serving machine needs only bentoml and google-cloud-storage. The bucket
is trusted as the model store is: both hold pickles.
"""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARCHIVE_ASSET = "serving_model_archive"


def archive_object(io_prefix: str, model: str) -> str:
    """Where the IO manager stores `model`'s archive: its asset key's path under the prefix."""
    return f"{io_prefix.strip('/')}/{model}/{ARCHIVE_ASSET}".lstrip("/")


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

    def __init__(self, bucket: str, io_prefix: str, model: str, client: Any = None) -> None:
        from google.cloud import storage

        self.client = client or storage.Client()  # project: GOOGLE_CLOUD_PROJECT, else ADC's
        self.bucket = bucket
        self.object_name = archive_object(io_prefix, model)
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
