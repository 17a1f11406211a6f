"""Retractions: outcomes an operator takes back, recorded beside them, never deleting them.

An outcome sent to /feedback becomes training data and promotion evidence (core/outcomes.py).
When a sender turns out to be wrong or hostile, the operator retracts its outcomes with
`python -m titanic_assets.commands.retract_outcomes`: a sender, a time range, or both, and a
reason. Each retraction is one small JSON-lines record in the prediction log's place, beside
the outcomes: who recorded it and when, what it covers, why. The outcome lines stay as they
were, so what was sent, and what was taken back, can both be audited later.

What a retraction covers: every stored outcome whose sender is its sender (any sender when
none is named) and that was received in [since, until] (open ends when not given). Without
`until`, a retraction ends at the moment it is recorded: it takes back what was sent, and a
sender whose token is still accepted is not silenced for the future (remove its token from
TITANIC_FEEDBACK_TOKEN for that). Readers leave covered outcomes out: `read_outcomes`, and
monitoring's compaction and its reads of labelled rows (core/compaction.py, through
`retracted_sql`), which every consumer of labelled traffic (training rows, the performance
windows, promotion evidence) goes through. An hour compacted before a retraction keeps the
outcome in its summary counts until it is compacted again (`make monitor --all`).

Where: a folder log gets `retractions-<YYYYMMDD>-<host>-<pid>.jsonl` files, one line per
retraction appended with one `write`; a bucket log gets one object per retraction,
`<prefix>/retractions-<day>-<host>-<pid>-<sequence>-<random>.jsonl` (core/log_shipping.py).

Standard library only at module level, like core/outcomes.py.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titanic_assets.core.prediction_log import is_bucket

if TYPE_CHECKING:
    import pandas as pd

STREAM = "retractions"


@dataclass(frozen=True)
class Retraction:
    """One operator's retraction: what it covers (sender and/or UTC times, ISO 8601), why,
    who recorded it and when."""

    reason: str
    recorded_at: str
    recorded_by: str
    sender: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def now(
        cls,
        reason: str,
        sender: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Retraction:
        """A retraction recorded now by this user on this machine; `until` defaults to now."""
        if not reason.strip():
            raise ValueError("a retraction needs a reason")
        if sender is None and since is None and until is None:
            raise ValueError("a retraction names a sender, a time range, or both")
        recorded = datetime.now(UTC)
        if since is not None and since > (until or recorded):
            raise ValueError("since is after until")
        return cls(
            reason=reason.strip(),
            recorded_at=recorded.isoformat(),
            recorded_by=f"{os_account()}@{socket.gethostname()}",
            sender=sender,
            since=since.isoformat() if since else None,
            until=(until or recorded).isoformat(),
        )

    def covers(self, outcomes: pd.DataFrame) -> pd.Series:
        """Which outcomes (`sender`, `received_at` as UTC datetimes) this retraction covers."""
        import pandas as pd

        covered = pd.Series(True, index=outcomes.index)
        if self.sender is not None:
            covered &= outcomes["sender"] == self.sender
        if self.since is not None:
            covered &= outcomes["received_at"] >= pd.Timestamp(self.since)
        if self.until is not None:
            covered &= outcomes["received_at"] <= pd.Timestamp(self.until)
        return covered

    def sql(self) -> str:
        """The same as a SQL condition over `sender` and `received_at` (core/compaction.py)."""
        terms = []
        if self.sender is not None:
            terms.append("sender = '" + self.sender.replace("'", "''") + "'")
        if self.since is not None:
            terms.append(f"received_at >= TIMESTAMPTZ '{self.since}'")
        if self.until is not None:
            terms.append(f"received_at <= TIMESTAMPTZ '{self.until}'")
        return "(" + " AND ".join(terms) + ")"

    def describe(self) -> str:
        what = f"sender {self.sender}" if self.sender else "every sender"
        since = f" from {self.since}" if self.since else ""
        return f"{what}{since} until {self.until}"


def os_account() -> str:
    """The operating-system account running this (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # an id without an entry, as in some containers
        return f"uid {os.getuid()}"


def utc(moment: datetime) -> datetime:
    """A time as UTC; a time without a zone is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record_retraction(location: str | Path, retraction: Retraction) -> str:
    """Append the retraction beside the outcomes at `location`; where it was written."""
    line = json.dumps(asdict(retraction), separators=(",", ":")) + "\n"
    day = retraction.recorded_at[:10].replace("-", "")
    writer = f"{socket.gethostname()}-{os.getpid()}"
    if is_bucket(location):
        from titanic_assets.core.log_shipping import _client, object_name, split_url

        bucket, prefix = split_url(str(location))
        name = object_name(prefix, STREAM, day, writer, 1)
        _client().bucket(bucket).blob(name).upload_from_string(
            line, content_type="application/json"
        )
        return f"gs://{bucket}/{name}"
    root = Path(location)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{STREAM}-{day}-{writer}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())
    return str(path)


def load_retractions(location: str | Path) -> list[Retraction]:
    """Every retraction recorded at `location`, oldest first."""
    if is_bucket(location):
        from titanic_assets.core.log_shipping import bucket_lines

        lines: Iterable[str] = bucket_lines(str(location), STREAM)
    else:
        root = Path(location)
        paths = sorted(root.glob(f"{STREAM}-*.jsonl")) if root.exists() else []
        lines = (line for path in paths for line in path.read_text("utf-8").splitlines())
    found = sorted(_records(lines), key=lambda r: r["recorded_at"])
    return [Retraction(**{k: r.get(k) for k in Retraction.__dataclass_fields__}) for r in found]


def retracted_sql(retractions: list[Retraction]) -> str:
    """A SQL condition true for the outcomes any of `retractions` covers (FALSE for none)."""
    return " OR ".join(r.sql() for r in retractions) or "FALSE"


def _records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # cut short by a crash: that retraction was not recorded
            continue
        if isinstance(record, dict) and record.get("reason") and record.get("recorded_at"):
            yield record
