"""The pure data-science code: no Dagster, no BentoML. The defs/ layer calls it."""
