"""Monitoring: the challenger earns its place on live traffic, or is retired.

A candidate the promotion policy kept (or one an operator named: commands/challenger.py)
shadows the serving model: the service scores every row with both and logs both answers
under one prediction id (bento/service.py). As outcomes come back, each shadowed row gives
d = (challenger right) - (serving model right) (for a domain judged by expected cost: the cost
the challenger saved on it, in units of the dearer error), and `challenger_evaluation`
decides with a confidence sequence for mean(d) (ml/sequential.py), valid however often it
looks, so evaluating after every new hour of outcomes never inflates the false-promotion
rate:

- promote when its lower bound is above 0, and the challenger passes the trusted guard
  (ml/promotion.py: non-inferior on the held-out rows the pipeline trusts and on the
  domain's slices; outcomes from clients alone never promote a model);
- retire it, with the reason, when its upper bound is below 0, when it fails the guard,
  or when the budget (TITANIC_SHADOW_MAX_OUTCOMES or _DAYS) is spent first;
- otherwise keep shadowing.

Promotion saves the challenger as the newest serving version (as a rollback does), so the
service's poll swaps it in; the decision and the evidence are this asset's metadata, and
numeric metadata (both accuracies, the bounds) plot over time in the UI.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.defs.resources import MonitoringPolicy, PredictionLog
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result
from titanic_assets.loop.serving.rollback import serve_again

CHECKPOINTS = 40  # points on the plots and rows of the path table, at most


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("monitoring"),
        kinds={"duckdb", "bentoml"},
        deps=[loop.key("serving_model"), loop.key("hourly_traffic")],
    )
    def challenger_evaluation(
        context: dg.AssetExecutionContext,
        prediction_log: PredictionLog,
        monitoring_policy: MonitoringPolicy,
    ) -> dg.MaterializeResult:
        """The challenger against the serving model on the rows both scored whose outcome came
        back: both accuracies as outcomes arrived, the anytime-valid bounds on their
        difference, and the decision in words (promote, retire, keep shadowing), acted on."""
        from titanic_assets.core import registry
        from titanic_assets.ml import sequential

        store = loop.store
        record = store.challenger_record()
        serving = store.promoted_model()
        if record is None or not record.shadowing or serving is None:
            said = "no challenger shadows the serving model"
            if record is not None and not record.shadowing:
                said += f"; the last one, {record.candidate}, was {record.status}: {record.reason}"
            return materialize_result(metadata={"challenger": "none", "decision": said})

        from titanic_assets.ml import decisions

        now = datetime.now(UTC)
        costs = loop.domain.costs
        paired = _shadowed_outcomes(loop, loop.log(prediction_log), serving.version, record, now)
        small = decisions.for_domain(loop.domain).cheaper_share
        evidence = sequential.PairedEvidence.from_differences(paired["d"].to_numpy(), small=small)
        budget = sequential.Budget(
            monitoring_policy.shadow_max_outcomes, monitoring_policy.shadow_max_days
        )
        days = (now - record.since).total_seconds() / 86_400
        measure = "the accuracy difference"
        if costs is not None:
            measure = f"the cost saved per {loop.domain.words.row} (in units of the dearer error)"
        decision = sequential.decide(evidence, budget, round(days, 2), measure)
        guard: Any = None
        if decision.action == "promote":
            guard = _trusted_guard(loop, serving, registry.load(record.candidate))
            if not guard.passed:
                decision = sequential.Decision(
                    "retire", f"better on the shadowed traffic, but {guard.reason}"
                )
        acted = _act(context, loop, record, decision)
        context.log.info(f"{record.candidate}: {decision.action}: {decision.reason}")
        return materialize_result(
            metadata={
                "challenger": record.candidate,
                "serving_model": serving.tag,
                "decision": decision.action,
                "decision_in_words": decision.reason,
                "acted": acted,
                "shadowing_since": record.since.isoformat(),
                "shadowed_outcomes": evidence.n,
                "challenger_only_right": evidence.wins,
                "serving_only_right": evidence.losses,
                "serving_accuracy": dg.MetadataValue.float(_accuracy(paired, "champion_right")),
                "challenger_accuracy": dg.MetadataValue.float(
                    _accuracy(paired, "challenger_right")
                ),
                "difference": dg.MetadataValue.float(evidence.mean if evidence.n else 0.0),
                "difference_lower_bound": dg.MetadataValue.float(evidence.lower),
                "difference_upper_bound": dg.MetadataValue.float(evidence.upper),
                **_costs(paired, costs),
                "budget": f"{budget.max_outcomes} outcomes or {budget.max_days:g} days",
                **_path(paired, small),
                **_guard_metadata(guard),
            }
        )

    return [challenger_evaluation]


def _shadowed_outcomes(
    loop: Loop, prediction_log: PredictionLog, serving_version: str, record: Any, now: datetime
) -> Any:
    """The serving model's labelled rows since the challenger began shadowing that the
    challenger scored too, in the order their outcomes arrived, with who was right (and for
    a domain with costs, what each decision cost and d the cost the challenger saved, in
    units of the dearer error)."""
    from titanic_assets.core.traffic_windows import labelled_rows, traffic_window

    window = traffic_window(
        prediction_log.place, "while shadowing", serving_version, record.since, now
    )
    rows = labelled_rows(
        prediction_log.place,
        window,
        "received_at, outcome, predicted, challenger_version, challenger_predicted",
    )
    if len(rows):
        rows = rows[rows["challenger_version"] == record.version]
    if not len(rows):
        return _empty_pairs()
    rows = rows.sort_values("received_at", kind="stable", na_position="last")
    outcome = rows["outcome"].astype(bool)
    champion = (rows["predicted"].astype(bool) == outcome).astype(int)
    challenger = (rows["challenger_predicted"].astype(bool) == outcome).astype(int)
    rows = rows.assign(champion_right=champion, challenger_right=challenger)
    costs = loop.domain.costs
    if costs is None:
        return rows.assign(d=challenger - champion).reset_index(drop=True)
    from titanic_assets.ml import decisions

    metric = decisions.for_domain(loop.domain)
    champion_cost = metric.per_row(outcome, rows["predicted"].astype(bool))
    challenger_cost = metric.per_row(outcome, rows["challenger_predicted"].astype(bool))
    dearer = max(costs.false_positive, costs.false_negative)
    return rows.assign(
        champion_cost=champion_cost,
        challenger_cost=challenger_cost,
        d=(champion_cost - challenger_cost) / dearer,
    ).reset_index(drop=True)


def _empty_pairs() -> Any:
    import pandas as pd

    return pd.DataFrame({"champion_right": [], "challenger_right": [], "d": []}, dtype=int)


def _costs(paired: Any, costs: Any) -> dict[str, Any]:
    """Both models' expected cost per row on the shadowed outcomes (a domain with costs)."""
    if costs is None:
        return {}
    return {
        "serving_expected_cost": dg.MetadataValue.float(_accuracy(paired, "champion_cost")),
        "challenger_expected_cost": dg.MetadataValue.float(_accuracy(paired, "challenger_cost")),
    }


