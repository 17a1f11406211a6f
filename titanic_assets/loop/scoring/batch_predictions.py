"""Scoring: unlabelled files from the model's inbox, scored in batch by the serving model;
the job and the sensor that run it for each new set of files."""

from pathlib import PurePosixPath

import dagster as dg

from titanic_assets.defs.resources import LandingArea
from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result

PREDICTIONS_FOLDER = "predictions"
REJECTS_FOLDER = "rejects"


class BatchScoringConfig(dg.Config):
    files: list[str] = []
    """Inbox files to score (as the inbox lists them); empty scores every file in the inbox."""


def output_names(name: str) -> tuple[str, str]:
    """Where one inbox file's predictions and rejects go, relative to the inbox."""
    base = PurePosixPath(name).name
    return f"{PREDICTIONS_FOLDER}/{base}", f"{REJECTS_FOLDER}/{base}"


def batch_op_name(loop: Loop) -> str:
    """The op of this model's batch_predictions asset (run config is keyed by it)."""
    return "__".join(loop.key("batch_predictions").path)


def build(loop: Loop) -> list:
    op_name = batch_op_name(loop)

    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("scoring"),
        kinds={"lightgbm" if loop.domain.family == "lightgbm" else "numpy", "pandas", "csv"},
        deps=[loop.key("serving_model")],
    )
    def batch_predictions(
        context: dg.AssetExecutionContext, config: BatchScoringConfig, scoring_inbox: LandingArea
    ) -> dg.MaterializeResult:
        """Predictions for unlabelled files dropped in the model's scoring inbox.

        Each CSV is scored in chunks (memory stays flat) by the serving model. Per file,
        `predictions/<file>` gets the id (or the row number), the decision, the probability of
        the positive class and model_version; `rejects/<file>` gets every row that breaks the
        input contract, as it was, with the reason. Valid rows are scored even when others are
        not. The `<model>_batch_scoring_on_new_files` sensor runs this for each new set of files.
        """
        import pandas as pd

        from titanic_assets.core import batch_scoring, registry
        from titanic_assets.loop.metadata import markdown_table

        domain, scoring_inbox = loop.domain, loop.landing(scoring_inbox)
        if loop.store.promoted_tag() is None:
            raise dg.Failure(
                "No model has been promoted to serving yet: materialize serving_model first."
            )
        model = registry.load(f"{loop.store.serving}:latest")
        available = scoring_inbox.csv_files()
        names = config.files or available
        unknown = sorted(set(names) - set(available))
        if unknown:
            raise dg.Failure(f"Not in the inbox {scoring_inbox.location}: {', '.join(unknown)}")

        total = batch_scoring.ScoringSummary()
        files, previews = [], []
        for name in names:
            predictions_name, rejects_name = output_names(name)
            with (
                scoring_inbox.open(name) as source,
                scoring_inbox.writer(predictions_name) as predictions,
                scoring_inbox.writer(rejects_name) as rejects,
            ):
                summary = batch_scoring.score_file(
                    source,
                    model,
                    predictions,
                    rejects,
                    domain.inputs,
                    domain.id_column,
                    domain.words.decision,
                    missing_values=domain.missing_values,
                )
            context.log.info(f"{name}: {summary.scored} scored, {summary.rejected} rejected")
            total.add(summary)
            previews.append(summary.preview.assign(file=PurePosixPath(name).name))
            files.append(
                {
                    "file": name,
                    "rows": summary.rows,
                    "scored": summary.scored,
                    "rejected": summary.rejected,
                    "predictions": scoring_inbox.location_of(predictions_name),
                    "rejects": scoring_inbox.location_of(rejects_name),
                }
            )

        preview = pd.concat(previews) if previews else pd.DataFrame()
        positive_rate = total.predicted / total.scored if total.scored else 0.0
        return materialize_result(
            metadata={
                "dagster/row_count": total.scored,
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(domain.id_column or "row", "string"),
                        dg.TableColumn(
                            domain.words.decision, "int", description="1: the positive class"
                        ),
                        dg.TableColumn("probability", "float"),
                        dg.TableColumn("model_version", "string"),
                    ]
                ),
                "rows_read": total.rows,
                "rows_scored": total.scored,
                "rows_rejected": total.rejected,
                "rejection_reasons": dg.MetadataValue.json(dict(total.reasons.most_common())),
                "predicted_positive_rate": dg.MetadataValue.float(positive_rate),
                "files_scored": len(files),
                "files": dg.MetadataValue.md(
                    pd.DataFrame(files).to_markdown(index=False)
                    if files
                    else "no files in the inbox"
                ),
                "output_files": dg.MetadataValue.json(
                    {
                        f["file"]: {"predictions": f["predictions"], "rejects": f["rejects"]}
                        for f in files
                    }
                ),
                "inbox": scoring_inbox.location,
                "serving_model": model.tag,
                "model_version": model.version,
                "preview": markdown_table(preview) if files else dg.MetadataValue.md("no rows"),
            }
        )

    batch_scoring_job = dg.define_asset_job(
        loop.named("batch_scoring"),
        selection=[batch_predictions],
        description="Score the inbox's files with the serving model.",
    )

    @dg.sensor(
        name=loop.named("batch_scoring_on_new_files"),
        job=batch_scoring_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Score new files as they appear in the model's scoring inbox.",
    )
    def batch_scoring_on_new_files(context: dg.SensorEvaluationContext, scoring_inbox: LandingArea):
        """One run per set of new files; the cursor is the files already seen (those still in
        the inbox, so it does not grow forever). A file replaced under the same name is not
        scored again: drop files under new names (write them as .tmp, then rename to .csv)."""
        import hashlib
        import json

        scoring_inbox = loop.landing(scoring_inbox)
        seen = set(json.loads(context.cursor)) if context.cursor else set()
        present = scoring_inbox.csv_files()
        new = sorted(set(present) - seen)
        context.update_cursor(json.dumps(sorted(set(present))))
        if not new:
            return dg.SkipReason(f"no new files in {scoring_inbox.location}")
        digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
        return dg.RunRequest(
            run_key=f"batch-scoring-{digest}",
            run_config=dg.RunConfig(ops={op_name: BatchScoringConfig(files=new)}),
            tags={"loop/new_files": str(len(new))},
        )

    return [batch_predictions, batch_scoring_job, batch_scoring_on_new_files]
