"""The applicant input contract: the 20 attributes of the Statlog German credit data, their
types and limits, the categories in the words of the dataset's documentation.

Limits from the data (the 1,000 applicants of the source, 800 shipped) and its coding:
- duration: months, 4 to 72 in the data; 1 to 120 (ten years) leaves room, not nonsense.
- credit_amount: Deutsche Mark, 250 to 18,424 in the data; 1 to 100,000.
- age: years, 19 to 75 in the data; 18 (of age) to 100.
- installment_rate (percent of disposable income), present_residence_since and
  number_of_existing_credits are the documentation's codes 1 to 4; number_of_people_liable_for
  1 or 2.
- Every category is the documentation's list. `status_sex` includes "female : single",
  which the documentation names and the data never has: a client may send it, and the model
  scores it as a category it has not seen. (purpose "vacation" is left out: the
  documentation itself doubts it exists.) Nothing may be missing: every attribute has a
  value for every applicant, "none" or "unknown" where the documentation says so.
- Open and closed categories (core/contract.py): what a bank's forms may grow is open, so
  a new value (a loan for a vacation, a new kind of property) is scored as a category the
  model has never seen and counted by drift monitoring, not refused: credit history,
  purpose, other debtors, property, installment plans, housing, job. Closed: the bands of a
  number (checking account, savings, employment), which cover every value; yes/no; and
  `status_sex`, which the trusted guard's slices are declared over (every row in one).

Standard library only: the service imports it.
"""

from titanic_assets.core.contract import InputField

STATUSES = (
    "< 0 DM", "0 <= x < 200 DM", ">= 200 DM /salary assignments for at least 1 year",
    "no checking account",
)  # fmt: skip
HISTORIES = (
    "no credits taken/all credits paid back duly", "all credits at this bank paid back duly",
    "existing credits paid back duly till now", "delay in paying off in the past",
    "critical account/other credits existing (not at this bank)",
)  # fmt: skip
PURPOSES = (
    "car (new)", "car (used)", "furniture/equipment", "radio/television", "domestic appliances",
    "repairs", "education", "retraining", "business", "others",
)  # fmt: skip
SAVINGS = (
    "< 100 DM", "100 <= x < 500 DM", "500 <= x < 1000 DM", ">= 1000 DM",
    "unknown/no savings account",
)  # fmt: skip
EMPLOYMENT = ("unemployed", "< 1 year", "1 <= x < 4 years", "4 <= x < 7 years", ">= 7 years")
STATUS_SEX = (
    "male : divorced/separated", "female : divorced/separated/married", "male : single",
    "male : married/widowed", "female : single",
)  # fmt: skip
DEBTORS = ("none", "co-applicant", "guarantor")
PROPERTY = (
    "real estate", "building society savings agreement /life insurance", "car or other",
    "unknown /no property",
)  # fmt: skip
PLANS = ("bank", "stores", "none")
HOUSING = ("rent", "own", "for free")
JOBS = (
    "unemployed/unskilled - non-resident", "unskilled - resident", "skilled employee/official",
    "management/self-employed/highly qualified employee/officer",
)  # fmt: skip
YES_NO = ("yes", "no")


def _category(
    name: str, description: str, allowed: tuple[str, ...], open: bool = False
) -> InputField:
    return InputField(name, "category", description, required=True, allowed=allowed, open=open)


def _number(name: str, kind: str, description: str, low: float, high: float) -> InputField:
    return InputField(name, kind, description, required=True, minimum=low, maximum=high)


APPLICANT_FIELDS: tuple[InputField, ...] = (
    _category("status", "Status of the existing checking account.", STATUSES),
    _number("duration", "int", "Duration of the credit, months.", 1, 120),
    _category("credit_history", "Credit history.", HISTORIES, open=True),
    _category("purpose", "Purpose of the credit.", PURPOSES, open=True),
    _number("credit_amount", "int", "Credit amount, Deutsche Mark.", 1, 100_000),
    _category("savings", "Savings account/bonds.", SAVINGS),
    _category("present_employment", "Present employment since.", EMPLOYMENT),
    _number("installment_rate", "int", "Installment rate, % of disposable income (1-4).", 1, 4),
    _category("status_sex", "Personal status and sex.", STATUS_SEX),
    _category("other_debtors", "Other debtors / guarantors.", DEBTORS, open=True),
    _number("present_residence_since", "int", "Present residence since (1-4).", 1, 4),
    _category("property", "Property.", PROPERTY, open=True),
    _number("age", "int", "Age, years.", 18, 100),
    _category("installment_plans", "Other installment plans.", PLANS, open=True),
    _category("housing", "Housing.", HOUSING, open=True),
    _number("number_of_existing_credits", "int", "Existing credits at this bank (1-4).", 1, 4),
    _category("job", "Job.", JOBS, open=True),
    _number(
        "number_of_people_liable_for", "int", "People liable to provide maintenance for.", 1, 2
    ),
    _category("telephone", "A telephone registered under the applicant's name.", YES_NO),
    _category("foreign_worker", "Foreign worker.", YES_NO),
)
