"""The OpenAPI 3.1 document of the served models, and the Swagger UI page.

The document is built from the registry: one predict operation per model,
whose request schema lists the model's columns (JSON types, factor levels as
`enum`, date formats, null for NA), with an example request made from the
schema and the answer R gave to it, and the arguments a caller may pass to
its predict() method (the model's allow-list, bridge/args.py: typed by the
method's defaults, choices as `enum`). It is rebuilt when the registry's
generation changes (a model file added, changed or removed).

With API keys on, the document names its security scheme, so that Swagger
UI's own Authorize dialog asks for the key; without a key /openapi.json is
only that scheme and the open probes (nothing about the models), with a
wrong key it is a 401.
"""

import threading
import urllib.parse
from pathlib import Path

import falcon
import orjson

from .. import __version__
from .auth import presented_key
from ..errors import Unauthorized
from ..forecast import MAX_HORIZON
from ..formats import content_types
from .forecast_openapi import forecast_operation
from .openapi_schemas import ERROR, column_schema, errors as error_responses, ident
from ..render import csv_cell
from ..signature import signature

STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = STATIC / "swagger-ui"

# A syntactic R argument name, and the values a JSON argument may take.
ARG_SCALAR = {"type": ["string", "number", "boolean"]}
ARG_VALUE = {"anyOf": [ARG_SCALAR, {"type": "array", "items": ARG_SCALAR, "minItems": 1}]}

V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                "FP16", "FP32", "FP64", "BYTES"]


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "an API key of the bridge, as `Authorization: Bearer <key>`"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "the same key, as `X-API-Key: <key>`"},
}
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}]


def add_routes(app, service, auth=None):
    secured = auth is not None and auth.enabled
    app.add_route("/openapi.json", OpenAPIResource(OpenAPIDocument(service, secured), auth))
    app.add_route("/docs", DocsResource())
    app.add_static_route("/docs/static", str(SWAGGER_UI))


class OpenAPIResource:
    def __init__(self, document, auth=None):
        self._document = document
        self._auth = auth if auth is not None and auth.enabled else None

    def on_get(self, req, resp):
        if self._auth is not None:
            key = presented_key(req)
            if not key:
                resp.data = self._document.public_json()
                return
            if not self._auth.accepts(key.encode("utf-8", "surrogateescape")):
                raise Unauthorized("the API key is not valid", error="invalid_token")
        resp.data = self._document.json()


class DocsResource:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_HTML
        resp.data = DOCS_PAGE


class OpenAPIDocument:
    """The document as JSON bytes, built once per generation of the served set."""

    def __init__(self, service, secured=False):
        self._service = service
        self._secured = secured
        self._lock = threading.Lock()
        self._generation = None
        self._json = None

    def json(self):
        with self._lock:
            generation = self._service.generation
            if generation != self._generation:
                self._json = orjson.dumps(build(self._service.served(), self._secured,
                                                self._service.max_horizon,
                                                self._service.versioned_models()))
                self._generation = generation
            return self._json

    def public_json(self):
        return orjson.dumps(build_public())


# ---- the document -------------------------------------------------------------

def build(models, secured=False, max_horizon=MAX_HORIZON, versions=None):
    """`versions`: {name: {version label: model}} for folders of versions
    (docs/versions.md): each version gets its own operations (their inputs
    may differ), and the name its versions listing and shadow report."""
    paths = {
        "/models": {"get": _listing_operation()},
        "/models/{name}": {"get": _describe_operation()},
    }
    for name in sorted(models):
        model = models[name]
        quoted = urllib.parse.quote(name, safe="")
        if getattr(model, "kind", "model") == "forecaster":
            paths[f"/models/{quoted}/forecast"] = {"post": forecast_operation(
                model, max_horizon)}
            continue
        paths[f"/models/{quoted}/predict"] = {"post": predict_operation(model)}
    for name, served in sorted((versions or {}).items()):
        paths.update(version_paths(name, served, max_horizon))
    paths.update(v2_paths(models))
    doc = {
        "openapi": "3.1.0",
        "info": _info("R models served over HTTP: each model has a predict operation whose "
                      "request lists the columns the model was trained with. Predictions are "
                      "R's own."),
        "tags": [{"name": name, "description": _tag_description(models[name])}
                 for name in sorted(models)] + [
            {"name": "models", "description": "What is served"},
            {"name": "v2", "description": "Open Inference Protocol (KServe / Triton V2)"}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR, "V2Error": V2_ERROR, "Tensor": TENSOR}},
    }
    return secure(doc) if secured else doc


