"""The prediction log: every prediction the service makes, where drift monitoring reads it.

Where: the TITANIC_PREDICTION_LOG setting (core/settings.py), a folder or a gs:// prefix; the
service (writer) and Dagster (reader, through the `prediction_log` resource) are given it.

Format: JSON lines, one line per request, columnar so a 1,000-row batch costs one
`json.dumps` (BentoML's `bentoml.monitor` writes one logging record per row through
python-json-logger, ~100 ms per 1,000 rows here, which would dominate batch scoring). Each
worker process appends to its own file per UTC hour, `predictions-<YYYYMMDDHH>-<host>-<pid>
.jsonl`, with one `write` and a flush per request: several workers never interleave, and a
crash loses at most the line being written, which readers skip. The hour in the name is the
hour of traffic the file belongs to (core/log_files.py): monitoring compacts hour by hour.
When a challenger shadows the serving model, the line carries its answers too
(`challenger`: its version, probabilities and predictions, in the same order as the ids).

Rotation: a worker's file of the hour rolls over to `...-p<n>.jsonl` parts past
TITANIC_PREDICTION_LOG_MAX_MB (64). Retention is monitoring's: landing files are removed
once compacted and older than TITANIC_PREDICTION_LOG_KEEP_DAYS (core/compaction.py), never
by the service, which cannot know whether they were read. A bucket log ships batches of
TITANIC_LOG_BATCH_BYTES or TITANIC_LOG_BATCH_SECONDS (core/log_shipping.py).

When the log's storage fails (directory unwritable, disk full), the prediction is still
answered: the line is dropped and the failure reported to the writer's callbacks (the
service counts it in a metric an alert watches); the writer tries again on the next request,
so it recovers by itself once the storage does.

The writer uses only the standard library (it runs in the service); pandas is imported by
the reader alone.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from titanic_assets.core.contract import InputField
    from titanic_assets.core.settings import Settings

HOUR_FORMAT = "%Y%m%d%H"  # the hour in a landing file's name (core/log_files.py)


def log_columns(inputs: Sequence[InputField]) -> tuple[str, ...]:
    """The columns of `read_prediction_log`'s table for a model reading `inputs`."""
    return (
        "prediction_id",
        "request_id",
        "timestamp",
        "model_version",
        "endpoint",
        *(f.name for f in inputs),
        "probability",
        "predicted",
    )


def prediction_ids(request_id: str, rows: int, endpoint: str) -> list[str]:
    """The id of each row of a request, the key outcomes are sent back with (see
    core/outcomes.py): a batch's i-th row is `<request id>-<i>`, any other request's row is
    the request id itself."""
    if endpoint == "predict_batch":
        return [f"{request_id}-{i}" for i in range(rows)]
    return [request_id] * rows


# One encoder for every line: json.dumps builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_FEW = 16  # up to this many probabilities are rounded on Python floats (`rounded`)


def rounded(values: Sequence[float]) -> list[float]:
    """The values rounded to 6 decimals as np.round rounds them (x * 1e6 to the nearest
    integer, ties to even, / 1e6; copysign keeps its -0.0). A request's few values on Python
    floats: np.round's cost per call was most of a /predict's log line."""
    values = np.asarray(values, dtype=float)
    if len(values) > _FEW:
        return np.round(values, 6).tolist()
    return [
        math.copysign(round(v * 1e6) / 1e6, v) if math.isfinite(v) else v for v in values.tolist()
    ]


@functools.lru_cache(maxsize=4)
def _hour(hour: int) -> str:
    """The name of an hour (hours since the epoch, UTC) in landing files' names."""
    return time.strftime(HOUR_FORMAT, time.gmtime(hour * 3600))


def is_bucket(place: str | Path) -> bool:
    return isinstance(place, str) and place.startswith("gs://")


@dataclass(frozen=True)
class ShadowAnswers:
    """The challenger's answers for a request's rows: logged beside the serving model's
    under the same prediction ids, never returned to the client. `predicted`: its decision
    for each row (the positive class or not)."""

    model_version: str
    probabilities: Sequence[float]
    predicted: Sequence[bool]


@dataclass(frozen=True)
class LogPolicy:
    """How big a worker's file of the hour grows before it rolls over, how long landed files
    stay once compacted, and how big and how old a batch gets before it is shipped (a
    bucket log)."""

    max_file_bytes: int = 64 * 1024 * 1024
    keep_days: int = 30
    batch_bytes: int = 2**20
    batch_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LogPolicy:
        return cls(
            max_file_bytes=int(settings.prediction_log_max_mb * 2**20),
            keep_days=settings.prediction_log_keep_days,
            batch_bytes=settings.log_batch_bytes,
            batch_seconds=settings.log_batch_seconds,
        )


