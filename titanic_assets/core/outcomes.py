"""Outcomes: what really happened to a passenger the service predicted for, sent back later.

Ids: every logged prediction has one id per passenger (`prediction_log.prediction_ids`): a
single prediction's id is its request id, the i-th passenger of a batch's is `<request id>-<i>`.
The request id is the client's `X-Request-ID` header when it sends one, else the service's.

Where: beside the prediction log (core/prediction_log.py), same directory, same rules: JSON
lines, each worker process appends to its own file per UTC day
(`outcomes-<YYYYMMDD>-<host>-<pid>.jsonl`), one `write` and a flush per accepted feedback
request; a crash loses at most the line being written, which readers skip.

Uniqueness across workers: a feedback request is checked and appended while holding an
exclusive `flock` on `outcomes.lock` in that directory. Under the lock a worker first reads
the bytes the other workers appended since it last looked (`_Tail` keeps an offset per
file), so it sees every outcome stored before it, by any worker, and a conflicting second
outcome is always caught. This is simpler than SQLite (no second storage format beside the
prediction log, the same JSON-lines reader for Dagster) and correct because every append
happens under the one lock. Prediction ids are looked up the same way (tailing every
worker's prediction files), without the lock: a prediction is flushed before its response
leaves the service, so any id a client can know is already on disk.

Outcomes also land in bulk, as CSV files of `(id, Survived)` in the labels landing area
(defs/ingestion/labelled_traffic.py); `combine_outcomes` merges them with the stored ones.

Standard library only at module level: this runs in the service.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titanic_assets.core.prediction_log import prediction_ids, prediction_log_location

if TYPE_CHECKING:
    import pandas as pd

LOCK_NAME = "outcomes.lock"
# Labelled traffic trains under PassengerIds from here up: above any real passenger list's.
FEEDBACK_PASSENGER_IDS = 2**48


def feedback_passenger_id(prediction_id: str) -> int:
    """The PassengerId a labelled prediction trains under: stable (48 bits of the id's
    SHA-256 above FEEDBACK_PASSENGER_IDS), so it falls in the same held-out split on every
    retrain, and never one a landed passenger has."""
    digest = hashlib.sha256(prediction_id.encode()).digest()
    return FEEDBACK_PASSENGER_IDS + int.from_bytes(digest[:6], "big")


class _Tail:
    """Reads the complete lines appended to a set of JSON-lines files since the last call."""

    def __init__(self, root: Path, pattern: str) -> None:
        self.root, self.pattern = root, pattern
        self._offsets: dict[Path, int] = {}

    def new_records(self) -> Iterable[dict[str, Any]]:
        for path in sorted(self.root.glob(self.pattern)):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
            self._offsets[path] = offset + end
            for line in chunk[:end].splitlines():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:  # cut short by a crash
                    continue


@dataclass(frozen=True)
class Rejection:
    """Why a feedback request stored nothing: the HTTP status and the offending ids."""

    status: int
    reason: str
    ids: list[str]


class OutcomeStore:
    """Accepts outcomes for logged predictions, across worker processes (see module doc)."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.location = Path(location) if location else prediction_log_location()
        self.location.mkdir(parents=True, exist_ok=True)
        self._suffix = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._predictions = _Tail(self.location, "predictions-*.jsonl")
        self._outcomes = _Tail(self.location, "outcomes-*.jsonl")
        self._known: set[str] = set()
        self._stored: dict[str, bool] = {}
        self._lock = threading.Lock()

    def _refresh_predictions(self) -> None:
        for record in self._predictions.new_records():
            ids = record.get("ids") or prediction_ids(
                record["request_id"], len(record["probability"]), record["endpoint"]
            )
            self._known.update(ids)

    def add(self, outcomes: Sequence[tuple[str, bool]]) -> tuple[int, Rejection | None]:
        """Store outcomes `(id, survived)`, all or none.

        Returns (how many were new, None), or (0, a Rejection): 404 for ids no logged
        prediction has, 409 for ids that already have (or are sent with) a different
        outcome. Repeating a stored outcome is accepted and stores nothing.
        """
        with self._lock:
            unknown = [i for i, _ in outcomes if i not in self._known]
            if unknown:
                self._refresh_predictions()
                unknown = [i for i in unknown if i not in self._known]
            if unknown:
                return 0, Rejection(404, "no logged prediction has this id", _unique(unknown))
            lock_path = self.location / LOCK_NAME
            with lock_path.open("a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    for record in self._outcomes.new_records():
                        self._stored.update(zip(record["ids"], record["survived"], strict=True))
                    pending: dict[str, bool] = {}
                    conflicts = []
                    for i, survived in outcomes:
                        before = pending.get(i, self._stored.get(i))
                        if before is not None and before != survived:
                            conflicts.append(i)
                        pending[i] = survived
                    if conflicts:
                        return 0, Rejection(
                            409, "a different outcome is already stored or sent for this id",
                            _unique(conflicts),
                        )  # fmt: skip
                    new = {i: s for i, s in pending.items() if i not in self._stored}
                    if new:
                        self._append(new)
                        self._stored.update(new)
                    return len(new), None
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _append(self, outcomes: Mapping[str, bool]) -> None:
        now = time.time()
        line = json.dumps(
            {"timestamp": now, "ids": list(outcomes), "survived": list(outcomes.values())},
            separators=(",", ":"),
        )
        day = time.strftime("%Y%m%d", time.gmtime(now))
        path = self.location / f"outcomes-{day}-{self._suffix}"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
        # This worker's own line: read it past so the tail does not count it twice.
        for record in self._outcomes.new_records():
            self._stored.update(zip(record["ids"], record["survived"], strict=True))


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def read_outcomes(location: str | Path | None = None) -> pd.DataFrame:
    """Every stored outcome, one row per id: id, received_at (UTC), survived (bool)."""
    import pandas as pd

    root = Path(location) if location else prediction_log_location()
    ids: list[str] = []
    survived: list[bool] = []
    received: list[float] = []
    if root.exists():
        for record in _Tail(root, "outcomes-*.jsonl").new_records():
            ids.extend(record["ids"])
            survived.extend(record["survived"])
            received.extend([record["timestamp"]] * len(record["ids"]))
    table = pd.DataFrame(
        {"id": pd.Series(ids, dtype=object), "received_at": received, "survived": survived}
    )
    received_at = table["received_at"].astype("float64")
    table["received_at"] = pd.to_datetime(received_at, unit="s", utc=True)
    table["survived"] = table["survived"].astype(bool)
    return table.drop_duplicates("id", keep="first").sort_values("received_at", ignore_index=True)


def combine_outcomes(stored: pd.DataFrame, landed: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Outcomes sent to /feedback and outcomes landed in bulk (`id`, `Survived`) as one
    table like `read_outcomes`', and the ids whose landed outcome contradicts the stored one.

    The stored outcome wins a contradiction: the service already checked it against every
    other outcome for that id, and a file has no time order to argue with it.
    """
    import pandas as pd

    bulk = pd.DataFrame(
        {
            "id": landed["id"].astype(str),
            "received_at": pd.NaT,
            "survived": landed["Survived"].astype(str).str.strip() == "1",
        }
    ).drop_duplicates("id", keep="first")
    before = bulk.merge(stored[["id", "survived"]], on="id", suffixes=("", "_stored"))
    conflicts = before.loc[before["survived"] != before["survived_stored"], "id"].tolist()
    bulk = bulk[~bulk["id"].isin(stored["id"])]
    bulk["received_at"] = pd.to_datetime(bulk["received_at"], utc=True)
    table = pd.concat([stored, bulk], ignore_index=True) if len(bulk) else stored
    return table, conflicts


def join_outcomes(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Each logged prediction with its outcome, if one came back: the prediction log's
    columns plus `outcome` (bool, missing as NA) and `received_at`.

    An id predicted twice (a client reusing its X-Request-ID) keeps its latest prediction.
    Each row keeps the model version that answered it, so a late outcome is attributed
    to the model that made the prediction, not to the one serving when it arrived.
    """
    latest = predictions.drop_duplicates("prediction_id", keep="last")
    latest = latest.assign(prediction_id=latest["prediction_id"].astype(str))
    outcomes = outcomes.assign(id=outcomes["id"].astype(str))
    joined = latest.merge(
        outcomes.rename(columns={"id": "prediction_id", "survived": "outcome"}),
        on="prediction_id",
        how="left",
    )
    joined["outcome"] = joined["outcome"].astype("boolean")
    return joined.reset_index(drop=True)
