"""The serving model, and the challenger that shadows it, from the pipeline's machine to
services on other machines.

Each model's `serving_model_archive` asset (key `<model>/serving_model_archive`) holds its
serving model as a BentoML archive, with the latest challenger record and, while that
record says the challenger shadows, the challenger's own archive (`export_bundle`); in the
gcp profile its IO manager (GCSPickleIOManager) stores it in the bucket, at
`<TITANIC_GCS_IO_PREFIX>/<model>/serving_model_archive`. The asset is exported again
whenever the store's serving model or challenger record changes (its sensor). On each
serving machine, `python -m titanic_assets.commands.model_sync` polls that object, imports
each new archive into the local BentoML store (BENTOML_HOME), and copies the challenger
record into it, so the service's own store poll (bento/model_slots.py) switches to the
serving model and shadows with the same challenger as every other replica, or stops
shadowing once the record says it was promoted or retired.

A challenger that cannot be brought in (its archive half-written, or naming a model that
does not load) is skipped: a warning, `titanic_model_sync_skipped_total{part="challenger"}`,
and the local store keeps what it had, so the serving model keeps answering. The same for
an unreadable object or serving archive (`part="archive"`, `part="serving"`).

No Dagster here: the serving machine needs only bentoml and google-cloud-storage. The bucket
is trusted as the model store is: both hold pickles.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from titanic_assets.core import registry

ARCHIVE_ASSET = "serving_model_archive"
logger = logging.getLogger("titanic.model_sync")
SKIPPED = Counter(
    "titanic_model_sync_skipped",
    "Parts of a bucket archive the sync skipped, keeping what the store had: `archive` (the "
    "object unreadable), `serving` or `challenger` (its model half-written or unloadable).",
    ["part"],
)


def archive_object(io_prefix: str, model: str) -> str:
    """Where the IO manager stores `model`'s archive: its asset key's path under the prefix."""
    return f"{io_prefix.strip('/')}/{model}/{ARCHIVE_ASSET}".lstrip("/")


@dataclass(frozen=True)
class ModelArchive:
    """One stored model, exported with `bentoml.models.export_model`, and its tag. The
    serving model's carries the latest challenger record (`record`: candidate, status,
    reason, since, champion) and, while it shadows, the challenger's archive."""

    tag: str
    archive: bytes
    challenger: ModelArchive | None = None
    record: dict[str, str] | None = None


def export_archive(tag: str) -> ModelArchive:
    """The model `tag` of the local store as a portable archive."""
    import bentoml

    with tempfile.TemporaryDirectory() as folder:
        path = bentoml.models.export_model(tag, str(Path(folder) / "model.bentomodel"))
        return ModelArchive(tag=str(bentoml.models.get(tag).tag), archive=Path(path).read_bytes())


def export_bundle(store: registry.ModelStore) -> ModelArchive:
    """The serving model of `store` as an archive, with the latest challenger record and,
    while it shadows, the challenger's archive. LookupError when nothing was promoted."""
    tag = store.promoted_tag()
    if tag is None:
        raise LookupError("No model has been promoted to serving, so there is none to export.")
    serving = export_archive(tag)
    record = store.challenger_record()
    if record is None:
        return serving
    described = {
        "candidate": record.candidate,
        "status": record.status,
        "reason": record.reason,
        "since": record.since.isoformat(),
        "champion": record.champion,
    }
    challenger = export_archive(record.candidate) if record.shadowing else None
    return replace(serving, challenger=challenger, record=described)


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

    def pull(self) -> list[str]:
        """Bring in the archive if it changed since the last pull; what changed in the local
        store, in words (empty when nothing did). A part that cannot be brought in is
        skipped (`skip`); a bucket error raises, and the next pull tries again."""
        blob = self.client.bucket(self.bucket).get_blob(self.object_name)
        if blob is None or blob.generation == self._generation:
            return []
        data = blob.download_as_bytes()
        self._generation = blob.generation  # read whole: not tried again until replaced
        where = f"gs://{self.bucket}/{self.object_name}"
        try:
            model = pickle.loads(data)
            if not isinstance(model, ModelArchive):
                raise TypeError(f"it holds a {type(model).__name__}, no ModelArchive")
        except Exception as error:
            skip("archive", f"{where} is unreadable ({error})")
            return []
        return import_bundle(model)


def skip(part: str, why: str) -> None:
    """A part of an archive left out: a warning and the metric; the store keeps what it had."""
    SKIPPED.labels(part=part).inc()
    logger.warning("Skipped the %s: %s; the store keeps what it had", part, why)


def import_bundle(bundle: ModelArchive) -> list[str]:
    """Import the serving model of an `export_bundle` archive and copy its challenger record
    into the local store, once per record; what changed, in words."""
    changed, had = [], bool(registry.entry_state(bundle.tag))
    try:
        if import_archive(bundle):
            changed.append(f"serving model {bundle.tag}")
    except Exception as error:
        if not had:  # nothing half-imported left: the slot would try it at every change
            _delete(bundle.tag)
        skip("serving", f"{bundle.tag} could not be imported ({error})")
    record = getattr(bundle, "record", None)  # None in an archive pickled before records
    if record is not None:
        store = registry.ModelStore(bundle.tag.split(":", 1)[0])
        said = _import_challenger(store, getattr(bundle, "challenger", None), record)
        changed += [said] if said else []
    return changed


def _import_challenger(
    store: registry.ModelStore, archive: ModelArchive | None, record: dict[str, str]
) -> str | None:
    """Copy the record into the local store unless it has it already; a shadowing one only
    once its challenger is in the store and loads. What changed, in words, or None."""
    local = registry.get(f"{store.challenger}:latest")
    if local is not None and local.metadata.get("synced_from") == record["since"]:
        return None
    candidate, status = record["candidate"], record["status"]
    if status == registry.SHADOWING:
        had = bool(registry.entry_state(candidate))
        try:
            if archive is not None and archive.tag == candidate:
                import_archive(archive)
            elif not had:
                raise LookupError("the archive does not carry it")
            registry.load(candidate)
        except Exception as error:
            if not had:  # nothing half-imported left: a whole archive of it imports later
                _delete(candidate)
            skip("challenger", f"{candidate} could not be brought in ({error})")
            return None
    store.record_challenger(candidate, status, record["reason"], synced_from=record["since"])
    return f"challenger {candidate} {status}"


def _delete(tag: str) -> None:
    import bentoml

    try:
        bentoml.models.delete(tag)
    except bentoml.exceptions.NotFound:
        pass
    except Exception:
        logger.exception("Could not remove %s from the store", tag)