def _accuracy(paired: Any, column: str) -> float:
    return float(paired[column].mean()) if len(paired) else float("nan")


def _trusted_guard(loop: Loop, serving: Any, challenger: Any) -> Any:
    """The challenger against the serving model on its trusted held-out rows (landed, not
    labelled traffic) the serving model did not train on, and on the domain's slices."""
    import numpy as np

    from titanic_assets.core.outcomes import is_feedback
    from titanic_assets.ml import decisions, promotion
    from titanic_assets.ml.modeling import labels_of

    domain, key = loop.domain, loop.domain.key
    held_out = challenger.held_out()
    trusted = held_out[~is_feedback(held_out["source"])] if len(held_out) else held_out
    rows = promotion.evaluation_rows(trusted, serving.reference()[key].tolist(), key)
    declared = list(domain.slices)
    if not len(rows):
        nothing = np.empty(0)
        return promotion.trusted_guard(nothing, nothing, nothing, 0.5, 0.5, nothing, declared)
    columns, ids = rows[list(domain.input_names)], rows[key].tolist()
    return promotion.trusted_guard(
        labels_of(domain, rows),
        champion=serving.probabilities(columns, ids),
        candidate=challenger.probabilities(columns, ids),
        champion_threshold=serving.threshold,
        candidate_threshold=challenger.threshold,
        slices=promotion.slice_names(domain.slices, rows),
        declared=declared,
        metric=decisions.for_domain(domain),
    )


def _act(context: dg.AssetExecutionContext, loop: Loop, record: Any, decision: Any) -> str:
    """Carry the decision out in the model store; returns what was done, in words."""
    from titanic_assets.core import registry

    if decision.action == "keep_shadowing":
        return "nothing: the challenger keeps shadowing"
    if decision.action == "retire":
        loop.store.record_challenger(record.candidate, registry.RETIRED, decision.reason)
        return f"{record.candidate} retired; the serving model stays"
    reason = f"shadow evaluation: {decision.reason}"
    tag, before = serve_again(
        context,
        loop,
        record.version,
        reason,
        said=reason,
        description=f"Promoted from the shadow: {record.candidate} serves as {{tag}}.",
    )
    loop.store.record_challenger(record.candidate, registry.PROMOTED, decision.reason)
    return f"{record.candidate} promoted: serving as {tag} (was {before})"


def _path(paired: Any, small: float) -> dict[str, Any]:
    """Both accuracies and the bounds as outcomes came back: plots and a table (`small`: the
    cheaper disagreement's size, 0 for accuracy)."""
    import numpy as np
    import pandas as pd

    from titanic_assets.ml import plots, sequential

    n = len(paired)
    if n == 0:
        return {}
    at = np.unique(np.linspace(1, n, min(n, CHECKPOINTS)).astype(int))
    d = paired["d"].to_numpy()
    wins, losses = np.cumsum(d == 1)[at - 1], np.cumsum(d == -1)[at - 1]
    small_wins = np.cumsum((d == small) & (small > 0))[at - 1]
    small_losses = np.cumsum((d == -small) & (small > 0))[at - 1]
    ties = at - wins - losses - small_wins - small_losses
    counts = (wins, ties, losses, sequential.ALPHA, small_wins, small_losses)
    table = pd.DataFrame(
        {
            "outcomes": at,
            "serving accuracy": np.cumsum(paired["champion_right"])[at - 1] / at,
            "challenger accuracy": np.cumsum(paired["challenger_right"])[at - 1] / at,
            "difference": np.cumsum(d)[at - 1] / at,
            "lower bound": sequential.lower_bound(*counts, small=small),
            "upper bound": sequential.upper_bound(*counts, small=small),
        }
    )
    return {
        "accuracy_over_time": dg.MetadataValue.md(
            plots.shadow_accuracies(at, table["serving accuracy"], table["challenger accuracy"])
        ),
        "bounds_over_time": dg.MetadataValue.md(
            plots.shadow_bounds(at, table["difference"], table["lower bound"], table["upper bound"])
        ),
        "path": dg.MetadataValue.md(table.round(3).to_markdown(index=False)),
    }


def _guard_metadata(guard: Any) -> dict[str, Any]:
    if guard is None:
        return {}
    return {
        "trusted_guard": guard.reason,
        "trusted_guard_margin": guard.margin,
        "trusted_guard_comparison": dg.MetadataValue.json(guard.comparison),
    }
