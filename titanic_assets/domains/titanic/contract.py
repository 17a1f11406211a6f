"""The passenger input contract: every raw field the model reads, its type and its limits.

The upper bounds come from who was aboard (1,309 passengers in the full passenger list):
- Age: the oldest passenger was 80; 100 leaves room for typing, not for nonsense.
- SibSp, Parch: the largest family (the Sages, 11 aboard) gives 8 siblings/spouses and
  9 parents/children; 10 is the cap.
- Fare: the dearest ticket was 512.33 pounds; 1,000 is the cap.
- Name, Cabin, Ticket: the longest name is 82 characters, the longest cabin list 15, the
  longest ticket 18.

Standard library only: the service imports it.
"""

from titanic_assets.core.contract import InputField

SEXES: tuple[str, ...] = ("male", "female")
PORTS: tuple[str, ...] = ("S", "C", "Q")

PCLASS = InputField("Pclass", "int", "Ticket class: 1, 2 or 3.", required=True, allowed=(1, 2, 3))
SEX = InputField("Sex", "category", "male or female.", required=True, allowed=SEXES)
AGE = InputField("Age", "float", "Years; null when unknown.", minimum=0, maximum=100)
SIBSP = InputField(
    "SibSp", "int", "Siblings and spouses aboard.", required=True, minimum=0, maximum=10
)
PARCH = InputField(
    "Parch", "int", "Parents and children aboard.", required=True, minimum=0, maximum=10
)
FARE = InputField("Fare", "float", "Ticket fare; null when unknown.", minimum=0, maximum=1000)
EMBARKED = InputField(
    "Embarked",
    "category",
    "Port: S(outhampton), C(herbourg), Q(ueenstown); null when unknown.",
    allowed=PORTS,
)
NAME = InputField("Name", "text", "'Surname, Title. Given names'; gives the title.", max_length=200)
CABIN = InputField("Cabin", "text", "Cabin(s); gives the deck.", max_length=100)
TICKET = InputField(
    "Ticket",
    "text",
    "Ticket number; with Name and Fare, finds the travelling group.",
    max_length=30,
)

PASSENGER_FIELDS: tuple[InputField, ...] = (
    PCLASS,
    SEX,
    AGE,
    SIBSP,
    PARCH,
    FARE,
    EMBARKED,
    NAME,
    CABIN,
    TICKET,
)
# The raw passenger fields the model reads, in the order the log and the reference keep them.
RAW_INPUTS: tuple[str, ...] = tuple(f.name for f in PASSENGER_FIELDS)
FIELDS_BY_NAME: dict[str, InputField] = {f.name: f for f in PASSENGER_FIELDS}
