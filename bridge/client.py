"""A Python client for a running bridge: pandas in, pandas out.

    from bridge.client import Client

    bridge = Client("http://127.0.0.1:8080", api_key=None)
    bridge.models()                      # what is served
    bridge.schema("mtcars_lm")           # the columns it needs
    bridge.predict("mtcars_lm", df)      # a Series (or a DataFrame), indexed like df
    bridge.predict("iris_rf", df, type="prob")   # predict() arguments as keywords
    bridge.forecast("sales_arima", h=12, level=[80, 95], xreg=future)   # a forecaster

Errors raise a BridgeClientError subclass chosen by the HTTP status, carrying
the server's title and description (which say what to fix). Importing this
module needs neither R nor rpy2.
"""

import datetime as dt
import decimal
import math

import orjson
import requests

from .formats.shapes import columns_of


class BridgeClientError(Exception):
    """The bridge answered with an error (or could not be reached: status None)."""

    status = None

    def __init__(self, description, title="", status=None, body=None):
        super().__init__(f"{title}: {description}" if title else description)
        self.title = title
        self.description = description
        if status is not None:
            self.status = status
        self.body = body or {}


class BridgeConnectionError(BridgeClientError):
    pass


class BadRequestError(BridgeClientError):
    status = 400


class AuthenticationError(BridgeClientError):
    status = 401


class ModelNotFoundError(BridgeClientError):
    status = 404


class UnsupportedMediaTypeError(BridgeClientError):
    status = 415


class InvalidInputError(BridgeClientError):
    """The rows do not fit the model: a missing column, an unknown level, a bad value."""

    status = 422


class ServerError(BridgeClientError):
    """predict() failed in R, the model is not loaded, or the server failed."""

    status = 500


ERRORS = {400: BadRequestError, 401: AuthenticationError, 403: AuthenticationError,
          404: ModelNotFoundError, 415: UnsupportedMediaTypeError, 422: InvalidInputError}


def error_for(response):
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = body.get("title") or response.reason or ""
    description = body.get("description") or body.get("error") or response.text[:500]
    status = response.status_code
    cls = ERRORS.get(status) or (ServerError if status >= 500 else BridgeClientError)
    return cls(description, title=title, status=status, body=body)


class Client:
    def __init__(self, url, api_key=None, timeout=300, session=None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    # ---- what is served ------------------------------------------------------------

    def models(self):
        """One dict per served model (name, file, class, status)."""
        return self._request("GET", "/models")["models"]

    def describe(self, name):
        """Everything the bridge knows of a model: class, packages, inputs, file."""
        return self._request("GET", f"/models/{_quote(name)}")

    def schema(self, name):
        """The model's input columns: [{"name", "type", "levels"?, ...}]."""
        return self.describe(name)["inputs"]["columns"]

    # ---- predicting ----------------------------------------------------------------

    def versions(self, name):
        """A folder of versions' versions, aliases, split and shadow (docs/versions.md)."""
        return self._request("GET", f"/models/{_quote(name)}/versions")

    def predict(self, name, data, *, version=None, **args):
        """R's predictions for the rows of `data` (a DataFrame, a list of row
        dicts or a dict of columns). Keyword arguments go to R's predict();
        `version` (a version or an alias) pins one version of a versioned
        model (docs/versions.md), else the server routes.

        Returns a pandas Series when predict() gives one value per row, a
        DataFrame when it gives several (class probabilities, intervals); both
        keep a DataFrame's index.
        """
        import pandas as pd

        index = data.index if isinstance(data, pd.DataFrame) else None
        predictions = self.predict_raw(name, {"data": columns_of(data), "args": args},
                                       version=version)
        return to_pandas(predictions, index)

    def predict_raw(self, name, body, content_type="application/json", args=None, version=None):
        """The server's JSON "predictions" list. `body` is a JSON-able request
        (rows, {"data", "args"}, MLflow shapes) or bytes sent as they are
        (CSV, read by R's text rules; `args` then go in the query string)."""
        params = {}
        if isinstance(body, bytes):
            params = {k: _query_value(v) for k, v in (args or {}).items()}
        else:
            body = orjson.dumps(body, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
        result = self._request("POST", _model_path(name, version, "predict"), data=body,
                               params=params, headers={"Content-Type": content_type,
                                                       "Accept": "application/json"})
        return result["predictions"]

    def predict_csv(self, name, csv_bytes, *, version=None, **args):
        """CSV rows in, CSV predictions out (bytes), as `curl --data-binary`
        does: R's text rules for each column, arguments in the query string."""
        response = self._send("POST", _model_path(name, version, "predict"), data=csv_bytes,
                              params={k: _query_value(v) for k, v in args.items()},
                              headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        return response.content

    # ---- forecasting ---------------------------------------------------------------

    def forecast(self, name, h=None, level=None, xreg=None, seed=None, y=None, start=None,
                 frequency=None, *, version=None, **args):
        """R's forecast of a forecaster as a DataFrame: one row per step with
        step, time, mean and lower_<L>/upper_<L> for each level.

        `xreg`: the regressors' future values (a DataFrame, row dicts or a
        dict of columns), one row per step. `y`/`start`/`frequency`: apply
        the fitted model to another series. Keyword arguments go to R's
        forecast(). A simulated forecast's seed is in `df.attrs["seed"]`.
        """
        import pandas as pd

        body = {"h": h, "level": level, "seed": seed, "args": args or None,
                "xreg": None if xreg is None else columns_of(xreg),
                "y": None if y is None else list(y), "start": start, "frequency": frequency}
        body = {k: v for k, v in body.items() if v is not None}
        data = orjson.dumps(body, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
        result = self._request("POST", _model_path(name, version, "forecast"), data=data,
                               headers={"Content-Type": "application/json",
                                        "Accept": "application/json"})
        frame = pd.DataFrame.from_records(result["forecast"])
        if "seed" in result:
            frame.attrs["seed"] = result["seed"]
        if result.get("warnings"):
            frame.attrs["warnings"] = result["warnings"]
        return frame

    # ---- plumbing ------------------------------------------------------------------

    def _send(self, method, path, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise BridgeConnectionError(f"cannot reach the bridge at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise error_for(response)
        return response

    def _request(self, method, path, **kwargs):
        return self._send(method, path, **kwargs).json()


def to_pandas(predictions, index=None):
    import pandas as pd

    if index is not None and len(index) != len(predictions):
        index = None
    if predictions and all(isinstance(p, dict) for p in predictions):
        return pd.DataFrame.from_records(predictions, index=index)
    return pd.Series(predictions, index=index, name="prediction", dtype=_dtype(predictions))


def _dtype(values):
    types = {type(v) for v in values if v is not None}
    if types and types <= {int, float}:
        return "float64" if None in values or float in types else "int64"
    return None if types else "float64"


def _json_default(value):
    if isinstance(value, dt.datetime):  # pandas Timestamp included
        if value.tzinfo is None and value.time() == dt.time():
            # pandas reads dates as midnight timestamps: a date serves a Date input,
            # and a POSIXct input reads it as that midnight.
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars orjson does not know
        return value.item()
    raise TypeError(f"cannot send a value of type {type(value).__name__} as JSON")


def _query_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("NaN is not a predict() argument")
    return orjson.dumps(value).decode()


def _model_path(name, version, verb):
    if version is None:
        return f"/models/{_quote(name)}/{verb}"
    return f"/models/{_quote(name)}/versions/{_quote(str(version))}/{verb}"


def _quote(name):
    return requests.utils.quote(name, safe="")
