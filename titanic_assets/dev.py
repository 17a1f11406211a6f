"""`make dev`: Dagster (`dg dev`) and the model service side by side, stopped together.

Each runs in its own process group, so one signal reaches every process it started (the
webserver, the daemon, code servers, BentoML's workers). Ctrl-C (SIGINT) or SIGTERM stops
both: SIGTERM to each group, then SIGKILL to whatever is left after GRACE_SECONDS, so
nothing outlives `make dev` and it returns within 10 s. If either exits on its own, the
other is stopped too. (A shell `trap` could not do this: a background job of a
non-interactive shell ignores SIGINT, and `uv run` wrappers sit between it and the servers.)
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from titanic_assets.testing import BIN, stop_process_groups

GRACE_SECONDS = 6.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--service-port", type=int, default=3001)
    args = parser.parse_args(argv)
    commands = [
        [str(BIN / "bentoml"), "serve", "bento.service:TitanicSurvival",
         "--host", "127.0.0.1", "--port", str(args.service_port)],
        [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(args.dagster_port)],
    ]  # fmt: skip
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    processes = [
        subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
        for command in commands
    ]
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    finally:
        stop_process_groups(*processes, grace=GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
