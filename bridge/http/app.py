"""The Falcon app: routes wired to resources over one service
(bridge/service), and the one place errors are rendered (bridge/http/errors.py)."""

import falcon

from .. import metrics
from ..errors import BridgeError
from ..service import Service
from ..settings import Settings
from . import mlflow, monitor, openapi, plumber, v2
from .auth import ApiKeyAuth
from .cors import Cors
from .errors import BridgeErrorRenderer, WireFormat, render_http_error, render_unexpected
from .forecast import ForecastResource
from .health import Liveness, Readiness, ReadinessResource
from .limits import BodyLimits
from .logs import RequestLog
from .request_metrics import MetricsResource, RequestMetrics
from .calls import ModelVersionHeader
from .forecast import VERSION_FORECAST_ROUTE
from .resources import (VERSION_PREDICT_ROUTE, ModelResource, ModelsResource, PredictResource,
                        ShadowResource, VersionsResource)


def create_app(registry, settings=None, readiness=None, plumber_apis=None, service=None):
    """The app over a registry (or a ready-made `service`). `readiness` is
    flipped by the process owner (bridge/service/readiness.py); without one,
    the app is ready at once (its caller scanned the registry already)."""
    settings = settings or Settings()
    readiness = readiness or Readiness(ready=True)
    service = service or Service.from_settings(registry, settings, readiness)
    metrics.track_queue_depth(service.queue_depth)
    auth = ApiKeyAuth.from_settings(settings)
    app = falcon.App(media_type=falcon.MEDIA_JSON, middleware=[m for m in [
        # Order matters: log and count everything, answer CORS preflights
        # (which carry no key), then refuse what is not allowed, before any
        # resource reads the body. WireFormat last: an error raised before
        # it is the native shape.
        RequestLog(),
        RequestMetrics(service),
        Cors.from_settings(settings),  # None unless --cors-origins
        auth,
        BodyLimits.from_settings(settings),
        WireFormat(),
        ModelVersionHeader(),
    ] if m is not None])
    app.add_route("/healthz", Liveness())
    app.add_route("/readyz", ReadinessResource(service))
    app.add_route("/metrics", MetricsResource())
    app.add_route("/models", ModelsResource(service))
    app.add_route("/models/{name}", ModelResource(service))
    app.add_route("/models/{name}/predict", PredictResource(service))
    app.add_route("/models/{name}/forecast", ForecastResource(service))
    app.add_route("/models/{name}/versions", VersionsResource(service))
    app.add_route(VERSION_PREDICT_ROUTE, PredictResource(service, VERSION_PREDICT_ROUTE))
    app.add_route(VERSION_FORECAST_ROUTE, ForecastResource(service, VERSION_FORECAST_ROUTE))
    app.add_route("/models/{name}/shadow", ShadowResource(service))
    monitor.add_routes(app, service)
    openapi.add_routes(app, service, auth)
    v2.add_routes(app, service)
    plumber.mount(app, plumber_apis)  # Plumber files get only the paths left over,
    # but MLflow's (/health, /ping, ...): those a file does not serve itself.
    mlflow.add_routes(app, service, plumber_apis)
    app.add_error_handler(BridgeError, BridgeErrorRenderer(service))
    app.add_error_handler(falcon.HTTPError, render_http_error)
    app.add_error_handler(Exception, render_unexpected)
    return app
