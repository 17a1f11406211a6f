"""A fingerprint of the Titanic model's probabilities: from the shipped data and the seed, the
same probabilities, whatever the code around them looks like.

    uv run --frozen python benchmarks/probabilities.py [--compare before.npy]

Trains as the pipeline does (ml.cleaning.clean_rows, then ml.modeling.train_model with the
seeded split, cross-validation, calibration and fit), scores all 891 shipped passengers, and
prints the SHA-256 of their calibrated probabilities rounded to 12 decimals, plus the first
five values. Printed twice: as served to a new request (no row excluded), and with each
passenger's own outcome left out of the group evidence it is scored with (as held-out rows
are evaluated).

Why: a refactor that moves code (issue 26 moved every Titanic name into a domain package)
must not change what the model answers. Training is deterministic given the data and the
seed, so the hash is the same on any commit where behaviour is unchanged: run this before
and after and compare two lines, or pass `--compare` a saved `np.stack([p_all, p_excluded])`
for the largest absolute difference (the issue's bound: 1e-9). Rounding to 12 decimals keeps
the hash stable against last-bit noise between BLAS builds while catching any real change.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np
import pandas as pd

from titanic_assets.core.domain import load_domain
from titanic_assets.ml.cleaning import clean_rows
from titanic_assets.ml.modeling import train_model

DECIMALS = 12


def probabilities() -> tuple[np.ndarray, np.ndarray]:
    """The shipped rows' probabilities: every row as a new request, and with its own
    outcome excluded from what the design learned."""
    domain = load_domain("titanic")
    raw = pd.read_csv(domain.data).assign(source=domain.data.name)
    table, _ = clean_rows(domain, raw)
    model = train_model(domain, table)
    X = table[list(domain.input_names)]
    return model.predict_proba(X), model.predict_proba(X, exclude=table[domain.id_column].tolist())


def fingerprint(values: np.ndarray) -> str:
    rounded = np.round(np.asarray(values, dtype=np.float64), DECIMALS)
    return hashlib.sha256(rounded.tobytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", help="a saved np.stack([p_all, p_excluded]) (.npy)")
    args = parser.parse_args()
    every, excluded = probabilities()
    for name, values in (("as new requests", every), ("own outcome excluded", excluded)):
        first = ", ".join(f"{v:.12f}" for v in values[:5])
        print(f"{name:<21} rows {len(values)}  sha256 {fingerprint(values)}")
        print(f"{'':<21} first five: {first}")
    if args.compare:
        before = np.load(args.compare)
        difference = float(np.abs(np.stack([every, excluded]) - before).max())
        print(f"max abs difference from {args.compare}: {difference:.3g}")


if __name__ == "__main__":
    main()
