"""The loop's definitions, written once and built per model by the ModelLoop component
(titanic_assets/components.py): one package per stage (ingestion, preparation, training,
serving, monitoring, scoring), each module a `build(loop)` that returns its assets, checks,
jobs and sensors for one model.

`Loop` is what a stage knows of the model it builds for: its instance (name, store name,
folders), its domain, and how its keys, jobs and sensors are named, so two models never
collide and the UI shows each apart: keys under its prefix (`titanic/serving_model`), groups
by model and stage (`titanic_serving`).

Heavy libraries (pandas, scikit-learn, LightGBM, Pandera, matplotlib) are imported inside
the asset bodies, not at module level, so the code location loads quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import dagster as dg

from titanic_assets.core.domain import Domain
from titanic_assets.core.instances import ModelInstance

if TYPE_CHECKING:
    from titanic_assets.core.registry import ModelStore
    from titanic_assets.defs.resources import LandingArea, PredictionLog


@dataclass(frozen=True, eq=False)
class Loop:
    """One model's loop: its instance, its domain, and the names of its definitions."""

    instance: ModelInstance
    domain: Domain

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def prefix(self) -> list[str]:
        """The key prefix of every asset of this model."""
        return [self.instance.name]

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.instance.name, asset])

    def ins(self, *assets: str) -> dict[str, dg.AssetIn]:
        """Inputs from this model's assets, by their unprefixed names."""
        return {asset: dg.AssetIn(key=self.key(asset)) for asset in assets}

    def named(self, thing: str) -> str:
        """A job's, sensor's or asset group's name for this model (each a namespace the
        models share): the UI lists each model's stages as its own groups."""
        return f"{self.instance.name}_{thing}"

    @cached_property
    def store(self) -> ModelStore:
        """This model's names in the BentoML model store."""
        from titanic_assets.core.registry import ModelStore

        return ModelStore(self.instance.serving_model_name)

    def landing(self, area: LandingArea, seeded: bool = False) -> LandingArea:
        """This model's part of a landing area (`seeded`: a new one gets the domain's data)."""
        return area.under(self.instance.landing, self.domain.data if seeded else None)

    def log(self, prediction_log: PredictionLog) -> PredictionLog:
        """This model's prediction log, under the log root."""
        return prediction_log.under(self.instance.prediction_log)
