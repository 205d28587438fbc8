"""A served model: an R object from a model file, its input schema and how
to call its predict(). Knows nothing of HTTP.

Everything that touches R runs on the session's R thread; the public
methods hand work to it.
"""

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

import orjson
from rpy2.rinterface_lib.embedded import RRuntimeError

from . import forecast_r, metrics
from .convert import FrameParts, concat, py2rpy_value, rpy2py_vector
from .errors import BadRequest, BridgeError, InputError, ModelError, ModelLoadError
from .rsession import default_session
from .schema import schema_from_r
from .table import Table, nrows_of, prepare_table

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".rds", ".rda", ".rdata")
# Arguments the bridge passes itself: a caller may not replace the data.
RESERVED_ARGS = frozenset(("object", "newdata", "data", "newx", "x", "model"))


@dataclasses.dataclass
class Prediction:
    """What predict() returned, flattened: `vector` (one value per row) or
    `table` (named columns, one object per row), plus per-call `info`."""

    kind: str
    columns: dict
    info: dict
    warnings: list

    @property
    def nrows(self):
        return len(next(iter(self.columns.values()), []))

    def slice(self, start, stop):
        return Prediction(self.kind, {k: v[start:stop] for k, v in self.columns.items()},
                          self.info, self.warnings)

    def records(self):
        if self.kind == "vector":
            return next(iter(self.columns.values()), [])
        names = list(self.columns)
        return [dict(zip(names, row)) for row in zip(*self.columns.values())]

    def to_pandas(self):
        import pandas as pd

        if self.kind == "vector":
            return pd.Series(next(iter(self.columns.values()), []), name="prediction")
        return pd.DataFrame(self.columns)


