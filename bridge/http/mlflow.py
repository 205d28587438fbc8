"""MLflow's scoring server protocol, so that MLflow clients and SageMaker-style
callers work unchanged (`mlflow models serve` speaks the same):

    POST /invocations[?model=NAME[&version=V]]   predictions: {"predictions": [...]}
    GET  /ping, GET /health          200 once ready (SageMaker's health check)
    GET  /version                    the bridge's version, as text

A JSON body holds exactly one of MLflow's input fields, with predict()
arguments in "params":

    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{...}, ...]}
    {"instances": [{...}, ...]}      TF serving's rows (or {column: [values]})
    {"inputs": {column: [values]}}   TF serving's columns (or [{...}, ...])

or a text/csv body with a header row (arguments then in the query string).
The model is `?model=NAME`, or the one model served when there is only one.
Rows go through the same parsing, typing and predict() as
POST /models/{name}/predict; errors are MLflow's shape,
{"error_code": ..., "message": ...}, with the bridge's status codes.
"""

import logging

import falcon
import orjson

from .. import __version__
from ..formats.mlflow import parse
from ..errors import BadRequest, ModelNotFound
from .calls import call_context

log = logging.getLogger(__name__)

INVOCATIONS_ROUTE = "/invocations"


def add_routes(app, service, plumber_apis=None):
    """The MLflow routes, but those whose path a served plumber.R file uses:
    a Plumber API's own /health (a common route) stays the file's. Called
    after the Plumber files are mounted (their routes are known then); a
    route wins over the Plumber sink."""
    ping = PingResource(service)
    routes = {"/invocations": InvocationsResource(service), "/ping": ping, "/health": ping,
              "/version": VersionResource()}
    taken = {_first_segment(route) for _, _, route in getattr(plumber_apis, "routes", ())}
    for path, resource in routes.items():
        if _first_segment(path) in taken:
            log.info("%s is served by a plumber.R file, not as MLflow's", path)
        else:
            app.add_route(path, resource)


def _first_segment(path):
    return path.lstrip("/").split("/", 1)[0]


class InvocationsResource:
    wire = "mlflow"  # errors are MLflow's {"error_code", "message"} (bridge/http/errors.py)

    def __init__(self, service):
        self._service = service

    def on_post(self, req, resp):
        context = call_context(req, "mlflow", INVOCATIONS_ROUTE, req.get_param("model"))
        query = {k: v for k, v in req.params.items() if k not in ("model", "version")}
        table, args = parse(req.bounded_stream.read(), req.content_type, query)
        answer = self._service.predict(self._name(context.name), table, args, context,
                                       version=req.get_param("version"))
        resp.data = orjson.dumps({"predictions": answer.result.records()})

    def _name(self, name):
        """?model=NAME, or the one model served when there is only one."""
        if name is not None:
            return name
        names = self._service.names()
        if len(names) == 1:
            return names[0]
        if not names:
            raise ModelNotFound("no model is served; GET /models lists the model files")
        raise BadRequest(f"{len(names)} models are served: name one with ?model=NAME "
                         f"(one of {', '.join(names)})")


class PingResource:
    """200 with an empty body once this process should get traffic (as
    MLflow's /ping and SageMaker's health check expect), 503 before."""

    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        report = self._service.readiness()
        if report.serving:
            resp.text = "\n"
        else:
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "1")
            resp.text = f"{report.state}\n"


class VersionResource:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = __version__
