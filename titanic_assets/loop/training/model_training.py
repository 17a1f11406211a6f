"""Training: the job that rebuilds the model from the raw rows to the serving stage."""

import dagster as dg

from titanic_assets.loop import Loop

MODEL_TRAINING_JOB = "model_training"


def build(loop: Loop) -> list:
    return [
        dg.define_asset_job(
            loop.named(MODEL_TRAINING_JOB),
            selection=dg.AssetSelection.key_prefixes(loop.prefix)
            - dg.AssetSelection.groups(loop.named("monitoring"), loop.named("scoring")),
            description="Rematerialize the chain from the raw rows to the evaluated, "
            "registered and (if the promotion policy agrees) served model.",
        )
    ]