VERSIONS_LISTING = {
    "type": "object", "required": ["name", "versions"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "object", "required": ["version", "loaded"], "properties": {
            "version": {"type": "string"}, "file": {"type": "string"}, "sha256": {"type": "string"},
            "loaded": {"type": "boolean"}, "loaded_at": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]}, "routed": {"type": "boolean"}}}},
        "latest": {"type": ["string", "null"]}, "default": {"type": ["string", "null"]},
        "aliases": {"type": "object", "additionalProperties": {"type": "string"}},
        "traffic": {"type": "object", "additionalProperties": {"type": "number"}},
        "shadow": {"type": ["string", "null"]},
        "serving_error": {"type": ["string", "null"]},
        "ignored": {"type": "array"},
    },
}
SHADOW_REPORT = {
    "type": "object", "required": ["model", "shadow_version"],
    "properties": {"model": {"type": "string"}, "shadow_version": {"type": ["string", "null"]},
                   "shadowed": {"type": "integer"}, "dropped": {"type": "integer"},
                   "errors": {"type": "object"}, "rows_compared": {"type": "integer"},
                   "timeouts": {"type": "integer"}, "suspended_seconds": {"type": "number"},
                   "agreement": {"type": ["number", "null"]},
                   "mean_abs_difference": {"type": ["number", "null"]},
                   "max_abs_difference": {"type": ["number", "null"]},
                   "shadow_latency_ms": {"type": "object"}},
}


def version_paths(name, served, max_horizon=MAX_HORIZON):
    """A folder of versions' own routes: the listing, the shadow report, and
    one predict (or forecast) operation per loaded version."""
    quoted = urllib.parse.quote(name, safe="")
    errors = {s: error_responses()[s] for s in ("404", "500")}
    paths = {
        f"/models/{quoted}/versions": {"get": {
            "tags": [name], "operationId": f"versions_{ident(name)}",
            "summary": f"Every version of {name}, its aliases, traffic split and shadow",
            "responses": {"200": {"description": "the versions", "content": {
                "application/json": {"schema": VERSIONS_LISTING}}}, **errors}}},
        f"/models/{quoted}/shadow": {"get": {
            "tags": [name], "operationId": f"shadow_{ident(name)}",
            "summary": f"{name}'s routed answers compared with its shadow version's",
            "responses": {"200": {"description": "the comparison", "content": {
                "application/json": {"schema": SHADOW_REPORT}}}, **errors}}},
    }
    for label, model in sorted(served.items()):
        version = urllib.parse.quote(label, safe="")
        if getattr(model, "kind", "model") == "forecaster":
            op, verb = forecast_operation(model, max_horizon), "forecast"
        else:
            op, verb = predict_operation(model), "predict"
        op = {**op, "operationId": f"{op['operationId']}_version_{ident(label)}",
              "summary": f"{op['summary']}, version {label}"}
        paths[f"/models/{quoted}/versions/{version}/{verb}"] = {"post": op}
        if verb == "predict":
            v2 = v2_infer_operation(name, model)
            paths[f"/v2/models/{quoted}/versions/{version}/infer"] = {"post": {
                **v2, "operationId": f"{v2['operationId']}_version_{ident(label)}",
                "summary": f"{v2['summary']}, version {label}"}}
    return paths


def build_public():
    """What /openapi.json shows without a key when keys are on: the security
    scheme (so Swagger UI offers its Authorize dialog) and the open probes."""
    return secure({
        "openapi": "3.1.0",
        "info": _info("This bridge needs an API key: choose Authorize and enter it to see "
                      "the served models."),
        "paths": {p: ops for p, ops in v2_paths({}).items() if p.startswith("/v2/health/")},
        "components": {"schemas": {"V2Error": V2_ERROR}},
    })


