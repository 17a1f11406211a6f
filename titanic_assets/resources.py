"""Where the labelled passengers come from.

The landing area is a resource, so which storage holds it (a local folder, a bucket prefix)
is configuration, never a branch inside an asset.
"""

from __future__ import annotations

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
        """All batches as one table, with the file each row came from in `source_file`."""
        import pandas as pd

        names = self.csv_files()
        if not names:
            raise dg.Failure(f"No CSV files in the landing area {self.location}.")
        frames = []
        for name in names:
            with self.open(name) as handle:
                frames.append(pd.read_csv(handle).assign(source_file=name))
        return pd.concat(frames, ignore_index=True)

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
