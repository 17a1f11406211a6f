"""Women-and-children-group (WCG) evidence and the linear model's design, shared by
training (Dagster) and serving (BentoML).

Passengers travelling together (features.group_keys: a ticket, or a surname with a
fare) shared fate, but not evenly: women and boys of a family mostly lived or died
together, while adult men mostly died whatever their family did. So the evidence a
passenger gets is the known outcomes of the *other* women and boys of their group, and the
design splits it by who asks (a woman, a boy or a man), so that a man is barely moved by it.

The evidence table may hold every labelled passenger (training rows, held-out rows and
labelled traffic): `lookup(..., exclude=ids)` leaves each passenger's own outcome out, which
is how a labelled passenger is scored without seeing the answer.

Like features.py, it works on columns (a DataFrame or a dict of lists) and imports no
scikit-learn: the service imports it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from titanic_assets.domains.titanic.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    as_matrix,
    extract_title,
    feature_columns,
    group_keys,
)

LINEAR_FEATURES: tuple[str, ...] = (
    "female",
    "boy",
    "class_2",
    "class_3",
    "female_x_class_3",
    "boy_x_class_3",
    "title_miss",
    "title_rare",
    "woman_group_known",  # 1 when a woman's group has other women or boys with known outcomes
    "woman_group_share",  # their survival share - 0.5 (0 when none is known)
    "boy_group_known",
    "boy_group_share",
    "man_group_known",
    "man_group_share",
)


def _female(passengers: Mapping[str, Sequence[Any]]) -> np.ndarray:
    return np.array(_females(passengers))


def _females(passengers: Mapping[str, Sequence[Any]]) -> list[bool]:
    return [isinstance(s, str) and s.strip().lower() == "female" for s in passengers["Sex"]]


def _people(passengers: Mapping[str, Sequence[Any]]) -> tuple[list[bool], list[bool], list]:
    """Who each passenger is: female, boy (title Master, or a male under 13 whose title is
    not Mr), and their title. Python lists: the service asks this of one passenger."""
    female = _females(passengers)
    titles = [extract_title(n) for n in passengers["Name"]]
    ages = np.asarray(passengers["Age"], dtype=np.float64).tolist()  # None: NaN, never < 13
    boy = [
        not f and (t == "Master" or (t != "Mr" and a < 13))
        for f, t, a in zip(female, titles, ages, strict=True)
    ]
    return female, boy, titles


def is_boy(passengers: Mapping[str, Sequence[Any]]) -> np.ndarray:
    return np.array(_people(passengers)[1], dtype=bool)


def is_woman_or_boy(passengers: Mapping[str, Sequence[Any]]) -> np.ndarray:
    female, boy, _ = _people(passengers)
    return np.array([f or b for f, b in zip(female, boy, strict=True)], dtype=bool)


def travelling_groups(passengers: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """One id per passenger: connected components of the group keys (a family on several
    tickets, or a ticket shared across families, is one group). For group-aware folds."""
    keys = group_keys(passengers)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, passenger_keys in enumerate(keys):
        for key in passenger_keys:
            if key in first:
                a, b = root(i), root(first[key])
                if a != b:
                    parent[a] = b
            else:
                first[key] = i
    _, ids = np.unique([root(i) for i in range(len(keys))], return_inverse=True)
    return ids


class WomenChildrenEvidence:
    """The known outcomes of each group's women and boys (of all its members with
    `everyone`), by passenger id.

    `ids` name the labelled passengers (PassengerIds, or row positions in training);
    `lookup(passengers, exclude)` leaves out, for row i, the evidence row with id exclude[i].
    """

    def __init__(
        self,
        passengers: Mapping[str, Sequence[Any]] | None = None,
        outcomes: Sequence[int] = (),
        ids: Sequence[Hashable] | None = None,
        everyone: bool = False,
        keys: Sequence[tuple[str, ...]] | None = None,
    ) -> None:
        self.members: dict[str, list[tuple[Hashable, int]]] = {}
        self.rows = 0
        if passengers is None or len(outcomes) == 0:
            return
        outcomes = [int(o) for o in outcomes]
        ids = list(range(len(outcomes))) if ids is None else list(ids)
        # `everyone`: every member counts (the all-member evidence), not only women and boys.
        counted = np.ones(len(outcomes), bool) if everyone else is_woman_or_boy(passengers)
        for passenger_keys, who, outcome, wc in zip(
            keys or group_keys(passengers), ids, outcomes, counted, strict=True
        ):
            if wc:
                for key in passenger_keys:
                    self.members.setdefault(key, []).append((who, outcome))
        self.rows = len(outcomes)

    def lookup(
        self,
        passengers: Mapping[str, Sequence[Any]],
        exclude: Sequence[Hashable] | None = None,
        keys: Sequence[tuple[str, ...]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per passenger: how many of their group's other women and boys have a known
        outcome, and the share that lived (NaN when none is known). `keys`: the passengers'
        group keys, when the caller has them already."""
        known, share = self.counts(passengers, exclude, keys)
        return np.array(known), np.array(share)

    def counts(
        self,
        passengers: Mapping[str, Sequence[Any]],
        exclude: Sequence[Hashable] | None = None,
        keys: Sequence[tuple[str, ...]] | None = None,
    ) -> tuple[list[float], list[float]]:
        """`lookup` as Python lists (for `boosted_design`, which stacks them once)."""
        keys = keys or group_keys(passengers)
        known = [0.0] * len(keys)
        share = [np.nan] * len(keys)
        for i, passenger_keys in enumerate(keys):
            mates = {m for key in passenger_keys for m in self.members.get(key, ())}
            if exclude is not None:
                mates = {m for m in mates if m[0] != exclude[i]}
            if mates:
                known[i] = float(len(mates))
                share[i] = sum(outcome for _, outcome in mates) / len(mates)
        return known, share


