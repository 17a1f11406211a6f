"""Which model this service process serves, decided once when a worker imports the service.

The setting `model` (TITANIC_MODEL, core/settings.py; `make serve MODEL=...`) names a
configured model (core/instances.py): its instance gives the store names and the prediction
log's folder, its domain (core/domain.py) the input contract and the words the request and
response models are built from (bento/schemas.py). A wrong setting or an unknown model stops
the worker, naming it.
"""

from __future__ import annotations

import re
from typing import Any

from bento import schemas
from titanic_assets.core.domain import load_domain
from titanic_assets.core.instances import read_instance
from titanic_assets.core.registry import ModelStore
from titanic_assets.core.settings import load_settings

SETTINGS = load_settings()
INSTANCE = read_instance(SETTINGS.model)
DOMAIN = load_domain(INSTANCE.domain)
STORE = ModelStore(INSTANCE.serving_model_name)
API = schemas.build(DOMAIN)


def service_name(model: str, predicts: str) -> str:
    """BentoML's name of the service (the OpenAPI title and operation ids, log lines, a
    deployment's `services` key): the model's name and what it predicts, in CamelCase
    (`titanic`, `survival`: TitanicSurvival)."""
    words = re.split(r"[^A-Za-z0-9]+", f"{model} {predicts}")
    return "".join(w[:1].upper() + w[1:] for w in words)


def documented(text: str) -> Any:
    """Give a function or class the docstring `text` (made from the domain's words): what
    BentoML shows as an endpoint's description."""

    def document(function: Any) -> Any:
        function.__doc__ = text
        return function

    return document


NAME = service_name(INSTANCE.name, DOMAIN.words.probability)
LOG = INSTANCE.log_location(SETTINGS.prediction_log)  # its prediction log's folder
