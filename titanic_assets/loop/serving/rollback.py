"""Serving: put an earlier model back in service, as one documented command.

    dg launch --job titanic_rollback_serving_model --config-json \\
        '{"ops": {"titanic_restore_serving_model": {"config": {"version": "<version>"}}}}'

(for the model `titanic`; each model has its own job). The version is any earlier serving
model or candidate (the serving_model asset's history in the UI lists them, as does
`bentoml models list`). Its files are saved again as the newest version of the model's
serving name, so the service's poll switches to it like to any promotion (no
restart, no failed request), the traffic window starts again at the rollback, and the
store keeps the full history. The run records a materialization of serving_model saying
what was restored and why, so the UI shows the rollback in the asset's history.
"""

from typing import Any

import dagster as dg

from titanic_assets.loop import Loop


class RollbackConfig(dg.Config):
    version: str
    """The model version to serve again (e.g. `6kqzjvhgqkrgoax4`)."""
    reason: str = "rollback requested by an operator"


def serve_again(
    context: dg.OpExecutionContext | dg.AssetExecutionContext,
    loop: Loop,
    version: str,
    reason: str,
    said: str,
    description: str,
) -> tuple[str, str | None]:
    """Save `version` (an earlier serving model or a candidate) as the newest serving
    version, and record a materialization of serving_model saying so (`said`: why, in its
    metadata), so the UI's history shows it. Returns the new tag and the one it replaced.
    LookupError when the store has no such version."""
    before = loop.store.promoted_tag()
    tag = loop.store.restore(version, reason)
    context.log_event(
        dg.AssetMaterialization(
            asset_key=loop.key("serving_model"),
            description=description.format(tag=tag),
            metadata={
                "bentoml_tag": tag,
                "model_version": tag.split(":", 1)[1],
                "stage": "serving",
                "promoted": True,
                "promotion_reason": said,
                "restored_from": version,
                "previous_serving_model": before or "none",
                "serving_model": tag,
            },
        )
    )
    return tag, before


def build(loop: Loop) -> list[Any]:
    @dg.op(
        name=loop.named("restore_serving_model"),
        description="Save an earlier model version as the newest serving version.",
    )
    def restore_serving_model(context: dg.OpExecutionContext, config: RollbackConfig) -> None:
        try:
            tag, before = serve_again(
                context,
                loop,
                config.version,
                config.reason,
                said=f"rollback to {config.version}: {config.reason}",
                description=f"Rollback: {config.version} serves again ({config.reason}).",
            )
        except LookupError as error:
            raise dg.Failure(str(error)) from error
        context.log.info(f"Serving {tag}, restored from {config.version} (was {before})")

    @dg.job(
        name=loop.named("rollback_serving_model"),
        description="Serve an earlier model version again (config: its version).",
    )
    def rollback_serving_model() -> None:
        restore_serving_model()

    return [rollback_serving_model]
