"""`make dev`: Dagster (`dg dev`) and one service per configured model, stopped together.

Each model (a folder under titanic_assets/defs/) gets its service on the next port from
--service-port up, printed at start. The services take outcomes (POST /feedback) only with
a bearer token, as in production: the first run makes one, keeps it in
TITANIC_HOME/.feedback_token (untracked, owner-only) and every run prints it;
TITANIC_FEEDBACK_TOKEN, when set, is used instead, every sender's token of it.

Each runs in its own process group, so one signal reaches every process it started (the
webserver, the daemon, code servers, BentoML's workers). Ctrl-C (SIGINT) or SIGTERM stops
all: SIGTERM to each group, then SIGKILL to whatever is left after GRACE_SECONDS, so
nothing outlives `make dev` and it returns within 10 s. If one exits on its own, the others
are stopped too. (A shell `trap` could not do this: a background job of a
non-interactive shell ignores SIGINT, and `uv run` wrappers sit between it and the servers.)
"""

from __future__ import annotations

import argparse
import secrets
import signal
import subprocess
import sys
import time

from titanic_assets.core.instances import instance_names, legacy_notice
from titanic_assets.core.settings import Settings, child_environment, load_settings
from titanic_assets.testing import BIN, stop_process_groups

GRACE_SECONDS = 6.0
TOKEN_FILE = ".feedback_token"


def feedback_tokens(settings: Settings) -> list[str]:
    """The tokens the local services take outcomes with: the configured ones (one per
    sender), else the one made on the first run and kept beside the repository's data."""
    if settings.feedback_tokens:
        return settings.feedback_tokens
    path = settings.home / TOKEN_FILE
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return [path.read_text().strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--service-port", type=int, default=3001)
    args = parser.parse_args(argv)
    settings = load_settings()
    notice = legacy_notice(settings.landing_dir, settings.prediction_log)
    if notice:
        print(notice, flush=True)
    tokens = feedback_tokens(settings)
    where = "TITANIC_FEEDBACK_TOKEN" if settings.feedback_tokens else settings.home / TOKEN_FILE
    print(f"Dagster: http://127.0.0.1:{args.dagster_port}", flush=True)
    commands, environments = [], []
    for port, model in enumerate(instance_names(), start=args.service_port):
        print(f"Model {model}: http://127.0.0.1:{port} (outcomes: POST /feedback)", flush=True)
        commands.append(
            [str(BIN / "bentoml"), "serve", "bento.service:ModelService",
             "--host", "127.0.0.1", "--port", str(port)]
        )  # fmt: skip
        environments.append(
            child_environment(TITANIC_MODEL=model, TITANIC_FEEDBACK_TOKEN=",".join(tokens))
        )
    print(
        f"Outcomes take 'Authorization: Bearer <token>', {len(tokens)} sender(s) "
        f"(the token{'s' if len(tokens) > 1 else ''} in {where}): {tokens[0]}",
        flush=True,
    )
    commands.append(
        [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(args.dagster_port)]
    )
    environments.append(None)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    processes = [
        subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL, env=env)
        for command, env in zip(commands, environments, strict=True)
    ]
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    finally:
        stop_process_groups(*processes, grace=GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
