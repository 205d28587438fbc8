"""Request bodies in: which formats the bridge reads, and the one content-type
negotiation every route uses (front side, and the Python client; no HTTP, no R).

A format is one module with a `parse` function; this table says which media
types it is sent as, and OpenAPI reads its content types from here:

- `json` (bridge/formats/json_rows.py): rows, columns, {"data": ..., "args": ...},
  MLflow's dataframe_split/dataframe_records;
- `csv` (bridge/formats/csv_text.py): a header row, text parsed by the column types;
- `mlflow` (bridge/formats/mlflow.py): exactly one of MLflow's input fields
  (dataframe_split, dataframe_records, instances, inputs);
- `v2` (bridge/formats/tensors.py): Open Inference Protocol tensors, JSON or
  Triton's binary extension.

Adding a format: a module here, a line in FORMATS, and the route that reads it.
"""

import dataclasses

from ..errors import UnsupportedMediaType


@dataclasses.dataclass(frozen=True)
class Format:
    name: str
    media_types: tuple   # what a caller labels it as; the first is the one documented
    suffix: str = None   # any media type ending so (application/*+json)


JSON = Format("json", ("application/json",), suffix="+json")
CSV = Format("csv", ("text/csv", "application/csv"))
FORMATS = {f.name: f for f in (JSON, CSV)}
# `curl -d` labels JSON as a form; a body that starts like JSON is read as what it is.
FORM = "application/x-www-form-urlencoded"


def media_type(content_type):
    """The media type of a Content-Type header, lower case, without parameters
    (no header: JSON)."""
    return (content_type or "application/json").split(";")[0].strip().lower()


def detect(content_type, body=b"", accepted=("json", "csv"), form_json=(b"[", b"{")):
    """The name of the format a body is in, one of `accepted`, or None.
    `form_json`: how a form-labelled body may start to be read as JSON."""
    media = media_type(content_type)
    for name in accepted:
        fmt = FORMATS[name]
        if media in fmt.media_types or (fmt.suffix and media.endswith(fmt.suffix)):
            return name
    if "json" in accepted and media == FORM and body.lstrip()[:1] in form_json:
        return "json"
    return None


def format_of(content_type, body=b"", accepted=("json", "csv"), expected=None,
              form_json=(b"[", b"{")):
    """The name of the format a body is in, one of `accepted`, or a 415 that
    says what to send (`expected`, or the accepted media types)."""
    name = detect(content_type, body, accepted, form_json)
    if name is not None:
        return name
    media = media_type(content_type)
    send = expected or " or ".join(FORMATS[name].media_types[0] for name in accepted)
    raise UnsupportedMediaType(f"content type {media!r} is not accepted; send {send}",
                               content_type=media)


def content_types(*names):
    """The documented media type of each format (OpenAPI's request bodies)."""
    return [FORMATS[name].media_types[0] for name in names]
