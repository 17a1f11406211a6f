"""The models a worker holds, each swapped whole when the store names another one.

A slot holds what one store name points to: the serving model (`titanic_survival:latest`) or
the challenger (the candidate the latest challenger record names; core/registry.py). The
worker's watcher refreshes both every TITANIC_MODEL_POLL_SECONDS. A swap is one reference
assignment, so a request reads the old model or the new one, whole. A tag that fails to
load (a half-written or corrupt store entry) is reported once and not tried again; the model
in use keeps its place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Gauge

from titanic_assets.core import registry

logger = logging.getLogger("bentoml.service.titanic")


class ModelSlot:
    """One model the service holds, by what `wanted()` names (a full tag or None).

    None from `wanted()` means nothing to hold: the serving slot keeps its model (nothing
    was promoted yet, or the store entry went away), the challenger slot empties
    (`release_when_unnamed`): the challenger was promoted or retired.
    """

    def __init__(
        self,
        role: str,
        wanted: Callable[[], str | None],
        gauge: Gauge,
        release_when_unnamed: bool = False,
    ) -> None:
        self.role = role
        self.model: registry.RegisteredModel | None = None
        self._wanted = wanted
        self._gauge = gauge
        self._release = release_when_unnamed
        self._unloadable: set[str] = set()

    def refresh(self) -> bool:
        """Swap in the model the store names now, if it differs; True when swapped."""
        current, tag = self.model, None
        try:
            tag = self._wanted()
            if tag is None:
                if current is None or not self._release:
                    return False
                loaded = None
            elif tag in self._unloadable or (current is not None and current.tag == tag):
                return False
            else:
                loaded = registry.load(tag)
        except Exception:
            if tag is not None:
                self._unloadable.add(tag)
            logger.exception("Could not load %s (%s); keeping the current one", tag, self.role)
            return False
        self.model = loaded
        if current is not None:
            self._gauge.labels(version=current.version).set(0)
        if loaded is not None:
            self._gauge.labels(version=loaded.version).set(1)
        logger.info("%s: %s", self.role.capitalize(), loaded.tag if loaded else "none")
        return True
