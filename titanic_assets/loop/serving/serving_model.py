"""Serving: the evaluated model registered in the BentoML model store, promoted or not."""

from typing import Any

import dagster as dg


def reference_summary(reference: Any) -> dict[str, Any]:
    """What the training inputs looked like, per raw field: the drift reference in brief."""
    summary: dict[str, Any] = {"rows": len(reference), "columns": {}}
    for column in reference.columns:
        values = reference[column]
        entry: dict[str, Any] = {"missing_rate": float(values.isna().mean())}
        if column in ("Name", "Cabin"):
            entry["distinct"] = int(values.nunique())
        elif values.dtype.kind in "if" and column != "Pclass":
            quantiles = values.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
            entry.update(
                mean=float(values.mean()),
                std=float(values.std()),
                quantiles={str(q): float(v) for q, v in quantiles.items()},
            )
        else:
            entry["frequencies"] = {
                str(k): float(v) for k, v in values.value_counts(normalize=True).items()
            }
        summary["columns"][column] = entry
    return summary


@dg.asset(group_name="serving", kinds={"bentoml"})
def serving_model(
    context: dg.AssetExecutionContext, survival_model, model_evaluation, passengers
) -> dg.MaterializeResult:
    """The model that passed the quality gate, saved in the BentoML model store.

    One versioned model holds the fitted model (feature code and the group evidence of
    every labelled passenger included), threshold, calibration, input schema, the interval
    it claims under shift beside random cross-validation's and the held-out metrics, and
    the training rows' raw inputs as the drift reference. The promotion policy
    (ml/promotion.py) decides whether it becomes `titanic_survival` (served) or stays a
    `titanic_survival_candidate`; the metadata says which and why. A kept candidate
    becomes the challenger: it shadows the serving model on live traffic until the outcomes
    decide (defs/monitoring/shadow.py).
    """
    import numpy as np

    from titanic_assets.core import registry
    from titanic_assets.core.contract import RAW_INPUTS
    from titanic_assets.defs.serving.provenance import code_version
    from titanic_assets.ml import modeling, promotion

    held_out = {name: float(value) for name, value in model_evaluation.metrics.items()}
    serving = registry.promoted_model()
    serving_before = serving.tag if serving else None
    compared_on = "none"
    if serving is None:
        decision = promotion.first_model()
    else:
        # Champion and challenger on the same passengers, ones neither was trained on.
        candidate_held_out = passengers[passengers["PassengerId"].isin(survival_model.test_ids)]
        rows = promotion.evaluation_rows(
            candidate_held_out, serving.reference()["PassengerId"].tolist()
        )
        traffic = promotion.labelled_traffic(rows)
        compared_on = f"{len(rows)} unseen passengers, {int(traffic.sum())} labelled traffic"
        columns = rows[list(RAW_INPUTS)]
        scored = len(rows) > 0
        # Both models may carry these passengers' outcomes as group evidence: each is
        # scored without their own.
        ids = rows["PassengerId"].tolist()
        decision = promotion.decide_promotion(
            rows[modeling.LABEL].to_numpy(),
            champion=serving.probabilities(columns, ids) if scored else np.empty(0),
            candidate=survival_model.predict_proba(columns, ids) if scored else np.empty(0),
            champion_threshold=serving.threshold,
            candidate_threshold=survival_model.threshold,
            traffic=traffic,
        )

    by_id = passengers.set_index("PassengerId")
    reference = by_id.loc[survival_model.train_ids, list(RAW_INPUTS)].reset_index()
    held_out_rows = by_id.loc[
        survival_model.test_ids, [*RAW_INPUTS, modeling.LABEL, "source"]
    ].reset_index()
    given = [*by_id.index, *passengers.attrs.get("duplicate_passenger_ids", [])]
    # The version of the passengers this very model was trained on, carried by the model
    # itself: under concurrent runs, "the latest materialization" may be another run's.
    versions = {"data_version": survival_model.data_version, "code_version": code_version()}
    metadata = {
        "threshold": float(survival_model.threshold),
        "input_schema": {c: str(t) for c, t in reference[list(RAW_INPUTS)].dtypes.items()},
        "raw_inputs": list(RAW_INPUTS),
        "model_family": survival_model.pipeline.family,
        "features": list(survival_model.pipeline.feature_names),
        "calibration": survival_model.calibration.as_dict(),
        "metrics": {
            # What the model claims on traffic (shift-aware), what random folds alone say,
            # and every scheme behind the claim (model_evaluation).
            "claim": model_evaluation.claim.as_dict(),
            "validation": model_evaluation.shift.as_dict(),
            "cross_validation": survival_model.cross_validation.as_dict(),
            "held_out": held_out,
            "held_out_intervals": {k: v.as_dict() for k, v in model_evaluation.intervals.items()},
            "held_out_baselines": model_evaluation.baselines,
        },
        "hyperparameters": survival_model.hyperparameters,
        "evidence_rows": len(survival_model.evidence_ids),
        "train_rows": len(survival_model.train_ids),
        "test_rows": len(survival_model.test_ids),
        "trained_at": _now(),
        "dagster_run_id": context.run.run_id,
        "promotion": {
            "promoted": decision.promote,
            "reason": decision.reason,
            "compared_with": serving_before or "none",
            "compared_on": compared_on,
            "rows": decision.rows,
        },
        **versions,
    }
    name = registry.SERVING_MODEL_NAME if decision.promote else registry.CANDIDATE_MODEL_NAME
    tag = registry.save(
        name,
        pipeline=survival_model.pipeline,
        reference=reference,
        reference_summary=reference_summary(reference[list(RAW_INPUTS)]),
        held_out=held_out_rows,
        given_passenger_ids=given,
        metadata=metadata,
        labels={**versions, "stage": "serving" if decision.promote else "candidate"},
    )
    context.log.info(f"Saved {tag}: {decision.reason}")
    challenger = _update_challenger(tag, decision)
    return dg.MaterializeResult(
        metadata={
            "bentoml_tag": tag,
            "model_version": tag.split(":", 1)[1],
            "stage": "serving" if decision.promote else "candidate",
            "promoted": decision.promote,
            "promotion_reason": decision.reason,
            "promotion_policy": dg.MetadataValue.md(promotion.POLICY),
            "comparison": dg.MetadataValue.json(decision.comparison),
            "comparison_rows": decision.rows,
            "compared_on": compared_on,
            **_comparison_table(decision.comparison),
            "serving_model": (tag if decision.promote else (serving_before or "none")),
            "previous_serving_model": serving_before or "none",
            "challenger": challenger,
            "threshold": float(survival_model.threshold),
            "model_family": survival_model.pipeline.family,
            "claimed_accuracy": str(model_evaluation.claim.accuracy),
            **{f"held_out/{k}": v for k, v in held_out.items()},
            "reference_rows": len(reference),
            **versions,
        }
    )


