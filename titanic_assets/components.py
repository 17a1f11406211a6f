"""The loop as one Dagster component: each model is an instance of `ModelLoop`, a folder
under `titanic_assets/defs/` whose `defs.yaml` names its domain and its own settings.

    type: titanic_assets.components.ModelLoop
    attributes:
      domain: titanic

`dg scaffold defs titanic_assets.components.ModelLoop <name> --domain <domain>` makes a new
one. Every instance builds the same stages (titanic_assets/loop/) for its model, keyed
under its name; the resources are the code location's (defs/resources.py), shared by all.
A domain that does not exist, or lacks a part, fails `dg check defs` at its `defs.yaml` line
with one message naming the instance and what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import dagster as dg
from pydantic import BaseModel, Field

from titanic_assets.core.domain import DomainError, load_domain
from titanic_assets.core.instances import InstanceError, ModelInstance, ModelSettings


def _existing_domain(context: dg.ResolutionContext, value: str) -> str:
    """The domain's name, once it loads with every required part (else a ValueError naming
    the instance, which Dagster shows at the defs.yaml line)."""
    name = context.resolve_value(value, as_type=str)
    try:
        load_domain(name)
    except DomainError as error:
        raise ValueError(f"model {_instance_name(context)!r}: {error}") from None
    return name


def _instance_name(context: dg.ResolutionContext) -> str:
    """The instance's name: its folder under defs/ (as build_defs names it)."""
    tree = context.source_position_tree
    return Path(tree.position.filename).parent.name if tree is not None else "?"


class ModelLoopParams(BaseModel):
    domain: str = Field(description="The domain package under titanic_assets/domains/.")


class ModelLoopScaffolder(dg.Scaffolder[ModelLoopParams]):
    """`dg scaffold defs ... <name> --domain <domain>`: a defs.yaml naming the domain."""

    @classmethod
    def get_scaffold_params(cls) -> type[ModelLoopParams]:
        return ModelLoopParams

    def scaffold(self, request: dg.ScaffoldRequest[ModelLoopParams]) -> None:
        dg.scaffold_component(request, {"domain": request.params.domain})


@dg.scaffold_with(ModelLoopScaffolder)
class ModelLoop(dg.Component, dg.Model, dg.Resolvable):
    """One model's loop: ingestion, preparation, training, serving, monitoring and batch
    scoring, with their checks, jobs and sensors, for the domain this instance names."""

    domain: Annotated[
        str,
        dg.Resolver(
            _existing_domain, description="The domain package under titanic_assets/domains/."
        ),
    ]
    serving_model_name: str | None = None
    landing: str | None = None
    prediction_log: str | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from titanic_assets.loop import Loop
        from titanic_assets.loop.build import loop_definitions

        settings = ModelSettings(
            domain=self.domain,
            serving_model_name=self.serving_model_name,
            landing=self.landing,
            prediction_log=self.prediction_log,
        )
        try:
            instance = ModelInstance.of(context.path.name, settings)
        except InstanceError as error:
            raise ValueError(str(error)) from None
        return loop_definitions(Loop(instance, load_domain(self.domain)))
