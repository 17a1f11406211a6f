"""The models a worker holds, each swapped whole when the store names another one.

A slot holds what one store name points to: the serving model (`<serving>:latest` of the
served model's `ModelStore`) or the challenger (the candidate its latest challenger record
names; core/registry.py). The worker's watcher refreshes both every
TITANIC_MODEL_POLL_SECONDS. A swap is one reference assignment, so a request reads the old
model or the new one, whole. A tag that fails to load (a corrupt store entry, or one still
being copied in) keeps the model in use in its place, is reported once, and is tried again
only when its files change (the copy went on): a worker that polled mid-copy must not give
up on the model it was about to serve. A worker that starts while the newest serving entry
is unloadable (a restart after a bad promotion) serves the newest earlier one that loads,
not nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Gauge

from bento.metrics import SERVING_VERSION, SHADOWING_VERSION
from titanic_assets.core import registry

logger = logging.getLogger("bentoml.service.model")


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
        earlier: Callable[[], list[str]] | None = None,
    ) -> None:
        self.role = role
        self.model: registry.RegisteredModel | None = None
        self._wanted = wanted
        self._gauge = gauge
        self._release = release_when_unnamed
        self._earlier = earlier  # tags to fall back on, newest first, when holding nothing
        self._unloadable: dict[str, tuple] = {}  # failed tag -> its entry's files then

    def refresh(self) -> bool:
        """Swap in the model the store names now, if it differs; True when swapped."""
        current, tag = self.model, None
        try:
            tag = self._wanted()
            if tag is None:
                if current is None or not self._release:
                    return False
                loaded = None
            elif self._failed_as_is(tag) or (current is not None and current.tag == tag):
                return False
            else:
                loaded = registry.load(tag)
        except Exception:
            if tag is not None:
                self._failed(tag)
            logger.exception("Could not load %s (%s); keeping the current one", tag, self.role)
            if current is not None or self._earlier is None:
                return False
            loaded = self._first_loadable()
            if loaded is None:
                return False
        self.model = loaded
        if current is not None:
            self._gauge.labels(version=current.version).set(0)
        if loaded is not None:
            self._gauge.labels(version=loaded.version).set(1)
        logger.info("%s: %s", self.role.capitalize(), loaded.tag if loaded else "none")
        return True

    def _first_loadable(self) -> registry.RegisteredModel | None:
        """The newest earlier model that loads, for a slot that holds nothing yet."""
        try:
            tags = self._earlier() if self._earlier else []
        except Exception:
            return None
        for tag in tags:
            if self._failed_as_is(tag):
                continue
            try:
                return registry.load(tag)
            except Exception:
                self._failed(tag)
                logger.exception("Could not load %s (%s) either", tag, self.role)
        return None

    def _failed(self, tag: str) -> None:
        self._unloadable[tag] = registry.entry_state(tag)

    def _failed_as_is(self, tag: str) -> bool:
        """The tag failed to load and its entry has not changed since."""
        return tag in self._unloadable and self._unloadable[tag] == registry.entry_state(tag)


def serving_slot(store: registry.ModelStore) -> ModelSlot:
    """What `<serving>:latest` names, or the newest earlier one that loads."""
    return ModelSlot(
        "serving model", store.promoted_tag, SERVING_VERSION, earlier=store.serving_history
    )


def challenger_slot(store: registry.ModelStore) -> ModelSlot:
    """The candidate the latest challenger record names while it shadows; else nothing."""
    return ModelSlot(
        "challenger", store.shadowing_tag, SHADOWING_VERSION, release_when_unnamed=True
    )