def linear_design(
    passengers: Mapping[str, Sequence[Any]],
    evidence: WomenChildrenEvidence | None = None,
    exclude: Sequence[Hashable] | None = None,
) -> np.ndarray:
    """The linear model's input (rows x LINEAR_FEATURES, float64) from raw passenger columns.
    Group evidence enters as (share - 0.5) when known, else 0: an unknown group is neutral."""
    female, boy, titles = _people(passengers)
    female, boy, titles = np.array(female), np.array(boy), np.array(titles, dtype=object)
    pclass = np.asarray(passengers["Pclass"], dtype=np.float64)
    known, share = (evidence or WomenChildrenEvidence()).lookup(passengers, exclude)
    has = known > 0
    deviation = np.where(has, np.nan_to_num(share) - 0.5, 0.0)
    # One preallocated matrix: the service builds it for one passenger per request, where
    # a dozen temporaries and a column_stack cost more than the arithmetic.
    out = np.zeros((len(female), len(LINEAR_FEATURES)))
    out[:, 0] = female
    out[:, 1] = boy
    out[:, 2] = pclass == 2
    out[:, 3] = pclass == 3
    out[:, 4] = out[:, 0] * out[:, 3]
    out[:, 5] = out[:, 1] * out[:, 3]
    out[:, 6] = titles == "Miss"
    out[:, 7] = titles == "Rare"
    for k, who in enumerate((female, boy, ~(female | boy))):
        out[:, 8 + 2 * k] = who & has
        out[:, 9 + 2 * k] = np.where(who, deviation, 0.0)
    return out


# The boosted model's inputs: the engineered features (features.FEATURES, whose group
# columns come from the all-member evidence here, by passenger id), then who asks and the
# women-and-children evidence of their group (NaN share when none is known: LightGBM learns
# where an unknown group goes).
BOOSTED_FEATURES: tuple[str, ...] = (*FEATURES, "boy", "wcg_known", "wcg_share")


def boosted_design(
    passengers: Mapping[str, Sequence[Any]],
    evidence: WomenChildrenEvidence | None = None,
    everyone: WomenChildrenEvidence | None = None,
    exclude: Sequence[Hashable] | None = None,
) -> np.ndarray:
    """The boosted model's input (rows x BOOSTED_FEATURES, float64) from raw passenger
    columns: `evidence` the women and boys' outcomes, `everyone` all members'."""
    keys = group_keys(passengers)
    known, share = (everyone or WomenChildrenEvidence()).counts(passengers, exclude, keys)
    wcg_known, wcg_share = (evidence or WomenChildrenEvidence()).counts(passengers, exclude, keys)
    boy = _people(passengers)[1]
    return as_matrix([*feature_columns(passengers), known, share, boy, wcg_known, wcg_share])


class WomenChildrenDesign:
    """The served model's design (core/domain.Design): BOOSTED_FEATURES from raw passenger
    columns, with the group evidence of the labelled passengers it was fitted on."""

    feature_names: tuple[str, ...] = BOOSTED_FEATURES
    categorical: tuple[str, ...] = CATEGORICAL_FEATURES

    def __init__(
        self,
        evidence: WomenChildrenEvidence | None = None,
        everyone: WomenChildrenEvidence | None = None,
    ) -> None:
        self.evidence = evidence or WomenChildrenEvidence()
        self.everyone = everyone or WomenChildrenEvidence()

    def fitted(
        self,
        passengers: Mapping[str, Sequence[Any]],
        outcomes: Sequence[int],
        ids: Sequence[Hashable] | None = None,
    ) -> WomenChildrenDesign:
        """The design with these labelled passengers' evidence (`ids`: their PassengerIds;
        default their positions)."""
        keys = group_keys(passengers)
        outcomes = np.asarray(outcomes, dtype=int)
        return WomenChildrenDesign(
            WomenChildrenEvidence(passengers, outcomes, ids, keys=keys),
            WomenChildrenEvidence(passengers, outcomes, ids, everyone=True, keys=keys),
        )

    def matrix(
        self, passengers: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return boosted_design(passengers, self.evidence, self.everyone, exclude)
