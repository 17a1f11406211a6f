"""The prediction log's files, by hour: what has landed, where compacted hours are kept.

The service lands two streams of JSON lines in the prediction log's place (a folder, or a
gs:// prefix; core/prediction_log.py and core/outcomes.py write them):

- `predictions-<hour>-<writer>...jsonl`: the predictions made in that UTC hour
  (`YYYYMMDDHH`), one file per worker and hour (a folder) or one object per shipped batch
  (a bucket);
- `outcomes-<arrived>-<hour>-<writer>...jsonl`: outcomes that arrived in hour `arrived`
  for predictions made in hour `hour`.

So a file's name says which hour of traffic it belongs to: a late outcome lands in the hour
of its prediction, and finding what changed is a listing of names, sizes and times, never a
read of rows. The arrival hour comes first in outcome names so a bucket can be listed from
an hour on (`start_offset`), which keeps a sensor tick's cost independent of history.

Compacted hours live under `compacted/` in the same place (core/compaction.py writes them):
`predictions/`, `labelled/`, `samples/` (Parquet) and `summaries/` (JSON), one file per hour.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from titanic_assets.core.prediction_log import HOUR_FORMAT, is_bucket

STREAMS = ("predictions", "outcomes")
COMPACTED = "compacted"
_NAME = re.compile(r"^(predictions|outcomes)-(\d{10})-(?:(\d{10})-)?.+\.jsonl$")


def hour_of(moment: datetime | float) -> str:
    """The UTC hour `YYYYMMDDHH` a datetime or a Unix time falls in."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime(HOUR_FORMAT)


def hour_start(hour: str) -> datetime:
    return datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> list[str]:
    """Every hour from the one `start` falls in to the one `end` falls in, in order."""
    first = hour_start(hour_of(start))
    count = int((end - first) / timedelta(hours=1)) + 1
    return [hour_of(first + timedelta(hours=i)) for i in range(max(0, count))]


@dataclass(frozen=True)
class LandingFile:
    """One landed file (or object): the hour of traffic it belongs to and when it arrived."""

    name: str
    size: int
    modified: float  # Unix time of its last write
    stream: str  # "predictions" or "outcomes"
    hour: str  # the hour of the predictions it holds (or of the predictions its outcomes are for)
    arrived: str  # the hour it was written in


def parse_name(name: str, size: int = 0, modified: float = 0.0) -> LandingFile | None:
    """A landing file from its base name; None for anything else (a lock, a compacted file)."""
    match = _NAME.match(name)
    if match is None:
        return None
    stream, first, second = match.groups()
    if stream == "outcomes" and second is None:
        return None
    hour = second if stream == "outcomes" else first
    return LandingFile(name, size, modified, stream, hour=hour, arrived=first)


