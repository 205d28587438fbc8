"""HTTP resources: thin, they parse, delegate and render."""

import orjson

from . import payload
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
        prediction = model.predict_table(table, args)
        body = {"model": name, "predictions": prediction.records()}
        if prediction.info:
            body["info"] = prediction.info
        if prediction.warnings:
            body["warnings"] = prediction.warnings
        resp.data = orjson.dumps(body)
