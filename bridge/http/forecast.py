"""HTTP for forecasters: POST /models/{name}/forecast. Thin: it reads the
JSON body, calls the service's forecast (which checks it against the model,
bridge/forecast.py) and renders the answer as JSON or, with
`Accept: text/csv`, CSV."""

import falcon
import orjson

from ..formats import format_of
from ..formats.json_rows import load_json
from .calls import call_context

EXPECTED = '{"h": 12, "level": [80, 95]}'
FORECAST_ROUTE = "/models/{name}/forecast"


class ForecastResource:
    def __init__(self, service):
        self._service = service

    def on_post(self, req, resp, name):
        context = call_context(req, "forecast", FORECAST_ROUTE, name)
        body = req.bounded_stream.read()
        format_of(req.content_type, body, accepted=("json",), form_json=(b"{",),
                  expected=f"application/json such as {EXPECTED}")
        doc = load_json(body, expected=EXPECTED)
        answer = self._service.forecast(name, doc, context)
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = answer.result.csv()
            return
        resp.data = orjson.dumps(answer.result.body(answer.model))
