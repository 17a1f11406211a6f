"""The model's feature logic, shared by training (Dagster) and serving (BentoML).

It works on columns, not on DataFrames: `feature_matrix` accepts anything that maps a raw
column name to a sequence (a pandas DataFrame, or a dict of lists built from request
bodies), so the service scores a passenger without a pandas round-trip, and training and
serving cannot disagree because there is only this one implementation.

Missing values stay missing (NaN): LightGBM learns which way they go at every split, which
is how a missing age or fare is handled at serving time too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from titanic_assets.domains.titanic.contract import PORTS, SEXES

# Fixed vocabularies: a category's code is its position, so encoding needs no fitted state.
# (SEXES and PORTS are the input contract's.)
TITLES: tuple[str, ...] = ("Mr", "Mrs", "Miss", "Master", "Rare")
DECKS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "T")

# Spelling variants folded into the common titles; any other title is grouped as "Rare".
TITLE_ALIASES: dict[str, str] = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}

FEATURES: tuple[str, ...] = (
    "pclass",
    "sex",
    "age",
    "sibsp",
    "parch",
    "fare",
    "embarked",
    "title",
    "family_size",
    "is_alone",
    "deck",
    "has_cabin",
    "fare_per_person",
    "group_known",
    "group_survival",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("sex", "embarked", "title", "deck")

# "Surname, Title. Given names": the title is the word(s) between the comma and the period.
_TITLE_AFTER_COMMA = re.compile(r",\s*(?:the\s+)?([A-Za-z]+)\s*\.")
# Names without the usual comma ("Dr. John Smith"): the first word followed by a period.
_TITLE_ANYWHERE = re.compile(r"\b([A-Za-z]{2,})\.")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def extract_title(name: Any) -> str | None:
    """The passenger's title from their name, rare titles grouped; None when there is none."""
    return _title(name) if isinstance(name, str) else _title_of(name)


# Cross-validation computes the same passengers' titles and group keys hundreds of times:
# cached by the raw string, they cost a dictionary lookup.
@lru_cache(maxsize=1 << 16)
def _title(name: str) -> str | None:
    return _title_of(name)


def _title_of(name: Any) -> str | None:
    if _is_missing(name) or not str(name).strip():
        return None
    text = str(name)
    match = _TITLE_AFTER_COMMA.search(text) or _TITLE_ANYWHERE.search(text)
    if match is None:
        return None
    title = match.group(1).capitalize()
    title = TITLE_ALIASES.get(title, title)
    return title if title in TITLES else "Rare"


def extract_deck(cabin: Any) -> str | None:
    """The deck letter of the (first) cabin, None when the cabin is unknown."""
    if _is_missing(cabin):
        return None
    letter = str(cabin).strip()[:1].upper()
    return letter if letter in DECKS else None


def _codes(values: Sequence[Any], vocabulary: tuple[str, ...], normalise=str) -> list[float]:
    """Positions in a fixed vocabulary; NaN for missing or unknown values."""
    index = _INDEXES[vocabulary]
    return [np.nan if _is_missing(v) else index.get(normalise(v), np.nan) for v in values]


_INDEXES = {
    vocabulary: {word: float(i) for i, word in enumerate(vocabulary)}
    for vocabulary in (SEXES, PORTS, TITLES, DECKS)
}
_NUMBERS = ("Pclass", "Age", "SibSp", "Parch", "Fare")


def feature_matrix(
    passengers: Mapping[str, Sequence[Any]], evidence: GroupEvidence | None = None
) -> np.ndarray:
    """The model's input matrix (rows x FEATURES, float64) from raw passenger columns.

    The group columns come from `evidence` (the known outcomes of each passenger's travelling
    group); without it they are missing, as for a passenger travelling alone.
    """
    columns = feature_columns(passengers)
    rows = len(columns[0])
    if evidence is None:  # no group known: skip computing the group keys
        known, survival = [0.0] * rows, [np.nan] * rows
    else:
        known, survival = evidence.lookup(passengers)
    return as_matrix([*columns, known, survival])


