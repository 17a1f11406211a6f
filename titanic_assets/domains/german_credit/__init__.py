"""German credit: whether an applicant is a bad credit risk (the risk the model exists to
catch), from the 20 attributes of the Statlog German credit data.

800 of the 1,000 applicants of UCI's Statlog (German Credit Data), the codes decoded to the
documentation's words (data/README.md; CC BY 4.0), the applicant contract (contract.py),
and a model that reads the inputs as they are (core/designs.InputDesign): an L2 logistic
regression (below). Every attribute has a value for every applicant, so there is nothing to
fill.

- Model family: the L2 logistic regression (core/models.LinearModel, C = 0.1, the engine's
  default, which an inner 5-fold log-loss chose in 19 of 25 folds, 0.3 in the rest), not
  LightGBM. `benchmarks/candidates.py --model german_credit` on the 661 training
  applicants (5 x 5 folds, Platt nested; cost per applicant at a threshold picked on the
  other folds, accepting a bad credit 5, rejecting a good one 1; rejecting everyone costs
  0.694 here): LightGBM ROC-AUC 0.779 [0.732, 0.825], cost 0.585 [0.468, 0.701]; the
  logistic regression, C chosen inside each fold, 0.786 [0.746, 0.825], cost 0.536
  [0.415, 0.657]. Fold by fold it is ahead on both (ROC-AUC +0.007 [-0.018, 0.031], cost
  -0.049 [-0.155, 0.056]), by less than 661 applicants resolve, and it holds up under
  shift where LightGBM does not (leave-one-housing-out ROC-AUC 0.767 against 0.661; group
  folds 0.789 against 0.779). The issue's anchors on unseen applicants point the same way
  (0.81 / 0.49 against 0.78 / 0.59). As the pipeline trains them, each deciding at its
  least out-of-fold cost (0.157; LightGBM 0.196), it claims 0.495 [0.438, 0.552] an
  applicant (LightGBM 0.539 [0.440, 0.612]). Against it: on the 139 held-out applicants,
  not used for the choice, it measured ROC-AUC 0.733 and cost 0.662 [0.489, 0.856] to
  LightGBM's 0.748 and 0.561 [0.388, 0.763] (paired: -0.015 [-0.058, 0.026], +0.101
  [-0.058, 0.252]; rejecting everyone costs 0.698 there): within noise too, the other way.
  Pooled over the 800, the two are about even; the shift figures decide.

- Shift: leaving one purpose out (`leave-one-purpose-out`: a loan product the model has
  never seen, e.g. a bank starting to lend for education) and one housing kind out
  (`leave-one-housing-out`: renters only, owners only). Both are shown, not claimed: a
  purpose or housing the model has never seen is scored as unseen and counted by drift
  monitoring (contract.py's open categories), and its retrain is what the loop answers it
  with; a changed mix of known products is what the traffic-weighted schemes measure.
- Slices: sex x age band. The data has no sex column: sex is the first word of
  `status_sex` ("female : divorced/separated/married"); the age band splits at 25, the
  protected-group cut of the fairness literature on this data (Kamiran & Calders). Both
  are predicates over the raw column (Domain.slices).
- Baseline: the majority class (70% good).
- Quality gate (PROPOSED, for the lead to accept or refuse): the engine's floors were tuned
  on Titanic (random folds' ROC-AUC lower bound >= 0.80, group folds' >= 0.78). On 661
  training applicants the served logistic regression measures random folds 0.786 [0.745,
  0.826] and group folds (each applicant its own group) 0.789 (LightGBM 0.779 [0.732,
  0.825] and 0.779; tuned LightGBM reached 0.783): no model this data supports can pass.
  Proposed floors: lower bound >= 0.70 (an estimate of about 0.75 at this size) and group
  folds >= 0.75: the anchor-level model passes with room, one 0.03 below the anchors fails.
- The decision: by cost. The data's documentation gives the cost matrix: accepting a bad
  applicant costs 5, rejecting a good one 1. The model is judged by its expected cost per
  applicant, and decides at the threshold with the least out-of-fold cost (ml/decisions.py;
  about 1/6 for calibrated probabilities); its trivial rule is rejecting everyone (0.70 an
  applicant on this data; accepting everyone costs 1.50).
"""

