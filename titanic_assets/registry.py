"""The BentoML model store as the hand-over between the pipeline and the service.

Promotion is the model's name: a promoted model is saved as `titanic_survival:<version>`, a
model the policy rejected as `titanic_survival_candidate:<version>`. BentoML moves the
`latest` tag of a name to the version saved last, so `titanic_survival:latest` is always the
serving model: the service polls it, `bentoml build` packs it, and no pointer file can drift
out of step with the store. Where the store lives is BentoML's own BENTOML_HOME.

Each model directory holds everything the service needs (the pickled pipeline, whose first
step is the feature code) and what drift monitoring needs (the training rows' raw inputs);
threshold, schema, metrics and versions are in the model's metadata and labels.

Imported by the service, so only the standard library at module level.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVING_MODEL = "titanic_survival"
CANDIDATE_MODEL = "titanic_survival_candidate"
PIPELINE_FILE = "pipeline.pkl"
REFERENCE_FILE = "reference.csv"
REFERENCE_SUMMARY_FILE = "reference_summary.json"


@dataclass(frozen=True)
class RegisteredModel:
    """A model as the service uses it: loaded once, never mutated, swapped whole."""

    version: str
    tag: str
    pipeline: Any
    threshold: float
    metadata: dict[str, Any]
    labels: dict[str, str]
    created_at: str

    @property
    def booster(self) -> Any:
        """The LightGBM booster: scored on numpy directly, no scikit-learn per request."""
        return self.pipeline.named_steps["classifier"].booster_

    def probabilities(self, columns: Any) -> Any:
        """Survival probabilities for raw passenger columns (a dict of lists or a DataFrame):
        the shared feature code, then the booster on numpy, on one thread."""
        from titanic_assets.features import feature_matrix

        return self.booster.predict(feature_matrix(columns), num_threads=1)


def serving_tag() -> str | None:
    """The full tag of the serving model (name:version), None when nothing was promoted."""
    import bentoml

    try:
        return str(bentoml.models.get(f"{SERVING_MODEL}:latest").tag)
    except bentoml.exceptions.NotFound:
        return None


def serving_metrics() -> dict[str, float] | None:
    """The serving model's held-out metrics, None when nothing serves yet."""
    import bentoml

    try:
        model = bentoml.models.get(f"{SERVING_MODEL}:latest")
    except bentoml.exceptions.NotFound:
        return None
    return dict(model.info.metadata["metrics"]["held_out"])


def load(tag: str) -> RegisteredModel:
    """Load one stored model (a full tag, or `titanic_survival:latest`)."""
    import bentoml

    model = bentoml.models.get(tag)
    with open(model.path_of(PIPELINE_FILE), "rb") as handle:
        pipeline = pickle.load(handle)
    return RegisteredModel(
        version=model.tag.version,
        tag=str(model.tag),
        pipeline=pipeline,
        threshold=float(model.info.metadata["threshold"]),
        metadata=dict(model.info.metadata),
        labels=dict(model.info.labels),
        created_at=model.info.creation_time.isoformat(),
    )


def save(
    name: str,
    pipeline: Any,
    reference: Any,
    reference_summary: dict[str, Any],
    metadata: dict[str, Any],
    labels: dict[str, str],
) -> str:
    """Save a model under `name` (serving or candidate); returns its full tag."""
    import bentoml

    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        with open(model.path_of(PIPELINE_FILE), "wb") as handle:
            pickle.dump(pipeline, handle, protocol=pickle.HIGHEST_PROTOCOL)
        reference.to_csv(model.path_of(REFERENCE_FILE), index=False)
        Path(model.path_of(REFERENCE_SUMMARY_FILE)).write_text(
            json.dumps(reference_summary, indent=2, default=str)
        )
    return str(model.tag)
