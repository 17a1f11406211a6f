"""Titanic rows for tests and benchmarks: one passenger every test sends, and a population
shifted away from what the first model learned."""

import numpy as np
import pandas as pd

# A first-class woman with every field given (the OpenAPI page shows DOMAIN.example).
PASSENGER = {
    "Pclass": 1,
    "Sex": "female",
    "Age": 38.0,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 71.2833,
    "Embarked": "C",
    "Name": "Cumings, Mrs. John Bradley",
    "Cabin": "C85",
    "Ticket": "PC 17599",
}


def shifted_population(shipped: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """New third-class men, older and boarding at Queenstown, 80% of whom survive: inputs and
    outcomes both shifted from what the first model learned (it expects such men to die).
    New surnames and tickets, so none of them repeats a shipped passenger or shares a
    travelling group with another."""
    rng = np.random.default_rng(seed)
    men = shipped[(shipped["Pclass"] == 3) & (shipped["Sex"] == "male")]
    rows = men.iloc[rng.integers(0, len(men), n)].reset_index(drop=True)
    return rows.assign(
        Age=(rows["Age"] + 15).clip(upper=100),
        Embarked="Q",
        Name=[f"Shifted{seed}x{i}, Mr. Passenger" for i in range(n)],
        Ticket=[f"SHIFT{seed} {i}" for i in range(n)],
        Survived=(rng.random(n) < 0.8).astype(int),
    )
