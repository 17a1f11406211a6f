"""The service's request and response models, built from a domain (core/domain.py): what the
OpenAPI page at /docs documents.

A row's fields are the domain's input contract (`InputField`s, core/contract.py), the batch
body's key is `domain.words.rows`, the positive decision's field `domain.words.decision`, the
examples `domain.example`; the models' names come from `domain.words.row` (for a row called
"person": Person, BatchPerson, PersonBatch, ScoredPerson). `build(domain)`
makes them once, when the service's module is imported: BentoML and FastAPI read the API
methods' annotations then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from titanic_assets.core import registry
from titanic_assets.core.contract import InputField
from titanic_assets.core.domain import Domain

MAX_BATCH = 1000


def contract_type(spec: InputField, missing: tuple[str, ...] = ()) -> Any:
    """The pydantic type of one field of the input contract (core/contract.py); an optional
    field also takes null. A value in `missing` (the domain's words for missing, e.g.
    Adult's "?") is missing: null for an optional field, a missing required one refused
    naming the field. An open category takes any text up to its longest length: a category
    the model has never seen is scored as unseen, not refused."""
    constraints: dict[str, Any] = {}
    if spec.kind == "category" and spec.open:
        known = {"examples": list(spec.allowed or ())}
        kind, constraints = str, {"max_length": spec.longest, "json_schema_extra": known}
    elif spec.kind == "category":
        kind: Any = Literal[spec.allowed]
    elif spec.kind == "text":
        kind, constraints = str, {"max_length": spec.max_length}
    elif spec.kind == "int":
        low, high = (
            (min(spec.allowed), max(spec.allowed)) if spec.allowed else (spec.minimum, spec.maximum)
        )
        kind, constraints = int, {"strict": True, "ge": low, "le": high}
    else:
        kind = float  # strict: `false` or "12" is not a number
        constraints = {
            "strict": True,
            "ge": spec.minimum,
            "le": spec.maximum,
            "allow_inf_nan": False,
        }
    if not spec.required:
        kind = kind | None
    field = Field(description=spec.description, **constraints)
    if not missing:
        return Annotated[kind, field]
    return Annotated[kind, field, BeforeValidator(_as_missing(missing, spec.required))]


def _as_missing(words: tuple[str, ...], required: bool) -> Any:
    """A before-validator: a value in `words` is null, and for a required field an error of
    pydantic's type "missing" (a 400 naming the field, counted as a missing field)."""

    def read(value: Any) -> Any:
        if isinstance(value, str) and value.strip() in words:
            if required:
                raise PydanticCustomError(
                    "missing", "Field required: '{value}' means missing", {"value": value}
                )
            return None
        return value

    return read


def _typed_dict(name: str, fields: dict[str, Any], doc: str, config: ConfigDict | None) -> Any:
    """A TypedDict made at run time (its fields named by the domain), with pydantic's
    config and a docstring, as a class statement would give it."""
    made = TypedDict(name, fields)  # type: ignore[operator]
    made.__doc__ = doc
    made.__module__ = __name__
    if config is not None:
        made.__pydantic_config__ = config
    return made


class FeedbackReceipt(BaseModel):
    received: int = Field(description="Outcomes in the request.")
    stored: int = Field(description="Outcomes new to the store (repeats are idempotent).")


@dataclass(frozen=True)
class Schemas:
    """One domain's request and response models (module docstring)."""

    domain: Domain
    row: type[BaseModel]  # /predict's and /explain's body
    batch_row: Any  # a TypedDict: a row of /predict_batch's body
    batch: type[BaseModel]  # /predict_batch's body, the rows under `domain.words.rows`
    prediction: type[BaseModel]
    scored_row: Any  # a TypedDict: one row of /predict_batch's answer
    batch_prediction: type[BaseModel]
    explanation: type[BaseModel]
    challenger: type[BaseModel]
    model_info: type[BaseModel]
    feedback: type[BaseModel]
    feedback_batch: type[BaseModel]
    feedback_receipt: type[BaseModel] = FeedbackReceipt

    def info(
        self, model: registry.RegisteredModel, challenger: registry.RegisteredModel | None = None
    ) -> BaseModel:
        """What GET /model_info says about the serving model and its challenger."""
        meta = model.metadata
        return self.model_info(
            model_version=model.version,
            tag=model.tag,
            registered_at=model.created_at.isoformat(),
            trained_at=meta.get("trained_at"),
            data_version=meta.get("data_version", "unknown"),
            code_version=meta.get("code_version", "unknown"),
            train_rows=int(meta.get("train_rows", 0)),
            threshold=model.threshold,
            decision=meta.get("decision", {"metric": "accuracy"}),
            metrics=meta.get("metrics", {}),
            raw_inputs=list(self.domain.input_names),
            features=list(model.feature_names),
            max_batch=MAX_BATCH,
            challenger=None
            if challenger is None
            else self.challenger(
                model_version=challenger.version,
                tag=challenger.tag,
                threshold=challenger.threshold,
                trained_at=challenger.metadata.get("trained_at"),
            ),
        )


def build(domain: Domain) -> Schemas:
    """The request and response models of `domain`'s service."""
    words, example = domain.words, domain.example
    row, rows, decision, of = words.row, words.rows, words.decision, words.probability
    Row = row[:1].upper() + row[1:]  # noqa: N806 (a class name's stem)
    inputs = domain.inputs
    types = {spec.name: contract_type(spec, domain.missing_values) for spec in inputs}
    row_model = create_model(
        Row,
        __config__=ConfigDict(extra="forbid", json_schema_extra={"example": example}),
        __doc__=f"One {row}'s raw fields, as in the training data; unknown fields are rejected.",
        __module__=__name__,
        **{spec.name: (types[spec.name], ... if spec.required else None) for spec in domain.inputs},
    )
    batch_row = _typed_dict(
        f"Batch{Row}",
        {
            s.name: types[s.name] if s.required else NotRequired[types[s.name]]
            for s in domain.inputs
        },
        f"A {row} of a batch: the same contract as a TypedDict, which pydantic validates\n"
        "about three times faster than a model (1.1 ms instead of 3.5 ms per 1,000).",
        ConfigDict(extra="forbid", json_schema_extra={"example": example}),
    )
    batch = create_model(
        f"{Row}Batch",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"example": {rows: [example]}}),
        __doc__="The body of /predict_batch. (An object, not a bare JSON array: BentoML 1.4 "
        "answers a malformed bare array with a 500, an object with a 400.)",
        __module__=__name__,
        **{
            rows: (
                Annotated[
                    list[batch_row],
                    Field(
                        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} {rows}."
                    ),
                ],
                ...,
            )
        },
    )
    prediction = create_model(
        "Prediction",
        __module__=__name__,
        id=(str, Field(description=f"The id to send this {row}'s outcome with (POST /feedback).")),
        **{decision: (bool, ...)},
        probability=(float, Field(description=f"Predicted probability of {of}.")),
        threshold=(float, Field(description=f"{decision} = probability >= threshold.")),
        model_version=(str, ...),
        request_id=(str, ...),
    )
    scored_row = _typed_dict(
        f"Scored{Row}",
        {"id": str, decision: bool, "probability": float},
        f"One {row} of a batch, scored (a TypedDict: plain dicts, cheap for 1,000 rows).",
        None,
    )
    batch_prediction = create_model(
        "BatchPrediction",
        __module__=__name__,
        predictions=(list[scored_row], Field(description=f"One per {row}, in request order.")),
        threshold=(float, ...),
        model_version=(str, ...),
        request_id=(str, ...),
    )
    explanation = create_model(
        "Explanation",
        __module__=__name__,
        contributions=(
            dict[str, float],
            Field(
                description="Each feature's exact additive contribution to the raw score: the "
                "served model's own (for a logistic regression, its term minus the average "
                "training row's; for LightGBM, pred_contrib's SHAP values)."
            ),
        ),
        bias=(float, Field(description="The raw score's baseline, the contributions' intercept.")),
        raw_score=(
            float,
            Field(
                description=f"The model's log-odds of {of}, bias + sum(contributions), before "
                "calibration."
            ),
        ),
        feature_values=(dict[str, float | None], ...),
        probability=(float, Field(description=f"Calibrated probability of {of}, as /predict.")),
        **{decision: (bool, ...)},
        threshold=(float, ...),
        model_version=(str, ...),
        request_id=(str, ...),
    )
    challenger = create_model(
        "Challenger",
        __doc__=f"A candidate that scores every {row} beside the serving model; its answers "
        "are\nlogged, never returned, and monitoring decides from outcomes whether it is "
        "promoted.",
        __module__=__name__,
        model_version=(str, ...),
        tag=(str, ...),
        threshold=(float, ...),
        trained_at=(str | None, ...),
    )
    model_info = create_model(
        "ModelInfo",
        __module__=__name__,
        model_version=(str, ...),
        tag=(str, ...),
        registered_at=(str, ...),
        trained_at=(str | None, ...),
        data_version=(str, ...),
        code_version=(str, ...),
        train_rows=(int, ...),
        threshold=(float, ...),
        decision=(
            dict[str, Any],
            Field(
                description="What the model is judged by (`metric`: accuracy or expected_cost); "
                f"for expected cost, what each wrong decision costs and the claimed expected "
                f"cost per {row} with its 95% interval."
            ),
        ),
        metrics=(dict[str, Any], ...),
        raw_inputs=(list[str], ...),
        features=(list[str], ...),
        max_batch=(int, ...),
        challenger=(
            challenger | None,
            Field(None, description=f"The candidate scoring every {row} in the shadow, if any."),
        ),
    )
    feedback = create_model(
        "Feedback",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"One {row}'s outcome: whether the {row} of prediction `id` {decision}.",
        __module__=__name__,
        id=(
            Annotated[str, Field(min_length=1, max_length=80, description="A prediction's id.")],
            ...,
        ),
        **{decision: (Annotated[bool, Field(strict=True)], ...)},
    )
    feedback_batch = create_model(
        "FeedbackBatch",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={"example": {"outcomes": [{"id": "3f2a...-0", decision: True}]}},
        ),
        __doc__="The body of /feedback: 1 to MAX_BATCH outcomes, stored all or none.",
        __module__=__name__,
        outcomes=(Annotated[list[feedback], Field(min_length=1, max_length=MAX_BATCH)], ...),
    )
    return Schemas(
        domain=domain,
        row=row_model,
        batch_row=batch_row,
        batch=batch,
        prediction=prediction,
        scored_row=scored_row,
        batch_prediction=batch_prediction,
        explanation=explanation,
        challenger=challenger,
        model_info=model_info,
        feedback=feedback,
        feedback_batch=feedback_batch,
    )
