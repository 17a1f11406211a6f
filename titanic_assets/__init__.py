"""titanic-assets: a Dagster code location for the Titanic survival model.

Kept empty on purpose: the BentoML service imports `titanic_assets.features` and must not
pull in Dagster with it.
"""
