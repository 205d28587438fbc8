"""A model inside an R worker: an R object from a model file, its input
schema, its argument allow-list, and how to call its predict(). Knows
nothing of HTTP or of other processes.

Everything here runs with R to itself (bridge/r/session.py): on an R
worker's main thread, or under the R lock for the Python API.
"""

import dataclasses
import datetime as dt
import json
import logging
import re
from pathlib import Path

from rpy2.rinterface_lib.embedded import RRuntimeError

from ..args import ArgSpec
from ..convert import concat
from .convert import FrameParts, py2rpy_value, rpy2py_column, rpy2py_vector
from ..errors import AnswerTooLarge, BridgeError, InputError, ModelError, ModelLoadError
from ..modelfiles import SAFE_OBJECT_NAME, file_sha256
from ..modelfiles import stem as file_stem
from ..prediction import EMPTY, Prediction
from .. import requirements as reqs
from . import requirements as r_requirements
from .schema import schema_from_r
from ..signature import probe_signature
from ..table import Table, prepare_request
from . import forecast as forecast_r
from . import reference as reference_r
from .session import default_session

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Sidecar:
    """Optional files beside a model: <name>.json and <name>.R."""

    description: str = ""
    version: str = ""
    args: dict = dataclasses.field(default_factory=dict)
    allow_args: tuple = ()
    options: dict = dataclasses.field(default_factory=dict)
    predict_fn: Path = None
    # What the model was saved with (bridge_save() writes them; docs/models.md).
    packages: dict = dataclasses.field(default_factory=dict)
    r_version: str = None

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
        packages, r_version = reqs.read_record(meta, json_path.name)
        meta.pop("packages", None)
        meta.pop("r_version", None)
        meta.pop("saved_with", None)
        return cls(
            packages=packages, r_version=r_version,
            description=str(meta.pop("description", "")),
            version=str(meta.pop("version", "")),
            args=dict(meta.pop("args", {}) or {}),
            allow_args=_names(json_path.name, meta.pop("allow_args", [])),
            options=meta,
            predict_fn=r_path if r_path.is_file() else None,
        )


