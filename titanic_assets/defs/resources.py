"""The resources every model's loop uses, and which storage backs them in each profile.

A landing area is where files arrive (the labelled batches, the unlabelled ones to score,
outcomes in bulk) and where files for people are written back (under subfolders, which
`csv_files` skips). It is a resource, so which storage holds it (a local folder, a bucket
prefix) is configuration, never a branch inside an asset. The prediction log and the
monitoring policy are resources too. Each is the root every model shares: a model's own
part is `under(<its folder>)` (titanic_assets/loop `Loop.landing`, `Loop.log`), so one set
of resources serves every configured model. The settings (core/settings.py, read once when the code
location loads) pick the profile's storage, from RESOURCES_BY_PROFILE at the end of this
module; asset code never looks at the environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import dagster as dg

from titanic_assets.core.instances import join_location
from titanic_assets.core.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from titanic_assets.core.log_files import LogPlace


class LandingArea(dg.ConfigurableResource):
    """A place where labelled batches arrive as CSV files.

    Every CSV file in it is part of the raw data: new batches land beside the original file.
    """

    @abstractmethod
    def under(self, folder: str, seed: Path | None = None) -> LandingArea:
        """The area's subfolder (or sub-prefix) `folder`, one model's part of it; a local
        one that does not exist yet starts with a copy of `seed` (the domain's data)."""

    def layout_notice(self) -> str | None:
        """One line for data still in the single-model layout (files at the root, not in a
        model's folder), saying what to move; None when there is none."""
        return None

    @abstractmethod
    def csv_files(self) -> list[str]:
        """Names of the CSV files in the landing area, sorted."""

    @abstractmethod
    def open(self, name: str) -> IO[bytes]:
        """One landing-area file, opened for reading."""

    def read_rows(self, missing_values: tuple[str, ...] = ()) -> pd.DataFrame:
        """All batches as one table, with the file each row came from in `source`; cells
        in `missing_values` (Domain.missing_values) are read as missing.

        The columns each file really had are kept in `attrs["columns_by_file"]`: a batch that
        lacks a column must fail its contract, not pass as a column of missing values.
        """
        table = self.read_tables(na_values=list(missing_values))
        if table is None:
            raise dg.Failure(f"No CSV files in the landing area {self.location}.")
        return table

    def read_tables(self, **read_csv: Any) -> pd.DataFrame | None:
        """Every CSV file as one table (`source` and `attrs` as in `read_rows`), None
        when there is none; `read_csv` goes to pandas.read_csv (e.g. dtype)."""
        import pandas as pd

        names = self.csv_files()
        if not names:
            return None
        frames = []
        for name in names:
            with self.open(name) as handle:
                frames.append(pd.read_csv(handle, **read_csv).assign(source=name))
        table = pd.concat(frames, ignore_index=True)
        table.attrs["columns_by_file"] = {
            name: list(frame.columns) for name, frame in zip(names, frames, strict=True)
        }
        return table

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the landing area is, for people reading the metadata."""

    @abstractmethod
    def location_of(self, relative: str) -> str:
        """Where a file written by `writer(relative)` is, as a path or gs:// URL."""

    @abstractmethod
    def writer(self, relative: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A file at `relative` (e.g. "predictions/a.csv") under the area, opened for writing.

        It appears whole when the block exits without error, never half-written.
        """


class LocalLandingArea(LandingArea):
    """A landing area in a local folder; a missing folder is created, with a copy of the
    `seed` file when one is given (a model's labelled landing area starts with its data)."""

    directory: str
    seed: str | None = None

    def under(self, folder: str, seed: Path | None = None) -> LocalLandingArea:
        return LocalLandingArea(
            directory=str(Path(self.directory) / folder), seed=str(seed) if seed else None
        )

    def layout_notice(self) -> str | None:
        from titanic_assets.core.instances import legacy_notice

        return legacy_notice(landing_root=self.directory)

    @property
    def _path(self) -> Path:
        path = Path(self.directory).expanduser()
        if not path.exists():
            path.mkdir(parents=True)
            if self.seed is not None:
                shutil.copy(self.seed, path / Path(self.seed).name)
        return path

    @property
    def location(self) -> str:
        return str(Path(self.directory).expanduser().resolve())

    def csv_files(self) -> list[str]:
        return sorted(p.name for p in self._path.glob("*.csv"))

    def open(self, name: str) -> IO[bytes]:
        return (self._path / name).open("rb")

    def location_of(self, relative: str) -> str:
        return str((self._path / relative).resolve())

    @contextlib.contextmanager
    def writer(self, relative: str) -> Iterator[IO[bytes]]:
        target = self._path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with partial.open("wb") as handle:
                yield handle
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)


class GCSLandingArea(LandingArea):
    """A landing area under a GCS bucket prefix, read through dagster-gcp's `GCSResource`.

    Only the CSV objects directly under the prefix count, as in a local folder; each row's
    `source` is the object's full name in the bucket. Credentials are the client's:
    application default credentials, or none with `STORAGE_EMULATOR_HOST` set.
    """

    # A dagster_gcp GCSResource, typed by its base class so that loading the local profile
    # never imports dagster_gcp (about 2 s).
    gcs: dg.ConfigurableResource
    bucket: str
    prefix: str = "landing"

    def under(self, folder: str, seed: Path | None = None) -> GCSLandingArea:
        """(A bucket is never seeded: its data is uploaded by whoever runs it.)"""
        return GCSLandingArea(
            gcs=self.gcs, bucket=self.bucket, prefix=f"{self.prefix.strip('/')}/{folder}"
        )

    @property
    def location(self) -> str:
        return f"gs://{self.bucket}/{self._prefix}"

    @property
    def _prefix(self) -> str:
        return self.prefix.strip("/") + "/" if self.prefix.strip("/") else ""

    def _bucket(self):
        return self.gcs.get_client().bucket(self.bucket)

    def csv_files(self) -> list[str]:
        from google.api_core.exceptions import NotFound

        try:
            blobs = list(self._bucket().list_blobs(prefix=self._prefix, delimiter="/"))
        except NotFound as error:
            raise dg.Failure(f"The landing bucket gs://{self.bucket} does not exist.") from error
        return sorted(blob.name for blob in blobs if blob.name.endswith(".csv"))

    def open(self, name: str) -> IO[bytes]:
        # Downloaded into a temporary file, not memory: an inbox file may be large.
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
        self._bucket().blob(name).download_to_file(spool)
        spool.seek(0)
        return spool

    def location_of(self, relative: str) -> str:
        return f"gs://{self.bucket}/{self._prefix}{relative}"

    @contextlib.contextmanager
    def writer(self, relative: str) -> Iterator[IO[bytes]]:
        # Spooled to a local temporary file, then uploaded in one go: memory stays flat and
        # the object appears whole.
        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            self._bucket().blob(self._prefix + relative).upload_from_file(spool)


class PredictionLog(dg.ConfigurableResource):
    """The service's prediction log and the outcomes stored beside it (core/prediction_log.py,
    core/outcomes.py): a folder, or a gs://bucket/prefix the replicas ship to; monitoring
    compacts it hour by hour beside it (core/log_files.py, core/compaction.py) and removes
    landed files `keep_days` old once compacted."""

    location: str
    keep_days: int = 30

    def under(self, folder: str) -> PredictionLog:
        """One model's log: `folder` under this root (a folder or a gs:// prefix)."""
        return PredictionLog(
            location=join_location(self.location, folder), keep_days=self.keep_days
        )

    @property
    def place(self) -> LogPlace:
        from titanic_assets.core.log_files import LogPlace

        return LogPlace(self.location)

    def labelled(self, query: str = "") -> pd.DataFrame:
        """Every compacted prediction whose outcome came back (all hours: the training
        rows), through `query` (SQL over `rows`, default all of it)."""
        from titanic_assets.core.compaction import read_compacted

        place = self.place
        return read_compacted(place, "labelled", place.compacted_hours("labelled"), query)

    def recent(self, rows: int) -> pd.DataFrame:
        """The latest `rows` compacted predictions, newest first: the newest hours' only."""
        from titanic_assets.core.compaction import read_compacted, read_summaries

        place, hours, found = self.place, [], 0
        for hour in reversed(place.compacted_hours("predictions")):
            summary = read_summaries(place, [hour]).get(hour)
            hours.append(hour)
            found += summary.rows if summary else 0
            if found >= rows:
                break
        query = f"SELECT * FROM rows ORDER BY timestamp DESC LIMIT {int(rows)}"
        return read_compacted(place, "predictions", hours, query)

    def retractions(self) -> pd.DataFrame:
        """Every retraction of stored outcomes, with how many each takes back
        (core/outcomes.py `read_retractions`)."""
        from titanic_assets.core.outcomes import read_retractions

        return read_retractions(self.location)


class MonitoringPolicy(dg.ConfigurableResource):
    """When monitoring acts: how often new traffic is compacted and evaluated again, how
    many unseen labelled rows a failed check needs before it requests a retrain, and
    how long a challenger may shadow before it is retired, not shown better."""

    drift_refresh_seconds: float = 60.0
    retrain_min_new_rows: int = 150
    shadow_max_outcomes: int = 2000
    shadow_max_days: float = 30.0


def shared_resources(settings: Settings) -> dict:
    """The resources every profile configures the same way, from the settings."""
    return {
        "prediction_log": PredictionLog(
            location=settings.prediction_log, keep_days=settings.prediction_log_keep_days
        ),
        "monitoring_policy": MonitoringPolicy(
            drift_refresh_seconds=settings.drift_refresh_seconds,
            retrain_min_new_rows=settings.retrain_min_new_rows,
            shadow_max_outcomes=settings.shadow_max_outcomes,
            shadow_max_days=settings.shadow_max_days,
        ),
    }


def local_resources(settings: Settings) -> dict:
    """Everything on this machine: folders (relative ones under TITANIC_HOME) and pickles
    under the instance's storage."""
    return {
        **shared_resources(settings),
        "landing_area": LocalLandingArea(directory=settings.landing_dir),
        "scoring_inbox": LocalLandingArea(directory=settings.inbox_dir),
        # Outcomes in bulk: CSV files of (id, <label>) for logged predictions.
        "labels_landing": LocalLandingArea(directory=settings.labels_dir),
        # Files for people to download (e.g. the traffic window as CSV).
        "exports": LocalLandingArea(directory=settings.exports_dir),
        "io_manager": dg.FilesystemIOManager(),
    }


def gcp_resources(settings: Settings) -> dict:
    """A GCP deployment: batches land under a bucket prefix, asset values are pickles beside them.

    Credentials are Google's application default credentials (no key in this repository);
    with STORAGE_EMULATOR_HOST set, the client talks to that emulator anonymously instead.
    The bucket is the settings' value, already checked to be a bucket name (a `dg.EnvVar`
    would skip that check, and hold the variable's name on a resource used outside a run).
    """
    from dagster_gcp import GCSPickleIOManager, GCSResource

    gcs = GCSResource(project=settings.google_cloud_project)
    bucket = str(settings.gcs_bucket)
    return {
        **shared_resources(settings),
        "gcs": gcs,
        "landing_area": GCSLandingArea(gcs=gcs, bucket=bucket, prefix=settings.gcs_landing_prefix),
        "scoring_inbox": GCSLandingArea(gcs=gcs, bucket=bucket, prefix=settings.gcs_inbox_prefix),
        "labels_landing": GCSLandingArea(gcs=gcs, bucket=bucket, prefix=settings.gcs_labels_prefix),
        "exports": GCSLandingArea(gcs=gcs, bucket=bucket, prefix=settings.gcs_exports_prefix),
        "io_manager": GCSPickleIOManager(
            gcs=gcs, gcs_bucket=bucket, gcs_prefix=settings.gcs_io_prefix
        ),
    }


RESOURCES_BY_PROFILE = {"local": local_resources, "gcp": gcp_resources}


@dg.definitions
def resources() -> dg.Definitions:
    """The resources of the profile in TITANIC_PROFILE (default `local`)."""
    settings = load_settings()
    return dg.Definitions(resources=RESOURCES_BY_PROFILE[settings.profile](settings))
