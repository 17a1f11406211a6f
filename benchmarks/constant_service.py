"""A BentoML service that answers every prediction with a constant: the framework's own cost.

Same BentoML version, same request body and request model (bento.service.Passenger), same
response model and worker count as the survival service, so the difference between the two
in benchmarks/service.py is the project's own work per request (features, LightGBM, the
prediction log, metrics, middlewares).

It runs the framework as the service does: importing bento.service replaces BentoML's request
timeout (see RequestTimeout there), and the objects loaded at start are frozen out of the
garbage collector's sight, as the service freezes them. Without the freeze, full collections
over those objects stall this service for ~100 ms every few seconds (p99 ~10x its p50).
"""

import gc
import os

import bentoml

from bento.service import Passenger, Prediction

ANSWER = Prediction(
    id="0", survived=False, probability=0.1, threshold=0.5, model_version="constant", request_id="0"
)


@bentoml.service(workers=int(os.getenv("TITANIC_SERVING_WORKERS", "2")), traffic={"timeout": 30})
class ConstantAnswer:
    @bentoml.api
    async def predict(self, passenger: Passenger, /) -> Prediction:
        return ANSWER


gc.freeze()
