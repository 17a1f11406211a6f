"""Name the challenger that shadows the serving model, retire it, or say which it is.

    python -m titanic_assets.commands.challenger show
    python -m titanic_assets.commands.challenger shadow <candidate version> --reason "..."
    python -m titanic_assets.commands.challenger retire --reason "..."

A candidate the promotion policy kept becomes the challenger by itself (the serving_model
asset); this is for an operator who wants another one (any `titanic_survival_candidate`
version, `bentoml models list titanic_survival_candidate`) or none. The record goes in the
model store (core/registry.py), so every service worker swaps to it at its next poll, and
the challenger_evaluation asset judges it from the outcomes of what it shadowed since.
Promotion stays monitoring's decision; it changes what serves, so an operator cannot force
it here (the rollback job serves any version on purpose).
"""

from __future__ import annotations

import argparse
import sys

from titanic_assets.core import registry
from titanic_assets.core.retractions import os_account


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="the challenger now, and how the last one ended")
    shadow = commands.add_parser("shadow", help="make a candidate the challenger")
    shadow.add_argument("version", help="a titanic_survival_candidate version")
    retire = commands.add_parser("retire", help="stop shadowing with the current challenger")
    for command in (shadow, retire):
        command.add_argument("--reason", required=True, help="why, for whoever audits it later")
    args = parser.parse_args(argv)

    current = registry.challenger_record()
    if args.command == "show":
        if current is None:
            print("No challenger has ever shadowed the serving model.")
        else:
            print(f"{current.candidate}: {current.status} since {current.since:%Y-%m-%d %H:%M} "
                  f"UTC ({current.reason})")  # fmt: skip
        return 0
    reason = f"{args.reason} (by {os_account()})"
    if args.command == "retire":
        if current is None or not current.shadowing:
            print("No challenger is shadowing; nothing to retire.", file=sys.stderr)
            return 1
        registry.record_challenger(current.candidate, registry.RETIRED, reason)
        print(f"Retired {current.candidate}: {reason}")
        return 0
    try:
        record = registry.record_challenger(args.version, registry.SHADOWING, reason)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{record.candidate} shadows the serving model from now on: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
