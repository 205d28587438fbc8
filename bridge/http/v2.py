"""The Open Inference Protocol (KServe / Triton / Seldon "V2"), REST binding.

Request tensors are read into a bridge Table by bridge/formats/tensors.py
(one tensor per column; JSON or Triton's binary extension) and go through
the service (bridge/service), so the types and conversion rules are the
native endpoint's. Each output column comes back as one tensor: FP64 for
doubles, INT32 for R integers, BOOL, BYTES for labels. Responses are always
JSON, which every V2 client reads.

The protocol logic (`response_body`, `model_metadata`) knows nothing of
HTTP; the resources at the bottom are thin.
"""

import orjson

from .. import __version__
from ..errors import BadRequest
from ..formats.tensors import read_request
from ..signature import json_type, signature
from .calls import MODEL_VERSION, call_context

# The tensor type a caller should send for each kind of column.
INPUT_DATATYPES = {
    "numeric": "FP64", "integer": "INT32", "logical": "BOOL", "character": "BYTES",
    "factor": "BYTES", "ordered": "BYTES", "Date": "BYTES", "POSIXct": "BYTES", "any": "FP64",
}
OUTPUT_DATATYPES = {"number": "FP64", "integer": "INT32", "boolean": "BOOL", "string": "BYTES"}


# ---- responses ----------------------------------------------------------------------

def response_body(model_name, prediction, requested=None, request_id=None, version=None):
    tensors = {name: output_tensor(name, values) for name, values in prediction.columns.items()}
    if requested is not None:
        unknown = [n for n in requested if n not in tensors]
        if unknown:
            raise BadRequest(f"model {model_name!r} has no output {unknown[0]!r}; its outputs "
                             f"are {', '.join(repr(n) for n in tensors)}")
        tensors = {n: tensors[n] for n in requested}
    body = {"model_name": model_name, "outputs": list(tensors.values())}
    if version is not None:
        body["model_version"] = str(version)
    if request_id is not None:
        body["id"] = request_id
    if prediction.warnings:
        body["parameters"] = {"warnings": "\n".join(prediction.warnings)}
    return body


def output_tensor(name, values):
    datatype = OUTPUT_DATATYPES[json_type(values)]
    if datatype == "INT32" and None in values:
        # JSON integers have no NA: a tensor with one goes as FP64, NA as null (NaN).
        datatype = "FP64"
    return {"name": name, "datatype": datatype, "shape": [len(values)], "data": values}


def input_tensors(schema, rows):
    """Tensors for rows of a model's inputs (examples in documents)."""
    return [{"name": c.name, "datatype": INPUT_DATATYPES[c.kind], "shape": [len(rows)],
             "data": [row[c.name] for row in rows]} for c in schema.columns]


def model_metadata(model, versions=None):
    """`versions`: every version of a folder of versions (else the model's own)."""
    sig = signature(model)
    return {
        "name": model.name,
        "versions": versions if versions is not None else [model.version] if model.version else [],
        "platform": "R",
        "inputs": [{"name": c.name, "datatype": INPUT_DATATYPES[c.kind], "shape": [-1],
                    "parameters": {"r_type": c.kind}} for c in model.schema.columns] + [
            # read by predict() for some arguments only (coxph's time and
            # status for type = "expected"): sent when the caller has them
            {"name": c.name, "datatype": INPUT_DATATYPES[c.kind], "shape": [-1],
             "parameters": {"r_type": c.kind, "optional": True}} for c in model.schema.optional],
        "outputs": [{"name": o.name, "datatype": OUTPUT_DATATYPES[o.type], "shape": [-1]}
                    for o in sig.outputs],
    }


def server_metadata():
    return {"name": "r-bridge", "version": __version__, "extensions": ["binary_tensor_data"]}


# ---- HTTP ---------------------------------------------------------------------------

INFER_ROUTE = "/v2/models/{name}/infer"
VERSION_INFER_ROUTE = "/v2/models/{name}/versions/{version}/infer"


def add_routes(app, service):
    app.add_route("/v2", ServerMetadataResource())
    app.add_route("/v2/health/live", LiveResource())
    app.add_route("/v2/health/ready", ReadyResource(service))
    app.add_route("/v2/models/{name}", ModelMetadataResource(service))
    app.add_route("/v2/models/{name}/ready", ModelReadyResource(service))
    app.add_route(INFER_ROUTE, InferResource(service))
    app.add_route("/v2/models/{name}/versions/{version}", ModelMetadataResource(service))
    app.add_route("/v2/models/{name}/versions/{version}/ready", ModelReadyResource(service))
    app.add_route(VERSION_INFER_ROUTE, InferResource(service, VERSION_INFER_ROUTE))


class _V2:
    wire = "v2"  # errors are the protocol's {"error": message} (bridge/http/errors.py)


class ServerMetadataResource(_V2):
    def on_get(self, req, resp):
        resp.data = orjson.dumps(server_metadata())


class LiveResource(_V2):
    def on_get(self, req, resp):
        resp.data = b'{"live":true}'


class ReadyResource(_V2):
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp):
        ready = self._service.readiness().serving
        if not ready:
            resp.status = 503
        resp.data = orjson.dumps({"ready": ready})


class ModelMetadataResource(_V2):
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name, version=None):
        model = self._service.resolve(name, version)
        versioned = self._service.versions(name)
        listed = versioned.router.labels if versioned is not None and version is None else None
        if version is not None:
            listed = [model.version]
        if model.version:
            resp.set_header(MODEL_VERSION, str(model.version))
        resp.data = orjson.dumps(model_metadata(model, listed))


class ModelReadyResource(_V2):
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name, version=None):
        self._service.resolve(name, version)
        ready = self._service.readiness().serving
        if not ready:
            resp.status = 503
        resp.data = orjson.dumps({"name": name, "ready": ready})


class InferResource(_V2):
    def __init__(self, service, route=INFER_ROUTE):
        self._service = service
        self._route = route

    def on_post(self, req, resp, name, version=None):
        context = call_context(req, "v2", self._route, name)
        table, args, outputs, request_id = read_request(
            req.bounded_stream.read(), req.get_header("Inference-Header-Content-Length"))
        answer = self._service.predict(name, table, args, context, version=version)
        resp.data = orjson.dumps(response_body(answer.model, answer.result, outputs, request_id,
                                               answer.version))