class RModel:
    def __init__(self, name, path, object_name, robj, session, sidecar=None, sha256="",
                 header=None, missing_namespaces=(), probe=True):
        self.name = name
        self.path = Path(path)
        self.object_name = object_name
        self.session = session
        self.sidecar = sidecar or Sidecar()
        self.sha256 = sha256
        self.loaded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.requirements = None
        session.run(self._check_requirements, robj, header or {}, missing_namespaces)
        session.run(self._bind, robj)
        # What the model answers for an example row, found once here so that
        # no metadata request ever runs model code.
        self.signature = session.run(probe_signature, self) if probe else None

    def _check_requirements(self, robj, header, missing_namespaces):
        """What the object needs and what it was saved with; a package that
        is not installed fails the load here, before R's own error could."""
        try:
            found, vetiver, vetiver_r, r_version = r_requirements.found(
                self.session, robj, missing_namespaces, self.sidecar.predict_fn)
        except RRuntimeError as exc:  # never a reason not to serve: R's own load still runs
            log.warning("%s: could not read what model %s needs: %s", self.path.name, self.name,
                        str(exc).strip())
            return
        recorded, recorded_by = dict(vetiver), ["vetiver"] if vetiver else []
        if self.sidecar.packages:
            recorded.update(self.sidecar.packages)
            recorded_by.append("sidecar")
        self.requirements = reqs.combine(
            found, recorded, lambda names: r_requirements.installed_versions(self.session, names),
            r_version, self.sidecar.r_version or vetiver_r, recorded_by, header)
        missing = self.requirements.missing()
        if missing:
            raise reqs.missing_error(f"{self.path.name} (model {self.name!r})", missing)

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
            try:
                self.packages = list(h("bridge_load_model")(robj))
            except RRuntimeError as exc:
                raise _package_error(self, exc) from None
            # Its formulas see its own packages, whatever else this worker
            # has loaded (packages.R, bridge_scoped_model).
            self.robj = robj = h("bridge_scoped_model")(robj)
            self.schema = schema_from_r(h("bridge_inputs")(robj))
        if self.sidecar.predict_fn is not None:
            # A custom predict_fn does its own conversion: strings reach it as sent.
            # Nor are unseen levels sent as NA: its own code decides what they mean.
            self.schema = dataclasses.replace(self.schema, strings_unsafe=False, new_levels=())
        if self.sidecar.predict_fn is not None:
            self.predictor = h("bridge_custom_predictor")(ri.StrSexpVector([str(self.sidecar.predict_fn)]))
        else:
            self.predictor = h("bridge_predictor")(robj)
        self._predict = h("bridge_guarded_predict")
        # A forecaster's arguments are its forecast()'s (forecast.R checks them);
        # it takes no predict() arguments at all.
        self.arg_spec = ArgSpec("forecast()") if self.kind == "forecaster" else _arg_spec(
            h("bridge_arg_table")(robj, self.predictor, ri.StrSexpVector(list(self.sidecar.allow_args))))
        self._frames = FrameParts()
        # R values every call passes: made once (a reused R value is copied
        # by R before any change, as every argument is).
        self._no_args = ri.ListSexpVector([])
        self._no_caller = ri.StrSexpVector([])
        self._one_row = ri.IntSexpVector([1])
        self._max_bytes = ri.FloatSexpVector([float(self.session.max_response_bytes)])
        self.default_args = dict(self.sidecar.args)
        # Rows are predicted independently for predict() methods; a custom
        # predict_fn may look across rows (scaling), so it batches only when
        # its sidecar says so.
        self.batching = bool(self.sidecar.options.get("batching", self.sidecar.predict_fn is None))
        self.timeout = float(self.sidecar.options.get("timeout", 0)) or None
        # What the training data looked like, summarised (drift, docs/monitoring.md).
        self.reference = reference_r.find_reference(self, self.name)

    # ---- predicting ----------------------------------------------------------

    def predict(self, data, **args):
        """Python API: a pandas DataFrame (or Table) in, pandas out."""
        table = data if isinstance(data, Table) else Table.from_pandas(data)
        return self.predict_table(table, args).to_pandas()

    def predict_table(self, table, args):
        """In this process (the Python API and the R worker's own probes)."""
        request = prepare_request(self, table, args)
        if request is None:
            return EMPTY
        return self.run(request)

    def run(self, request):
        """A prepared request (bridge/table.py prepare_request) -> Prediction,
        on the R thread (bridge/service's dispatch for in-process models)."""
        return self.session.run(self.predict_prepared, *request)

    @property
    def version(self):
        return self.sidecar.version or None

    def predict_many(self, items):
        """On the R thread: requests with the same args as one predict() call.

        The rows are joined, predicted once and split back. If the joint call
        fails, or does not return one value per row, each request is run on
        its own so one bad request cannot fail the others.
        """
        if len(items) == 1:
            return [self._guarded(*items[0])]
        _, _, args, caller = items[0]
        joined = [concat(parts) for parts in zip(*(item[0] for item in items))]
        total = sum(item[1] for item in items)
        try:
            prediction = self.predict_prepared(joined, total, args, caller)
        except BridgeError:
            return [self._guarded(*item) for item in items]
        if prediction.nrows != total:
            return [self._guarded(*item) for item in items]
        out, start = [], 0
        for _, nrows, _, _ in items:
            out.append(prediction.slice(start, start + nrows))
            start += nrows
        return out

    def _guarded(self, prepared, nrows, args, caller):
        try:
            return self.predict_prepared(prepared, nrows, args, caller)
        except BridgeError as exc:
            return exc

    def predict_prepared(self, prepared, nrows, args, caller=()):
        """On the R thread: build the data.frame, call predict, read the result."""
        ri = self.session.ri
        cols, classes = self._frames.build(prepared)
        r_args = self._no_args
        if args:
            r_args = ri.ListSexpVector([py2rpy_value(k, v) for k, v in args.items()])
            r_args.do_slot_assign("names", ri.StrSexpVector(list(args)))
        result = self._predict(self.predictor, self.robj, cols, classes,
                               self._one_row if nrows == 1 else ri.IntSexpVector([nrows]), r_args,
                               ri.StrSexpVector(list(caller)) if caller else self._no_caller,
                               self._max_bytes)
        if result.typeof != ri.RTYPES.VECSXP:
            prediction = Prediction("vector", {"prediction": rpy2py_column(result)}, {}, [])
        else:
            prediction = self._read_result(dict(zip(result.names, result)))
        return _one_per_row(prediction, nrows)

    def _read_result(self, out):
        warnings = rpy2py_vector(out["warnings"]) if "warnings" in out else []
        if "error" in out:
            message = out["error"][0]
            kind = out["kind"][0]
            if kind == "input":
                raise _input_error(message, {k: rpy2py_vector(out[k]) for k in
                                             ("argument", "together", "column", "row", "missing")
                                             if k in out})
            if kind == "argument":
                names = rpy2py_vector(out["arguments"])
                raise InputError(f"R rejected the argument{'s' if len(names) > 1 else ''} "
                                 f"{', '.join(repr(n) for n in names)}: {message}",
                                 r_message=message, arguments=names)
            if kind == "too_large":
                raise self._too_large(out)
            if kind == "shape":
                raise ModelError(message)
            raise ModelError(f"predict() failed in R: {message}", r_message=message)
        columns = out["columns"]
        names = list(columns.names) if columns.names is not self.session.ri.NULL else []
        if not names:
            names = ["prediction"] * len(columns)
        values = {n: rpy2py_column(v) for n, v in zip(names, columns)}
        info = out["info"]
        info_names = list(info.names) if len(info) else []
        info_values = {n: _scalar(rpy2py_vector(v)) for n, v in zip(info_names, info)}
        return Prediction(out["kind"][0], values, info_values, warnings)

    def _too_large(self, out):
        size, rows, cols = (rpy2py_vector(out[k])[0] for k in ("bytes", "rows", "columns"))
        limit = self.session.max_response_bytes
        fit = max(1, int(rows * limit / size))
        return AnswerTooLarge(
            f"the answer would be about {size / 2**20:.0f} MiB ({int(rows)} rows x {int(cols)} "
            f"values each), over this server's limit of {limit / 2**20:.0f} MiB "
            f"(BRIDGE_MAX_RESPONSE_BYTES): send at most about {fit} rows per request, or drop "
            "the arguments that widen each row's answer",
            estimated_bytes=int(size), max_response_bytes=limit, rows_that_fit=fit)

    # ---- forecasting -------------------------------------------------------------

    def forecast(self, h=None, level=None, xreg=None, seed=None, **args):
        """Python API: R's forecast as a pandas DataFrame (xreg: a DataFrame,
        rows or columns of the regressors' future values)."""
        from ..formats.shapes import columns_of
        from ..forecast import parse_request

        doc = {"h": h, "level": level, "seed": seed, "args": args,
               "xreg": None if xreg is None else columns_of(xreg)}
        return self.forecast_request(parse_request(doc, self.forecaster, self.schema)).to_pandas()

    def forecast_request(self, request):
        """A checked ForecastRequest (bridge/forecast.py) -> Forecast."""
        return self.session.run(forecast_r.run, self, request)

    # ---- describing ------------------------------------------------------------

    def summary(self):
        return {"name": self.name, "file": self.path.name, "object": self.object_name,
                "class": self.r_class, "kind": self.kind, "status": "loaded"}

    def front_view(self):
        """What the HTTP front keeps of this model (bridge/workers/remote.py)."""
        return {
            "summary": self.summary(),
            "describe": self.describe(),
            "schema": self.schema,
            "arg_spec": self.arg_spec,
            "default_args": self.default_args,
            "signature": self.signature,
            "batching": self.batching,
            "timeout": self.timeout,
            "description": self.sidecar.description,
            "version": self.sidecar.version,
            "kind": self.kind,
            "forecaster": self.forecaster,
            "reference": self.reference,
        }

    def describe(self):
        return {
            **self.summary(),
            "description": self.sidecar.description,
            "version": self.sidecar.version,
            "packages": self.packages,
            "inputs": self.schema.describe(),
            "default_args": self.default_args,
            "args": self.arg_spec.describe(),
            "custom_predict": self.sidecar.predict_fn.name if self.sidecar.predict_fn else None,
            "sha256": self.sha256,
            "loaded_at": self.loaded_at,
            "r_version": self.session.r_version,
            "requirements": self.requirements.describe() if self.requirements else None,
            **({"forecaster": self.forecaster.describe()} if self.forecaster else {}),
        }