def _info(description):
    return {"title": "R Bridge", "version": __version__, "description": description}


def secure(doc):
    """Every operation needs a key, but the open probes; 401 documented."""
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    doc["components"]["schemas"].setdefault("Error", ERROR)
    doc["security"] = SECURITY
    for path, ops in doc["paths"].items():
        for op in ops.values():
            if path.startswith("/v2/health/"):
                op["security"] = []
            else:
                op["responses"]["401"] = {
                    "description": "No API key, or not a valid one",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return doc


def _tag_description(model):
    text = f"{', '.join(model.r_class)} from {model.path.name}"
    if model.description:
        text = f"{model.description} ({text})"
    return text


def row_schema(model):
    columns = model.schema.columns
    return {
        "type": "object",
        "properties": {c.name: column_schema(c) for c in columns},
        "required": [c.name for c in columns],
        # Extra columns are ignored, as R's predict() ignores them.
        "additionalProperties": True,
    }


def request_schema(model):
    row = row_schema(model)
    rows = {"type": "array", "items": row}
    columns = {
        "type": "object",
        "properties": {c.name: {"type": "array", "items": column_schema(c)}
                       for c in model.schema.columns},
        "required": model.schema.names,
        "description": "column arrays of equal length",
    }
    args = args_schema(model)
    return {"anyOf": [
        {"title": "rows", "description": "an array of row objects", **rows},
        {"title": "data and args", "type": "object", "required": ["data"],
         "properties": {"data": {"anyOf": [rows, columns]}, "args": args}},
        {"title": "MLflow dataframe_split", "type": "object", "required": ["dataframe_split"],
         "properties": {
             "dataframe_split": {
                 "type": "object", "required": ["columns", "data"],
                 "properties": {"columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array"}}}},
             "params": args}},
        {"title": "MLflow dataframe_records", "type": "object", "required": ["dataframe_records"],
         "properties": {"dataframe_records": rows, "params": args}},
    ]}


def arg_schema(arg):
    """One accepted argument: its type, its choices as `enum`; a number or a
    string may also be a list of them (an R vector), a flag may not."""
    if arg.type == "any":
        return dict(ARG_VALUE)
    scalar = {"type": arg.type}
    if arg.choices:
        scalar["enum"] = list(arg.choices)
    if arg.type == "boolean":
        return scalar
    return {"anyOf": [scalar, {"type": "array", "items": scalar, "minItems": 1}]}


def accepted_args(model):
    spec = getattr(model, "arg_spec", None)
    return list(spec.accepted.values()) if spec is not None else []


def args_schema(model):
    """The arguments a caller may pass to predict() (the model's allow-list);
    a sidecar's default arguments are the defaults a caller sees."""
    properties = {a.name: arg_schema(a) for a in accepted_args(model)}
    for name, value in model.default_args.items():
        if name in properties:
            properties[name] = {**properties[name], "default": value}
    return {
        "type": "object",
        "description": "arguments to R's predict(), e.g. {\"type\": \"response\"}; "
                       "R's defaults apply to those not sent, others are refused",
        "properties": properties,
        "additionalProperties": False,
    }


def query_parameters(model):
    """The same arguments as query parameters, which a CSV body takes them as."""
    out = []
    for arg in accepted_args(model):
        schema = {"type": "string" if arg.type == "any" else arg.type}
        if arg.choices:
            schema["enum"] = list(arg.choices)
        if arg.name in model.default_args:
            schema["default"] = model.default_args[arg.name]
        out.append({"name": arg.name, "in": "query", "required": False, "schema": schema,
                    "description": "an argument to R's predict(), taken from the query string "
                                   "with a text/csv body (a JSON body carries it in `args`)"})
    return out


ANY_PREDICTION = {"title": "with other predict() arguments",
                  "type": ["number", "string", "boolean", "null", "object"]}


