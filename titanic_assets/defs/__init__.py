"""The Dagster definitions, one folder per domain: each holds its assets, checks, jobs and
sensors. `dg.load_from_defs_folder` finds them all; `resources.py` picks the storage.

Heavy libraries (pandas, scikit-learn, LightGBM, Pandera, matplotlib) are imported inside
the asset bodies, not at module level, so the code location loads quickly.
"""
