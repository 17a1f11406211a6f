"""BentoML services that answer every prediction with a constant: the framework's own cost.

Same BentoML version, same request body and request model (bento.schemas.Passenger), same
response model and worker count as the survival service, so the difference between them
in benchmarks/service.py is the project's own work per request:

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
from bento.schemas import Passenger, Prediction
from bento.service import TitanicSurvival

ANSWER = Prediction(
    id="0", survived=False, probability=0.1, threshold=0.5, model_version="constant", request_id="0"
)


@bentoml.service(
    workers=TitanicSurvival.config["workers"],
    traffic=copy.deepcopy(TitanicSurvival.config["traffic"]),
)
class ConstantAnswer:
    @bentoml.api
    async def predict(self, passenger: Passenger, /) -> Prediction:
        return ANSWER


mounted_app = FastAPI()


# The service's own configuration and middlewares, read from it: the twin cannot drift.
@bentoml.asgi_app(mounted_app, path="/")
@bentoml.service(**copy.deepcopy(TitanicSurvival.config))
class ConstantAnswerAsServed:
    @bentoml.api
    async def predict(self, passenger: Passenger, /, ctx: bentoml.Context) -> Prediction:
        request_id(ctx)
        return ANSWER


for middleware, options in TitanicSurvival.middlewares:
    ConstantAnswerAsServed.add_asgi_middleware(middleware, **options)

gc.freeze()
