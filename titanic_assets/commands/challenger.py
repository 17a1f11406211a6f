"""Name the challenger that shadows the serving model, retire it, or say which it is.

    python -m titanic_assets.commands.challenger [--model NAME] show
    python -m titanic_assets.commands.challenger [--model NAME] shadow <version> --reason "..."
    python -m titanic_assets.commands.challenger [--model NAME] retire --reason "..."

A candidate the promotion policy kept becomes the challenger by itself (the serving_model
asset); this is for an operator who wants another one (any candidate version of the model,
`bentoml models list <serving name>_candidate`) or none. The model is TITANIC_MODEL's
(titanic by default) or --model's. The record goes in the model store (core/registry.py), so
every service worker swaps to it at its next poll (a replica on another machine once the
archive sensor exported it and its model_sync brought it in: core/model_sync.py), and the
challenger_evaluation asset judges it from the outcomes of what it shadowed since.
Promotion stays monitoring's decision; it changes what serves, so an operator cannot force
it here (the rollback job serves any version on purpose).
"""

from __future__ import annotations

import argparse
import sys

from titanic_assets.core import registry
from titanic_assets.core.instances import InstanceError, read_instance
from titanic_assets.core.retractions import os_account
from titanic_assets.core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a titanic_assets/defs/ folder (default: TITANIC_MODEL)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="the challenger now, and how the last one ended")
    shadow = commands.add_parser("shadow", help="make a candidate the challenger")
    shadow.add_argument("version", help="a candidate version (or full tag) of the model")
    retire = commands.add_parser("retire", help="stop shadowing with the current challenger")
    for command in (shadow, retire):
        command.add_argument("--reason", required=True, help="why, for whoever audits it later")
    args = parser.parse_args(argv)
    try:
        instance = read_instance(args.model or load_settings().model)
    except InstanceError as error:
        print(error, file=sys.stderr)
        return 1
    store = registry.ModelStore(instance.serving_model_name)

    current = store.challenger_record()
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
        store.record_challenger(current.candidate, registry.RETIRED, reason)
        print(f"Retired {current.candidate}: {reason}")
        return 0
    try:
        record = store.record_challenger(args.version, registry.SHADOWING, reason)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{record.candidate} shadows the serving model from now on: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
