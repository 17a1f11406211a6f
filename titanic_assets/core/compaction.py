"""One hour of traffic compacted: the landed JSON lines of an hour into Parquet and summaries.

For each hour (`YYYYMMDDHH`, core/log_files.py) this reads the predictions landed for it
and the outcomes come back for them, and writes under the log's `compacted/`:

- `predictions/<hour>.parquet`: one row per row scored (core/prediction_log.log_columns,
  and the challenger's version and answers where one shadowed it: `challenger_version`,
  `challenger_probability`, `challenger_predicted`);
- `labelled/<hour>.parquet`: those with an outcome (plus `outcome`, `received_at`,
  `sender`), the training rows and performance evidence, kept past the retention period;
- `samples/<hour>.parquet`: per model version a uniform sample of at most SAMPLE_ROWS rows,
  stored in random order, so the first k rows of each hour make a window's drift sample
  without reading the hour again (windows.py);
- `summaries/<hour>.json`: per model version, rows, predicted positives, CBPE's sums,
  labelled and correct; and what was read (files, skipped lines, the landing fingerprint).

Why DuckDB: the JSON lines are columnar per request (a batch is one line of lists), and
DuckDB unnests, joins and aggregates them in C++ within a memory limit, where the former
Python reader took 26 s and 1.3 GB for a million rows. `dagster-duckdb`'s resource manages
a database file for assets to share; here each hour is one in-memory query over files, so
the plain `duckdb` module is used. All of it is idempotent: compacting an hour again (new
outcomes came in) rewrites its files whole.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titanic_assets.core.log_files import LandingFile, LogPlace, hour_of
from titanic_assets.core.outcomes import ANONYMOUS, LANDED_SENDER
from titanic_assets.core.retractions import load_retractions, retracted_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    import pandas as pd

    from titanic_assets.core.contract import InputField

# Rows per hour and model version kept for the drift tests: as many as a window tests
# (core/traffic_windows.py), so a window of one busy hour is sampled as fully as any other.
SAMPLE_ROWS = 20_000
# DuckDB's own limit (it spills to disk past it): with the ~400 MB a Dagster run process
# holds already, an hour of a million predictions stays within about 1 GB.
MEMORY_LIMIT = "512MB"


def _name(name: str) -> str:
    """An input's name as a SQL identifier (any name a domain gives, quoted)."""
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _sql_type(field: InputField) -> str:
    return "DOUBLE" if field.kind in ("int", "float") else "VARCHAR"


# The landing lines' fields and types (core/prediction_log.py, core/outcomes.py).
def prediction_line(inputs: Sequence[InputField]) -> dict[str, str]:
    """A prediction line's fields and their DuckDB types, for a model reading `inputs`."""
    typed = ", ".join(f"{_name(f.name)} {_sql_type(f)}[]" for f in inputs)
    return {
        "request_id": "VARCHAR",
        "timestamp": "DOUBLE",
        "model_version": "VARCHAR",
        "endpoint": "VARCHAR",
        "ids": "VARCHAR[]",
        "inputs": f"STRUCT({typed})",
        "probability": "DOUBLE[]",
        "predicted": "BOOLEAN[]",
        # The challenger's answers, when one shadowed the request (absent: NULL).
        "challenger": "STRUCT(model_version VARCHAR, probability DOUBLE[], predicted BOOLEAN[])",
    }


OUTCOME_LINE = {
    "timestamp": "DOUBLE",
    "ids": "VARCHAR[]",
    "outcome": "BOOLEAN[]",
    "sender": "VARCHAR",
}


@dataclass
class CompactedHour:
    """What compacting one hour read and wrote."""

    hour: str
    files: int
    bytes: int
    fingerprint: str  # of the landing files' names and sizes: unchanged means nothing new
    skipped: dict[str, int]  # landing file -> lines that could not be read
    conflicts: list[str]  # ids whose landed outcome contradicts the stored one (stored wins)
    versions: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(sum(v["rows"] for v in self.versions.values()))

    @property
    def labelled(self) -> int:
        return int(sum(v["labelled"] for v in self.versions.values()))

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CompactedHour:
        return cls(**json.loads(data))


def fingerprint(files: list[LandingFile]) -> str:
    listed = sorted((f.name, f.size) for f in files)
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()[:16]


