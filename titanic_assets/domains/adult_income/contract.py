"""The person input contract: every raw field of the census extract, its type and its limits.

The limits come from the census itself (the 32,561 people of the training file and the
Current Population Survey's coding):
- age: the extract kept people older than 16 (17 is the youngest); the survey top-codes age
  at 90, so 100 leaves room for typing, not for nonsense.
- fnlwgt: the survey's sampling weight (how many people the row stands for, 12,285 to
  1,484,705 here); 1 to 2,000,000. Kept in the contract so the data's own rows pass; the
  model does not read it (a weight of the sample, not a property of the person; a client
  scoring one person does not have it).
- education_num: the survey's 16 education levels, 1 (preschool) to 16 (doctorate).
- capital_gain, capital_loss: dollars, five digits in the survey (99,999 is its top code for
  gains; the largest loss here is 4,356): 0 to 99,999.
- hours_per_week: 1 to 99, the survey's top code.
- The categories are the survey's words as the file writes them (case and hyphens kept);
  workclass, occupation and native_country may be missing (`?` in the file: 1,836, 1,843 and
  583 people): missing, not invalid.
- Open and closed categories (core/contract.py): the survey's codes a later survey may
  extend are open, so a new value (a country this extract never recorded, a new kind of
  employer) is scored as a category the model has never seen and counted by drift
  monitoring, not refused: workclass, education, marital_status, occupation, relationship,
  native_country. Closed: sex and race, which the trusted guard's slices are declared over
  (every row in one).

Standard library only: the service imports it.
"""

from titanic_assets.core.contract import InputField

WORKCLASSES = (
    "Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov", "State-gov",
    "Without-pay", "Never-worked",
)  # fmt: skip
EDUCATIONS = (
    "Preschool", "1st-4th", "5th-6th", "7th-8th", "9th", "10th", "11th", "12th", "HS-grad",
    "Some-college", "Assoc-voc", "Assoc-acdm", "Bachelors", "Masters", "Prof-school", "Doctorate",
)  # fmt: skip
MARITAL_STATUSES = (
    "Married-civ-spouse", "Divorced", "Never-married", "Separated", "Widowed",
    "Married-spouse-absent", "Married-AF-spouse",
)  # fmt: skip
OCCUPATIONS = (
    "Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
    "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical",
    "Farming-fishing", "Transport-moving", "Priv-house-serv", "Protective-serv", "Armed-Forces",
)  # fmt: skip
RELATIONSHIPS = ("Wife", "Own-child", "Husband", "Not-in-family", "Other-relative", "Unmarried")
RACES = ("White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black")
SEXES = ("Female", "Male")
COUNTRIES = (
    "United-States",
    "Cambodia",
    "England",
    "Puerto-Rico",
    "Canada",
    "Germany",
    "Outlying-US(Guam-USVI-etc)",
    "India",
    "Japan",
    "Greece",
    "South",
    "China",
    "Cuba",
    "Iran",
    "Honduras",
    "Philippines",
    "Italy",
    "Poland",
    "Jamaica",
    "Vietnam",
    "Mexico",
    "Portugal",
    "Ireland",
    "France",
    "Dominican-Republic",
    "Laos",
    "Ecuador",
    "Taiwan",
    "Haiti",
    "Columbia",
    "Hungary",
    "Guatemala",
    "Nicaragua",
    "Scotland",
    "Thailand",
    "Yugoslavia",
    "El-Salvador",
    "Trinadad&Tobago",
    "Peru",
    "Hong",
    "Holand-Netherlands",
)  # fmt: skip  (the source's spellings)

PERSON_FIELDS: tuple[InputField, ...] = (
    InputField("age", "int", "Years (17 or older).", required=True, minimum=17, maximum=100),
    InputField(
        "workclass", "category", "Employer kind; null when unknown.", allowed=WORKCLASSES, open=True
    ),
    InputField(
        "fnlwgt",
        "int",
        "The census sampling weight; not read by the model.",
        minimum=1,
        maximum=2_000_000,
    ),
    InputField(
        "education", "category", "Highest education.", required=True, allowed=EDUCATIONS, open=True
    ),
    InputField(
        "education_num",
        "int",
        "Education level, 1 (preschool) to 16 (doctorate).",
        required=True,
        minimum=1,
        maximum=16,
    ),
    InputField(
        "marital_status",
        "category",
        "Marital status.",
        required=True,
        allowed=MARITAL_STATUSES,
        open=True,
    ),
    InputField(
        "occupation", "category", "Occupation; null when unknown.", allowed=OCCUPATIONS, open=True
    ),
    InputField(
        "relationship",
        "category",
        "Relationship to the household's reference person.",
        required=True,
        allowed=RELATIONSHIPS,
        open=True,
    ),
    InputField(
        "race",
        "category",
        "Race, as the census records it.",
        required=True,
        allowed=RACES,
    ),
    InputField("sex", "category", "Female or Male.", required=True, allowed=SEXES),
    InputField(
        "capital_gain", "int", "Capital gains, dollars.", required=True, minimum=0, maximum=99_999
    ),
    InputField(
        "capital_loss", "int", "Capital losses, dollars.", required=True, minimum=0, maximum=99_999
    ),
    InputField(
        "hours_per_week", "int", "Hours worked per week.", required=True, minimum=1, maximum=99
    ),
    InputField(
        "native_country",
        "category",
        "Country of birth; null when unknown.",
        allowed=COUNTRIES,
        open=True,
    ),
)