def output_item_schema(sig):
    """What one row's prediction looks like with the model's default
    arguments (found by predicting the example); arguments such as se.fit or
    type may give another shape, which the second alternative allows."""
    if sig.kind is None:
        return {}
    if sig.kind == "vector":
        default = {"type": [sig.outputs[0].type, "null"]}
    else:
        default = {
            "type": "object",
            "properties": {o.name: {"type": [o.type, "null"]} for o in sig.outputs},
            "required": [o.name for o in sig.outputs],
        }
    return {"anyOf": [{"title": "with the default arguments", **default}, ANY_PREDICTION]}


def response_schema(model, sig):
    return {
        "type": "object",
        "required": ["model", "predictions"],
        "properties": {
            "model": {"type": "string", "const": model.name},
            "version": {"type": "string", "description": "the version that answered "
                        "(also the X-Model-Version header)"},
            "predictions": {"type": "array", "items": output_item_schema(sig),
                            "description": "one entry per row, in the rows' order"},
            "info": {"type": "object", "description": "parts of R's result that are per call"},
            "warnings": {"type": "array", "items": {"type": "string"},
                         "description": "warnings R raised while predicting"},
        },
    }


def predict_operation(model):
    sig = signature(model)
    row = sig.example
    names = model.schema.names
    csv_example = ",".join(names) + "\n" + ",".join(_quote(csv_cell(row[n])) for n in names) + "\n"
    ok = {"application/json": {"schema": response_schema(model, sig)},
          "text/csv": {"schema": {"type": "string",
                                  "description": "with `Accept: text/csv`: a header and one line per row"}}}
    if sig.example_predictions is not None:
        ok["application/json"]["example"] = {"model": model.name,
                                             "predictions": sig.example_predictions}
    json_type, csv_type = content_types("json", "csv")  # the formats the route reads (bridge/formats)
    op = {
        "tags": [model.name],
        "operationId": f"predict_{ident(model.name)}",
        "summary": f"Predict with {model.name}",
        "description": _inputs_markdown(model),
        "requestBody": {
            "required": True,
            "content": {
                json_type: {
                    "schema": request_schema(model),
                    "examples": {
                        "rows": {"summary": "rows", "value": [row]},
                        "data_args": {"summary": "data and args",
                                      "value": {"data": [row], "args": dict(model.default_args)}},
                        "dataframe_split": {"summary": "MLflow dataframe_split", "value": {
                            "dataframe_split": {"columns": names, "data": [[row[n] for n in names]]}}},
                        "dataframe_records": {"summary": "MLflow dataframe_records",
                                              "value": {"dataframe_records": [row]}},
                    },
                },
                csv_type: {"schema": {"type": "string"}, "example": csv_example},
            },
        },
        "responses": {"200": {"description": "R's predictions", "content": ok}, **error_responses()},
    }
    parameters = query_parameters(model)
    if parameters:
        op["parameters"] = parameters
    return op


def _inputs_markdown(model):
    lines = ["| column | type | values |", "| --- | --- | --- |"]
    for c in model.schema.columns:
        values = ", ".join(f"`{lev}`" for lev in c.levels) if c.levels else ""
        lines.append(f"| `{c.name}` | {c.kind} | {values} |")
    text = f"R class: {', '.join(model.r_class)}. Every column is required; null is NA.\n\n"
    if not model.schema.columns:
        text += "The model records no inputs: columns are passed to R as sent.\n\n"
    else:
        text += "\n".join(lines) + "\n\n"
    return text + ("Send rows as JSON, MLflow's `dataframe_split`/`dataframe_records`, "
                   "or CSV with a header. Arguments in `args` (or MLflow `params`) go to "
                   "R's predict() and may change the shape of each prediction.")


def _quote(text):
    text = str(text)
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n') else text





def _listing_operation():
    entry = {"type": "object", "required": ["name", "status"],
             "properties": {"name": {"type": "string"}, "file": {"type": "string"},
                            "status": {"type": "string", "enum": ["loaded", "loading", "error"]}}}
    return {
        "tags": ["models"], "operationId": "list_models", "summary": "The served models",
        "responses": {"200": {"description": "one entry per model (or per file that failed or is loading)",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["models"],
                                  "properties": {"models": {"type": "array", "items": entry}}}}}},
                      "500": error_responses()["500"]},
    }


