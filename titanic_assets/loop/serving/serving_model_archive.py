"""Serving: the serving model packed for services on other machines."""

import dagster as dg

from titanic_assets.loop import Loop


def build(loop: Loop) -> list:
    @dg.asset(
        key_prefix=loop.prefix,
        group_name="serving",
        kinds={"bentoml"},
        deps=[loop.key("serving_model")],
    )
    def serving_model_archive() -> dg.MaterializeResult:
        """The serving model as a portable BentoML archive, for a service on another machine.

        The profile's IO manager stores it: in the gcp profile, an object in the bucket that
        `python -m titanic_assets.commands.model_sync` imports into the serving machine's
        model store.
        """
        from titanic_assets.core.model_sync import export_archive

        tag = loop.store.promoted_tag()
        if tag is None:
            raise dg.Failure("No model has been promoted to serving, so there is none to export.")
        model = export_archive(tag)
        return dg.MaterializeResult(
            value=model,
            metadata={"bentoml_tag": model.tag, "archive_bytes": len(model.archive)},
        )

    return [serving_model_archive]
