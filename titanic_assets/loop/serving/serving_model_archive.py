"""Serving: the serving model, and the challenger that shadows it, packed for services on
other machines; exported again whenever either changes in the store."""

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.metadata import materialize_result

SYNC_SECONDS = 30  # how often the sensor looks at the store (metadata lookups only)


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name=loop.named("serving"),
        kinds={"bentoml"},
        deps=[loop.key("serving_model")],
    )
    def serving_model_archive() -> dg.MaterializeResult:
        """The serving model as a portable BentoML archive, for a service on another machine,
        with the latest challenger record and, while it shadows, the challenger's archive.

        The profile's IO manager stores it: in the gcp profile, an object in the bucket that
        `python -m titanic_assets.commands.model_sync` imports into each serving machine's
        model store, so every replica serves the same model and shadows with the same
        challenger (core/model_sync.py).
        """
        from titanic_assets.core.model_sync import export_bundle

        try:
            model = export_bundle(loop.store)
        except LookupError as error:
            raise dg.Failure(str(error)) from error
        record = model.record or {}
        return materialize_result(
            value=model,
            metadata={
                "bentoml_tag": model.tag,
                "archive_bytes": len(model.archive),
                "challenger": record.get("candidate", "none"),
                "challenger_status": record.get("status", "none"),
                "challenger_archive_bytes": len(model.challenger.archive)
                if model.challenger
                else 0,
            },
        )

    export_job = dg.define_asset_job(
        loop.named("export_serving_model_archive"),
        selection=[serving_model_archive],
        description="Export the serving model and its challenger for the replicas' sync.",
    )

    @dg.sensor(
        name=loop.named("serving_model_archive_on_store_change"),
        job=export_job,
        minimum_interval_seconds=SYNC_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="In the gcp profile, export the serving model archive again once the "
        "store's serving model or challenger record changed (a promotion, a rollback, a "
        "challenger named or retired), so the replicas' model_sync brings the change in.",
    )
    def serving_model_archive_on_store_change(context: dg.SensorEvaluationContext):
        from titanic_assets.core.settings import load_settings

        if load_settings().profile != "gcp":
            return dg.SkipReason("only the gcp profile's services read the archive")
        state = store_state(loop)
        if state is None:
            return dg.SkipReason("no model has been promoted to serving yet")
        if state == context.cursor:
            return dg.SkipReason("the serving model and the challenger record are unchanged")
        context.update_cursor(state)
        return dg.RunRequest(run_key=state)

    return [serving_model_archive, export_job, serving_model_archive_on_store_change]


def store_state(loop: Loop) -> str | None:
    """What the archive carries, in one string: the serving model's tag and the latest
    challenger record (which candidate, its status, when); None when nothing serves."""
    serving = loop.store.promoted_tag()
    if serving is None:
        return None
    record = loop.store.challenger_record()
    if record is None:
        return serving
    return f"{serving} {record.candidate} {record.status} {record.since.isoformat()}"
