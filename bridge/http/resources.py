"""HTTP resources: thin, they parse, delegate and render."""

import falcon
import orjson

from .. import payload
from ..render import prediction_csv
from .limits import admit_rows


class ModelsResource:
    def __init__(self, registry):
        self._registry = registry

    def on_get(self, req, resp):
        resp.data = orjson.dumps({"models": self._registry.listing()})


class ModelResource:
    def __init__(self, registry):
        self._registry = registry

    def on_get(self, req, resp, name):
        resp.data = orjson.dumps(self._registry.get(name).describe())


class PredictResource:
    def __init__(self, registry):
        self._registry = registry

    def on_post(self, req, resp, name):
        model = self._registry.get(name)
        table, args = payload.parse(req.bounded_stream.read(), req.content_type)
        admit_rows(req, table.nrows)
        if table.text and req.params:
            # A CSV body has no room for predict() arguments: they come in the query string.
            args = payload.query_args(req.params)
        prediction = model.predict_table(table, args)
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = prediction_csv(prediction)
            return
        body = {"model": name, "predictions": prediction.records()}
        if prediction.info:
            body["info"] = prediction.info
        if prediction.warnings:
            body["warnings"] = prediction.warnings
        resp.data = orjson.dumps(body)