def feature_columns(passengers: Mapping[str, Sequence[Any]]) -> list[Any]:
    """FEATURES' columns but the group ones (the last two), as arrays or lists: `as_matrix`
    stacks them in one numpy call. Few numpy calls: the service builds this for one
    passenger per request, where each call costs more than its arithmetic."""
    numbers = np.array([passengers[name] for name in _NUMBERS], dtype=np.float64)
    pclass, age, sibsp, parch, fare = numbers  # numpy reads None as NaN
    family_size = sibsp + parch + 1.0
    cabins = passengers["Cabin"]
    return [
        pclass,
        _codes(passengers["Sex"], SEXES, lambda v: str(v).strip().lower()),
        age,
        sibsp,
        parch,
        fare,
        _codes(passengers["Embarked"], PORTS, lambda v: str(v).strip().upper()),
        _codes([extract_title(n) for n in passengers["Name"]], TITLES),
        family_size,
        family_size == 1.0,  # is_alone
        _codes([extract_deck(c) for c in cabins], DECKS),
        [0.0 if _is_missing(c) else 1.0 for c in cabins],  # has_cabin
        fare / family_size,
    ]


def as_matrix(columns: Sequence[Any]) -> np.ndarray:
    """Columns (arrays or lists of one length) as a rows x columns float64 matrix."""
    return np.ascontiguousarray(np.array(columns, dtype=np.float64).T)


def _ticket_key(ticket: Any) -> str | None:
    return _cached_ticket_key(ticket) if isinstance(ticket, str) else _ticket_key_of(ticket)


@lru_cache(maxsize=1 << 16)
def _cached_ticket_key(ticket: str) -> str | None:
    return _ticket_key_of(ticket)


def _ticket_key_of(ticket: Any) -> str | None:
    if _is_missing(ticket) or not str(ticket).strip():
        return None
    return "ticket:" + " ".join(str(ticket).upper().split())


def _family_key(name: Any, fare: Any) -> str | None:
    """Surname and fare: a family on one booking paid one fare, often on several tickets."""
    if isinstance(name, str) and isinstance(fare, float | int):
        return _cached_family_key(name, float(fare))
    return _family_key_of(name, fare)


@lru_cache(maxsize=1 << 16)
def _cached_family_key(name: str, fare: float) -> str | None:
    return _family_key_of(name, fare)


def _family_key_of(name: Any, fare: Any) -> str | None:
    if _is_missing(name) or _is_missing(fare) or "," not in str(name):
        return None
    surname = str(name).split(",", 1)[0].strip().lower()
    return f"family:{surname}:{float(fare):.2f}" if surname else None


def group_keys(passengers: Mapping[str, Sequence[Any]]) -> list[tuple[str, ...]]:
    """Each passenger's travelling-group keys: the ticket, and surname with fare."""
    names = list(passengers["Name"])
    tickets = list(passengers["Ticket"]) if "Ticket" in passengers else [None] * len(names)
    return [
        _keys(t, n, f) for t, n, f in zip(tickets, names, list(passengers["Fare"]), strict=True)
    ]


def _keys(ticket: Any, name: Any, fare: Any) -> tuple[str, ...]:
    if isinstance(ticket, str) and isinstance(name, str) and isinstance(fare, float):
        return _cached_keys(ticket, name, fare)
    return tuple(k for k in (_ticket_key(ticket), _family_key(name, fare)) if k is not None)


@lru_cache(maxsize=1 << 16)
def _cached_keys(ticket: str, name: str, fare: float) -> tuple[str, ...]:
    return tuple(k for k in (_ticket_key(ticket), _family_key(name, fare)) if k is not None)


class GroupEvidence:
    """The known outcomes of travelling groups: who shares a ticket, or a surname and fare.

    Passengers travelling together tend to share fate (women and children of a family lived
    or died together), which no per-passenger field shows. The evidence is built from
    labelled passengers only (the model's training rows) and travels with the model, so the
    service computes the same feature from the same outcomes. A passenger's own outcome never
    feeds their own feature: `lookup` on a labelled passenger leaves them out (`exclude`).
    """

    def __init__(self, keys: Sequence[tuple[str, ...]] = (), outcomes: Sequence[int] = ()) -> None:
        self.members: dict[str, list[int]] = {}
        for index, passenger_keys in enumerate(keys):
            for key in passenger_keys:
                self.members.setdefault(key, []).append(index)
        self.outcomes = [int(o) for o in outcomes]

    def lookup(
        self, passengers: Mapping[str, Sequence[Any]], exclude: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each passenger: how many group members' outcomes are known, and the share of
        them that survived (NaN when none is known). `exclude[i]` is passenger i's own index
        in the evidence, left out of their own count."""
        keys = group_keys(passengers)
        known = np.zeros(len(keys))
        survival = np.full(len(keys), np.nan)
        for i, passenger_keys in enumerate(keys):
            mates = {m for key in passenger_keys for m in self.members.get(key, ())}
            if exclude is not None:
                mates.discard(exclude[i])
            if mates:
                known[i] = len(mates)
                survival[i] = sum(self.outcomes[m] for m in mates) / len(mates)
        return known, survival
