"""The BentoML service of a configured model (TITANIC_MODEL), one job per module:

service.py          the service class: endpoints and model polling (bento.service:ModelService)
schemas.py          request and response models, built from the domain (contract, words)
scoring.py          the model's answers without HTTP: request bodies as columns, a scored CSV
plumbing.py         HTTP around BentoML: request ids, error bodies, middlewares, OpenAPI document
logs.py             JSON log lines; a rejected request as one warning
metrics.py          the Prometheus metrics
request_timeout.py  BentoML's request timeout without its leak: the one use of its internals
"""
