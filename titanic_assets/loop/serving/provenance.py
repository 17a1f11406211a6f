"""Serving: where a registered model's code came from (its data version travels with it)."""

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]


def _git(*args: str) -> str:
    run = subprocess.run(
        ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True, timeout=5
    )
    return run.stdout.strip()


def code_version() -> str:
    """The git commit of this checkout ("-dirty" when it has local changes), else the
    installed package version."""
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "titanic_assets")
        return f"git:{commit}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"package:{version('titanic-assets')}"
