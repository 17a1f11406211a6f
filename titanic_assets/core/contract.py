"""The input contract's building block: one raw field a model reads, its type and its limits.

A domain declares its inputs as a tuple of `InputField`s (e.g.
titanic_assets/domains/titanic/contract.py). Three places enforce them and all three are
built from that one table: the Pandera contracts of the pipeline's tables (ml/schemas.py),
the service's request models (bento/schemas.py) and the batch scoring rules
(core/batch_scoring.py). A limit changed in a domain changes all three.

A category is closed (a value outside `allowed` is refused) unless declared `open`: then
`allowed` lists the categories the model knows, and another value is valid, scored as a
category the model has never seen (a design reads it as unknown) and counted by drift
monitoring as a category its reference never had. Open suits categories the world adds to
(a new loan product, a country a survey never recorded), closed ones that cannot change (a
ticket class).

Standard library only: the service imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_MAX_LENGTH = 100  # an open category's longest value, unless its field says


@dataclass(frozen=True)
class InputField:
    """One raw input as a client or a landing file sends it."""

    name: str
    kind: str  # "int", "float", "category" or "text"
    description: str
    required: bool = False  # must be present (and not missing) in every row
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | tuple[int, ...] | None = None
    max_length: int | None = None
    # A category whose values outside `allowed` are valid: scored as unseen (module docstring).
    open: bool = False

    @property
    def longest(self) -> int | None:
        """The longest value an open category takes (its max_length, else OPEN_MAX_LENGTH):
        an unseen category is text a client chose, logged with every prediction."""
        if not self.open:
            return self.max_length
        return self.max_length or OPEN_MAX_LENGTH

    @property
    def violation(self) -> str:
        """What a value breaking this field's rule is, in words (a batch reject's reason)."""
        if self.open:
            return f"{self.name} longer than {self.longest}"
        if self.allowed is not None:
            *first, last = [str(v) for v in self.allowed]
            return f"{self.name} not {', '.join(first)} or {last}"
        if self.max_length is not None:
            return f"{self.name} longer than {self.max_length}"
        whole = "a whole number" if self.kind == "int" else "a number"
        return f"{self.name} not {whole} in {self.minimum:g}-{self.maximum:g}"
