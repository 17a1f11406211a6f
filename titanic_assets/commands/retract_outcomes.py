"""Retract stored outcomes: a sender's, a time range's, or a sender's within a time range.

    python -m titanic_assets.commands.retract_outcomes --sender token:3f2a9c0d1e4b \\
        --reason "flooded flipped outcomes on 2026-11-30"
    python -m titanic_assets.commands.retract_outcomes --since 2026-11-30T08:00 \\
        --until 2026-11-30T09:00 --reason "a client replayed a day of stale outcomes"

Records one retraction beside the outcomes, in TITANIC_PREDICTION_LOG (a folder or a gs://
prefix; `--log` for another): nothing is deleted, and every later read of outcomes (the next
retrain's training rows, monitoring, promotion) leaves the covered ones out. Senders are
stored as `token:<digest>` (the `sender` column of `read_outcomes`, and the
`labelled_traffic` asset's metadata, name them); times are ISO 8601, UTC unless they carry a
zone; without `--until` the retraction covers everything received up to now. An operator
command, not an endpoint: taking evidence back changes what the model learns, so it needs
access to the storage itself. `--dry-run` counts what it would take back and records nothing.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from titanic_assets.core.instances import read_instance
from titanic_assets.core.outcomes import LANDED_SENDER, read_outcomes, read_retractions
from titanic_assets.core.retractions import Retraction, record_retraction, utc
from titanic_assets.core.settings import load_settings


def _time(text: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None


def main(argv: list[str] | None = None) -> int:
    """Record the retraction the arguments describe; prints what it takes back."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sender", help="a stored sender, e.g. token:3f2a9c0d1e4b")
    parser.add_argument("--since", type=_time, help="received at or after (ISO 8601)")
    parser.add_argument("--until", type=_time, help="received at or before (default: now)")
    parser.add_argument("--reason", required=True, help="why, for whoever audits it later")
    parser.add_argument("--model", help="a configured model (default: TITANIC_MODEL)")
    parser.add_argument("--log", help="the prediction log's place (default: the model's)")
    parser.add_argument("--dry-run", action="store_true", help="count only, record nothing")
    args = parser.parse_args(argv)
    if args.sender == LANDED_SENDER:
        parser.error(
            f"outcomes landed in bulk ({LANDED_SENDER}) are the labels landing area's files: "
            "remove the file there instead"
        )
    settings = load_settings()
    instance = read_instance(args.model or settings.model)
    location = args.log or instance.log_location(settings.prediction_log)
    try:
        retraction = Retraction.now(args.reason, args.sender, args.since, args.until)
    except ValueError as error:
        parser.error(str(error))
    stored = read_outcomes(location)
    covered = stored[retraction.covers(stored)]
    if args.sender and not len(covered) and args.sender not in set(stored["sender"]):
        known = ", ".join(sorted(set(stored["sender"]))) or "none"
        print(f"No outcome from {args.sender} is stored (senders: {known}).", file=sys.stderr)
    print(f"{len(covered)} outcomes not yet retracted are covered ({retraction.describe()}).")
    if args.dry_run:
        return 0
    where = record_retraction(location, retraction)
    total = int(read_retractions(location)["outcomes"].iloc[-1])
    print(f"Retracted: {where}. The next retrain leaves out the {total} outcomes it covers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
