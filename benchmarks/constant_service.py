"""BentoML services that answer every prediction with a constant: the framework's own cost.

Same BentoML version, same request body and request model (the served domain's row model,
bento.service.Row), same response model and worker count as the model service, so the
difference between them in benchmarks/service.py is the project's own work per request:

- ConstantAnswer: the framework alone.
- ConstantAnswerAsServed: plus everything of the service but the prediction: its three
  ASGI middlewares, its mounted FastAPI app, the request context and the X-Request-ID check.
  What it loses against ConstantAnswer is the service's plumbing; what the service loses
  against it is scoring (features, LightGBM, calibration), the prediction log and metrics.

Both run the framework as the service does: importing bento.service replaces BentoML's
request timeout (bento/request_timeout.py), and the objects loaded at start are frozen out of
the garbage collector's sight, as the service freezes them. Without the freeze, full
collections over those objects stall a worker for ~100 ms every few seconds (p99 ~10x p50).
"""

import copy
import gc

import bentoml
from fastapi import FastAPI

from bento.plumbing import request_id
from bento.service import DECISION, ModelService, Prediction, Row

ANSWER = Prediction(
    id="0", **{DECISION: False}, probability=0.1, threshold=0.5, model_version="constant",
    request_id="0",
)  # fmt: skip


@bentoml.service(
    workers=ModelService.config["workers"],
    traffic=copy.deepcopy(ModelService.config["traffic"]),
)
class ConstantAnswer:
    @bentoml.api
    async def predict(self, row: Row, /) -> Prediction:
        return ANSWER


mounted_app = FastAPI()


# The service's own configuration and middlewares, read from it: the twin cannot drift.
@bentoml.asgi_app(mounted_app, path="/")
@bentoml.service(**copy.deepcopy(ModelService.config))
class ConstantAnswerAsServed:
    @bentoml.api
    async def predict(self, row: Row, /, ctx: bentoml.Context) -> Prediction:
        request_id(ctx)
        return ANSWER


for middleware, options in ModelService.middlewares:
    ConstantAnswerAsServed.add_asgi_middleware(middleware, **options)

gc.freeze()