class PredictionLogWriter:
    """Appends one JSON line per request to this process's file of the hour (see the module
    docstring for rotation, retention and what happens when the storage fails). `inputs`:
    the model's raw contract, the input columns each line keeps."""

    def __init__(
        self,
        location: str | Path,
        inputs: Sequence[InputField],
        policy: LogPolicy | None = None,
        on_failure: Callable[[OSError], None] | None = None,
        on_health: Callable[[bool], None] | None = None,
    ) -> None:
        self.location = location
        self.input_names = tuple(f.name for f in inputs)
        self.policy = policy or LogPolicy()
        self._on_failure = on_failure or (lambda error: None)
        self._on_health = on_health or (lambda healthy: None)
        self._prefix = f"{socket.gethostname()}-{os.getpid()}"
        self._hour = ""
        self._part = 0
        self._file: Any = None
        self._size = 0
        self._lock = threading.Lock()  # API calls may run on a thread pool
        self.healthy = True
        self._bucket = None
        if is_bucket(self.location):
            from titanic_assets.core.log_shipping import BucketBatches

            self._bucket = BucketBatches(
                str(self.location),
                max_bytes=self.policy.batch_bytes,
                max_seconds=self.policy.batch_seconds,
                on_failure=self._failed,
            )
            return
        self.location = Path(self.location)
        try:
            self.location.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._failed(error)

    def write(
        self,
        request_id: str,
        endpoint: str,
        model_version: str,
        inputs: Mapping[str, Sequence[Any]],
        probabilities: Sequence[float],
        predicted: Sequence[bool],
        shadow: ShadowAnswers | None = None,
    ) -> bool:
        """Log one request (`predicted`: the decision for each row, the positive class or
        not), with the challenger's answers when it shadowed it; False when the storage
        failed (the line is dropped)."""
        now = time.time()
        record = {
            "request_id": request_id,
            "timestamp": now,
            "model_version": model_version,
            "endpoint": endpoint,
            "ids": prediction_ids(request_id, len(probabilities), endpoint),
            "inputs": {name: list(inputs[name]) for name in self.input_names},
            "probability": rounded(probabilities),
            "predicted": np.asarray(predicted, dtype=bool).tolist(),
        }
        if shadow is not None:
            record["challenger"] = {
                "model_version": shadow.model_version,
                "probability": rounded(shadow.probabilities),
                "predicted": np.asarray(shadow.predicted, dtype=bool).tolist(),
            }
        data = _ENCODER.encode(record) + "\n"
        hour = _hour(int(now // 3600))
        if self._bucket is not None:  # batched, uploaded by size and age (log_shipping.py)
            self._bucket.append(hour, data)
            return True
        with self._lock:
            try:
                self._roll(hour)
                self._file.write(data)
                self._file.flush()
            except OSError as error:
                self._close()
                self._failed(error)
                return False
            self._size += len(data)
            if not self.healthy:
                self.healthy = True
                self._on_health(True)
            return True

    def _roll(self, hour: str) -> None:
        """Have a file open to write to: a new one in a new hour or past the size limit."""
        if hour != self._hour:
            self._close()
            self._hour, self._part = hour, 0
        elif self._size >= self.policy.max_file_bytes:
            self._close()
            self._part += 1
        while self._file is None:
            suffix = f"-p{self._part}" if self._part else ""
            path = self.location / f"predictions-{hour}-{self._prefix}{suffix}.jsonl"
            if path.exists() and path.stat().st_size >= self.policy.max_file_bytes:
                self._part += 1  # a file this process left full (e.g. before a restart)
                continue
            self._file = path.open("a", encoding="utf-8")
            self._size = path.stat().st_size

    def _failed(self, error: Exception) -> None:
        self._on_failure(error)
        if self.healthy:
            self.healthy = False
            self._on_health(False)

    def _close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def flush(self) -> None:
        """Upload what a bucket log holds now (a folder log is flushed on every write)."""
        if self._bucket is not None:
            self._bucket.flush()

    def close(self) -> None:
        """Close the file, or upload what a bucket log still holds (call it on shutdown)."""
        if self._bucket is not None:
            self._bucket.close()
        with self._lock:
            self._close()


def _lines(place: str | Path, since_day: str) -> Iterator[str]:
    """The log's lines, file by file (or object by object), days before `since_day` skipped."""
    if is_bucket(place):
        from titanic_assets.core.log_shipping import bucket_lines

        yield from bucket_lines(str(place), "predictions", since_day)
        return
    root = Path(place)
    for path in sorted(root.glob("predictions-*.jsonl")) if root.exists() else []:
        if since_day and path.name.split("-")[1] < since_day:
            continue
        with path.open(encoding="utf-8") as handle:
            yield from handle


def read_prediction_log(
    location: str | Path, inputs: Sequence[InputField], since: datetime | None = None
) -> pd.DataFrame:
    """Every logged prediction, one row each, oldest first.

    Columns (`log_columns`): prediction_id (the id outcomes refer to), request_id, timestamp
    (UTC), model_version, endpoint, the raw `inputs` (missing as None/NaN; "int" and "float"
    ones numeric), probability, predicted. `since` (a tz-aware datetime, or naive meaning
    UTC) keeps predictions made at or after it. A line cut short by a crash is skipped.
    """
    import pandas as pd

    since_ts = None
    since_day = ""
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        since_ts = since.timestamp()
        since_day = since.astimezone(UTC).strftime("%Y%m%d")
    names = log_columns(inputs)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for line in _lines(location, since_day):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if since_ts is not None and record["timestamp"] < since_ts:
            continue
        rows = len(record["probability"])
        columns["prediction_id"].extend(
            record.get("ids") or prediction_ids(record["request_id"], rows, record["endpoint"])
        )
        for name in ("request_id", "timestamp", "model_version", "endpoint"):
            columns[name].extend([record[name]] * rows)
        for field in inputs:  # a field added later is missing in older lines
            columns[field.name].extend(record["inputs"].get(field.name, [None] * rows))
        columns["probability"].extend(record["probability"])
        columns["predicted"].extend(record["predicted"])
    table = pd.DataFrame(columns, columns=list(names))
    table["timestamp"] = pd.to_datetime(table["timestamp"].astype("float64"), unit="s", utc=True)
    table["probability"] = table["probability"].astype("float64")
    table["predicted"] = table["predicted"].astype(bool)
    for field in inputs:
        if field.kind in ("int", "float"):
            table[field.name] = pd.to_numeric(table[field.name], errors="coerce")
    return table.sort_values("timestamp", kind="stable", ignore_index=True)
