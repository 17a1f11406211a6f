"""The service users would otherwise write, for benchmarks/service.py to compare against.

A Flask app that loads the same pipeline and scores one pandas DataFrame per request, no
input validation, no logging. Served by gunicorn:
    TITANIC_PIPELINE=model/pipeline.pkl TITANIC_THRESHOLD=0.5 \
        gunicorn -w 2 -b 127.0.0.1:3002 benchmarks.flask_baseline:app
"""

import os
import pickle

import pandas as pd
from flask import Flask, jsonify, request

with open(os.environ["TITANIC_PIPELINE"], "rb") as handle:
    pipeline = pickle.load(handle)
threshold = float(os.environ["TITANIC_THRESHOLD"])
app = Flask(__name__)


@app.get("/health")
def health():
    return "ok"


@app.post("/predict")
def predict():
    probability = float(pipeline.predict_proba(pd.DataFrame([request.get_json()]))[0, 1])
    return jsonify(survived=probability >= threshold, probability=probability)


@app.post("/predict_batch")
def predict_batch():
    passengers = pd.DataFrame(request.get_json()["passengers"])
    probabilities = pipeline.predict_proba(passengers)[:, 1]
    return jsonify(
        predictions=[
            {"survived": bool(p >= threshold), "probability": float(p)} for p in probabilities
        ]
    )