@dataclasses.dataclass
class Sidecar:
    """Optional files beside a model: <name>.json and <name>.R."""

    description: str = ""
    version: str = ""
    args: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)
    predict_fn: Path = None

    @classmethod
    def find(cls, folder, name):
        meta = {}
        json_path = folder / f"{name}.json"
        if json_path.is_file():
            try:
                meta = json.loads(json_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ModelLoadError(f"{json_path.name}: invalid JSON ({exc})")
            if not isinstance(meta, dict):
                raise ModelLoadError(f"{json_path.name}: expected a JSON object")
        r_path = folder / f"{name}.R"
        return cls(
            description=str(meta.pop("description", "")),
            version=str(meta.pop("version", "")),
            args=dict(meta.pop("args", {}) or {}),
            options=meta,
            predict_fn=r_path if r_path.is_file() else None,
        )


class RModel:
    def __init__(self, name, path, object_name, robj, session, sidecar=None, sha256=""):
        self.name = name
        self.path = Path(path)
        self.object_name = object_name
        self.session = session
        self.sidecar = sidecar or Sidecar()
        self.sha256 = sha256
        self.loaded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        session.run(self._bind, robj)

    def _bind(self, robj):
        """Per-model work done once at load: packages, schema, predictor."""
        ri, h = self.session.ri, self.session.helper
        self.robj = robj
        self.r_class = list(robj.rclass)
        # A forecaster answers a horizon (bridge/forecast.py), not rows: its
        # inputs are the regressors it was fitted with.
        self.kind = "forecaster" if forecast_r.is_forecaster(self.session, robj) else "model"
        self.forecaster = None
        if self.kind == "forecaster":
            self.packages = list(h("bridge_forecaster_packages")(robj))
            self.schema = schema_from_r(h("bridge_forecaster_inputs")(robj))
            self.forecaster = forecast_r.read_info(self.session, robj)
        else:
            self.packages = list(h("bridge_model_packages")(robj))
            h("bridge_load_packages")(ri.StrSexpVector(self.packages))
            self.schema = schema_from_r(h("bridge_inputs")(robj))
        if self.sidecar.predict_fn is not None:
            self.predictor = h("bridge_custom_predictor")(ri.StrSexpVector([str(self.sidecar.predict_fn)]))
        else:
            self.predictor = h("bridge_predictor")(robj)
        self._predict = h("bridge_predict")
        self._frames = FrameParts()
        self._no_args = ri.ListSexpVector([])
        self.default_args = dict(self.sidecar.args)
        # Rows are predicted independently for predict() methods; a custom
        # predict_fn may look across rows (scaling), so it batches only when
        # its sidecar says so.
        self.batching = bool(self.sidecar.options.get("batching", self.sidecar.predict_fn is None))
        self.timeout = float(self.sidecar.options.get("timeout", 0)) or None

    # ---- predicting ----------------------------------------------------------

    def predict(self, data, **args):
        """Python API: a pandas DataFrame (or Table) in, pandas out."""
        table = data if isinstance(data, Table) else Table.from_pandas(data)
        return self.predict_table(table, args).to_pandas()

    def predict_table(self, table, args, timeout=None):
        if self.kind == "forecaster":
            raise InputError(f"{self.name!r} is a forecaster: it answers a horizon, not rows; "
                             f"POST /models/{self.name}/forecast with {{\"h\": 12}}",
                             kind="forecaster", forecast=f"/models/{self.name}/forecast")
        merged = self.merged_args(args)
        if table.nrows == 0:
            # Nothing to predict: no columns to check either (an empty row list has none).
            return Prediction("vector", {"prediction": []}, {}, [])
        with self.session.arriving():
            prepared = prepare_table(self.schema, table)
            nrows = nrows_of(prepared, table)
            key = None
            if self.batching:
                try:
                    key = (id(self), orjson.dumps(merged, option=orjson.OPT_SORT_KEYS),
                           tuple(p.column for p in prepared))
                except orjson.JSONEncodeError:
                    # args nested too deep to serialise: run alone, py2rpy_value refuses them (422)
                    key = None
            return self.session.run_batched(self.predict_many, (prepared, nrows, merged), key, nrows,
                                            self.name, timeout or self.timeout or self.session.default_timeout)

    def predict_many(self, items):
        """On the R thread: requests with the same args as one predict() call.

        The rows are joined, predicted once and split back. If the joint call
        fails, or does not return one value per row, each request is run on
        its own so one bad request cannot fail the others.
        """
        metrics.observe_batch(self.name, sum(nrows for _, nrows, _ in items), len(items))
        if len(items) == 1:
            return [self._guarded(*items[0])]
        _, _, args = items[0]
        joined = [concat(parts) for parts in zip(*(prepared for prepared, _, _ in items))]
        total = sum(nrows for _, nrows, _ in items)
        try:
            prediction = self.predict_prepared(joined, total, args)
        except BridgeError:
            return [self._guarded(*item) for item in items]
        if prediction.nrows != total:
            return [self._guarded(*item) for item in items]
        out, start = [], 0
        for _, nrows, _ in items:
            out.append(prediction.slice(start, start + nrows))
            start += nrows
        return out

    def _guarded(self, prepared, nrows, args):
        try:
            return self.predict_prepared(prepared, nrows, args)
        except BridgeError as exc:
            return exc

    def merged_args(self, args):
        if not isinstance(args, dict):
            raise BadRequest("'args' must be a JSON object of predict() arguments")
        if "" in args:
            # do.call() would pass it positionally, as some other argument.
            raise InputError("an argument to predict() has an empty name", argument="")
        bad = sorted(RESERVED_ARGS & set(args))
        if bad:
            raise InputError(f"argument '{bad[0]}' is set by the bridge and cannot be passed",
                             argument=bad[0])
        return {**self.default_args, **args}

    def predict_prepared(self, prepared, nrows, args):
        """On the R thread: build the data.frame, call predict, read the result."""
        ri = self.session.ri
        cols, classes = self._frames.build(prepared)
        r_args = self._no_args
        if args:
            r_args = ri.ListSexpVector([py2rpy_value(k, v) for k, v in args.items()])
            r_args.do_slot_assign("names", ri.StrSexpVector(list(args)))
        result = self._predict(self.predictor, self.robj, cols, classes, ri.IntSexpVector([nrows]), r_args)
        if result.typeof != ri.RTYPES.VECSXP:
            return Prediction("vector", {"prediction": rpy2py_vector(result)}, {}, [])
        return self._read_result(dict(zip(result.names, result)))

    def _read_result(self, out):
        warnings = rpy2py_vector(out["warnings"]) if "warnings" in out else []
        if "error" in out:
            message = out["error"][0]
            kind = out["kind"][0]
            if kind == "input":
                raise InputError(f"R rejected the input: {message}", r_message=message)
            raise ModelError(f"predict() failed in R: {message}", r_message=message)
        columns = out["columns"]
        names = list(columns.names) if columns.names is not self.session.ri.NULL else []
        if not names:
            names = ["prediction"] * len(columns)
        values = {n: rpy2py_vector(v) for n, v in zip(names, columns)}
        info = out["info"]
        info_names = list(info.names) if len(info) else []
        info_values = {n: _scalar(rpy2py_vector(v)) for n, v in zip(info_names, info)}
        return Prediction(out["kind"][0], values, info_values, warnings)

    # ---- forecasting -------------------------------------------------------------

    def forecast(self, h=None, level=None, xreg=None, seed=None, **args):
        """Python API: R's forecast as a pandas DataFrame (xreg: a DataFrame,
        rows or columns of the regressors' future values)."""
        from .client import columns_of
        from .forecast import parse_request

        doc = {"h": h, "level": level, "seed": seed, "args": args,
               "xreg": None if xreg is None else columns_of(xreg)}
        return self.forecast_request(parse_request(doc, self.forecaster, self.schema)).to_pandas()

    def forecast_request(self, request, timeout=None):
        """A checked ForecastRequest (bridge/forecast.py) -> Forecast, run on the R thread."""
        return self.session.run(forecast_r.run, self, request,
                                timeout=timeout or self.timeout or self.session.default_timeout)

    # ---- describing ------------------------------------------------------------

    def summary(self):
        return {"name": self.name, "file": self.path.name, "object": self.object_name,
                "class": self.r_class, "kind": self.kind, "status": "loaded"}

    def describe(self):
        return {
            **self.summary(),
            "description": self.sidecar.description,
            "version": self.sidecar.version,
            "packages": self.packages,
            "inputs": self.schema.describe(),
            "default_args": self.default_args,
            "custom_predict": self.sidecar.predict_fn.name if self.sidecar.predict_fn else None,
            "sha256": self.sha256,
            "loaded_at": self.loaded_at,
            "r_version": self.session.r_version,
            **({"forecaster": self.forecaster.describe()} if self.forecaster else {}),
        }


def _scalar(values):
    return values[0] if len(values) == 1 else values


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_model_file(path):
    return path.suffix.lower() in MODEL_SUFFIXES


def read_model_file(path, session=None):
    """Every servable model in a file, keyed by served name.

    An .rds is served under its stem; an .rda with one model object too; an
    .rda with several serves each as <stem>.<object>. Objects without a
    predict() or forecast() method are skipped. Raises ModelLoadError when
    nothing loads.
    """
    session = session or default_session()
    path = Path(path)
    sha = file_sha256(path)
    objects = session.run(_read_objects, session, path)
    if not objects:
        raise ModelLoadError(f"{path.name}: holds no object with a predict() or forecast() method")
    stem = path.name[: -len(path.suffix)]
    single = len(objects) == 1
    models = {}
    for object_name, robj in objects:
        name = stem if single else f"{stem}.{object_name}"
        sidecar = Sidecar.find(path.parent, name)
        models[name] = RModel(name, path, object_name, robj, session, sidecar, sha)
    return models


def _read_objects(session, path):
    ri, h = session.ri, session.helper
    try:
        objects = h("bridge_read_file")(ri.StrSexpVector([str(path)]))
    except RRuntimeError as exc:
        raise ModelLoadError(f"{path.name}: R could not read the file: {str(exc).strip()}")
    names = list(objects.names) if objects.names is not ri.NULL else []
    if path.suffix.lower() == ".rds":
        names = [path.stem]
    has_predict, is_forecaster = h("bridge_has_predict"), h("bridge_is_forecaster")
    return [(n, o) for n, o in zip(names, objects) if has_predict(o)[0] or is_forecaster(o)[0]]


def load_model(path, object=None, session=None):
    """Python API: the model in an .rds/.rda file.

    For an .rda holding several models pass `object=` to pick one.
    """
    models = read_model_file(path, session)
    if object is not None:
        for model in models.values():
            if model.object_name == object:
                return model
        raise ModelLoadError(f"{Path(path).name} holds no model object named {object!r}")
    if len(models) > 1:
        raise ModelLoadError(
            f"{Path(path).name} holds several models ({', '.join(m.object_name for m in models.values())}); "
            "pick one with object=")
    return next(iter(models.values()))
