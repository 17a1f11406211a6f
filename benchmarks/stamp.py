"""Stamped results: each benchmark writes its figures for one model as
benchmarks/results/<benchmark>-<model>.json, with what they were measured on, so a figure
quoted in the README can be traced to its run and told apart from a stale one.

    run = Stamp("pipeline", "adult_income")  # at the start: the date and the load average
    ...                                       # measure
    run.save(figures, family="lightgbm")      # at the end: writes the file, returns its path

The stamp: the benchmark, the model and its family, the commit as the run starts (and
whether the checkout had uncommitted changes to tracked files outside benchmarks/results/),
the UTC date at the start and the end, the cores (the machine's, and those this process may
use), the load average (1, 5, 15 minutes) at the start and at the end (on a shared machine,
a figure taken under a load of 4 on 2 cores is not one taken on an idle one), Python's
version, the command line, then the figures as the benchmark gives them.

Hand-written, about fifty lines of standard library: pyperf records this kind of metadata,
but it is not in the locked environment (a new dependency, and a lock change, for a stamp),
and its files hold its own runs of one timed function, not a materialization's wall time
and peak memory or wrk's figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _git(*args: str) -> str:
    run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return run.stdout.strip()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


class Stamp:
    """One benchmark's run for one model: made at the start, saved at the end."""

    def __init__(self, benchmark: str, model: str) -> None:
        self.benchmark, self.model = benchmark, model
        self.started, self.load_at_start = _now(), _load()
        # The code measured: the checkout as the run starts (a commit made meanwhile is not).
        self.commit = _git("rev-parse", "HEAD")
        self.changed = bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".",
                                 ":(exclude)benchmarks/results"))  # fmt: skip

    def save(self, figures: dict[str, Any], family: str, folder: Path = RESULTS) -> Path:
        stamped = {
            "benchmark": self.benchmark,
            "model": self.model,
            "model_family": family,
            "commit": self.commit,
            "uncommitted_changes": self.changed,
            "started": self.started,
            "finished": _now(),
            "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)),
            "load_average_at_start": self.load_at_start,
            "load_average_at_end": _load(),
            "python": platform.python_version(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "figures": figures,
        }
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.benchmark}-{self.model}.json"
        path.write_text(json.dumps(stamped, indent=2) + "\n")
        return path
