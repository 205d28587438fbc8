"""The Falcon app: routes wired to resources, and the one place errors are rendered."""

import logging

import falcon
import orjson

from . import mlflow, openapi, plumber, v2
from .auth import ApiKeyAuth
from .cors import Cors
from ..errors import BridgeError
from .forecast import ForecastResource
from .health import Liveness, Readiness, ReadinessResource
from .limits import BodyLimits
from .logs import RequestLog
from ..metrics import MetricsResource, RequestMetrics
from .resources import ModelResource, ModelsResource, PredictResource
from ..settings import Settings

log = logging.getLogger(__name__)


def create_app(registry, settings=None, readiness=None, plumber_apis=None):
    """The app over a registry. `readiness` is flipped by the process owner
    (bridge/http/health.py); without one, the app is ready at once (its caller
    scanned the registry already)."""
    settings = settings or Settings()
    readiness = readiness or Readiness(ready=True)
    auth = ApiKeyAuth.from_settings(settings)
    app = falcon.App(media_type=falcon.MEDIA_JSON, middleware=[m for m in [
        # Order matters: log and count everything, answer CORS preflights
        # (which carry no key), then refuse what is not allowed, before any
        # resource reads the body.
        RequestLog(),
        RequestMetrics(registry),
        Cors.from_settings(settings),  # None unless --cors-origins
        auth,
        BodyLimits.from_settings(settings),
    ] if m is not None])
    app.add_route("/healthz", Liveness())
    app.add_route("/readyz", ReadinessResource(readiness, registry))
    app.add_route("/metrics", MetricsResource())
    app.add_route("/models", ModelsResource(registry))
    app.add_route("/models/{name}", ModelResource(registry))
    app.add_route("/models/{name}/predict", PredictResource(registry))
    app.add_route("/models/{name}/forecast", ForecastResource(registry, settings.max_horizon))
    openapi.add_routes(app, registry, auth)
    v2.add_routes(app, registry, readiness)
    plumber.mount(app, plumber_apis)  # Plumber files get only the paths left over,
    # but MLflow's (/health, /ping, ...): those a file does not serve itself.
    mlflow.add_routes(app, registry, readiness, plumber_apis)
    app.add_error_handler(BridgeError, render_bridge_error)
    app.add_error_handler(falcon.HTTPError, render_http_error)
    app.add_error_handler(Exception, render_unexpected)
    return app


def render_bridge_error(req, resp, exc, params):
    if exc.status >= 500:
        log.error("%s %s: %s", req.method, req.path, exc.description)
    req.context.error = exc  # for the metrics middleware (R errors)
    resp.status = exc.status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = orjson.dumps(exc.to_dict(), option=orjson.OPT_NON_STR_KEYS)
    for name, value in getattr(exc, "headers", {}).items():
        resp.set_header(name, value)


def render_http_error(req, resp, exc, params):
    resp.status = exc.status
    resp.content_type = falcon.MEDIA_JSON
    description = exc.description
    if description is None and exc.status == falcon.HTTP_404:
        description = f"no route for {req.method} {req.path}; GET /models lists the models"
    resp.data = orjson.dumps({"title": exc.title, "description": description or exc.title})
    for name, value in (exc.headers or {}).items():
        resp.set_header(name, value)


def render_unexpected(req, resp, exc, params):
    # A bug of ours: log it whole, tell the caller nothing about internals.
    log.exception("unhandled error on %s %s", req.method, req.path)
    resp.status = falcon.HTTP_500
    resp.content_type = falcon.MEDIA_JSON
    resp.data = orjson.dumps({"title": "Internal error",
                              "description": "an unexpected error occurred; see the server log"})
