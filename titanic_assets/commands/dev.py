"""`make dev`: Dagster (`dg dev`) and the model service side by side, stopped together.

The service takes outcomes (POST /feedback) only with a bearer token, as in production: the
first run makes one, keeps it in TITANIC_HOME/.feedback_token (untracked, owner-only) and
every run prints it; TITANIC_FEEDBACK_TOKEN, when set, is used instead.

Each runs in its own process group, so one signal reaches every process it started (the
webserver, the daemon, code servers, BentoML's workers). Ctrl-C (SIGINT) or SIGTERM stops
both: SIGTERM to each group, then SIGKILL to whatever is left after GRACE_SECONDS, so
nothing outlives `make dev` and it returns within 10 s. If either exits on its own, the
other is stopped too. (A shell `trap` could not do this: a background job of a
non-interactive shell ignores SIGINT, and `uv run` wrappers sit between it and the servers.)
"""

from __future__ import annotations

import argparse
import secrets
import signal
import subprocess
import sys
import time

from titanic_assets.core.settings import Settings, child_environment, load_settings
from titanic_assets.testing import BIN, stop_process_groups

GRACE_SECONDS = 6.0
TOKEN_FILE = ".feedback_token"


def feedback_token(settings: Settings) -> str:
    """The token the local service takes outcomes with: the configured one, else the one
    made on the first run and kept beside the repository's data."""
    if settings.feedback_tokens:
        return settings.feedback_tokens[0]
    path = settings.home / TOKEN_FILE
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--service-port", type=int, default=3001)
    args = parser.parse_args(argv)
    settings = load_settings()
    token = feedback_token(settings)
    print(
        f"Outcomes: POST http://127.0.0.1:{args.service_port}/feedback with "
        f"'Authorization: Bearer {token}' (kept in {settings.home / TOKEN_FILE})",
        flush=True,
    )
    commands = [
        [str(BIN / "bentoml"), "serve", "bento.service:ModelService",
         "--host", "127.0.0.1", "--port", str(args.service_port)],
        [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(args.dagster_port)],
    ]  # fmt: skip
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    service_env = child_environment(TITANIC_FEEDBACK_TOKEN=token)
    processes = [
        subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL, env=env)
        for command, env in zip(commands, [service_env, None], strict=True)
    ]
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    finally:
        stop_process_groups(*processes, grace=GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
