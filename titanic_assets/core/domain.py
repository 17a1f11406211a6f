"""What a model's world is, as the engine sees it: the one interface between the loop and a
domain.

A domain is a package under `titanic_assets/domains/<name>/` whose `DOMAIN` is a `Domain`:
its shipped data, its raw contract (the `InputField`s every check, request model and batch
rule is built from), the label and its positive class, the id column (optional), cleaning,
the model's design (features for training and serving, with whatever it learns from
labelled rows), the service's examples and words, which inputs drift monitoring watches, the
slices the trusted guard judges on, and the decision rule. The engine (everything outside
`domains/`) reads these and never names a domain: `load_domain` finds one by the name an
instance's `defs.yaml` gives (a package under `domains/`, or any importable module).

Standard library only at module level: the service imports it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from titanic_assets.core.contract import InputField

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


DOMAINS_PACKAGE = "titanic_assets.domains"
Columns = Mapping[str, Sequence[Any]]  # raw input columns: a DataFrame or a dict of lists


@dataclass(frozen=True)
class Imputation:
    """One column `Domain.fill_gaps` imputed: how, with what value(s), and which rows (by id)
    it touched (here, not in ml/cleaning.py, so the interface imports nothing of the engine)."""

    column: str
    method: str
    ids: list[int] = field(default_factory=list)


class DomainError(ValueError):
    """A domain that cannot be loaded or lacks a part, named with what is wrong."""


class Design(Protocol):
    """The model's input matrix from raw input columns, shared by training and serving.

    `fitted` learns what the design needs from labelled rows (a design without such state
    returns itself); `matrix(columns, exclude)` builds rows x `feature_names` float64, where
    `exclude[i]` is the id of row i's own label among the fitted rows, left out so a
    labelled row is never scored with its own outcome.
    """

    feature_names: tuple[str, ...]
    categorical: tuple[str, ...]

    def fitted(
        self, columns: Columns, labels: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> Design: ...

    def matrix(self, columns: Columns, exclude: Sequence[Hashable] | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class MonitoredInput:
    """One input drift monitoring tests: the raw column it reads, numeric (KS) or
    categorical (chi-squared), and for a categorical one how a raw value reads as a category
    (e.g. a name as its title)."""

    name: str
    column: str
    numeric: bool
    category: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Baseline:
    """A simple rule from the raw inputs (1: the positive class), e.g. "the young default"."""

    name: str  # e.g. "sex_only"
    description: str
    decide: Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Costs:
    """What each wrong decision costs, in one unit: the positive decision for a row of the
    negative class (a false positive, e.g. rejecting a good applicant) and the negative one
    for a row of the positive class (a false negative, e.g. accepting a bad one). A right
    decision costs nothing."""

    false_positive: float
    false_negative: float
    source: str = ""  # where the figures come from (the data's documentation)


@dataclass(frozen=True)
class Words:
    """How the service and the UI speak of this domain's rows and decisions: the field
    names clients see (a row, a batch's key, the positive decision)."""

    row: str  # one row, e.g. "applicant"
    rows: str  # the batch body's key, e.g. "applicants"
    decision: str  # the positive decision's field, e.g. "bad_risk"
    probability: str  # what `probability` is the probability of, e.g. "bad risk"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per domain
class Domain:
    """Everything about one model's world the loop needs (module docstring)."""

    name: str
    title: str  # the service's and the UI's one-line description
    data: Path  # the shipped labelled CSV
    inputs: tuple[InputField, ...]  # the raw contract, in the order logs keep them
    label: str  # the label column of the data
    classes: tuple[Any, Any]  # the label's values: (negative, positive)
    id_column: str | None  # None: rows are numbered
    words: Words
    example: dict[str, Any]  # one valid row, for the OpenAPI page and the tests
    design: Callable[[], Design]  # an unfitted design
    # Fills the gaps its model cannot use in the typed, de-duplicated table (ml/cleaning.py).
    fill_gaps: Callable[[pd.DataFrame], tuple[pd.DataFrame, list[Imputation]]]
    filled: tuple[str, ...]  # the inputs fill_gaps leaves never missing
    monitored: tuple[MonitoredInput, ...]
    # The trusted guard's slices, declared in advance: name -> {input: condition}, where a
    # condition is a value the input equals, or a predicate over the input's column (a
    # pandas Series -> booleans) for a derived one, e.g. an age band.
    slices: dict[str, dict[str, Any]]
    threshold: float = 0.5
    # The simple rule the model must beat (validation reports the lift over it); None: the
    # majority class.
    baseline: Baseline | None = None
    # Validation under shift: scheme name -> the input each of its folds leaves out.
    leave_one_out: dict[str, str] = field(default_factory=dict)
    shift_claimed: tuple[str, ...] = ()  # of those, the schemes the model's claim covers
    # Groups of rows that share fate (e.g. a family): folds never split one. None: rows.
    groups: Callable[[pd.DataFrame], np.ndarray] | None = None
    family: str = "lightgbm"  # or "logistic_regression" (ml/fitting.FITTERS)
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the family's, over defaults
    feature_contract: Callable[[], Any] | None = None  # the feature table's Pandera model
    # Cells that mean "missing" in this domain's CSV files (e.g. Adult's "?"), beside empty
    # ones: read as missing wherever a file is read (the landing area, batch scoring,
    # /predict_csv), so the contract sees a gap, not an invalid value.
    missing_values: tuple[str, ...] = ()
    # The quality gate's ROC-AUC floors (loop/training/model_evaluation.py) where this
    # domain's ceiling is below the engine's (tuned on Titanic): random folds' 95% lower
    # bound, and group folds' estimate. None: the engine's MIN_ROC_AUC, MIN_NEW_GROUP_ROC_AUC.
    min_roc_auc: float | None = None
    min_new_group_roc_auc: float | None = None
    # What wrong decisions cost. Given: the model is judged by its expected cost per row
    # (threshold, claim, quality gate, promotion, shadow, realized performance; ml/decisions.py)
    # and `threshold` is only where its cross-validation starts. None: judged by accuracy.
    costs: Costs | None = None

    @property
    def decision_metric(self) -> str:
        """What the engine judges this domain's decisions by."""
        return "accuracy" if self.costs is None else "expected_cost"

    @property
    def positive(self) -> Any:
        """The label value of the positive class (the one `probability` is of)."""
        return self.classes[1]

    @property
    def key(self) -> str:
        """The id column of its tables: its own, or `row_id` for a domain without one (each
        landed row then gets one from its file and line, ml/cleaning.with_row_ids)."""
        return self.id_column or "row_id"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.inputs)

    @property
    def fields(self) -> dict[str, InputField]:
        return {f.name: f for f in self.inputs}

    def label_values(self, labels: Any) -> Any:
        """1 for the positive class, 0 for any other label value (an array)."""
        import numpy as np

        return (np.asarray(labels) == self.positive).astype(int)