_NO_PACKAGE = re.compile(r"(?:there is no package called|unable to find required package) "
                         r".([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]).")


def _package_error(model, exc):
    """R's "there is no package called" as the bridge's load error."""
    text = str(exc).strip()
    missing = _missing_in(f"{model.path.name} (model {model.name!r})", text, model.sidecar.packages)
    return missing or ModelLoadError(f"{model.path.name}: loading the packages of model {model.name!r} "
                                     f"failed in R: {text}")


def _missing_in(source, text, recorded):
    """The missing-package load error for R's error text, if that is what it says."""
    found = _NO_PACKAGE.search(text)
    if not found:
        return None
    package = found.group(1)
    return reqs.missing_error(source, [reqs.Requirement(package, "reading the model",
                                                        saved=recorded.get(package))])


def _arg_spec(table):
    parts = dict(zip(table.names, table))
    return ArgSpec.from_table(parts["method"][0], rpy2py_vector(parts["name"]),
                              rpy2py_vector(parts["accepted"]), rpy2py_vector(parts["type"]),
                              rpy2py_vector(parts["reason"]),
                              [rpy2py_vector(c) for c in parts["choices"]])


def _names(source, value):
    """A sidecar's list of argument names."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ModelLoadError(f"{source}: 'allow_args' must be a list of argument names")
    return tuple(value)


def _one_per_row(prediction, nrows):
    """Exactly one prediction per input row, whatever R returned (R checks
    this too; this is the last gate before a caller sees rows)."""
    lengths = {len(v) for v in prediction.vectors.values()}
    if lengths != {nrows}:
        raise ModelError(f"predict() returned {sorted(lengths) or 'no'} values per column "
                         f"for {nrows} input row{'s' if nrows != 1 else ''}: not one prediction per row")
    return prediction


def _input_error(message, blame):
    """A 422 naming what R's error was pinned on: an argument or a column."""
    if blame.get("argument"):
        names = blame["argument"]
        what = ", ".join(f"'{n}'" for n in names)
        if len(names) == 1:
            why = ""
        elif blame.get("together") == [True]:
            why = " (together: the call succeeds only without all of them)"
        else:
            why = " (together: the call succeeds without any one of them)"
        return InputError(f"R rejected the argument{'s' if len(names) > 1 else ''} {what}{why}: "
                          f"{message}", r_message=message,
                          argument=names[0] if len(names) == 1 else names)
    if blame.get("missing"):
        name, row = blame["column"][0], blame["row"][0]
        return InputError(f"column '{name}', row {row}: null (a missing value), which this model's "
                          f"predict() cannot take; send a value. R: {message}",
                          r_message=message, column=name, row=row)
    if blame.get("column"):
        name = blame["column"][0]
        return InputError(f"R rejected the values of column '{name}': {message}",
                          r_message=message, column=name)
    return InputError(f"R rejected the input: {message}", r_message=message)


