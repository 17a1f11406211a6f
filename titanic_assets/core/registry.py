"""The BentoML model store as the hand-over between the pipeline and the service.

Promotion is the model's name. Each configured model has its own store names (a
`ModelStore`, from its instance's `serving_model_name`): a promoted model is saved as
`<serving>:<version>`, a model the policy rejected as `<serving>_candidate:<version>`.
BentoML moves the `latest` tag of a name to the version saved last, so `<serving>:latest` is
always the serving model: the service polls it, `bentoml build` packs it, and no pointer file
can drift out of step with the store. Where the store lives is BentoML's own BENTOML_HOME.

Each model directory holds everything the service needs (the pickled model, whose design is
the feature code; core/models.py) and what monitoring needs: the training rows' raw inputs
(the reference for input drift), the held-out rows with labels (the reference for anything
computed from the model's outputs, which on training rows would be over-confident), and
every row id it was given (so a retrain is requested only for labelled rows it has not
seen). Threshold, schema, metrics and versions are in the model's metadata and labels.

The challenger, a candidate that shadows the serving model (the service scores every row
with it too and logs its answer, never returned), is recorded the same way: each change is
a new, file-less version of `<serving>_challenger` whose metadata names the candidate and
says whether it is shadowing, was promoted or retired, and why. Its `latest` is the current
state, so the history of challengers is `bentoml models list`.

Imported by the service, so only the standard library at module level.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from titanic_assets.core.calibration import (
    Calibration,
    IsotonicCalibration,
    calibration_from_dict,
    sigmoid,
)

SHADOWING, PROMOTED, RETIRED = "shadowing", "promoted", "retired"
PIPELINE_FILE = "pipeline.pkl"  # the pickled model (core/models.py); the name older stores use
REFERENCE_FILE = "reference.csv"
REFERENCE_SUMMARY_FILE = "reference_summary.json"
HELD_OUT_FILE = "held_out.csv"
GIVEN_IDS_FILE = "given_ids.json"
MODEL_FILES = (
    PIPELINE_FILE, REFERENCE_FILE, REFERENCE_SUMMARY_FILE, HELD_OUT_FILE, GIVEN_IDS_FILE
)  # fmt: skip


@dataclass(frozen=True)
class Explanation:
    """One row's score, taken apart: `bias + sum(contributions) == raw_score` (the log-odds
    of the positive class before calibration); `probability` is the calibrated, served one."""

    contributions: dict[str, float]
    bias: float
    raw_score: float
    feature_values: dict[str, float | None]  # None: unknown (missing)
    probability: float


@dataclass(frozen=True)
class RegisteredModel:
    """One model in the store, as the pipeline, monitoring and the service all see it.

    Reading it costs a metadata lookup; the pickled model is loaded on first use and then
    kept, so a sensor can ask which model serves without unpickling it, and the service
    swaps a fully loaded one in whole (see `load`). The pickled object is core/models.py's
    (`matrix`, `raw_score`, `contributions`, `feature_names`, `family`, `booster`).
    """

    tag: str  # name:version
    version: str
    path: str  # its directory in the store (model, drift reference)
    created_at: datetime  # UTC; for the serving name, when it was promoted
    threshold: float
    metadata: dict[str, Any]
    labels: dict[str, str]

    @property
    def data_version(self) -> str:
        return self.labels.get("data_version", "unknown")

    @cached_property
    def pipeline(self) -> Any:
        """The pickled model: its design (features from raw inputs) and its classifier."""
        with open(os.path.join(self.path, PIPELINE_FILE), "rb") as handle:
            model = pickle.load(handle)
        if not hasattr(model, "matrix"):
            raise TypeError(
                f"model {self.tag} was saved before models had a design (a scikit-learn "
                "Pipeline): materialize the training assets again to replace it"
            )
        return model

    @property
    def family(self) -> str:
        return self.pipeline.family

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of `feature_matrix`'s columns (what /explain reports)."""
        return tuple(self.pipeline.feature_names)

    @property
    def booster(self) -> Any:
        """The LightGBM booster, for a LightGBM model; another family has none (AttributeError
        saying so): use `explain` and `probabilities`, which work for every family."""
        if self.pipeline.family == "lightgbm":
            return self.pipeline.booster
        raise AttributeError(
            f"model {self.tag} is a {self.pipeline.family}, not a LightGBM booster: score it "
            "with probabilities() and explain it with explain()"
        )

    @cached_property
    def calibration(self) -> Calibration | IsotonicCalibration:
        """The map from the model's raw probability to the served one (identity if absent)."""
        return calibration_from_dict(self.metadata.get("calibration"))

    def feature_matrix(self, columns: Any, ids: Any = None) -> Any:
        """The model's input for raw input columns (a dict of lists or a DataFrame): the
        domain's design, with what it learnt from labelled rows. `ids` (labelled rows' ids,
        None for the rest) leave each row's own label out of what it is scored with."""
        return self.pipeline.matrix(columns, ids)

    def raw_scores(self, matrix: Any) -> Any:
        """The log-odds of the positive class before calibration, for a `feature_matrix`."""
        return self.pipeline.raw_score(matrix)

    def probabilities(self, columns: Any, ids: Any = None) -> Any:
        """Calibrated probabilities of the positive class for raw input columns: the
        features, the model's raw score (one thread), then the calibration; one row's on
        Python floats (numpy's cost per call was most of a /predict's calibration)."""
        import numpy as np

        raw = self.raw_scores(self.feature_matrix(columns, ids))
        if len(raw) == 1:
            return np.array([self.calibration.one(sigmoid(float(raw[0])))])
        return self.calibration(1.0 / (1.0 + np.exp(-raw)))

    def explain(self, columns: Any, ids: Any = None) -> list[Explanation]:
        """Per row: each feature's exact additive contribution to the raw score (log-odds),
        the bias, the raw score they sum to, the feature values, and the calibrated
        probability, as /predict serves it (the model's `contributions`: LightGBM's SHAP
        values, pred_contrib; a logistic regression's terms from the average training row)."""
        import numpy as np

        matrix = self.feature_matrix(columns, ids)
        contributions = self.pipeline.contributions(matrix)
        raw = contributions.sum(axis=1)
        probabilities = self.calibration(1.0 / (1.0 + np.exp(-raw)))
        names = self.feature_names
        return [
            Explanation(
                contributions=dict(zip(names, map(float, row[:-1]), strict=True)),
                bias=float(row[-1]),
                raw_score=float(score),
                feature_values={
                    n: None if v != v else float(v)  # NaN: unknown
                    for n, v in zip(names, values, strict=True)
                },
                probability=float(probability),
            )
            for row, score, values, probability in zip(
                contributions, raw, matrix, probabilities, strict=True
            )
        ]

    def reference(self) -> Any:
        """The raw inputs of the rows it was trained on: the drift reference (a DataFrame)."""
        import pandas as pd

        return pd.read_csv(os.path.join(self.path, REFERENCE_FILE))

    def held_out(self) -> Any:
        """Ids, raw inputs and labels of its held-out rows (a DataFrame; empty for a model
        saved without them): rows it was scored on, never trained on."""
        import pandas as pd

        path = os.path.join(self.path, HELD_OUT_FILE)
        return pd.read_csv(path) if os.path.exists(path) else pd.DataFrame()

    def given_ids(self, id_column: str | None = None) -> set[Any]:
        """Every row id in the table it was trained from: training and held-out rows, and
        duplicates the cleaning removed. A model saved without that list (before this
        file's name): the ids in `id_column` of its reference and held-out rows, when given."""
        path = os.path.join(self.path, GIVEN_IDS_FILE)
        if os.path.exists(path):
            with open(path) as handle:
                return set(json.load(handle))
        if id_column is None:
            return set()
        return {
            i for table in (self.reference(), self.held_out()) if id_column in table
            for i in table[id_column].tolist()
        }  # fmt: skip


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON writes."""
    return value.item() if hasattr(value, "item") else value


def get(tag: str) -> RegisteredModel | None:
    """A stored model's description (a full tag, or `<name>:latest`); None when absent."""
    import bentoml

    try:
        model = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return None
    created = model.info.creation_time
    return RegisteredModel(
        tag=str(model.tag),
        version=model.tag.version,
        path=model.path,
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        threshold=float(model.info.metadata["threshold"]),
        metadata=dict(model.info.metadata),
        labels=dict(model.info.labels),
    )