def load_domain(name: str) -> Domain:
    """The domain `name`: `titanic_assets.domains.<name>`'s DOMAIN, else the module `name`'s
    (a domain kept outside this package, importable by its name or dotted path). A missing
    domain or part raises DomainError naming it."""
    module = None
    for module_name in (f"{DOMAINS_PACKAGE}.{name}", name):
        try:
            module = importlib.import_module(module_name)
            break
        except ModuleNotFoundError as error:
            if error.name is None or not module_name.startswith(error.name):
                raise  # the domain exists, but imports something that does not
        except TypeError as error:  # Domain(...) without a required part
            missing = re.search(r"Domain\.__init__\(\) missing .*?: (.*)", str(error))
            if missing is None:
                raise
            raise DomainError(
                f"domain {name!r} lacks {missing.group(1)}: its Domain(...) must give them"
            ) from None
    if module is None:
        raise DomainError(
            f"domain {name!r} does not exist (no module {DOMAINS_PACKAGE}.{name} or {name})"
        )
    domain = getattr(module, "DOMAIN", None)
    if not isinstance(domain, Domain):
        raise DomainError(f"domain {name!r}: {module.__name__} has no DOMAIN = Domain(...)")
    if not domain.data.is_file():
        raise DomainError(f"domain {name!r}: its data {domain.data} does not exist")
    if domain.id_column is not None and domain.id_column in domain.input_names:
        raise DomainError(f"domain {name!r}: the id column {domain.id_column} is an input")
    if domain.label in domain.input_names:
        raise DomainError(f"domain {name!r}: the label {domain.label} is an input")
    unknown = {c for s in domain.slices.values() for c in s} - set(domain.input_names)
    if unknown:
        raise DomainError(f"domain {name!r}: slices name unknown inputs {sorted(unknown)}")
    return domain