def _describe_operation():
    return {
        "tags": ["models"], "operationId": "describe_model",
        "summary": "A model's inputs, class, packages and file",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the model's description",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["name", "inputs"],
                                  "properties": {"name": {"type": "string"},
                                                 "inputs": {"type": "object"}}}}}},
                      **{s: error_responses()[s] for s in ("404", "500")}},
    }


# ---- Open Inference Protocol ----------------------------------------------------

V2_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": V2_DATATYPES},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}

V2_ERROR_STATUSES = {"400": "The request does not fit the protocol or the model's inputs",
                     "404": "No model of that name is served",
                     "500": "predict() failed in R"}


def _v2_get(operation_id, summary, schema, errors=("500",), parameters=None):
    op = {"tags": ["v2"], "operationId": operation_id, "summary": summary,
          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                        **{s: error_responses(V2_ERROR_STATUSES, "#/components/schemas/V2Error")[s]
                           for s in errors}}}
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


def v2_paths(models):
    name_param = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    metadata = {"type": "object", "required": ["name", "platform", "inputs", "outputs"],
                "properties": {"name": {"type": "string"}, "platform": {"type": "string"},
                               "versions": {"type": "array", "items": {"type": "string"}},
                               "inputs": {"type": "array"}, "outputs": {"type": "array"}}}
    paths = {
        "/v2": _v2_get("v2_server_metadata", "Server metadata", {
            "type": "object", "required": ["name", "version", "extensions"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                           "extensions": {"type": "array", "items": {"type": "string"}}}}),
        "/v2/health/live": _v2_get("v2_live", "Server liveness", {
            "type": "object", "properties": {"live": {"type": "boolean"}}}),
        "/v2/health/ready": _v2_get("v2_ready", "Server readiness", {
            "type": "object", "properties": {"ready": {"type": "boolean"}}}),
        "/v2/models/{name}": _v2_get("v2_model_metadata", "Model metadata: input and output tensors",
                                     metadata, ("404", "500"), name_param),
        "/v2/models/{name}/ready": _v2_get("v2_model_ready", "Model readiness", {
            "type": "object", "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}},
            ("404", "500"), name_param),
    }
    for name in sorted(models):
        model = models[name]
        if getattr(model, "kind", "model") == "forecaster":
            continue  # a horizon, not tensors of rows: only /models/{name}/forecast
        quoted = urllib.parse.quote(name, safe="")
        paths[f"/v2/models/{quoted}/infer"] = {"post": v2_infer_operation(name, model)}
    return paths


def v2_infer_operation(name, model):
    from .v2 import input_tensors

    sig = signature(model)
    inputs = input_tensors(model.schema, [sig.example])
    return {
        "tags": ["v2"],
        "operationId": f"v2_infer_{ident(name)}",
        "summary": f"Infer with {name} (Open Inference Protocol)",
        "description": ("One input tensor per column (shape [n] or [n, 1]): FP64 or INT for "
                        "numbers, BOOL for logicals, BYTES for strings, factor levels and "
                        "dates. Request `parameters` other than the protocol's own go to "
                        "R's predict()."),
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "required": ["inputs"], "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                "outputs": {"type": "array", "items": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}}}},
            }},
            "example": {"inputs": inputs},
        }}},
        "responses": {
            "200": {"description": "one output tensor per output column", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["model_name", "outputs"],
                    "properties": {"model_name": {"type": "string", "const": name},
                                   "model_version": {"type": "string"},
                                   "id": {"type": "string"},
                                   "outputs": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/Tensor"}}}}}}},
            **error_responses(V2_ERROR_STATUSES, "#/components/schemas/V2Error"),
        },
    }


DOCS_PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>R Bridge</title>
  <link rel="icon" type="image/png" href="docs/static/favicon-32x32.png">
  <link rel="stylesheet" href="docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/static/swagger-ui-bundle.js"></script>
  <script src="docs/static/init.js"></script>
</body>
</html>
"""
