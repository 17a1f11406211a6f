"""Outcomes: the true label of a row the service predicted for, sent back later, as a bool
(`outcome`: the label is the positive class).

Ids: every logged prediction has one id per row (`prediction_log.prediction_ids`): a single
prediction's id is its request id, the i-th row of a batch's is `<request id>-<i>`.
The request id is the client's `X-Request-ID` header when it sends one, else the service's.

Where: beside the prediction log (core/prediction_log.py), same place, same rules.

- A folder log: JSON lines, each worker process appends to its own file per UTC hour of
  arrival and hour of the predictions the outcomes are for (`outcomes-<arrived
  YYYYMMDDHH>-<predicted YYYYMMDDHH>-<host>-<pid>.jsonl`, so a late outcome lands in its
  prediction's hour of traffic, core/log_files.py), one `write` and a flush per accepted
  feedback request and hour; a crash loses at most the line being written, which readers
  skip. Uniqueness across workers: a feedback request is checked and appended while holding
  an exclusive `flock` on `outcomes.lock` in that directory. Under the lock a worker first
  reads the bytes the other workers appended since it last looked (`_Tail` keeps an offset
  per file), so it sees every outcome stored before it, by any worker, and a conflicting
  second outcome is always caught. This is simpler than SQLite (no second storage format
  beside the prediction log, the same JSON-lines reader for Dagster) and correct because
  every append happens under the one lock. Prediction ids are looked up the same way,
  without the lock: a prediction is flushed before its response leaves the service, so any
  id a client can know is already on disk.
- A bucket log (gs://, replicas on other machines): each accepted request is one new object
  per hour of predictions, `outcomes-<arrived>-<predicted>-<host>-<pid>-<sequence>-<random>
  .jsonl`, uploaded before the answer, so an
  accepted outcome is durable and a failed upload stores nothing (503). Ids are looked up in
  the shipped prediction objects after the replica ships what it holds: an id is known to
  the replica that returned it at once, to the others once its batch is shipped
  (TITANIC_LOG_BATCH_SECONDS). Conflicts are checked against every outcome object in the
  bucket; there is no lock across machines, so two replicas accepting different outcomes
  for one id within the same instant both answer 200, and readers keep the first received.

Outcomes also land in bulk, as CSV files of `id` and the domain's label column in the
labels landing area (positive where the trimmed text is the positive class); monitoring joins
them to their predictions hour by hour beside the stored ones, which win a
contradiction (core/compaction.py).

Senders: each stored line records who sent it, `sender_id` of the bearer token the request
carried (a digest, never the token), or `anonymous` when the service takes outcomes without
one; outcomes landed in bulk count as `labels_landing`, the operator's own folder or prefix.

Retractions: an operator takes a sender's outcomes (or a time range's) back with
`python -m titanic_assets.commands.retract_outcomes` (core/retractions.py). `read_outcomes`
and monitoring's compaction and labelled reads leave them out (core/compaction.py); the
lines themselves stay, for the audit.
The service's store still holds them, so a retracted id cannot get a different outcome
through /feedback (409); landed in bulk (a labels CSV file), it counts.

Standard library only at module level: this runs in the service.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titanic_assets.core.prediction_log import HOUR_FORMAT, is_bucket, prediction_ids
from titanic_assets.core.retractions import Retraction, load_retractions

if TYPE_CHECKING:
    import pandas as pd

LOCK_NAME = "outcomes.lock"
# Labelled traffic trains under row ids from here up: above any shipped data set's.
FEEDBACK_IDS = 2**48
# A training row's `source` for labelled traffic: this, then the tag of the model that served it.
FEEDBACK_SOURCE = "feedback:"
ANONYMOUS = "anonymous"
LANDED_SENDER = "labels_landing"


def sender_id(token: str) -> str:
    """Who sent outcomes with this bearer token, as stored: a digest that names the token
    without revealing it (`token:` and 12 hex digits of its SHA-256)."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def feedback_row_id(prediction_id: str) -> int:
    """The row id a labelled prediction trains under: stable (48 bits of the id's SHA-256
    above FEEDBACK_IDS), so it falls in the same held-out split on every retrain, and never
    one a landed row has."""
    digest = hashlib.sha256(prediction_id.encode()).digest()
    return FEEDBACK_IDS + int.from_bytes(digest[:6], "big")


def is_feedback(sources: pd.Series) -> pd.Series:
    """Which training rows are labelled traffic, by their `source`."""
    return sources.astype(str).str.startswith(FEEDBACK_SOURCE)


