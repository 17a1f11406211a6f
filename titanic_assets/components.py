"""The loop as one Dagster component: each model is an instance of `ModelLoop`, a folder
under `titanic_assets/defs/` whose `defs.yaml` names its domain and its own settings.

    type: titanic_assets.components.ModelLoop
    attributes:
      domain: titanic

`dg scaffold defs titanic_assets.components.ModelLoop <name> --domain <domain>` makes a new
one for an existing domain; with `--data <csv> --label <column> --positive <value>` instead,
it first writes the domain `<name>` from a template and the labelled CSV (scaffolding.py;
the steps: docs/your-own-model.md). Every instance builds the same stages
(titanic_assets/loop/) for its model, keyed under its name; the resources are the code
location's (defs/resources.py), shared by all.
A domain that does not exist, or lacks a part, fails `dg check defs` at its `defs.yaml` line
with one message naming the instance and what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import dagster as dg
from pydantic import BaseModel, Field

from titanic_assets.core.domain import DOMAINS_PACKAGE, DomainError, load_domain
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
    domain: str | None = Field(
        None,
        description="The domain package under titanic_assets/domains/ (or an importable "
        "module); default: the instance's name.",
    )
    data: str | None = Field(
        None, description="A labelled CSV: write the domain from it first (with --label)."
    )
    label: str | None = Field(None, description="With --data: the label column.")
    positive: str | None = Field(None, description="With --data: the label's positive value.")
    id_column: str | None = Field(
        None, description="With --data: a column of unique row numbers (default: none)."
    )


class ModelLoopScaffolder(dg.Scaffolder[ModelLoopParams]):
    """`dg scaffold defs ... <name> --domain <domain>`: a defs.yaml naming the domain.
    With `--data`, the domain is written first, from the template and the CSV."""

    @classmethod
    def get_scaffold_params(cls) -> type[ModelLoopParams]:
        return ModelLoopParams

    def scaffold(self, request: dg.ScaffoldRequest[ModelLoopParams]) -> None:
        params = request.params
        domain = params.domain or request.target_path.name
        if params.data is not None:
            from titanic_assets.scaffolding import ScaffoldError, write_domain

            try:
                if params.label is None or params.positive is None:
                    raise ScaffoldError("--data needs --label <column> and --positive <value>")
                folder = write_domain(
                    _domains_folder(request.project_root),
                    domain,
                    Path(params.data),
                    params.label,
                    params.positive,
                    params.id_column,
                )
            except ScaffoldError as error:
                # dg made the instance's folder: left empty, it would block the next try.
                if request.target_path.is_dir() and not any(request.target_path.iterdir()):
                    request.target_path.rmdir()
                raise dg.DagsterInvalidDefinitionError(f"no model scaffolded: {error}") from None
            print(f"Wrote the domain {domain} to {folder}: review it (docs/your-own-model.md)")
        dg.scaffold_component(request, {"domain": domain})


def _domains_folder(project_root: Path | None) -> Path:
    """Where the project's domains are: the domains package under the project's root."""
    import importlib

    if project_root is not None:
        return project_root.joinpath(*DOMAINS_PACKAGE.split("."))
    return Path(importlib.import_module(DOMAINS_PACKAGE).__path__[0])


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
