"""The service users would otherwise write, for benchmarks/service.py to compare against.

A Flask app that loads the same pickled model (core/models.py: the domain's design and the
booster, uncalibrated) and scores one pandas DataFrame per request, no input validation, no
logging. Request and answer fields are the service's of the model TITANIC_MODEL names
(default titanic; the domain's words). Served by gunicorn:
    TITANIC_MODEL=titanic TITANIC_PIPELINE=model/pipeline.pkl TITANIC_THRESHOLD=0.5 \
        gunicorn -w 2 -b 127.0.0.1:3002 benchmarks.flask_baseline:app
"""

import os
import pickle

import pandas as pd
from flask import Flask, jsonify, request

from titanic_assets.core.domain import load_domain

# The batch body's key, the decision's field.
WORDS = load_domain(os.environ.get("TITANIC_MODEL", "titanic")).words
with open(os.environ["TITANIC_PIPELINE"], "rb") as handle:
    pipeline = pickle.load(handle)
threshold = float(os.environ["TITANIC_THRESHOLD"])
app = Flask(__name__)


@app.get("/health")
def health():
    return "ok"


@app.post("/predict")
def predict():
    probability = float(pipeline.predict_proba(pd.DataFrame([request.get_json()]))[0])
    return jsonify({WORDS.decision: probability >= threshold, "probability": probability})


@app.post("/predict_batch")
def predict_batch():
    rows = pd.DataFrame(request.get_json()[WORDS.rows])
    probabilities = pipeline.predict_proba(rows)
    return jsonify(
        predictions=[
            {WORDS.decision: bool(p >= threshold), "probability": float(p)} for p in probabilities
        ]
    )
