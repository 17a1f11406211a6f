"""Training: the job that rebuilds the model from the raw passengers to the serving stage."""

import dagster as dg

MODEL_TRAINING_JOB = "model_training"

model_training_job = dg.define_asset_job(
    MODEL_TRAINING_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("monitoring", "scoring"),
    description="Rematerialize the chain from the raw passengers to the evaluated, registered "
    "and (if the promotion policy agrees) served model.",
)
