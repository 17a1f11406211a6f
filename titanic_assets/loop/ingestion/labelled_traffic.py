"""Ingestion: the truth coming back about rows the service scored, as training data.

Outcomes arrive two ways: one by one through the service's POST /feedback (stored beside the
prediction log, core/outcomes.py), and in bulk as CSV files of `(id, <label>)` dropped in
the model's labels landing area. Joined to the predictions they belong to, they are rows
with a known label like any landed batch, and `labelled_rows` reads them beside the landing
area.

No dependency on the serving model: the model is trained from these, so they come first.
"""

import dagster as dg

from titanic_assets.defs.resources import LandingArea, PredictionLog
from titanic_assets.loop import Loop
from titanic_assets.loop.contract_checks import contract_check
from titanic_assets.loop.metadata import materialize_result, table_metadata


def build(loop: Loop) -> list:
    domain = loop.domain

    @dg.asset(key_prefix=loop.prefix, group_name=loop.named("ingestion"), kinds={"pandas", "csv"})
    def landed_outcomes(labels_landing: LandingArea) -> dg.MaterializeResult:
        """Every outcomes file in the model's labels landing area, concatenated, untouched:
        one row per prediction id (`id`, as the service returned it) and its label, as text.
        Its contract names the rows with a bad value; then nothing downstream runs."""
        import pandas as pd

        from titanic_assets.ml.schemas import landed_outcomes_contract

        landing = loop.landing(labels_landing)
        table = landing.read_tables(dtype=str)
        if table is None:
            columns = ("id", domain.label, "source")
            table = pd.DataFrame({name: pd.Series(dtype=str) for name in columns})
        return materialize_result(
            value=table,
            metadata={
                **table_metadata(table, landed_outcomes_contract(domain)),
                "labels_landing_area": landing.location,
                "file_count": int(table["source"].nunique()),
            },
        )

    @dg.asset(
        key_prefix=loop.prefix,
        ins=loop.ins("landed_outcomes"),
        group_name=loop.named("ingestion"),
        kinds={"pandas"},
    )
    def labelled_traffic(landed_outcomes, prediction_log: PredictionLog) -> dg.MaterializeResult:
        """The rows the service scored whose outcome came back, through /feedback or a
        labels file, as training rows: the inputs it was sent, the label, and in `source`
        `feedback:<tag>` of the model that answered. Each trains under an id derived from its
        prediction id (`outcomes.feedback_row_id`), so its held-out split is stable across
        retrains. Read from the compacted hours' labelled rows (monitoring's
        `hourly_traffic`): an outcome counts once its hour is compacted. Outcomes an operator
        retracted are left out; the metadata lists every retraction (who, when, which
        sender's, how many, why)."""
        import numpy as np
        import pandas as pd

        from titanic_assets.core.outcomes import FEEDBACK_SOURCE, feedback_row_id
        from titanic_assets.ml.schemas import labelled_traffic_contract

        log = loop.log(prediction_log)
        labelled = log.labelled(
            "SELECT * FROM rows QUALIFY row_number() OVER "
            "(PARTITION BY prediction_id ORDER BY timestamp DESC) = 1 ORDER BY timestamp"
        )
        retractions = log.retractions()
        if not len(labelled):
            labelled = pd.DataFrame(
                columns=["prediction_id", "outcome", "model_version", "sender", *domain.input_names]
            )
        negative, positive = domain.classes
        contract = labelled_traffic_contract(domain)
        table = labelled.assign(
            **{
                domain.key: [feedback_row_id(i) for i in labelled["prediction_id"]],
                domain.label: np.where(labelled["outcome"].astype(bool), positive, negative),
            },
            source=f"{FEEDBACK_SOURCE}{loop.store.serving}:"
            + labelled["model_version"].astype(str),
        )[list(contract.columns)].reset_index(drop=True)
        unmatched = sorted(set(landed_outcomes["id"]) - set(labelled["prediction_id"]))
        return materialize_result(
            value=table,
            metadata={
                **table_metadata(table, contract),
                "labelled_rows": len(table),
                "by_sender": dg.MetadataValue.md(
                    labelled["sender"].value_counts().rename("rows").to_markdown()
                ),
                "by_model": dg.MetadataValue.md(
                    table["source"].value_counts().rename("rows").to_markdown()
                ),
                # Landed outcomes that are not training rows (yet): no compacted prediction
                # has their id, or their hour was not compacted since they landed.
                "landed_ids_without_prediction": len(unmatched),
                "landed_ids_without_prediction_sample": dg.MetadataValue.json(unmatched[:20]),
                # Outcomes an operator took back (commands/retract_outcomes.py): left out above.
                **retraction_metadata(retractions),
            },
        )

    return [
        landed_outcomes,
        contract_check(loop, "landed_outcomes", "landed_outcomes_contract"),
        labelled_traffic,
        contract_check(loop, "labelled_traffic", "labelled_traffic_contract"),
    ]


def retraction_metadata(retractions) -> dict:
    """How many stored outcomes are retracted, and each retraction: when, by whom, what it
    covers (sender, times), how many outcomes of which sender, and why."""
    table = retractions.assign(
        by_sender=[", ".join(f"{s}: {n}" for s, n in b.items()) for b in retractions["by_sender"]]
    ).fillna({"sender": "every sender", "since": "", "until": ""})
    return {
        "outcomes_retracted": int(retractions.attrs.get("outcomes_retracted", 0)),
        "retractions": len(retractions),
        "retraction_log": dg.MetadataValue.md(
            table.to_markdown(index=False) if len(table) else "No outcome has been retracted."
        ),
    }
