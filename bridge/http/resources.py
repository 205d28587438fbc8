"""The native resources: thin, they parse, call the service (bridge/service)
and render."""

import falcon
import orjson

from ..errors import BadRequest
from ..formats import csv_text, detect, native
from ..render import prediction_csv
from .calls import call_context

PREDICT_ROUTE = "/models/{name}/predict"
VERSION_PREDICT_ROUTE = "/models/{name}/versions/{version}/predict"


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


class VersionsResource:
    """GET /models/{name}/versions: every version, the aliases, the split, the shadow."""

    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name):
        resp.data = orjson.dumps(self._service.version_listing(name))


class ShadowResource:
    """GET /models/{name}/shadow: the routed answers compared with the shadow version's."""

    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name):
        resp.data = orjson.dumps(self._service.shadow_report(name))


class PredictResource:
    def __init__(self, service, route=PREDICT_ROUTE):
        self._service = service
        self._route = route

    def on_post(self, req, resp, name, version=None):
        body = req.bounded_stream.read()
        # Negotiated once: None (an unknown type) is refused by parse with a 415.
        fmt = detect(req.content_type, body)
        context = call_context(req, "csv" if fmt == "csv" else "json", self._route, name)
        table, args = native.parse(body, req.content_type, fmt)
        if req.params:
            # predict() arguments from the query string, for any body (a CSV body has
            # no room for them); checked like the body's own `args` by the service.
            args = merged_args(args, csv_text.query_args(req.params))
        answer = self._service.predict(name, table, args, context, version=version)
        prediction = answer.result
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = prediction_csv(prediction)
            return
        body = {"model": answer.model, "predictions": prediction.json_records()}
        if answer.version is not None:
            body["version"] = answer.version
        if prediction.info:
            body["info"] = prediction.info
        if prediction.warnings:
            body["warnings"] = prediction.warnings
        resp.data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def merged_args(body_args, query_args):
    """The body's `args` and the query string's, as one set; a name given in
    both is a 400 (neither silently wins)."""
    both = sorted(set(body_args) & set(query_args))
    if both:
        raise BadRequest(f"predict() argument{'s' if len(both) > 1 else ''} "
                         f"{', '.join(repr(n) for n in both)} given both in the query string and in "
                         "the body's args: give each in one place")
    return {**body_args, **query_args}
