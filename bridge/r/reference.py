"""A model's reference: the per-column summary of the data it was trained on
(bridge/monitoring/summary.py), found at load in the R worker and sent to the
front with the model's schema (bridge/r/model.py `front_view`).

Where it comes from, first found wins:
  1. `<stem>.reference.parquet` or `<stem>.reference.csv` beside the model
     file (in a version folder also `reference.parquet` / `.csv`), or the file a sidecar names (`"reference": "train.csv"`, a file
     name in the model's folder, nothing else);
  2. the training data the R object keeps (r_scripts/bridge/reference.R);
  3. the ptype / schema: types and levels, no distribution.
The summary is kept, not the data.
"""

import logging
import re

import numpy as np

from ..monitoring import summary
from .convert import rpy2py_vector

log = logging.getLogger(__name__)

MAX_ROWS = 100_000
SAFE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*\.(parquet|csv)$")


def find_reference(model, stem):
    """{"source": ..., "columns": {name: summary}} for an RModel (runs R: call
    inside the model's session)."""
    columns = model.schema.columns
    if not columns:
        return {"source": "none", "columns": {}}
    path = _user_file(model, stem)
    values, source = {}, "schema"
    if path is not None:
        try:
            values, source = _read_file(path, columns), f"file {path.name}"
        except Exception as exc:  # a bad reference file must not stop the model loading
            log.warning("%s: reference %s not read (%s); using the model's own", model.name,
                        path.name, exc)
            path = None
    if path is None:
        values = _from_r(model, [c.name for c in columns])
        if values:
            source = "training data kept by the model"
    out = {}
    for col in columns:
        found = values.get(col.name)
        if found is None or not len(found):
            out[col.name] = summary.declared(col.kind, col.levels)
        else:
            try:
                out[col.name] = summary.summarize(_kind(col, found), found)
            except (TypeError, ValueError):  # a reference file's column of another type
                out[col.name] = summary.declared(col.kind, col.levels)
    return {"source": source, "columns": out}


def _kind(col, values):
    """A column of type 'any' is summarised as what its data is."""
    if col.kind != "any":
        return col.kind
    return "numeric" if isinstance(values, np.ndarray) else "character"


def _user_file(model, stem):
    folder = model.path.parent
    names = [f"{stem}.reference", f"{model.path.name.split('.')[0]}.reference"]
    if folder.name.isdigit():  # a version folder (docs/versions.md): its own reference.*
        names.append("reference")
    for name in dict.fromkeys(names):
        for suffix in ("parquet", "csv"):
            path = folder / f"{name}.{suffix}"
            if path.is_file() and not path.is_symlink():
                return path
    named = model.sidecar.options.get("reference")
    if named is not None:
        if not isinstance(named, str) or not SAFE_FILE.match(named):
            log.warning("%s: sidecar 'reference' must be a .parquet or .csv file name in the "
                        "model folder; ignored", model.name)
            return None
        path = folder / named
        if path.is_file() and not path.is_symlink():
            return path
        log.warning("%s: sidecar 'reference' %s not found; ignored", model.name, named)
    return None


def _read_file(path, columns):
    """The reference file's values of each input, as summaries take them:
    numbers as doubles, anything else as labels (a CSV's factor column is
    read as text: level "4" stays "4")."""
    import pandas as pd

    labels = [c.name for c in columns if not summary.is_number(c.kind) and c.kind != "any"]
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path).head(MAX_ROWS)
    else:
        frame = pd.read_csv(path, nrows=MAX_ROWS, dtype={n: str for n in labels},
                            keep_default_na=False, na_values=["", "NA"])
    out = {}
    for col in columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        if col.kind in ("Date", "POSIXct") and not (pd.api.types.is_numeric_dtype(series)
                                                    or pd.api.types.is_datetime64_any_dtype(series)):
            # A CSV's dates are text ("2024-01-05", R's write.csv; a time with
            # or without its offset), a Parquet date32 column Python dates:
            # read as instants in UTC.
            parsed = pd.to_datetime(series.astype(object), errors="coerce", utc=True, format="ISO8601")
            if not parsed.notna().any() and series.notna().any():
                continue  # no value reads as a date: the schema's summary
            series = parsed
        if col.name in labels:
            out[col.name] = [None if v is None else _label(v)
                             for v in series.astype(object).where(series.notna(), None)]
        elif pd.api.types.is_datetime64_any_dtype(series):
            # R's numbers for them: days (Date) or seconds (POSIXct) since 1970
            # UTC, whatever unit pandas keeps them in.
            stamps = series.dt.tz_localize("UTC") if series.dt.tz is None else series
            seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
            if col.kind == "Date":
                seconds = seconds / 86400
            out[col.name] = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
            out[col.name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[col.name] = [None if v is None else _label(v)
                             for v in series.astype(object).where(series.notna(), None)]
    return out


def _label(value):
    """A level as R prints it: True -> "TRUE", 4.0 -> "4"."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _from_r(model, names):
    import rpy2.rinterface as ri

    h = model.session.helper
    try:
        found = h("bridge_reference_columns")(model.robj, ri.StrSexpVector(names),
                                              ri.IntSexpVector([MAX_ROWS]))
    except Exception as exc:  # R could not read its own data: no distribution, not no model
        log.warning("%s: no reference from the model's data (%s)", model.name, exc)
        return {}
    if found is ri.NULL or found.typeof == ri.RTYPES.NILSXP:
        return {}
    out = {}
    for name, vec in zip(found.names, found):
        values = rpy2py_vector(vec)
        if vec.typeof == ri.RTYPES.REALSXP:
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            out[name] = values
    return out
