"""The native resources: thin, they parse, call the service (bridge/service)
and render."""

import falcon
import orjson

from ..formats import csv_text, detect, native
from ..render import prediction_csv
from .calls import call_context

PREDICT_ROUTE = "/models/{name}/predict"


class ModelsResource:
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp):
        resp.data = orjson.dumps({"models": self._service.models()})


class ModelResource:
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name):
        resp.data = orjson.dumps(self._service.describe(name))


class PredictResource:
    def __init__(self, service):
        self._service = service

    def on_post(self, req, resp, name):
        body = req.bounded_stream.read()
        # Negotiated once: None (an unknown type) is refused by parse with a 415.
        fmt = detect(req.content_type, body)
        context = call_context(req, "csv" if fmt == "csv" else "json", PREDICT_ROUTE, name)
        table, args = native.parse(body, req.content_type, fmt)
        if table.text and req.params:
            # A CSV body has no room for predict() arguments: they come in the query string.
            args = csv_text.query_args(req.params)
        answer = self._service.predict(name, table, args, context)
        prediction = answer.result
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = prediction_csv(prediction)
            return
        body = {"model": answer.model, "predictions": prediction.records()}
        if prediction.info:
            body["info"] = prediction.info
        if prediction.warnings:
            body["warnings"] = prediction.warnings
        resp.data = orjson.dumps(body)
