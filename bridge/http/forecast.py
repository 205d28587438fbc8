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
VERSION_FORECAST_ROUTE = "/models/{name}/versions/{version}/forecast"


class ForecastResource:
    def __init__(self, service, route=FORECAST_ROUTE):
        self._service = service
        self._route = route

    def on_post(self, req, resp, name, version=None):
        context = call_context(req, "forecast", self._route, name)
        body = req.bounded_stream.read()
        format_of(req.content_type, body, accepted=("json",), form_json=(b"{",),
                  expected=f"application/json such as {EXPECTED}")
        doc = load_json(body, expected=EXPECTED)
        answer = self._service.forecast(name, doc, context, version=version)
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = answer.result.csv()
            return
        body = answer.result.body(answer.model)
        if answer.version is not None and isinstance(body, dict):
            body["version"] = answer.version
        resp.data = orjson.dumps(body)
