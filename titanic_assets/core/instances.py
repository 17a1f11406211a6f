"""The configured models: one folder under `titanic_assets/defs/` per model, whose `defs.yaml`
names its domain and its own settings (the `ModelLoop` component's attributes).

Dagster reads those files through the component (titanic_assets/components.py); the service
and the command-line tools read the same files here, so a model's store names and folders
are declared once. Locations below are relative to the settings' roots (core/settings.py):
a model's landing folder is `<TITANIC_LANDING_DIR>/<landing>`, its prediction log
`<TITANIC_PREDICTION_LOG>/<prediction_log>`, so the environment overrides that move the
roots move every model's folders with them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFS = Path(__file__).resolve().parents[1] / "defs"
COMPONENT_TYPE = "titanic_assets.components.ModelLoop"
NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
DEFAULT_MODEL = "titanic"


class InstanceError(ValueError):
    """A model that is not configured, or whose defs.yaml is wrong, named with the reason."""


class ModelSettings(BaseModel):
    """One model's own settings, as its defs.yaml's `attributes` give them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str = Field(description="The domain package under titanic_assets/domains/.")
    serving_model_name: str | None = Field(
        None, description="The BentoML store name of the serving model (default: the domain's)."
    )
    landing: str | None = Field(
        None, description="Its labelled batches, under the landing root (default: its name)."
    )
    prediction_log: str | None = Field(
        None, description="Its prediction log, under the log root (default: its name)."
    )

    @field_validator("serving_model_name")
    @classmethod
    def _store_name(cls, name: str | None) -> str | None:
        if name is not None and not NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a store name (a-z, 0-9 and _, from a letter)")
        return name


class ModelInstance(BaseModel):
    """A configured model: its instance name (the defs folder, its asset keys' prefix) and
    its settings, with the defaults filled in."""

    model_config = ConfigDict(frozen=True)

    name: str
    domain: str
    serving_model_name: str
    landing: str
    prediction_log: str

    @classmethod
    def of(cls, name: str, settings: ModelSettings) -> ModelInstance:
        if not NAME.fullmatch(name):
            raise InstanceError(f"model {name!r}: not a model name (a-z, 0-9 and _)")
        return cls(
            name=name,
            domain=settings.domain,
            serving_model_name=settings.serving_model_name or f"{name}_model",
            landing=settings.landing or name,
            prediction_log=settings.prediction_log or name,
        )

    def log_location(self, root: str) -> str:
        """Its prediction log under the log root (a folder, or a gs://bucket/prefix)."""
        return join_location(root, self.prediction_log)


def join_location(root: str, folder: str) -> str:
    """`folder` under a location: a path, or a gs://bucket/prefix URL."""
    if root.startswith("gs://"):
        return f"{root.rstrip('/')}/{folder}"
    return str(Path(root) / folder)


def instance_names(defs: Path = DEFS) -> list[str]:
    """Every configured model: the defs folders whose defs.yaml is a ModelLoop, sorted."""
    names = []
    for path in sorted(defs.glob("*/defs.yaml")):
        document = yaml.safe_load(path.read_text()) or {}
        if document.get("type") == COMPONENT_TYPE:
            names.append(path.parent.name)
    return names


def read_instance(name: str = DEFAULT_MODEL, defs: Path = DEFS) -> ModelInstance:
    """The model `name` as its defs.yaml configures it; InstanceError when it is not."""
    path = defs / name / "defs.yaml"
    if not path.is_file():
        known = ", ".join(instance_names(defs)) or "none"
        raise InstanceError(f"model {name!r} is not configured (no {path}; models: {known})")
    document = yaml.safe_load(path.read_text()) or {}
    try:
        settings = ModelSettings.model_validate(document.get("attributes") or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise InstanceError(f"model {name!r} ({path}): {problems}") from None
    return ModelInstance.of(name, settings)


def legacy_notice(landing_root: str | None = None, log_root: str | None = None) -> str | None:
    """One line for someone whose data is still in the single-model layout (before models
    were per-domain: CSV batches directly in the landing folder, the log directly in the
    prediction log folder), saying what to do; None when there is nothing to move."""
    stale = []
    if landing_root is not None and any(Path(landing_root).glob("*.csv")):
        stale.append(f"{landing_root}/*.csv into {landing_root}/{DEFAULT_MODEL}/")
    log = Path(log_root) if log_root is not None and "://" not in log_root else None
    if log is not None and (any(log.glob("*.jsonl")) or (log / "compacted").is_dir()):
        stale.append(f"{log}/* into {log}/{DEFAULT_MODEL}/")
    if not stale:
        return None
    return (
        f"Data from before models were per-domain: move {' and '.join(stale)}, then run "
        "`make materialize` once (models saved by the old layout are not compared)."
    )
