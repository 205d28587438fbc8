"""The one place errors become HTTP answers: one renderer per wire format
(native, V2, MLflow), chosen by the resource that took the request (its
`wire` attribute, read by `WireFormat`); errors raised before a resource
was chosen (keys, limits, no route) are the native shape.

A call refused before it reached the service (a body that does not parse)
is reported to the service here, so its observers hear of every refusal.
"""

import logging

import falcon
import orjson

log = logging.getLogger(__name__)

# The Open Inference Protocol answers a request that does not fit the model with 400.
V2_STATUS = {422: 400, 415: 400}
MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST",
                413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST", 422: "INVALID_PARAMETER_VALUE",
                503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def native(exc):
    return exc.status, exc.to_dict()


def v2(exc):
    return V2_STATUS.get(exc.status, exc.status), {"error": exc.description}


def mlflow(exc):
    body = {"error_code": MLFLOW_CODES.get(exc.status, "INTERNAL_ERROR"), "message": exc.description}
    body.update({k: v for k, v in exc.details.items() if k not in body})
    return exc.status, body


RENDERERS = {"native": native, "v2": v2, "mlflow": mlflow}


class WireFormat:
    """Falcon middleware (last in the list): notes the routed resource's wire
    format, which picks the error renderer."""

    def process_resource(self, req, resp, resource, params):
        req.context.wire = getattr(resource, "wire", "native")


class BridgeErrorRenderer:
    def __init__(self, service):
        self._service = service

    def __call__(self, req, resp, exc, params):
        if exc.status >= 500:
            log.error("%s %s: %s", req.method, req.path, exc.description)
        call = req.context.get("call")
        if call is not None and not call.observed:
            self._service.refused(call, exc)
        req.context.error = exc
        status, body = RENDERERS[req.context.get("wire", "native")](exc)
        resp.status = status
        resp.content_type = falcon.MEDIA_JSON
        resp.data = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
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