from pathlib import Path
from typing import Any

from titanic_assets.core.domain import Costs, Domain, MonitoredInput, Words
from titanic_assets.domains.german_credit import contract

YOUNG = 25  # the age band's cut: under 25, 25 and over


def _design() -> Any:
    from titanic_assets.core.designs import InputDesign

    return InputDesign(contract.APPLICANT_FIELDS)


def _nothing_to_fill(table: Any) -> tuple[Any, list]:
    return table, []


def _sex(sex: str) -> Any:
    """Whether each `status_sex` (a pandas Series) is of this sex: its first word."""

    def is_sex(status_sex: Any) -> Any:
        return status_sex.astype(str).str.split(" : ").str[0].str.strip() == sex

    return is_sex


def _young(age: Any) -> Any:
    return age < YOUNG


def _not_young(age: Any) -> Any:
    return age >= YOUNG


DOMAIN = Domain(
    name="german_credit",
    title="Credit risk predictions for loan applicants (bad risk or good)",
    data=Path(__file__).parent / "data" / "german_credit.csv",
    inputs=contract.APPLICANT_FIELDS,
    label="credit_risk",
    classes=("good", "bad"),
    id_column=None,
    words=Words(
        row="applicant", rows="applicants", decision="bad_risk", probability="bad credit risk"
    ),
    example={
        "status": "< 0 DM",
        "duration": 6,
        "credit_history": "critical account/other credits existing (not at this bank)",
        "purpose": "radio/television",
        "credit_amount": 1169,
        "savings": "unknown/no savings account",
        "present_employment": ">= 7 years",
        "installment_rate": 4,
        "status_sex": "male : single",
        "other_debtors": "none",
        "present_residence_since": 4,
        "property": "real estate",
        "age": 67,
        "installment_plans": "none",
        "housing": "own",
        "number_of_existing_credits": 2,
        "job": "skilled employee/official",
        "number_of_people_liable_for": 1,
        "telephone": "yes",
        "foreign_worker": "yes",
    },
    design=_design,
    fill_gaps=_nothing_to_fill,
    filled=(),
    monitored=(
        MonitoredInput("status", "status", numeric=False),
        MonitoredInput("duration", "duration", numeric=True),
        MonitoredInput("credit_history", "credit_history", numeric=False),
        MonitoredInput("purpose", "purpose", numeric=False),
        MonitoredInput("credit_amount", "credit_amount", numeric=True),
        MonitoredInput("savings", "savings", numeric=False),
        MonitoredInput("present_employment", "present_employment", numeric=False),
        MonitoredInput("status_sex", "status_sex", numeric=False),
        MonitoredInput("age", "age", numeric=True),
        MonitoredInput("housing", "housing", numeric=False),
    ),
    # Who the guard must not let a retrain treat worse: sex x age band.
    slices={
        f"{sex}, {band}": {"status_sex": _sex(sex), "age": in_band}
        for sex in ("female", "male")
        for band, in_band in ((f"under {YOUNG}", _young), (f"{YOUNG} and over", _not_young))
    },
    threshold=0.5,
    family="logistic_regression",  # the candidates benchmark's choice (docstring)
    costs=Costs(
        false_positive=1.0,  # rejecting a good applicant
        false_negative=5.0,  # accepting a bad one
        source="the Statlog (German Credit Data) documentation's cost matrix",
    ),
    leave_one_out={"leave-one-purpose-out": "purpose", "leave-one-housing-out": "housing"},
    shift_claimed=(),
    min_roc_auc=0.70,  # PROPOSED (docstring): the engine's 0.80 is beyond this data
    min_new_group_roc_auc=0.75,  # PROPOSED: the engine's 0.78 is this data's ceiling
)
