"""Open Inference Protocol ("V2") request tensors -> a Table (front side).

One input tensor per model column, shape [n] or [n, 1]: FP*/INT*/UINT* for
numbers, BOOL for logicals, BYTES for strings (also factor levels and
ISO-8601 dates). Tensor data may be JSON or, with Triton's binary tensor
extension (what tritonclient sends by default), raw bytes after the JSON
header (its length in Inference-Header-Content-Length).
"""

import struct

import numpy as np

from ..errors import BadRequest, InputError
from ..table import Table
from .json_rows import load_json

# Request parameters that belong to the protocol or to Triton; the others are
# arguments to R's predict().
PROTOCOL_PARAMETERS = frozenset((
    "sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "headers",
    "binary_data_output", "content_type"))

NUMPY_TYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}
FLOAT_TYPES = frozenset(("FP16", "FP32", "FP64"))

def read_request(body, header_length=None):
    """(Table, predict args, requested output names or None, request id)."""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise BadRequest(f"Inference-Header-Content-Length is not a number: {header_length!r}")
        if not 0 < size <= len(body):
            raise BadRequest(f"Inference-Header-Content-Length {size} does not fit a body of "
                             f"{len(body)} bytes")
        header, binary = body[:size], memoryview(body)[size:]
    else:
        header, binary = body, memoryview(b"")
    doc = load_json(header, "the inference request", '{"inputs": [...]}')
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise BadRequest("an inference request is an object with an 'inputs' array of tensors")
    parameters = _object(doc.get("parameters"), "parameters")
    args = {k: v for k, v in parameters.items()
            if k not in PROTOCOL_PARAMETERS and not k.startswith("triton_")}

    columns, nrows, offset = {}, None, 0
    for i, tensor in enumerate(doc["inputs"]):
        name, values, offset = _read_tensor(tensor, i, binary, offset)
        if name in columns:
            raise BadRequest(f"input {name!r} is given twice")
        if nrows is not None and len(values) != nrows:
            raise BadRequest(f"input {name!r} has {len(values)} rows, the inputs before it "
                             f"{nrows}; every input tensor is one column of the same rows")
        columns[name], nrows = values, len(values)
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes of binary data after the last tensor")

    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
                isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
            raise BadRequest("'outputs' must be an array of objects with a 'name'")
        outputs = [o["name"] for o in outputs]
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    return Table(columns, nrows or 0), args, outputs, request_id


def _object(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{what}' must be an object")
    return value


def _read_tensor(tensor, index, binary, offset):
    if not isinstance(tensor, dict):
        raise BadRequest(f"input {index + 1} is not a tensor object")
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str):
        raise BadRequest(f"input {index + 1} has no 'name'")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BadRequest(f"input {name!r}: 'shape' must be an array of non-negative integers")
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise BadRequest(f"input {name!r}: shape {shape} is not a column; send one tensor per "
                         "column with shape [n] or [n, 1]")
    if datatype != "BYTES" and datatype not in NUMPY_TYPES:
        raise BadRequest(f"input {name!r}: datatype {datatype!r} is not supported; use FP64, "
                         "FP32, INT64, INT32, BOOL or BYTES")
    count = shape[0]
    params = _object(tensor.get("parameters"), f"input {name!r} parameters")
    size = params.get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise BadRequest(f"input {name!r}: binary_data_size {size!r} does not fit the "
                             f"{len(binary) - offset} bytes left in the body")
        values = _from_binary(name, datatype, binary[offset:offset + size], count)
        return name, values, offset + size
    if "data" not in tensor:
        raise BadRequest(f"input {name!r} has no 'data' (and no binary_data_size)")
    values = _flatten(name, tensor["data"], len(shape))
    if len(values) != count:
        raise BadRequest(f"input {name!r}: shape {shape} holds {count} values, 'data' has "
                         f"{len(values)}")
    return name, _check_json(name, datatype, values), offset


def _flatten(name, data, depth):
    """Tensor data flat or nested as deep as its shape ([n] or [n, 1]), no deeper:
    a caller's nesting is never walked recursively."""
    if not isinstance(data, list):
        data = [data]
    flat = data
    for _ in range(depth - 1):
        if not any(isinstance(v, list) for v in flat):
            break
        flat = [w for v in flat for w in (v if isinstance(v, list) else [v])]
    if any(isinstance(v, list) for v in flat):
        raise BadRequest(f"input {name!r}: 'data' is nested deeper than its {depth}-dimensional shape")
    return flat


def _check_json(name, datatype, values):
    """JSON tensor data: values of the datatype, or null (an extension: NA)."""
    if datatype == "BYTES":
        ok = (str, type(None))
    elif datatype == "BOOL":
        ok = (bool, type(None))
    elif datatype in FLOAT_TYPES:
        ok = (int, float, type(None))
    else:
        ok = (int, type(None))
    for row, value in enumerate(values):
        if not isinstance(value, ok) or (bool not in ok and isinstance(value, bool)):
            raise InputError(f"input {name!r}, row {row + 1}: {value!r} is not {datatype} data",
                             column=name, row=row + 1)
    return values


def _from_binary(name, datatype, raw, count):
    if datatype == "BYTES":
        values, pos, raw = [], 0, bytes(raw)
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise BadRequest(f"input {name!r}: truncated BYTES element")
            (length,) = struct.unpack_from("<I", raw, pos)
            chunk = raw[pos + 4:pos + 4 + length]
            if len(chunk) != length:
                raise BadRequest(f"input {name!r}: truncated BYTES element")
            try:
                values.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                raise InputError(f"input {name!r}, row {len(values) + 1}: not UTF-8 text",
                                 column=name, row=len(values) + 1)
            pos += 4 + length
    else:
        dtype = np.dtype(NUMPY_TYPES[datatype]).newbyteorder("<")
        if len(raw) != count * dtype.itemsize:
            raise BadRequest(f"input {name!r}: {len(raw)} bytes of binary data, a {datatype} "
                             f"tensor of {count} values takes {count * dtype.itemsize}")
        arr = np.frombuffer(raw, dtype=dtype)
        if datatype in FLOAT_TYPES:
            arr = arr.astype(np.float64)
        values = arr.tolist()
    if len(values) != count:
        raise BadRequest(f"input {name!r}: the shape holds {count} values, the data has {len(values)}")
    return values