class LogPlace:
    """The prediction log's place, a folder or a bucket prefix: list what landed, fetch it,
    and keep compacted hours beside it. Names are relative to the place."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.bucket = is_bucket(self.location)
        self._gcs: Any = None

    # -- landing --------------------------------------------------------------------------

    def landing(self, arrived_from: str = "", arrived_before: str = "") -> list[LandingFile]:
        """Every landed file written in hour `arrived_from` or later (and before hour
        `arrived_before`, when given): names, sizes and times only. A folder lists its
        entries; a bucket lists just that range of names (`start_offset`, `end_offset`)."""
        found = []
        if self.bucket:
            from titanic_assets.core.log_shipping import split_url

            _, prefix = split_url(self.location)
            for stream in STREAMS:
                start = f"{prefix}/{stream}-".lstrip("/")
                blobs = self._bucket().list_blobs(
                    prefix=start,
                    start_offset=f"{start}{arrived_from}" if arrived_from else None,
                    end_offset=f"{start}{arrived_before}" if arrived_before else None,
                )
                for blob in blobs:
                    modified = blob.updated.timestamp() if blob.updated else 0.0
                    found.append(parse_name(blob.name.rsplit("/", 1)[-1], blob.size, modified))
        else:
            with contextlib.suppress(FileNotFoundError), os.scandir(self.location) as entries:
                for entry in entries:
                    if parse_name(entry.name) is None:
                        continue
                    with contextlib.suppress(FileNotFoundError):  # removed while listing
                        stat = entry.stat()
                        found.append(parse_name(entry.name, stat.st_size, stat.st_mtime))
        return [
            f
            for f in found
            if f is not None
            and f.arrived >= arrived_from
            and (not arrived_before or f.arrived < arrived_before)
        ]

    @contextlib.contextmanager
    def local_copies(self, files: list[LandingFile]) -> Iterator[list[Path]]:
        """Paths to read the files from: the files themselves in a folder, downloaded
        copies (removed afterwards) from a bucket."""
        if not self.bucket:
            yield [Path(self.location) / f.name for f in files]
            return
        with tempfile.TemporaryDirectory(prefix="titanic-landing-") as scratch:
            paths = []
            for landed in files:
                path = Path(scratch) / landed.name
                with contextlib.suppress(Exception):  # gone since listing: nothing to read
                    self._bucket().blob(self._key(landed.name)).download_to_filename(path)
                    paths.append(path)
            yield paths

    @contextlib.contextmanager
    def local_compacted(self, names: list[str]) -> Iterator[list[Path]]:
        """Paths of those compacted files that exist: in a folder, the files; from a
        bucket, downloaded copies (removed afterwards)."""
        if not self.bucket:
            paths = [Path(self.location) / name for name in names]
            yield [p for p in paths if p.exists()]
            return
        with tempfile.TemporaryDirectory(prefix="titanic-compacted-") as scratch:
            paths = []
            for i, name in enumerate(names):
                data = self.get(name)
                if data is not None:
                    paths.append(Path(scratch) / f"{i}-{name.rsplit('/', 1)[-1]}")
                    paths[-1].write_bytes(data)
            yield paths

    def remove(self, files: list[LandingFile]) -> None:
        for landed in files:
            if self.bucket:
                with contextlib.suppress(Exception):
                    self._bucket().blob(self._key(landed.name)).delete()
            else:
                (Path(self.location) / landed.name).unlink(missing_ok=True)

    # -- compacted hours ------------------------------------------------------------------

    def compacted_name(self, kind: str, hour: str, suffix: str) -> str:
        return f"{COMPACTED}/{kind}/{hour}.{suffix}"

    def put(self, name: str, data: bytes) -> None:
        """Write a compacted file whole: readers see the old one or the new one."""
        if self.bucket:
            self._bucket().blob(self._key(name)).upload_from_string(data)
            return
        path = Path(self.location) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, name: str) -> bytes | None:
        if self.bucket:
            blob = self._bucket().blob(self._key(name))
            try:
                return blob.download_as_bytes()
            except Exception as error:  # google.api_core NotFound
                if type(error).__name__ == "NotFound":
                    return None
                raise
        path = Path(self.location) / name
        return path.read_bytes() if path.exists() else None

    def compacted_hours(self, kind: str) -> list[str]:
        """The hours that have a compacted file of this kind, in order."""
        if self.bucket:
            start = self._key(f"{COMPACTED}/{kind}/")
            names = [b.name for b in self._bucket().list_blobs(prefix=start)]
        else:
            folder = Path(self.location) / COMPACTED / kind
            names = [p.name for p in folder.iterdir()] if folder.exists() else []
        return sorted(
            {n.rsplit("/", 1)[-1].split(".", 1)[0] for n in names if not n.startswith(".")}
        )

    def delete(self, name: str) -> None:
        if self.bucket:
            with contextlib.suppress(Exception):
                self._bucket().blob(self._key(name)).delete()
        else:
            (Path(self.location) / name).unlink(missing_ok=True)

    def _key(self, name: str) -> str:
        from titanic_assets.core.log_shipping import split_url

        _, prefix = split_url(self.location)
        return f"{prefix}/{name}".lstrip("/")

    def _bucket(self) -> Any:
        if self._gcs is None:
            from titanic_assets.core.log_shipping import _client, split_url

            self._gcs = _client().bucket(split_url(self.location)[0])
        return self._gcs