def _parse(lines: Iterable[bytes | str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            yield json.loads(line)
        except json.JSONDecodeError:  # cut short by a crash
            continue


class _Tail:
    """Reads the complete lines appended to a set of JSON-lines files since the last call."""

    def __init__(self, root: Path, pattern: str) -> None:
        self.root, self.pattern = root, pattern
        self._offsets: dict[Path, int] = {}

    def new_records(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.root.glob(self.pattern)):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
            self._offsets[path] = offset + end
            yield from _parse(chunk[:end].splitlines())


class _FolderStorage:
    """Outcomes in the prediction log's folder: each worker appends to its own file, under an
    exclusive flock (see the module doc)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._suffix = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._predictions = _Tail(root, "predictions-*.jsonl")
        self._outcomes = _Tail(root, "outcomes-*.jsonl")

    def prediction_records(self) -> Iterator[dict[str, Any]]:
        return self._predictions.new_records()

    def outcome_records(self) -> Iterator[dict[str, Any]]:
        return self._outcomes.new_records()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with (self.root / LOCK_NAME).open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def append(self, hours: str, line: str) -> None:
        with (self.root / f"outcomes-{hours}-{self._suffix}").open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()


class _BucketStorage:
    """Outcomes beside a bucket prediction log (core/log_shipping.py): each accepted request
    is one new object, uploaded before the answer (see the module doc)."""

    def __init__(self, url: str, ship_predictions: Callable[[], None]) -> None:
        from titanic_assets.core.log_shipping import BucketTail, split_url

        self.bucket_name, self.prefix = split_url(url)
        self._ship_predictions = ship_predictions
        self._predictions = BucketTail(url, "predictions")
        self._outcomes = BucketTail(url, "outcomes")
        self._writer = f"{socket.gethostname()}-{os.getpid()}"
        self._sequence = 0

    def prediction_records(self) -> Iterator[dict[str, Any]]:
        self._ship_predictions()  # this replica's own latest predictions count at once
        return _parse(self._predictions.new_lines())

    def outcome_records(self) -> Iterator[dict[str, Any]]:
        return _parse(self._outcomes.new_lines())

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield  # one replica's requests are serialized by the store's own lock

    def append(self, hours: str, line: str) -> None:
        from titanic_assets.core.log_shipping import _client, object_name

        self._sequence += 1
        name = object_name(self.prefix, "outcomes", hours, self._writer, self._sequence)
        _client().bucket(self.bucket_name).blob(name).upload_from_string(
            line, content_type="application/json"
        )


@dataclass(frozen=True)
class Rejection:
    """Why a feedback request stored nothing: the HTTP status and the offending ids."""

    status: int
    reason: str
    ids: list[str]


class OutcomeStore:
    """Accepts outcomes for logged predictions, across worker processes (see module doc).

    `ship_predictions` uploads what a bucket prediction log holds (the service passes its
    writer's `flush`), so that an id this replica just returned is known to it.
    """

    def __init__(
        self,
        location: str | Path,
        ship_predictions: Callable[[], None] | None = None,
    ) -> None:
        self.location = location
        self._storage: _FolderStorage | _BucketStorage
        if is_bucket(self.location):
            self._storage = _BucketStorage(str(self.location), ship_predictions or (lambda: None))
        else:
            self.location = Path(self.location)
            self._storage = _FolderStorage(self.location)
        self._known: dict[str, str] = {}  # prediction id -> the hour it was made in
        self._stored: dict[str, bool] = {}
        self._lock = threading.Lock()

    def _refresh_predictions(self) -> None:
        for record in self._storage.prediction_records():
            ids = record.get("ids") or prediction_ids(
                record["request_id"], len(record["probability"]), record["endpoint"]
            )
            hour = time.strftime(HOUR_FORMAT, time.gmtime(record["timestamp"]))
            self._known.update(dict.fromkeys(ids, hour))

    def _refresh_outcomes(self) -> None:
        for record in self._storage.outcome_records():
            for i, outcome in zip(record["ids"], record["outcome"], strict=True):
                self._stored.setdefault(i, outcome)  # the first received stands

    def add(
        self, outcomes: Sequence[tuple[str, bool]], sender: str = ANONYMOUS
    ) -> tuple[int, Rejection | None]:
        """Store outcomes `(id, outcome)` from `sender`, all or none (`outcome`: the label is
        the positive class).

        Returns (how many were new, None), or (0, a Rejection): 404 for ids no logged
        prediction has, 409 for ids that already have (or are sent with) a different
        outcome, 503 when the storage fails. Repeating a stored outcome stores nothing.
        """
        with self._lock:
            unknown = [i for i, _ in outcomes if i not in self._known]
            if unknown:
                self._refresh_predictions()
                unknown = [i for i in unknown if i not in self._known]
            if unknown:
                return 0, Rejection(404, "no logged prediction has this id", _unique(unknown))
            with self._storage.exclusive():
                self._refresh_outcomes()
                pending: dict[str, bool] = {}
                conflicts = []
                for i, outcome in outcomes:
                    before = pending.get(i, self._stored.get(i))
                    if before is not None and before != outcome:
                        conflicts.append(i)
                    pending[i] = outcome
                if conflicts:
                    return 0, Rejection(
                        409, "a different outcome is already stored or sent for this id",
                        _unique(conflicts),
                    )  # fmt: skip
                new = {i: s for i, s in pending.items() if i not in self._stored}
                if new:
                    now = time.time()
                    arrived = time.strftime(HOUR_FORMAT, time.gmtime(now))
                    by_hour: dict[str, dict[str, bool]] = {}
                    for i, outcome in new.items():
                        by_hour.setdefault(self._known[i], {})[i] = outcome
                    try:  # one line per hour of predictions: each lands in its hour
                        for hour, part in sorted(by_hour.items()):
                            record = {
                                "timestamp": now,
                                "ids": list(part),
                                "outcome": list(part.values()),
                                "sender": sender,
                            }
                            line = json.dumps(record, separators=(",", ":")) + "\n"
                            self._storage.append(f"{arrived}-{hour}", line)
                    except Exception:  # a full disk, a bucket outage: nothing was stored
                        return 0, Rejection(503, "outcomes cannot be stored now", list(new))
                    # This worker's own lines: read them past, so they are not counted twice.
                    self._refresh_outcomes()
                return len(new), None


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def read_outcomes(location: str | Path) -> pd.DataFrame:
    """Every stored outcome no retraction covers, one row per id: id, received_at (UTC),
    outcome (bool: the label is the positive class), sender (`sender_id`, or `anonymous`).
    From a folder or a bucket prediction log's place; for an id stored twice (two replicas
    at the same instant, see the module doc) the first received stands.

    The one place retractions (core/retractions.py) are applied: every reader of outcomes
    (training rows, the monitoring join, promotion evidence) comes through here."""
    table = _stored_outcomes(location)
    for retraction in load_retractions(location):
        table = table[~retraction.covers(table)]
    return table.drop_duplicates("id", keep="first").reset_index(drop=True)


def read_retractions(location: str | Path) -> pd.DataFrame:
    """Every retraction recorded at `location`, oldest first, with what it takes back now:
    `outcomes` (stored outcomes it covers, each id once) and `by_sender` (how many of them
    each sender sent). An outcome two retractions cover counts for both; in
    `attrs["outcomes_retracted"]`, how many distinct ids all of them take back."""
    import pandas as pd

    retractions = load_retractions(location)
    stored = _stored_outcomes(location) if retractions else pd.DataFrame(columns=["id"])
    rows, retracted = [], set()
    for retraction in retractions:
        covered = stored[retraction.covers(stored)].drop_duplicates("id")
        retracted.update(covered["id"])
        rows.append(
            {
                **asdict(retraction),
                "outcomes": len(covered),
                "by_sender": covered["sender"].value_counts().to_dict(),
            }
        )
    columns = [*Retraction.__dataclass_fields__, "outcomes", "by_sender"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["outcomes_retracted"] = len(retracted)
    return table


def _stored_outcomes(location: str | Path) -> pd.DataFrame:
    """Every stored outcome line as a row, oldest first, retracted or not, repeats kept."""
    import pandas as pd

    if is_bucket(location):
        from titanic_assets.core.log_shipping import bucket_lines

        records: Iterable[dict[str, Any]] = _parse(bucket_lines(str(location), "outcomes"))
    else:
        root = Path(location)
        records = _Tail(root, "outcomes-*.jsonl").new_records() if root.exists() else []
    ids: list[str] = []
    outcome: list[bool] = []
    received: list[float] = []
    senders: list[str] = []
    for record in records:
        ids.extend(record["ids"])
        outcome.extend(record["outcome"])
        received.extend([record["timestamp"]] * len(record["ids"]))
        senders.extend([record.get("sender", ANONYMOUS)] * len(record["ids"]))
    table = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "received_at": received,
            "outcome": outcome,
            "sender": pd.Series(senders, dtype=object),
        }
    )
    received_at = table["received_at"].astype("float64")
    table["received_at"] = pd.to_datetime(received_at, unit="s", utc=True)
    table["outcome"] = table["outcome"].astype(bool)
    return table.sort_values("received_at", kind="stable", ignore_index=True)
