"""Serving: the evaluated model registered in the BentoML model store, promoted or not."""

from typing import Any

import dagster as dg

from titanic_assets.core.contract import InputField
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result


def reference_summary(reference: Any, inputs: tuple[InputField, ...]) -> dict[str, Any]:
    """What the training inputs looked like, per raw input: the drift reference in brief."""
    summary: dict[str, Any] = {"rows": len(reference), "columns": {}}
    kinds = {f.name: f for f in inputs}
    for column in reference.columns:
        values = reference[column]
        entry: dict[str, Any] = {"missing_rate": float(values.isna().mean())}
        spec = kinds.get(column)
        if spec is not None and spec.kind == "text":
            entry["distinct"] = int(values.nunique())
        elif values.dtype.kind in "if" and (spec is None or spec.allowed is None):
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


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        ins=loop.ins("trained_model", "model_evaluation", "labelled_rows"),
        group_name=loop.named("serving"),
        kinds={"bentoml"},
    )
    def serving_model(
        context: dg.AssetExecutionContext, trained_model, model_evaluation, labelled_rows
    ) -> dg.MaterializeResult:
        """The model that passed the quality gate, saved in the BentoML model store.

        One versioned model holds the fitted model (its design and what that learned from
        every labelled row included), threshold, calibration, input schema, the interval it
        claims under shift beside random cross-validation's and the held-out metrics, and the
        training rows' raw inputs as the drift reference. The promotion policy
        (ml/promotion.py) decides whether it becomes the model's serving name (served) or stays
        a `<name>_candidate`; the metadata says which and why. A kept candidate becomes the
        challenger: it shadows the serving model on live traffic until the outcomes decide
        (loop/monitoring/shadow.py).
        """
        import numpy as np

        from titanic_assets.core import registry
        from titanic_assets.loop.serving.provenance import code_version
        from titanic_assets.ml import decisions, promotion
        from titanic_assets.ml.modeling import labels_of

        domain, store, key = loop.domain, loop.store, loop.domain.key
        inputs = list(domain.input_names)
        held_out = {name: float(value) for name, value in model_evaluation.metrics.items()}
        serving = store.promoted_model()
        serving_before = serving.tag if serving else None
        compared_on = "none"
        if serving is None:
            decision = promotion.first_model()
        elif "domain" not in serving.metadata:  # saved before models were per-domain
            decision = promotion.first_model(replacing=serving.tag)
        else:
            # Champion and challenger on the same rows, ones neither was trained on.
            candidate_held_out = labelled_rows[labelled_rows[key].isin(trained_model.test_ids)]
            rows = promotion.evaluation_rows(
                candidate_held_out, serving.reference()[key].tolist(), key
            )
            traffic = promotion.labelled_traffic(rows)
            compared_on = f"{len(rows)} unseen rows, {int(traffic.sum())} labelled traffic"
            columns = rows[inputs]
            scored = len(rows) > 0
            # Both models' designs may have learned these rows' labels: each is scored
            # without its own.
            ids = rows[key].tolist()
            decision = promotion.decide_promotion(
                labels_of(domain, rows),
                champion=serving.probabilities(columns, ids) if scored else np.empty(0),
                candidate=trained_model.predict_proba(columns, ids) if scored else np.empty(0),
                champion_threshold=serving.threshold,
                candidate_threshold=trained_model.threshold,
                traffic=traffic,
                metric=decisions.for_domain(domain),
            )

        by_id = labelled_rows.set_index(key)
        reference = by_id.loc[trained_model.train_ids, inputs].reset_index()
        held_out_rows = by_id.loc[
            trained_model.test_ids, [*inputs, domain.label, "source"]
        ].reset_index()
        given = [*by_id.index, *labelled_rows.attrs.get("duplicate_ids", [])]
        # The version of the rows this very model was trained on, carried by the model
        # itself: under concurrent runs, "the latest materialization" may be another run's.
        versions = {"data_version": trained_model.data_version, "code_version": code_version()}
        metadata = {
            "threshold": float(trained_model.threshold),
            "decision": _decision(domain, model_evaluation.claim),
            "input_schema": {c: str(t) for c, t in reference[inputs].dtypes.items()},
            "raw_inputs": inputs,
            "domain": domain.name,
            "model_family": trained_model.pipeline.family,
            "features": list(trained_model.pipeline.feature_names),
            "calibration": trained_model.calibration.as_dict(),
            "metrics": {
                # What the model claims on traffic (shift-aware), what random folds alone say,
                # and every scheme behind the claim (model_evaluation).
                "claim": model_evaluation.claim.as_dict(),
                "validation": model_evaluation.shift.as_dict(),
                "cross_validation": trained_model.cross_validation.as_dict(),
                "held_out": held_out,
                "held_out_intervals": {
                    k: v.as_dict() for k, v in model_evaluation.intervals.items()
                },
                "held_out_baselines": model_evaluation.baselines,
            },
            "hyperparameters": trained_model.hyperparameters,
            "evidence_rows": len(trained_model.evidence_ids),
            "train_rows": len(trained_model.train_ids),
            "test_rows": len(trained_model.test_ids),
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
        name = store.serving if decision.promote else store.candidate
        tag = registry.save(
            name,
            pipeline=trained_model.pipeline,
            reference=reference,
            reference_summary=reference_summary(reference[inputs], domain.inputs),
            held_out=held_out_rows,
            given_ids=given,
            metadata=metadata,
            labels={**versions, "stage": "serving" if decision.promote else "candidate"},
        )
        context.log.info(f"Saved {tag}: {decision.reason}")
        challenger = _update_challenger(store, tag, decision)
        return materialize_result(
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
                "threshold": float(trained_model.threshold),
                "model_family": trained_model.pipeline.family,
                "claimed_accuracy": str(model_evaluation.claim.accuracy),
                **(
                    {"claimed_expected_cost": str(model_evaluation.claim.expected_cost)}
                    if model_evaluation.claim.expected_cost is not None
                    else {}
                ),
                **{f"held_out/{k}": v for k, v in held_out.items()},
                "reference_rows": len(reference),
                **versions,
            }
        )

    return [serving_model]


def _update_challenger(store: Any, tag: str, decision: Any) -> str:
    """A kept candidate shadows the serving model until its outcomes decide
    (loop/monitoring/shadow.py), replacing any earlier challenger; a promoted model ends
    the shadowing of the one it replaced. Returns the challenger now, in words."""
    from titanic_assets.core import registry

    current = store.challenger_record()
    if not decision.promote:
        record = store.record_challenger(
            tag, registry.SHADOWING, f"kept by the promotion policy: {decision.reason}"
        )
        return f"{record.candidate} shadows the serving model"
    if current is not None and current.shadowing:
        store.record_challenger(
            current.candidate, registry.RETIRED, f"a retrain was promoted instead: {tag}"
        )
        return f"none ({current.candidate} retired: {tag} was promoted)"
    return "none"


def _decision(domain: Any, claim: Any) -> dict[str, Any]:
    """What the model is judged by, and for a domain with costs what it costs (claimed)."""
    decision: dict[str, Any] = {"metric": domain.decision_metric}
    if domain.costs is not None:
        decision["costs"] = {
            "false_positive": domain.costs.false_positive,
            "false_negative": domain.costs.false_negative,
            "source": domain.costs.source,
        }
        decision["expected_cost"] = claim.expected_cost.as_dict()
    return decision


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