def load(tag: str) -> RegisteredModel:
    """A stored model with its pickled model loaded, ready to score."""
    model = get(tag)
    if model is None:
        import bentoml

        raise bentoml.exceptions.NotFound(f"Model {tag!r} is not in the model store")
    model.pipeline  # noqa: B018 (loaded now, not on the first request)
    return model


def entry_state(tag: str) -> tuple[tuple[str, int, int], ...]:
    """What a store entry's files are now (name, size, modification time); empty when the
    entry is absent. A loader that failed on an entry tries again once this changes: an entry
    still being copied into the store fails to load, then changes."""
    import bentoml

    try:
        path = Path(bentoml.models.get(tag).path)
    except Exception:  # absent, or not even its model.yaml written yet
        return ()
    files = sorted(f for f in path.rglob("*") if f.is_file())
    return tuple((str(f.relative_to(path)), *_size_and_time(f)) for f in files)


def _size_and_time(file: Path) -> tuple[int, int]:
    try:
        stat = file.stat()
    except OSError:  # removed since listed
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def save(
    name: str,
    pipeline: Any,
    reference: Any,
    reference_summary: dict[str, Any],
    metadata: dict[str, Any],
    labels: dict[str, str],
    held_out: Any = None,
    given_ids: Iterable[Any] | None = None,
) -> str:
    """Save a model (core/models.py's object) under `name` (a store's serving or candidate
    name); returns its full tag. `held_out` (a DataFrame) and `given_ids` are what
    monitoring reads (see module doc)."""
    import bentoml

    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        with open(model.path_of(PIPELINE_FILE), "wb") as handle:
            pickle.dump(pipeline, handle, protocol=pickle.HIGHEST_PROTOCOL)
        reference.to_csv(model.path_of(REFERENCE_FILE), index=False)
        Path(model.path_of(REFERENCE_SUMMARY_FILE)).write_text(
            json.dumps(reference_summary, indent=2, default=str)
        )
        if held_out is not None:
            held_out.to_csv(model.path_of(HELD_OUT_FILE), index=False)
        if given_ids is not None:
            ids = sorted({_plain(i) for i in given_ids}, key=lambda i: (isinstance(i, str), i))
            Path(model.path_of(GIVEN_IDS_FILE)).write_text(json.dumps(ids))
    return str(model.tag)


