"""The service's Context for one HTTP request: made once per call by the
resource, kept in req.context.call (the error renderer, the access log and
the metrics middleware read it)."""

import time

from ..service import Context

TRACEPARENT = "traceparent"


def call_context(req, protocol, route, name=None):
    context = Context(protocol, route, request_id=req.context.get("request_id"),
                      traceparent=req.get_header(TRACEPARENT),
                      started=req.context.get("log_started") or time.perf_counter(),
                      name=name)
    req.context.call = context
    return context
