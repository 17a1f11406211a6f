"""Monitoring: the sensor that retrains the model when monitoring fails and there is new
evidence to retrain on.

It watches the drift check and the realized-performance check. A new failed evaluation of
either requests one run of the model chain, but only when the check found enough labelled
rows the serving model has not seen (loop/monitoring/evidence.py); otherwise it skips,
saying how many more outcomes are needed. The run key is the digest of exactly those rows
and the serving model, so both checks failing on the same evidence, or one
failing again, never retrains twice on the same data.
"""

import json

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.monitoring.check_results import latest_evaluation, watched_checks
from titanic_assets.loop.training.model_training import MODEL_TRAINING_JOB

# Set on a retrain run: the digest of the new evidence that requested it, and which check.
RETRAIN_EVIDENCE_TAG = "loop/retrain_evidence"
RETRAIN_CHECK_TAG = "loop/retrain_requested_by"


def build(loop: Loop) -> list:
    @dg.sensor(
        name=loop.named("retrain_on_new_evidence"),
        job_name=loop.named(MODEL_TRAINING_JOB),
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Retrain when the drift or the realized-performance check fails and there are enough "
            "labelled rows the serving model has not seen; the promotion policy then "
            "decides whether the retrained model serves."
        ),
    )
    def retrain_on_new_evidence(context: dg.SensorEvaluationContext):
        # Per check: the id of the last evaluation acted on (ids are given when a run plans
        # the evaluation, so the checks of one run may complete in either order).
        seen = json.loads(context.cursor) if context.cursor else {}
        new = []
        for name, key in watched_checks(loop.name).items():
            latest = latest_evaluation(context.instance, key)
            if latest is not None and latest[0].id > seen.get(name, 0):
                new.append((name, *latest))
                seen[name] = latest[0].id
        if not new:
            return dg.SkipReason("no new evaluation of the drift or performance check")
        context.update_cursor(json.dumps(seen))
        failed = [(name, record, e) for name, record, e in new if not e.passed]
        if not failed:
            return dg.SkipReason(f"the {' and '.join(n for n, _, _ in new)} check passed")
        requests, skipped = [], []
        for name, record, evaluation in failed:
            digest = evaluation.metadata.get("new_evidence_digest")
            words = evaluation.metadata.get("retrain")
            needed = evaluation.metadata.get("new_outcomes_still_needed")
            if digest is None or needed is None or needed.value > 0:
                skipped.append(
                    f"the {name} check failed, {words.value if words else 'no evidence'}"
                )
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"retrain-{digest.value}",
                    tags={
                        RETRAIN_EVIDENCE_TAG: str(digest.value),
                        RETRAIN_CHECK_TAG: name,
                        "loop/check_run": record.run_id,
                    },
                )
            )
        if requests:
            return dg.SensorResult(run_requests=requests[:1])  # the same evidence, one retrain
        return dg.SkipReason("; ".join(skipped))

    return [retrain_on_new_evidence]


def retraining_in_words(loop: Loop, instance: dg.DagsterInstance) -> str:
    """Why the last retrain happened, what became of it, and what the latest checks ask for,
    as Markdown for the UI."""
    lines = []
    job = loop.named(MODEL_TRAINING_JOB)
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=job), limit=20)
    retrain = next((r for r in records if RETRAIN_EVIDENCE_TAG in r.dagster_run.tags), None)
    if retrain is None:
        lines.append("- **Last retrain**: none requested by monitoring yet.")
    else:
        run = retrain.dagster_run
        when = retrain.create_timestamp.strftime("%Y-%m-%d %H:%M UTC")
        check = run.tags.get(RETRAIN_CHECK_TAG, "?")
        lines.append(
            f"- **Last retrain** ({when}, run `{run.run_id[:8]}`, {run.status.value}): "
            f"requested by the failed {check} check on new labelled rows."
        )
        event = instance.get_latest_materialization_event(loop.key("serving_model"))
        if event is not None and event.run_id == run.run_id:
            reason = event.asset_materialization.metadata.get("promotion_reason")
            lines.append(f"- **Its model**: {reason.value if reason else 'no decision recorded'}")
    for name, key in watched_checks(loop.name).items():
        latest = latest_evaluation(instance, key)
        if latest is None:
            lines.append(f"- **{name} check**: not evaluated yet.")
            continue
        evaluation = latest[1]
        if evaluation.passed:
            lines.append(f"- **{name} check**: passed, no retrain needed.")
        else:
            words = evaluation.metadata.get("retrain")
            lines.append(
                f"- **{name} check**: failed; {words.value if words else evaluation.description}"
            )
    return "\n".join(lines)