@dataclass(frozen=True)
class ChallengerRecord:
    """Which candidate shadows the serving model, since when, and why (or how it ended)."""

    candidate: str  # the candidate's full tag
    status: str  # SHADOWING, PROMOTED or RETIRED
    reason: str
    since: datetime  # when this record was made (UTC)
    champion: str  # the serving model's tag when it was made

    @property
    def version(self) -> str:
        return self.candidate.split(":", 1)[1]

    @property
    def shadowing(self) -> bool:
        return self.status == SHADOWING


@dataclass(frozen=True)
class ModelStore:
    """One configured model's names in the store: `serving` (its instance's
    `serving_model_name`), `<serving>_candidate` and `<serving>_challenger`."""

    serving: str

    @property
    def candidate(self) -> str:
        return f"{self.serving}_candidate"

    @property
    def challenger(self) -> str:
        return f"{self.serving}_challenger"

    def promoted_model(self) -> RegisteredModel | None:
        """The serving model (`<serving>:latest`), None when nothing was promoted yet."""
        return get(f"{self.serving}:latest")

    def promoted_tag(self) -> str | None:
        """The serving model's full tag (name:version), None when nothing was promoted yet."""
        model = self.promoted_model()
        return model.tag if model else None

    def serving_history(self) -> list[str]:
        """Every serving version's full tag, newest first (what was promoted, in order)."""
        import bentoml

        models = bentoml.models.list(self.serving)
        newest_first = sorted(models, key=lambda m: m.info.creation_time, reverse=True)
        return [str(m.tag) for m in newest_first]

    def restore(self, version: str, reason: str) -> str:
        """Serve an earlier model (serving or candidate) again: its files saved as the
        newest serving version, labelled with where they came from. Returns the new tag."""
        import shutil

        import bentoml

        source = get(f"{self.serving}:{version}") or get(f"{self.candidate}:{version}")
        if source is None:
            raise LookupError(
                f"No model version {version!r} in the store (names {self.serving}, "
                f"{self.candidate}); `bentoml models list` shows the versions there are."
            )
        promotion = {"promoted": True, "reason": f"rollback to {source.tag}: {reason}"}
        metadata = {**source.metadata, "promotion": promotion, "restored_from": source.tag}
        labels = {**source.labels, "stage": "serving", "restored_from": source.tag}
        with bentoml.models.create(self.serving, labels=labels, metadata=metadata) as model:
            for name in MODEL_FILES:
                if os.path.exists(os.path.join(source.path, name)):
                    shutil.copy(os.path.join(source.path, name), model.path_of(name))
        return str(model.tag)

    def challenger_record(self) -> ChallengerRecord | None:
        """The latest challenger record, None when there has never been a challenger."""
        record = get(f"{self.challenger}:latest")
        if record is None:
            return None
        return ChallengerRecord(
            candidate=record.metadata["candidate"],
            status=record.metadata["status"],
            reason=record.metadata["reason"],
            since=record.created_at,
            champion=record.metadata.get("champion", "none"),
        )

    def shadowing_tag(self) -> str | None:
        """The full tag of the candidate that shadows now, None when none does."""
        record = self.challenger_record()
        return record.candidate if record is not None and record.shadowing else None

    def record_challenger(
        self, candidate: str, status: str, reason: str, synced_from: str | None = None
    ) -> ChallengerRecord:
        """Record that `candidate` (a full tag or a candidate version) now shadows, or was
        promoted or retired, and why; returns the record. `synced_from`: on a serving
        machine, when the pipeline's store made the record this copies (core/model_sync.py)."""
        import bentoml

        if status not in (SHADOWING, PROMOTED, RETIRED):
            raise ValueError(f"status must be {SHADOWING}, {PROMOTED} or {RETIRED}, not {status!r}")
        tag = candidate if ":" in candidate else f"{self.candidate}:{candidate}"
        if status == SHADOWING and get(tag) is None:
            raise LookupError(
                f"No model {tag!r} in the store: `bentoml models list {self.candidate}` "
                "lists the candidates"
            )
        metadata = {
            "candidate": tag,
            "status": status,
            "reason": reason,
            "champion": self.promoted_tag() or "none",
            "threshold": 0.0,  # every store entry has one (see `get`); a record scores nothing
        }
        if synced_from is not None:
            metadata["synced_from"] = synced_from
        with bentoml.models.create(self.challenger, labels={"stage": status}, metadata=metadata):
            pass
        record = self.challenger_record()
        assert record is not None
        return record
