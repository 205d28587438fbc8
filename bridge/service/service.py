"""`Service`: the one place a table meets a model (front side, request
threads; no HTTP, no R).

A call: resolve the name (+ version) to a served model (`resolve`, the one
method versions and traffic split replace), check the row limit, prepare
and check the request (bridge/table.py `prepare_request`: allow-listed
arguments, typed columns), dispatch it through the model's view (the pool,
or this process's R for a `LocalCatalog`), and return an `Answer` naming
the model and version that answered. Observers hear of every answered and
refused call, after it is decided, on the caller's thread.
"""

from ..errors import BridgeError, InputError, ModelNotFound, TooLarge
from ..forecast import MAX_HORIZON, parse_request
from ..prediction import EMPTY
from ..table import prepare_request
from .calls import Answer, Event
from .observers import Observers
from .readiness import Readiness, ReadinessReport


class Service:
    def __init__(self, catalog, workers=None, readiness=None, observers=(), max_rows=None,
                 max_horizon=MAX_HORIZON):
        """`catalog`: the registry (or a LocalCatalog); `workers`: the R worker
        pool, asked only how many workers can take work and how deep its
        queue is (None: R in this process, always up)."""
        self._catalog = catalog
        self._workers = workers
        self._readiness = readiness or Readiness(ready=True)
        self.observers = Observers(observers)
        self.max_rows = max_rows
        self.max_horizon = max_horizon
        self.monitor = None  # bridge/monitoring/drift.py Monitor, when the server runs one

    @classmethod
    def from_settings(cls, registry, settings, readiness=None):
        """The server's service: over the registry and its pool, with the
        settings' limits and the observers every server has (metrics)."""
        from ..metrics import MetricsObserver
        from ..monitoring.wiring import monitoring
        from ..versions.shadow import ShadowObserver

        monitor, queued = monitoring(settings, registry)
        service = cls(registry, registry.pool, readiness, observers=[MetricsObserver()],
                      max_rows=settings.max_rows, max_horizon=settings.max_horizon)
        service.monitor = monitor
        # Shadow traffic (docs/versions.md): replays answered calls on a
        # model's shadow version off the request path, and tells the other
        # observers of those answers (Event.shadow). Before the log, so at
        # shutdown it stops first and the log drains what it answered.
        service.shadow = ShadowObserver(service, registry, maxsize=settings.shadow_queue,
                                        timeout=settings.shadow_timeout)
        service.observers.add(service.shadow)
        for observer in queued:  # the prediction log, the drift monitor
            service.observers.add(observer)
        return service

    shadow = None  # the ShadowObserver, when the catalog has folders of versions

    def close(self, timeout=None):
        """Shutdown: every queued observer (the prediction log) handles what
        it was given, within `timeout` seconds in all; False if one could not."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        done = True
        for observer in self.observers:
            close = getattr(observer, "close", None)
            if close is not None:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                done = close(left) and done
        return done

    # ---- calls ------------------------------------------------------------------------

    def predict(self, name, table, args, context, version=None):
        """Rows -> Answer whose result is a prediction.Prediction."""
        model = request = None
        try:
            model = self.resolve(name, version, context)
            self._admit_rows(table.nrows, context)
            request = prepare_request(model, table, args)
            prediction = EMPTY if request is None else model.run(request)
        except Exception as exc:
            self._refused(context, model, exc, request, table)
            raise
        return self._answered(context, model, prediction, request, table)

    def forecast(self, name, request, context, version=None):
        """A forecast request (the decoded JSON object, bridge/forecast.py) ->
        Answer whose result is a forecast.Forecast."""
        model = checked = None
        try:
            model = self.resolve(name, version, context)
            if model.kind != "forecaster":
                raise InputError(f"{model.name!r} is not a forecaster (R class "
                                 f"{', '.join(model.r_class)}): POST /models/{model.name}/predict "
                                 "with rows", kind=model.kind)
            checked = parse_request(request, model.forecaster, model.schema, self.max_horizon)
            self._admit_rows(checked.nrows, context)
            forecast = model.forecast_request(checked)
        except Exception as exc:
            self._refused(context, model, exc, checked, None)
            raise
        return self._answered(context, model, forecast, checked, None)

    def resolve(self, name, version=None, context=None):
        """The served model a call is for. A folder of versions
        (bridge/versions/) routes: `version` (a version or an alias) pins
        one, else the traffic split (sticky by context.routing_key), the
        champion alias or the latest. A one-file model: `version` None or
        its own."""
        versioned = self.versions(name)
        if versioned is not None:
            if context is not None:
                context.model = name  # served, even if the version named is not
            model = versioned.pick(version, context.routing_key if context is not None else None)
        else:
            model = self._catalog.get(name)
            if context is not None:
                context.model = model.name
            if version is not None and version != model.version:
                shown = str(version) if len(str(version)) <= 40 else str(version)[:37] + "..."
                raise ModelNotFound(f"model {model.name!r} has no version {shown!r}; it serves "
                                    f"{model.version or 'no version'!s}", model=model.name,
                                    version=shown, versions=[model.version] if model.version else [])
        if context is not None:
            context.model = model.name
            context.version = model.version
            context.pinned = None if version is None else str(version)
        return model

    def versions(self, name):
        """The versions of `name` (bridge/versions/store.py Versioned), or
        None for a one-file model or a catalog without versions."""
        find = getattr(self._catalog, "versioned", None)
        return find(name) if find is not None else None

    def versioned_models(self):
        """{name: {version label: model}} of every folder of versions (OpenAPI)."""
        find = getattr(self._catalog, "versioned", None)
        if find is None:
            return {}
        out = {}
        for name in self._catalog.models():
            versioned = find(name)
            if versioned is not None:
                out[name] = versioned.served()
        return out

    def version_listing(self, name):
        """GET /models/{name}/versions: every version, the aliases, the split."""
        versioned = self.versions(name)
        model = self._catalog.get(name) if versioned is None else None
        if versioned is None:
            return {"name": model.name, "versions": [{"version": model.version, "loaded": True,
                                                      "file": model.summary().get("file")}]
                    if model.version else [], "aliases": {}, "traffic": {}, "shadow": None}
        return {"name": name, **versioned.listing()}

    def shadow_report(self, name):
        """GET /models/{name}/shadow: the running comparison with the shadow version."""
        self.resolve(name)
        if self.shadow is None:
            return {"model": name, "shadow_version": None}
        return self.shadow.report(name)

    def refused(self, context, exc):
        """A call the transport refused before it reached the service (a body
        that does not parse): observers hear of it too, once."""
        if context.observed:
            return
        name = context.name
        model = self._catalog.get(name) if name is not None and name in self._catalog else None
        self._refused(context, model, exc, None, None)

    # ---- what is served -----------------------------------------------------------------

    def models(self):
        """The listing GET /models shows."""
        return self._catalog.listing()

    def describe(self, name):
        model = self.resolve(name)
        versioned = self.versions(name)
        if versioned is None:
            return model.describe()
        return {**model.describe(), "version": model.version, **versioned.listing()}

    def served(self):
        """{name: model view} of every served model."""
        return self._catalog.models()

    def names(self):
        return sorted(self._catalog.models())

    def serves(self, name):
        return name in self._catalog

    @property
    def generation(self):
        """Changes whenever the served set does (documents built from it are rebuilt)."""
        return self._catalog.generation

    def readiness(self):
        state = self._readiness.state
        if self._workers is None:
            ready = total = 1
        else:
            ready, total = self._workers.available, len(self._workers.handles)
        return ReadinessReport(state=state, serving=self._readiness.ready and ready > 0,
                               workers_ready=ready, workers_total=total,
                               models=len(self._catalog.models()),
                               scanned=self._readiness.scanned, loading=self._catalog.loading())

    def queue_depth(self):
        """Calls waiting for a free R worker."""
        return 0 if self._workers is None else self._workers.queue_depth()

    # ---- observers ----------------------------------------------------------------------

    def _admit_rows(self, nrows, context):
        context.rows = nrows
        if self.max_rows is not None and nrows > self.max_rows:
            raise TooLarge(f"{nrows} rows in one request; this server accepts at most "
                           f"{self.max_rows} (BRIDGE_MAX_ROWS); send them in several requests",
                           rows=nrows, max_rows=self.max_rows)

    def _answered(self, context, model, result, request, table):
        latency = context.elapsed_ms()
        answer = Answer(model.name, model.version, result, latency)
        self._notify(Event(context, model.name, model.version, 200, latency, request, table,
                           answer=answer))
        return answer

    def _refused(self, context, model, exc, request, table):
        error = exc if isinstance(exc, BridgeError) else None
        status = error.status if error is not None else 500
        # A served name whose version does not resolve is still that model's
        # refusal (its metrics, its log folder), with no version.
        self._notify(Event(context, model.name if model else context.model, model and model.version, status,
                           context.elapsed_ms(), request, table, error=error))

    def _notify(self, event):
        event.context.observed = True
        self.observers.notify(event)
