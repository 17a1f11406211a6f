"""The input contract's building block: one raw field a model reads, its type and its limits.

A domain declares its inputs as a tuple of `InputField`s (e.g.
titanic_assets/domains/titanic/contract.py). Three places enforce them and all three are
built from that one table: the Pandera contracts of the pipeline's tables (ml/schemas.py),
the service's request models (bento/schemas.py) and the batch scoring rules
(core/batch_scoring.py). A limit changed in a domain changes all three.

Standard library only: the service imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def violation(self) -> str:
        """What a value breaking this field's rule is, in words (a batch reject's reason)."""
        if self.allowed is not None:
            *first, last = [str(v) for v in self.allowed]
            return f"{self.name} not {', '.join(first)} or {last}"
        if self.max_length is not None:
            return f"{self.name} longer than {self.max_length}"
        whole = "a whole number" if self.kind == "int" else "a number"
        return f"{self.name} not {whole} in {self.minimum:g}-{self.maximum:g}"
