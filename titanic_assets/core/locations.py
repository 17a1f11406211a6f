"""Where the system keeps its files: from configuration, never from the working directory.

Each location is an environment variable. An absolute path is used as it is; a relative one
is taken relative to TITANIC_HOME, which defaults to the directory holding the
`titanic_assets` package (the repository root when run from source, the bento's `src/` when
run from a bento). So `make dev`, a test, the Dagster daemon and the service started from
anywhere agree on where the prediction log, the landing area, the inbox and the exports are.

Standard library only: the service imports it.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """TITANIC_HOME, else the directory that holds the titanic_assets package."""
    configured = os.getenv("TITANIC_HOME")
    return Path(configured).expanduser() if configured else Path(__file__).resolve().parents[2]


def location(variable: str, default: str) -> Path:
    """The path in `variable` (else `default`), relative paths resolved against `home()`."""
    path = Path(os.getenv(variable) or default).expanduser()
    return path if path.is_absolute() else home() / path
