"""The service's Context for one HTTP request: made once per call by the
resource, kept in req.context.call (the error renderer, the access log and
the metrics middleware read it)."""

import time

from ..service import Context

TRACEPARENT = "traceparent"
ROUTING_KEY = "X-Routing-Key"      # sticks a caller to one side of a traffic split
MODEL_VERSION = "X-Model-Version"  # which version answered, on every protocol
MAX_ROUTING_KEY = 256


def call_context(req, protocol, route, name=None):
    key = req.get_header(ROUTING_KEY)
    context = Context(protocol, route, request_id=req.context.get("request_id"),
                      traceparent=req.get_header(TRACEPARENT),
                      started=req.context.get("log_started") or time.perf_counter(),
                      name=name, routing_key=key[:MAX_ROUTING_KEY] if key else None)
    req.context.call = context
    return context


class ModelVersionHeader:
    """Middleware: X-Model-Version on every answer whose call resolved to a
    model version (native, CSV, V2, MLflow, forecast alike)."""

    def process_response(self, req, resp, resource, req_succeeded):
        context = req.context.get("call")
        if context is not None and context.version is not None:
            resp.set_header(MODEL_VERSION, str(context.version))
