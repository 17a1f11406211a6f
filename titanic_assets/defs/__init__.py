"""The code location's definitions: one folder per model, each a `defs.yaml` instance of the
ModelLoop component (titanic_assets/components.py) naming its domain, and `resources.py`,
the storage every model's loop shares, picked by the profile.
"""
