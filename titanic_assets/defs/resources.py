"""The resources every domain uses, and which storage backs them in each profile.

A landing area is where files arrive (the labelled passenger batches, the unlabelled ones to
score, outcomes in bulk) and where files for people are written back (under subfolders,
which `csv_files` skips). It is a resource, so which storage holds it (a local folder, a
bucket prefix) is configuration, never a branch inside an asset. The TITANIC_PROFILE
environment variable picks the storage, from RESOURCES_BY_PROFILE at the end of this
module; asset code never looks at the environment itself.
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

from titanic_assets.core.locations import location

if TYPE_CHECKING:
    import pandas as pd

SHIPPED_PASSENGERS = Path(__file__).parents[1] / "data" / "titanic.csv"


class LandingArea(dg.ConfigurableResource):
    """A place where labelled passenger batches arrive as CSV files.

    Every CSV file in it is part of the raw data: new batches land beside the original file.
    """

    @abstractmethod
    def csv_files(self) -> list[str]:
        """Names of the CSV files in the landing area, sorted."""

    @abstractmethod
    def open(self, name: str) -> IO[bytes]:
        """One landing-area file, opened for reading."""

    def read_passengers(self) -> pd.DataFrame:
        """All batches as one table, with the file each row came from in `source`.

        The columns each file really had are kept in `attrs["columns_by_file"]`: a batch that
        lacks a column must fail its contract, not pass as a column of missing values.
        """
        table = self.read_tables()
        if table is None:
            raise dg.Failure(f"No CSV files in the landing area {self.location}.")
        return table

    def read_tables(self, **read_csv: Any) -> pd.DataFrame | None:
        """Every CSV file as one table (`source` and `attrs` as in `read_passengers`), None
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
    """A landing area in a local folder; a missing folder is created, seeded with the
    shipped Titanic CSV when `seed_with_shipped_passengers` (the labelled landing area)."""

    directory: str
    seed_with_shipped_passengers: bool = True

    @property
    def _path(self) -> Path:
        path = Path(self.directory).expanduser()
        if not path.exists():
            path.mkdir(parents=True)
            if self.seed_with_shipped_passengers:
                shutil.copy(SHIPPED_PASSENGERS, path / SHIPPED_PASSENGERS.name)
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


def local_resources() -> dict:
    """Everything on this machine: folders (relative ones under TITANIC_HOME, see
    core/locations.py) and pickles under the instance's storage."""
    return {
        "landing_area": LocalLandingArea(
            directory=str(location("TITANIC_LANDING_DIR", "data/landing"))
        ),
        "scoring_inbox": LocalLandingArea(
            directory=str(location("TITANIC_INBOX_DIR", "data/inbox")),
            seed_with_shipped_passengers=False,
        ),
        # Outcomes in bulk: CSV files of (id, Survived) for logged predictions.
        "labels_landing": LocalLandingArea(
            directory=str(location("TITANIC_LABELS_DIR", "data/labels")),
            seed_with_shipped_passengers=False,
        ),
        # Files for people to download (e.g. the traffic window as CSV).
        "exports": LocalLandingArea(
            directory=str(location("TITANIC_EXPORTS_DIR", "data/exports")),
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
        "labels_landing": GCSLandingArea(
            gcs=gcs, bucket=bucket, prefix=os.getenv("TITANIC_GCS_LABELS_PREFIX", "labels")
        ),
        "exports": GCSLandingArea(
            gcs=gcs, bucket=bucket, prefix=os.getenv("TITANIC_GCS_EXPORTS_PREFIX", "exports")
        ),
        "io_manager": GCSPickleIOManager(gcs=gcs, gcs_bucket=bucket, gcs_prefix=io_prefix),
    }


RESOURCES_BY_PROFILE = {"local": local_resources, "gcp": gcp_resources}


@dg.definitions
def resources() -> dg.Definitions:
    """The resources of the profile in TITANIC_PROFILE (default `local`)."""
    return dg.Definitions(resources=RESOURCES_BY_PROFILE[os.getenv("TITANIC_PROFILE", "local")]())
