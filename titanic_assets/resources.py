"""Where the labelled passengers come from.

The landing area is a resource, so which storage holds it (a local folder, a bucket prefix)
is configuration, never a branch inside an asset.
"""

from __future__ import annotations

import io
import shutil
from abc import abstractmethod
from pathlib import Path
from typing import IO, TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    import pandas as pd

SHIPPED_PASSENGERS = Path(__file__).parent / "data" / "titanic.csv"


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
        """All batches as one table, with the file each row came from in `source_file`.

        The columns each file really had are kept in `attrs["columns_by_file"]`: a batch that
        lacks a column must fail its contract, not pass as a column of missing values.
        """
        import pandas as pd

        names = self.csv_files()
        if not names:
            raise dg.Failure(f"No CSV files in the landing area {self.location}.")
        frames = []
        for name in names:
            with self.open(name) as handle:
                frames.append(pd.read_csv(handle).assign(source_file=name))
        table = pd.concat(frames, ignore_index=True)
        table.attrs["columns_by_file"] = {
            name: list(frame.columns) for name, frame in zip(names, frames, strict=True)
        }
        return table

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the landing area is, for people reading the metadata."""


class LocalLandingArea(LandingArea):
    """A landing area in a local folder, seeded with the shipped Titanic CSV on first use."""

    directory: str

    @property
    def _path(self) -> Path:
        path = Path(self.directory).expanduser()
        if not path.exists():
            path.mkdir(parents=True)
            shutil.copy(SHIPPED_PASSENGERS, path / SHIPPED_PASSENGERS.name)
        return path

    @property
    def location(self) -> str:
        return str(Path(self.directory).expanduser().resolve())

    def csv_files(self) -> list[str]:
        return sorted(p.name for p in self._path.glob("*.csv"))

    def open(self, name: str) -> IO[bytes]:
        return (self._path / name).open("rb")


class GCSLandingArea(LandingArea):
    """A landing area under a GCS bucket prefix, read through dagster-gcp's `GCSResource`.

    Only the CSV objects directly under the prefix count, as in a local folder; each row's
    `source_file` is the object's full name in the bucket. Credentials are the client's:
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
        return io.BytesIO(self._bucket().blob(name).download_as_bytes())
