"""HTTP for forecasters: POST /models/{name}/forecast. Thin: it parses the
body (bridge/forecast.py), runs the model's forecast and renders the answer
as JSON or, with `Accept: text/csv`, CSV."""

import falcon
import orjson

from .. import payload
from ..errors import InputError, UnsupportedMediaType
from ..forecast import MAX_HORIZON, parse_request
from .limits import admit_rows

EXPECTED = '{"h": 12, "level": [80, 95]}'


class ForecastResource:
    def __init__(self, registry, max_horizon=MAX_HORIZON):
        self._registry = registry
        self._max_horizon = max_horizon

    def on_post(self, req, resp, name):
        model = self._registry.get(name)
        if model.kind != "forecaster":
            raise InputError(f"{name!r} is not a forecaster (R class {', '.join(model.r_class)}): "
                             f"POST /models/{name}/predict with rows", kind=model.kind)
        media = (req.content_type or "application/json").split(";")[0].strip().lower()
        body = req.bounded_stream.read()
        if not (media == "application/json" or media.endswith("+json") or
                (media == "application/x-www-form-urlencoded" and body.lstrip()[:1] == b"{")):
            raise UnsupportedMediaType(f"content type {media!r} is not accepted; send "
                                       f"application/json such as {EXPECTED}", content_type=media)
        doc = payload.load_json(body, expected=EXPECTED)
        request = parse_request(doc, model.forecaster, model.schema, self._max_horizon)
        admit_rows(req, request.nrows)
        forecast = model.forecast_request(request)
        if req.client_prefers(("application/json", "text/csv")) == "text/csv":
            resp.content_type = falcon.MEDIA_CSV
            resp.data = forecast.csv()
            return
        resp.data = orjson.dumps(forecast.body(name))