def _quoted(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _lines(path: Path) -> int:
    """Lines in a file, a last one without its newline included."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(2**22):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _read_json(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[Path], columns: dict[str, str]
) -> dict[str, int]:
    """Load JSON lines into `table`, skipping lines that do not parse; returns, per file,
    how many lines were skipped (files with none left out)."""
    if not paths:
        con.execute(
            f"CREATE TABLE {table} ("
            + ", ".join(f"{name} {kind}" for name, kind in columns.items())
            + ", filename VARCHAR)"
        )
        return {}
    typed = ", ".join(f"{name}: {_text(kind)}" for name, kind in columns.items())
    wanted = "{" + typed + "}"
    con.execute(
        f"CREATE TABLE {table} AS SELECT * FROM read_json({_quoted(paths)}, "
        f"format='newline_delimited', ignore_errors=true, filename=true, columns={wanted})"
    )
    read = dict(  # a line that does not parse is a row of nulls
        con.execute(
            f"SELECT filename, count(*) FROM {table} WHERE timestamp IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    skipped = {}
    for path in paths:
        lost = _lines(path) - read.get(str(path), 0)
        if lost > 0:
            skipped[path.name] = lost
    return skipped


def compact_hour(
    place: LogPlace,
    hour: str,
    landing: list[LandingFile],
    inputs: Sequence[InputField],
    landed_outcomes: pd.DataFrame | None = None,
    label: str | None = None,
    positive: Any = None,
) -> CompactedHour:
    """Compact the landing files of `hour` of a model reading `inputs` (and the outcomes
    `landed` in bulk for its predictions: `id` and the `label` column, as text, positive
    where the trimmed text is `str(positive)`) into the hour's compacted files."""
    import duckdb

    if landed_outcomes is not None and label is None:
        raise ValueError("outcomes landed in bulk need the label column they are read from")
    mine = [f for f in landing if f.hour == hour]
    with place.local_copies(mine) as paths, tempfile.TemporaryDirectory() as scratch:
        by_name = {p.name: p for p in paths}
        predictions = [
            by_name[f.name] for f in mine if f.stream == "predictions" and f.name in by_name
        ]
        outcomes = [by_name[f.name] for f in mine if f.stream == "outcomes" and f.name in by_name]
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": scratch})
        skipped = _read_json(con, "lines", predictions, prediction_line(inputs))
        skipped |= _read_json(con, "outcome_lines", outcomes, OUTCOME_LINE)
        conflicts = _build_tables(con, place, inputs, _landed(landed_outcomes, label, positive))
        result = CompactedHour(
            hour=hour,
            files=len(mine),
            bytes=sum(f.size for f in mine),
            fingerprint=fingerprint(mine),
            skipped=skipped,
            conflicts=conflicts,
            versions=_summaries(con),
        )
        for kind, query in (
            ("predictions", "SELECT * FROM predictions"),
            ("labelled", "SELECT * FROM labelled"),
            ("samples", _sample(hour, inputs)),
        ):
            out = Path(scratch) / f"{kind}.parquet"
            # Small row groups: a window reads the first rows of each hour's sample only.
            con.execute(
                f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)"
            )
            place.put(place.compacted_name(kind, hour, "parquet"), out.read_bytes())
        con.close()
    place.put(place.compacted_name("summaries", hour, "json"), result.to_json())
    return result


def _landed(landed: pd.DataFrame | None, label: str | None, positive: Any) -> pd.DataFrame | None:
    """Outcomes landed in bulk as `id` (text) and `outcome` (bool: the label, trimmed, is
    `str(positive)`); None when there are none."""
    if landed is None or not len(landed):
        return None
    import pandas as pd

    text = landed[label].astype(str).str.strip()
    return pd.DataFrame({"id": landed["id"].astype(str), "outcome": text == str(positive)})


def _build_tables(
    con: duckdb.DuckDBPyConnection,
    place: LogPlace,
    inputs: Sequence[InputField],
    landed: pd.DataFrame | None,
) -> list[str]:
    """predictions, outcomes (one per id) and labelled from the loaded lines and the
    outcomes `landed` in bulk (`_landed`); returns the ids whose landed outcome contradicts
    the stored one."""
    unnested = ", ".join(f"unnest(inputs.{_name(f.name)}) AS {_name(f.name)}" for f in inputs)
    con.execute(
        f"""
        CREATE TABLE predictions AS
        SELECT unnest(coalesce(ids, list_transform(range(len(probability)), lambda i:
                   CASE WHEN endpoint = 'predict_batch' THEN request_id || '-' || i
                             ELSE request_id END))) AS prediction_id,
               request_id, to_timestamp(timestamp) AS timestamp, model_version, endpoint,
               {unnested}, unnest(probability) AS probability, unnest(predicted) AS predicted,
               challenger.model_version AS challenger_version,
               unnest(challenger.probability) AS challenger_probability,
               unnest(challenger.predicted) AS challenger_predicted
        FROM lines
        """
    )
    con.execute(
        f"""
        CREATE TABLE stored AS
        SELECT unnest(ids) AS id, to_timestamp(timestamp) AS received_at,
               unnest(outcome) AS outcome, coalesce(sender, '{ANONYMOUS}') AS sender
        FROM outcome_lines
        """
    )
    if landed is not None:
        bulk = landed  # noqa: F841 (read by DuckDB by name)
        con.execute(
            f"""
            INSERT INTO stored
            SELECT id, NULL, outcome, '{LANDED_SENDER}' FROM bulk
            WHERE id IN (SELECT prediction_id FROM predictions)
            """
        )
    # Outcomes an operator retracted (core/retractions.py) are not joined.
    con.execute(f"DELETE FROM stored WHERE {retracted_sql(load_retractions(place.location))}")
    conflicts = [
        row[0]
        for row in con.execute(
            f"""
            SELECT id FROM stored GROUP BY id
            HAVING count(DISTINCT outcome) > 1 AND bool_or(sender = '{LANDED_SENDER}')
            ORDER BY id
            """
        ).fetchall()
    ]
    # The first received stands; a stored outcome wins over one landed in bulk.
    con.execute(
        f"""
        CREATE TABLE outcomes AS SELECT * FROM stored
        QUALIFY row_number() OVER (
            PARTITION BY id ORDER BY sender = '{LANDED_SENDER}', received_at NULLS LAST) = 1
        """
    )
    # An id predicted twice (a client reusing its X-Request-ID) keeps its latest prediction.
    con.execute(
        """
        CREATE TABLE labelled AS
        SELECT p.*, o.outcome, o.received_at, o.sender
        FROM (SELECT * FROM predictions QUALIFY row_number() OVER (
                  PARTITION BY prediction_id ORDER BY timestamp DESC) = 1) AS p
        JOIN outcomes AS o ON o.id = p.prediction_id
        """
    )
    return conflicts