def _scalar(values):
    return values[0] if len(values) == 1 else values


class FileModels(dict):
    """Served name -> RModel for one file, and the objects it skipped:
    `skipped` is a list of {"object", "reason"}."""

    def __init__(self, *args, skipped=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped = list(skipped)


def read_model_file(path, session=None, probe=True):
    """Every servable model in a file, keyed by served name.

    An .rds is served under its stem; an .rda with one model object too; an
    .rda with several serves each as <stem>.<object>. Objects without a
    predict() method, and objects whose name is not a safe file name, are
    skipped. Raises ModelLoadError when nothing loads. `probe`: find each
    model's Signature (False: its signature is None; bridge/workers/messages.py Load).
    """
    session = session or default_session()
    path = Path(path)
    sha = file_sha256(path)
    header = session.run(r_requirements.file_header, session, path)
    objects, missing_ns, others = session.run(_read_objects, session, path)
    # Served names do not change when some objects are skipped.
    single = len(objects) == 1
    skipped = []
    if path.suffix.lower() != ".rds":  # an .rds is served under its own file name
        skipped = [{"object": name[:128], "reason": "the object name is not letters, digits, "
                    "'.', '_' or '-' (at most 128 characters)"}
                   for name, _ in objects if not SAFE_OBJECT_NAME.fullmatch(name)]
        objects = [(name, robj) for name, robj in objects if SAFE_OBJECT_NAME.fullmatch(name)]
    if not objects:
        _no_model_for_want_of_packages(session, path, missing_ns, others)
        why = "; skipped: " + ", ".join(repr(s["object"]) for s in skipped) if skipped else ""
        raise ModelLoadError(f"{path.name}: holds no object with a predict() or forecast() method{why}")
    stem = file_stem(path)
    models = FileModels(skipped=skipped)
    wanting = []
    for object_name, robj in objects:
        name = stem if single else f"{stem}.{object_name}"
        sidecar = Sidecar.find(path.parent, name)
        try:
            models[name] = RModel(name, path, object_name, robj, session, sidecar, sha,
                                  header=header, missing_namespaces=missing_ns, probe=probe)
        except ModelLoadError as exc:
            # One model of several lacking a package: the others still serve.
            if single or "missing" not in exc.details:
                raise
            wanting.append(exc)
            models.skipped.append({"object": object_name, "reason": exc.description})
    if wanting and not models:
        raise wanting[0]
    return models


def _no_model_for_want_of_packages(session, path, missing_ns, others):
    """No object has a predict() method: when that is because a package is
    not installed (a namespace the file refers to, one its sidecar recorded),
    the error says which, with the Debian package that provides it."""
    name = file_stem(path)
    sidecar = Sidecar.find(path.parent, name)
    recorded = dict(sidecar.packages)
    missing = {p: recorded.get(p) for p in missing_ns}
    installed = session.run(r_requirements.installed_versions, session, list(recorded)) if recorded else []
    missing.update({n: recorded[n] for n, v in zip(recorded, installed) if v is None})
    if missing:
        raise reqs.missing_error(path.name, [reqs.Requirement(p, "the file", saved=v)
                                             for p, v in missing.items()])
    if others:
        classes = ", ".join(sorted({c for cls in others for c in cls}))
        raise ModelLoadError(f"{path.name}: no installed package provides predict() for "
                             f"{'its object' if len(others) == 1 else 'its objects'} (class {classes}); "
                             "install the package that fitted it (bridge_save() records it, "
                             "docs/models.md)", classes=sorted({c for cls in others for c in cls}))


def _read_objects(session, path):
    ri, h = session.ri, session.helper
    try:
        objects, missing = r_requirements.read_objects(session, path)
    except RRuntimeError as exc:
        text = str(exc).strip()
        raise _missing_in(path.name, text, Sidecar.find(path.parent, file_stem(path)).packages) or \
            ModelLoadError(f"{path.name}: R could not read the file: {text}")
    names = list(objects.names) if objects.names is not ri.NULL else []
    if path.suffix.lower() == ".rds":
        names = [path.stem]
    is_model, is_forecaster = h("bridge_is_model"), h("bridge_is_forecaster")
    # A model saved beside the data its call names keeps that data as its
    # record of input types (inputs.R, bridge_with_file_data).
    with_data = h("bridge_with_file_data")
    models, others = [], []
    for n, o in zip(names, objects):
        try:
            servable = is_model(o)[0] or is_forecaster(o)[0]
        except RRuntimeError as exc:  # an S4 class whose package is not installed
            text = str(exc).strip()
            raise _missing_in(path.name, text, Sidecar.find(path.parent, file_stem(path)).packages) or \
                ModelLoadError(f"{path.name}: R failed reading object {n!r}: {text}")
        if servable:
            models.append((n, with_data(o, objects)))
        elif o.rclass[0] not in _DATA_CLASSES:
            others.append(list(o.rclass))
            missing = list(dict.fromkeys(missing + rpy2py_vector(h("bridge_wanting")(o))))
    return models, missing, others


# Objects of these classes are data, not models that lack a package.
_DATA_CLASSES = {"data.frame", "list", "numeric", "integer", "character", "logical", "factor",
                 "matrix", "function", "NULL", "environment", "array", "tbl_df", "table"}


def load_model(path, object=None, session=None, package_check="warn"):
    """Python API: the model in an .rds/.rda file.

    For an .rda holding several models pass `object=` to pick one.
    `package_check` is the server's --package-check: a package installed at
    another version than the model was saved with is logged ("warn"),
    refused ("refuse", ModelLoadError) or not compared ("off").
    """
    models = read_model_file(path, session)
    for model in models.values():
        for line in reqs.enforce(model.name, model.describe(), package_check):
            log.warning("model %s: %s", model.name, line)
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
