"""The prediction log: every prediction the service makes, where drift monitoring reads it.

Where: the directory in the TITANIC_PREDICTION_LOG environment variable, by default
`data/prediction_log` under the directory the service starts in (the repository root for
`make dev` / `make serve`). Both the service (writer) and Dagster (reader) resolve it here.

Format: JSON lines, one line per request, columnar so a 1,000-passenger batch costs one
`json.dumps` (BentoML's `bentoml.monitor` writes one logging record per row through
python-json-logger, ~100 ms per 1,000 rows here, which would dominate batch scoring). Each
worker process appends to its own file per UTC day, `predictions-<YYYYMMDD>-<host>-<pid>.jsonl`,
with one `write` and a flush per request: several workers never interleave, and a crash loses
at most the line being written, which the reader skips.

The writer uses only the standard library (it runs in the service); pandas is imported by
the reader alone.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from titanic_assets.core.contract import RAW_INPUTS

if TYPE_CHECKING:
    import pandas as pd

LOCATION_ENV = "TITANIC_PREDICTION_LOG"
DEFAULT_LOCATION = "data/prediction_log"
COLUMNS: tuple[str, ...] = (
    "prediction_id",
    "request_id",
    "timestamp",
    "model_version",
    "endpoint",
    *RAW_INPUTS,
    "probability",
    "survived",
)


def prediction_ids(request_id: str, rows: int, endpoint: str) -> list[str]:
    """The id of each passenger of a request, the key outcomes are sent back with (see
    core/outcomes.py): a batch's i-th passenger is `<request id>-<i>`, any other request's
    passenger is the request id itself."""
    if endpoint == "predict_batch":
        return [f"{request_id}-{i}" for i in range(rows)]
    return [request_id] * rows


def prediction_log_location() -> Path:
    """The prediction log directory (TITANIC_PREDICTION_LOG, else data/prediction_log)."""
    return Path(os.getenv(LOCATION_ENV, DEFAULT_LOCATION)).expanduser()


class PredictionLogWriter:
    """Appends one JSON line per request to this process's file of the day."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.location = Path(location) if location else prediction_log_location()
        self.location.mkdir(parents=True, exist_ok=True)
        self._suffix = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._day = ""
        self._file: Any = None
        self._lock = threading.Lock()  # API calls run on a thread pool

    def write(
        self,
        request_id: str,
        endpoint: str,
        model_version: str,
        inputs: Mapping[str, Sequence[Any]],
        probabilities: Sequence[float],
        survived: Sequence[bool],
    ) -> None:
        now = time.time()
        line = json.dumps(
            {
                "ids": prediction_ids(request_id, len(probabilities), endpoint),
                "request_id": request_id,
                "timestamp": now,
                "model_version": model_version,
                "endpoint": endpoint,
                "inputs": {name: list(inputs[name]) for name in RAW_INPUTS},
                "probability": np.round(np.asarray(probabilities, dtype=float), 6).tolist(),
                "survived": np.asarray(survived, dtype=bool).tolist(),
            },
            separators=(",", ":"),
        )
        day = time.strftime("%Y%m%d", time.gmtime(now))
        with self._lock:
            if day != self._day:
                if self._file is not None:
                    self._file.close()
                path = self.location / f"predictions-{day}-{self._suffix}"
                self._file = path.open("a", encoding="utf-8")
                self._day = day
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_prediction_log(
    location: str | Path | None = None, since: datetime | None = None
) -> pd.DataFrame:
    """Every logged prediction, one row each, oldest first.

    Columns: prediction_id (the id outcomes refer to), request_id, timestamp (UTC),
    model_version, endpoint, the raw passenger fields (missing as None/NaN), probability,
    survived. `since` (a tz-aware datetime, or naive meaning UTC) keeps predictions made at
    or after it. A line cut short by a crash is skipped.
    """
    import pandas as pd

    root = Path(location) if location else prediction_log_location()
    since_ts = None
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        since_ts = since.timestamp()
        since_day = since.astimezone(UTC).strftime("%Y%m%d")
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for path in sorted(root.glob("predictions-*.jsonl")) if root.exists() else []:
        if since_ts is not None and path.name.split("-")[1] < since_day:
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if since_ts is not None and record["timestamp"] < since_ts:
                    continue
                rows = len(record["probability"])
                columns["prediction_id"].extend(
                    record.get("ids")
                    or prediction_ids(record["request_id"], rows, record["endpoint"])
                )
                for name in ("request_id", "timestamp", "model_version", "endpoint"):
                    columns[name].extend([record[name]] * rows)
                for name in RAW_INPUTS:
                    columns[name].extend(record["inputs"][name])
                columns["probability"].extend(record["probability"])
                columns["survived"].extend(record["survived"])
    table = pd.DataFrame(columns, columns=list(COLUMNS))
    table["timestamp"] = pd.to_datetime(table["timestamp"].astype("float64"), unit="s", utc=True)
    table["probability"] = table["probability"].astype("float64")
    table["survived"] = table["survived"].astype(bool)
    for name in ("Pclass", "Age", "SibSp", "Parch", "Fare"):
        table[name] = pd.to_numeric(table[name], errors="coerce")
    return table.sort_values("timestamp", kind="stable", ignore_index=True)
