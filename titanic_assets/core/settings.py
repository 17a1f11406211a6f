"""Every setting of the system, declared once: its variable, type, default and meaning.

The only module that reads the environment. The service, the Dagster definitions and the
command-line tools each call `load_settings()` once when they start, and pass the values on:
on the Dagster side as resources (defs/resources.py), so asset code never sees the
environment. A wrong value stops the start with the variable's name and the reason, not a
traceback from deep inside a run.

Locations: an absolute path is used as it is, a relative one is under TITANIC_HOME (default
the directory holding the `titanic_assets` package: the repository root from source, the
bento's `src/` in a bento), never the working directory. So `make dev`, a test, the daemon
and the service started from anywhere agree on where each folder is.

The documentation's configuration tables (docs/configuration.md) are `markdown_table()`'s
output, rendered when the site is built (docs_hooks.py; `python -m
titanic_assets.core.settings` prints them).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "TITANIC_"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Google's rule for bucket names, without the dotted (domain) form's extra rules.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]")
LOCATIONS = ("landing_dir", "inbox_dir", "labels_dir", "exports_dir", "prediction_log")
SECRETS = {"feedback_token"}  # never echoed in an error
MIN_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """A setting with a wrong value, named by its environment variable."""


def _setting(default: Any, meaning: str, shown: str | None = None, **limits: Any) -> Any:
    """A field with its one line of meaning, and the default as the documentation shows it."""
    extra = {"shown": shown} if shown is not None else None
    return Field(default, description=meaning, json_schema_extra=extra, **limits)


def _gcp(default: Any, meaning: str, **limits: Any) -> Any:
    """A setting of the gcp profile (docs/configuration.md lists them apart)."""
    return Field(default, description=meaning, json_schema_extra={"profile": "gcp"}, **limits)


Location = Annotated[str, Field(min_length=1)]


class Settings(BaseSettings):
    """The settings, from TITANIC_* environment variables (GOOGLE_CLOUD_PROJECT for the
    project). Immutable once loaded."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="ignore", env_ignore_empty=True
    )

    model: str = _setting(
        "titanic",
        "the model the service serves and the commands act on: a folder of "
        "`titanic_assets/defs/` (`make serve MODEL=...`)",
        pattern=r"^[a-z][a-z0-9_]{0,40}$",
    )
    home: Path = _setting(
        PACKAGE_ROOT, "the root of every relative location below", shown="the repository root"
    )
    profile: Literal["local", "gcp"] = _setting(
        "local",
        "`local` (folders, pickles under `.dagster/storage`) or `gcp` (bucket); chosen in "
        "`titanic_assets/defs/resources.py`, never inside an asset",
    )
    landing_dir: Location = _setting("data/landing", "labelled CSV batches (local)")
    inbox_dir: Location = _setting("data/inbox", "batch scoring inbox (local)")
    exports_dir: Location = _setting("data/exports", "downloadable exports (local)")
    labels_dir: Location = _setting(
        "data/labels",
        "outcomes in bulk, `id,<label>` CSV files (the label column of the model's data)",
    )
    prediction_log: Location = _setting(
        "data/prediction_log",
        "the service's prediction log: a folder, or `gs://bucket/prefix` (shipped in batches)",
    )
    prediction_log_max_mb: float = _setting(
        64, "a folder log's hourly file (one per worker) rolls over past this size (MB)", gt=0
    )
    prediction_log_keep_days: int = _setting(
        30, "landed log files older than this are removed once compacted (labelled rows stay)", ge=1
    )
    log_batch_bytes: int = _setting(
        2**20,
        "a bucket log's batch is uploaded at this size (the most a killed replica loses)",
        shown="1 MiB",
        gt=0,
    )
    log_batch_seconds: float = _setting(5, "... or when its first line is this old (seconds)", gt=0)
    max_csv_bytes: int = _setting(
        10 * 2**20, "the largest file `POST /predict_csv` takes", shown="10 MiB", gt=0
    )
    model_poll_seconds: float = _setting(
        10, "how often the service (and `model_sync`) looks for a newly promoted model", gt=0
    )
    serving_workers: int = _setting(2, "the service's worker processes", ge=1)
    log_format: Literal["json", "text"] = _setting("json", "the service's log lines")
    retrain_min_new_rows: int = _setting(
        150, "unseen labelled rows a failed check needs to request a retrain", ge=1
    )
    drift_refresh_seconds: float = _setting(
        60, "the least time between two monitoring refreshes of new traffic (seconds)", ge=0
    )
    shadow_max_outcomes: int = _setting(
        2000, "outcomes a challenger may shadow before it is retired, not shown better", ge=1
    )
    shadow_max_days: float = _setting(30, "... or days, whichever comes first", gt=0)
    feedback_token: SecretStr | None = _setting(
        None,
        "the bearer token `POST /feedback` requires (several senders: comma-separated); "
        "unset, outcomes are open (`make dev` sets one; the gcp profile requires one)",
    )
    gcs_bucket: str | None = _gcp(None, "the bucket (required with `TITANIC_PROFILE=gcp`)")
    gcs_landing_prefix: str = _gcp("landing", "labelled CSV batches (`*.csv` directly under it)")
    gcs_io_prefix: str = _gcp("dagster", "asset values, the serving model's archive")
    gcs_inbox_prefix: str = _gcp("inbox", "batch scoring inbox")
    gcs_exports_prefix: str = _gcp("exports", "downloadable exports")
    gcs_labels_prefix: str = _gcp("labels", "outcomes in bulk")
    google_cloud_project: str | None = Field(
        None,
        validation_alias="GOOGLE_CLOUD_PROJECT",
        description="the Google Cloud project (default: the credentials')",
        json_schema_extra={"profile": "gcp", "shown": "from the credentials"},
    )

    @field_validator("gcs_bucket")
    @classmethod
    def _bucket_name(cls, name: str | None) -> str | None:
        if name is not None and not BUCKET_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a bucket name (3-222 of a-z 0-9 . _ -)")
        return name

    @field_validator("feedback_token")
    @classmethod
    def _long_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        tokens = value.get_secret_value().split(",") if value is not None else []
        if any(len(token.strip()) < MIN_TOKEN_LENGTH for token in tokens):
            raise ValueError(f"each token needs at least {MIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("prediction_log")
    @classmethod
    def _bucket_url(cls, place: str) -> str:
        if place.startswith("gs:"):
            bucket = place.removeprefix("gs://").partition("/")[0]
            if not place.startswith("gs://") or not BUCKET_NAME.fullmatch(bucket):
                raise ValueError(f"{place!r} is not gs://<bucket>/<prefix>")
        return place

    @model_validator(mode="after")
    def _resolved(self) -> Settings:
        if self.profile == "gcp" and not self.gcs_bucket:
            raise ValueError("TITANIC_PROFILE=gcp needs TITANIC_GCS_BUCKET, the bucket's name")
        if self.profile == "gcp" and self.feedback_token is None:
            raise ValueError(
                "TITANIC_PROFILE=gcp needs TITANIC_FEEDBACK_TOKEN: outcomes change what the "
                "model learns, so in production only holders of a token may send them"
            )
        home = self.home.expanduser()
        self.__dict__["home"] = home
        for name in LOCATIONS:
            value = getattr(self, name)
            if not value.startswith("gs://"):
                path = Path(value).expanduser()
                self.__dict__[name] = str(path if path.is_absolute() else home / path)
        return self

    @property
    def feedback_tokens(self) -> list[str]:
        """The tokens `POST /feedback` accepts, none when outcomes are open."""
        if self.feedback_token is None:
            return []
        return [t.strip() for t in self.feedback_token.get_secret_value().split(",") if t.strip()]


def variable(name: str) -> str:
    """The environment variable of a setting."""
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else PREFIX + name.upper()


def load_settings() -> Settings:
    """The settings from the environment, or a SettingsError naming each wrong variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for problem in error.errors(include_url=False):
            where = variable(str(problem["loc"][0])) if problem["loc"] else "settings"
            reason = problem["msg"].removeprefix("Value error, ")
            secret = problem["loc"] and problem["loc"][0] in SECRETS
            got = "" if not problem["loc"] or secret else f" (got {problem['input']!r})"
            problems.append(f"{where}: {reason}{got}")
        raise SettingsError("Invalid settings: " + "; ".join(problems)) from None


def child_environment(**overrides: str) -> dict[str, str]:
    """The environment for a process this one starts: its own, with `overrides`."""
    return {**os.environ, **overrides}


def markdown_table(profile: str = "local") -> str:
    """The documentation's table of the settings of one profile (`local`: every setting but the
    gcp profile's)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra or {}
        if extra.get("profile", "local") != profile:
            continue
        default = extra.get("shown") or (
            "(unset)" if field.default is None else f"`{field.default}`"
        )
        rows.append(f"| `{variable(name)}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(f"{markdown_table('local')}\n\n{markdown_table('gcp')}\n")