def _update_challenger(tag: str, decision: Any) -> str:
    """A kept candidate shadows the serving model until its outcomes decide
    (defs/monitoring/shadow.py), replacing any earlier challenger; a promoted model ends
    the shadowing of the one it replaced. Returns the challenger now, in words."""
    from titanic_assets.core import registry

    current = registry.challenger_record()
    if not decision.promote:
        record = registry.record_challenger(
            tag, registry.SHADOWING, f"kept by the promotion policy: {decision.reason}"
        )
        return f"{record.candidate} shadows the serving model"
    if current is not None and current.shadowing:
        registry.record_challenger(
            current.candidate, registry.RETIRED, f"a retrain was promoted instead: {tag}"
        )
        return f"none ({current.candidate} retired: {tag} was promoted)"
    return "none"


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _comparison_table(comparison: dict[str, Any]) -> dict[str, Any]:
    """Both models on the same rows, with 95% intervals, as a table in the UI."""
    if not comparison:
        return {}
    lines = ["| metric | serving | candidate | difference (90% two-sided) | passes |"]
    lines.append("|---|---|---|---|---|")
    for name, c in comparison.items():
        cells = [
            f"{c[k]['estimate']:.3f} [{c[k]['low']:.3f}, {c[k]['high']:.3f}]"
            for k in ("serving", "candidate", "difference")
        ]
        lines.append(f"| {name} | {' | '.join(cells)} | {c['non_inferior']} |")
    return {"comparison_table": dg.MetadataValue.md("\n".join(lines))}
