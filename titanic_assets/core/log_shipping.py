"""JSON-lines logs shipped to a GCS bucket, for services on machines Dagster cannot see.

With TITANIC_PREDICTION_LOG=gs://<bucket>/<prefix>, every service replica keeps the lines it
logs in memory and uploads them as one new object, `<prefix>/predictions-<day>-<host>-<pid>-
<sequence>-<random>.jsonl`, when the batch reaches TITANIC_LOG_BATCH_BYTES (1 MB) or its first
line is TITANIC_LOG_BATCH_SECONDS (5 s) old, whichever comes first, and on shutdown. Replicas
never write the same object, an object appears whole or not at all, and the reader lists the
prefix. The bound on loss: a replica killed without warning (SIGKILL, a lost machine) loses
the batch it holds: at most the last TITANIC_LOG_BATCH_SECONDS of its predictions, and at
most TITANIC_LOG_BATCH_BYTES of them. An upload that fails is retried with the next batch;
past MAX_PENDING_BYTES the oldest lines are dropped and reported, so a bucket outage never
exhausts the service's memory.

The stream is any JSON-lines stream: the prediction log today, outcomes tomorrow (the object
name's first word is the stream's). The client is google-cloud-storage's, with application
default credentials (or none with STORAGE_EMULATOR_HOST set).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

MAX_PENDING_BYTES = 64 * 2**20


def split_url(url: str) -> tuple[str, str]:
    """gs://bucket/some/prefix -> ("bucket", "some/prefix")."""
    bucket, _, prefix = url.removeprefix("gs://").partition("/")
    return bucket, prefix.strip("/")


def _client() -> Any:
    from google.cloud import storage

    return storage.Client()  # the project: GOOGLE_CLOUD_PROJECT, else the credentials'


class BucketBatches:
    """Lines of one stream, batched by size and age, uploaded as new objects."""

    def __init__(
        self,
        url: str,
        stream: str = "predictions",
        max_bytes: int = 2**20,
        max_seconds: float = 5.0,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        self.bucket_name, self.prefix = split_url(url)
        self.stream = stream
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._on_failure = on_failure or (lambda error: None)
        self._writer = f"{socket.gethostname()}-{os.getpid()}"
        self._lines: list[str] = []
        self._size = 0
        self._day = ""
        self._oldest = 0.0
        self._sequence = 0
        self._lock = threading.Lock()
        self._bucket: Any = None
        self._stop = threading.Event()
        threading.Thread(target=self._flush_when_old, name="log-shipper", daemon=True).start()

    def append(self, day: str, data: str) -> None:
        batches = []
        with self._lock:
            if day != self._day:  # a new day starts a new object
                batches += self._take()
            if not self._lines:
                self._day, self._oldest = day, time.monotonic()
            self._lines.append(data)
            self._size += len(data)
            if self._size >= self.max_bytes:
                batches += self._take()
        self._upload(batches)

    def flush(self) -> None:
        with self._lock:
            batches = self._take()
        self._upload(batches)

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _take(self) -> list[tuple[str, str]]:
        """The buffered lines as one batch [(day, text)] (none when empty), the buffer emptied."""
        if not self._lines:
            return []
        batch = [(self._day, "".join(self._lines))]
        self._lines, self._size = [], 0
        return batch

    def _upload(self, batch: list[tuple[str, str]]) -> None:
        for day, text in batch:
            self._sequence += 1
            name = object_name(self.prefix, self.stream, day, self._writer, self._sequence)
            try:
                if self._bucket is None:
                    self._bucket = _client().bucket(self.bucket_name)
                self._bucket.blob(name).upload_from_string(text, content_type="application/json")
            except Exception as error:  # a bucket outage: keep the lines for the next try
                self._on_failure(error)
                with self._lock:
                    if self._size + len(text) <= MAX_PENDING_BYTES:
                        self._lines.insert(0, text)
                        self._size += len(text)
                        self._day = self._day or day

    def _flush_when_old(self) -> None:
        while not self._stop.wait(min(0.5, self.max_seconds / 4)):
            with self._lock:
                old = self._lines and time.monotonic() - self._oldest >= self.max_seconds
            if old:
                self.flush()


def object_name(prefix: str, stream: str, day: str, writer: str, sequence: int) -> str:
    """`<prefix>/<stream>-<day>-<writer>-<sequence>-<random>.jsonl`: no two writers, or two
    objects of one writer, ever share a name."""
    name = f"{prefix}/{stream}-{day}-{writer}-{sequence:08d}-{uuid.uuid4().hex[:8]}.jsonl"
    return name.lstrip("/")


class BucketTail:
    """The lines of a stream's objects that were not read yet: objects are written whole
    and never changed, so each is read once."""

    def __init__(self, url: str, stream: str) -> None:
        self.bucket_name, prefix = split_url(url)
        self.start = f"{prefix}/{stream}-".lstrip("/")
        self._read: set[str] = set()
        self._bucket: Any = None

    def new_lines(self) -> Iterator[str]:
        if self._bucket is None:
            self._bucket = _client().bucket(self.bucket_name)
        fresh = [b for b in self._bucket.list_blobs(prefix=self.start) if b.name not in self._read]
        for blob in sorted(fresh, key=lambda b: b.name):
            yield from blob.download_as_text().splitlines()
            self._read.add(blob.name)


def bucket_lines(url: str, stream: str = "predictions", since_day: str = "") -> Iterator[str]:
    """Every line of a stream's objects under the URL's prefix (objects of days before
    `since_day` skipped), object by object in name order."""
    bucket_name, prefix = split_url(url)
    bucket = _client().bucket(bucket_name)
    start = f"{prefix}/{stream}-".lstrip("/")
    for blob in sorted(bucket.list_blobs(prefix=start), key=lambda b: b.name):
        day = blob.name[len(start) :].split("-", 1)[0]
        if since_day and day < since_day:
            continue
        yield from blob.download_as_text().splitlines()