def _sample(hour: str, inputs: Sequence[InputField]) -> str:
    """Per model version, at most SAMPLE_ROWS rows drawn by a hash of their id, with their
    `rank` in that random order: any first k of them are a uniform sample too."""
    names = ", ".join(_name(f.name) for f in inputs)
    return f"""
        SELECT '{hour}' AS hour, model_version, timestamp, {names}, probability,
               row_number() OVER (PARTITION BY model_version ORDER BY hash(prediction_id)) AS rank
        FROM predictions QUALIFY rank <= {SAMPLE_ROWS} ORDER BY model_version, rank
    """


def _summaries(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Per model version: rows, predicted positives, CBPE's expected correct and its
    variance (each row is right with q = the probability of what it predicts), labelled
    rows and correct ones."""
    rows = con.execute(
        """
        WITH q AS (SELECT model_version, predicted,
                          CASE WHEN predicted THEN probability ELSE 1 - probability END AS q
                   FROM predictions)
        SELECT model_version, count(*), sum(predicted::INT), sum(q), sum(q * (1 - q))
        FROM q GROUP BY 1
        """
    ).fetchall()
    labelled = dict(
        (version, (n, correct))
        for version, n, correct in con.execute(
            "SELECT model_version, count(*), sum((predicted = outcome)::INT) "
            "FROM labelled GROUP BY 1"
        ).fetchall()
    )
    return {
        str(version): {
            "rows": int(n),
            "predicted_positive": int(positive or 0),
            "expected_correct": float(q or 0.0),
            "expected_correct_variance": float(var or 0.0),
            "labelled": int(labelled.get(version, (0, 0))[0]),
            "correct": int(labelled.get(version, (0, 0))[1] or 0),
        }
        for version, n, positive, q, var in rows
    }


def read_compacted(place: LogPlace, kind: str, hours: list[str], query: str = "") -> pd.DataFrame:
    """The compacted rows of `kind` (predictions, labelled, samples) of the given hours as
    one table, through `query` (SQL over a table named `rows`, default all of it); hours
    never compacted contribute nothing. Labelled rows an operator retracted since their
    hour was compacted are left out here too."""
    import duckdb
    import pandas as pd

    names = [place.compacted_name(kind, hour, "parquet") for hour in hours]
    where = ""
    if kind == "labelled":
        where = f" WHERE NOT ({retracted_sql(load_retractions(place.location))})"
    with place.local_compacted(names) as paths:
        if not paths:
            return pd.DataFrame()
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
        con.execute(
            f"CREATE VIEW rows AS SELECT * FROM read_parquet({_quoted(paths)}, "
            f"union_by_name=true){where}"
        )
        table = con.execute(query or "SELECT * FROM rows").df()
        con.close()
    return table


def read_summaries(place: LogPlace, hours: list[str]) -> dict[str, CompactedHour]:
    found = {}
    for hour in hours:
        data = place.get(place.compacted_name("summaries", hour, "json"))
        if data is not None:
            found[hour] = CompactedHour.from_json(data)
    return found


def oldest_open_hour(keep_days: int, now: float | None = None) -> str:
    """Hours before this one are closed: past the keep period their landed predictions are
    removed (`expire`), so they are never compacted again (an outcome that comes back for
    them later is not joined), and their labelled rows stay as they are."""
    now = time.time() if now is None else now
    return hour_of(datetime.fromtimestamp(now, UTC) - timedelta(days=keep_days))


def expire(place: LogPlace, keep_days: int, now: float | None = None) -> list[str]:
    """Remove landing files of hours older than `keep_days` once their hour is compacted,
    and those hours' compacted predictions and samples; labelled rows and summaries stay
    (training data and history). Returns the names removed."""
    oldest = oldest_open_hour(keep_days, now)
    compacted = set(place.compacted_hours("summaries"))
    # An hour's files arrive in it or later: those that arrived before `oldest` are enough.
    old = [f for f in place.landing(arrived_before=oldest) if f.hour in compacted]
    place.remove(old)
    removed = [f.name for f in old]
    for kind in ("predictions", "samples"):
        for hour in place.compacted_hours(kind):
            if hour < oldest:
                name = place.compacted_name(kind, hour, "parquet")
                place.delete(name)
                removed.append(name)
    return removed
