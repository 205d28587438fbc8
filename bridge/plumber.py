"""Plumber APIs (annotated plumber.R files) served unchanged, next to the models.

Each API (a file as pr(file) builds it, or a folder as plumb(dir = folder)
does) is loaded by Plumber itself inside the bridge's R, with plumber attached
as the usual run script attaches it (or bare, BRIDGE_PLUMBER_BARE), and every
request under its paths is handed to that router's own `$call()` as the Rook
request httpuv would build (r_scripts/plumber_host.R). So arguments, req/res,
serializers, filters, static files, mounts, error and 404/405 answers are
Plumber's, not a re-implementation. What cannot carry over (websockets, exit
hooks) is refused when the file is loaded.

Routing: the bridge's own routes and namespaces (/models/..., /healthz,
/readyz, /metrics) stay the bridge's; Falcon hands every other path to the
sink below, which gives it to the first API with a route for that path (any
verb), else the first with a static folder over it, else the first with a
route under the path's first segment (its filters and its 404 answer). A path
no API claims gets the bridge's own 404. A file route in a bridge namespace or
matching a bridge route, or one that an earlier file already serves, is
refused at load.
"""

import logging
import re
import urllib.parse
from pathlib import Path

import falcon
import falcon.inspect
import numpy as np

from .errors import BadRequest, PlumberLoadError, PredictTimeout
from .settings import ROOT

log = logging.getLogger(__name__)

HOST_R = ROOT / "r_scripts" / "plumber_host.R"

# plumber reads a tag only where `#*` or `#'` starts the line.
_ANNOTATION = re.compile(
    r"^#['*]\s*@(get|put|post|use|delete|head|options|patch|filter|plumber|assets)\b", re.MULTILINE)
_PLACEHOLDER = re.compile(r"<[^>]*>")
_NO_CONTENT = {204, 304, *range(100, 200)}
# What httpuv leaves unescaped in PATH_INFO (it passes the raw path on).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def is_plumber_file(path):
    """True when the file carries Plumber endpoint or filter annotations."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_ANNOTATION.search(text))


def entrypoint_of(folder):
    """The file plumb(dir = folder) starts from: entrypoint.R, else plumber.R
    (any case); None when the folder has neither."""
    names = {p.name.lower(): p for p in sorted(Path(folder).iterdir()) if p.is_file()}
    return names.get("entrypoint.r") or names.get("plumber.r")


def find_plumber_files(folder=None, files=()):
    """The APIs to serve: the annotated *.R files in folder (sorted), then the
    named files and folders. A folder is one API, as plumb(dir = folder) builds
    it, when it is named, and when the folder holds an entrypoint.R.

    Unannotated files in the folder (helpers an API sources) are skipped; a
    named file without annotations is an error, since it was asked for."""
    found = []
    if folder is not None and Path(folder).is_dir() and any(
            p.name.lower() == "entrypoint.r" for p in Path(folder).iterdir()):
        found.append(Path(folder).resolve())
    elif folder is not None and Path(folder).is_dir():
        for path in sorted(Path(folder).glob("*.R")):
            if is_plumber_file(path):
                found.append(path.resolve())
            else:
                log.debug("%s has no Plumber annotations; not served", path)
    for path in files:
        path = Path(path)
        if path.is_dir():
            if entrypoint_of(path) is None:
                raise PlumberLoadError(f"{path}: a folder to serve needs an entrypoint.R "
                                       "or a plumber.R, as plumb(dir = ...) does", file=str(path))
            if path.resolve() not in found:
                found.append(path.resolve())
            continue
        if not path.is_file():
            raise PlumberLoadError(f"{path}: no such file", file=str(path))
        if not is_plumber_file(path):
            raise PlumberLoadError(f"{path}: no Plumber annotations (#* @get /path, ...) found",
                                   file=str(path))
        if path.resolve() not in found:
            found.append(path.resolve())
    return found


class PlumberApis:
    """The loaded plumber.R files of one process, in routing order."""

    def __init__(self, files, session, bare=False):
        self.session = session
        self.files = [Path(f) for f in files]
        self.bare = bare  # load as plumber::pr() alone does, nothing attached
        self.routes = []  # (file, verb, path template), files in order
        self.assets = []  # (file, path prefix of a static folder)
        session.run(self._load)
        self._check_each_other()

    # ---- loading (R thread) ---------------------------------------------------

    def _load(self):
        ri = self.session.ri
        env = ri.baseenv["new.env"]()
        ri.baseenv["sys.source"](ri.StrSexpVector([str(HOST_R)]), envir=env)
        apis = []
        for path in self.files:
            out = _named(env["plumber_host_try_load"](ri.StrSexpVector([str(path)]),
                                                      ri.BoolSexpVector([self.bare])))
            if "error" in out:
                message = str(out["error"][0]).strip()
                if out["refused"][0]:
                    raise PlumberLoadError(f"{path.name} cannot be served:\n{message}",
                                           file=str(path))
                raise PlumberLoadError(f"{path.name} failed to load in Plumber: {message}",
                                       file=str(path))
            api = out["api"]
            routes = _named(api)["routes"]
            verbs, paths = (list(col) for col in routes)
            self.routes += [(path, verb, route) for verb, route in zip(verbs, paths)]
            self.assets += [(path, prefix) for prefix in _named(api)["assets"]]
            apis.append(api)
            log.info("Plumber API %s: %d endpoint(s)%s", path, len(verbs),
                     " (bare)" if self.bare else "")
        self._apis = ri.ListSexpVector(apis)
        self._call = env["plumber_host_call"]
        self._allowed = env["plumber_host_allowed"]

    def _verbs_for(self, index, path):
        """Verbs file number `index` serves on a concrete path (R thread)."""
        ri = self.session.ri
        return list(self._allowed(self._apis[index], ri.StrSexpVector([path])))

    def _check_each_other(self):
        """Refuses a route that an earlier file would answer instead."""

        def clashes():
            out = []
            for file, verb, route in self.routes:
                for earlier in range(self.files.index(file)):
                    if self._verbs_for(earlier, _probe(route)):
                        out.append(f"{file.name}: {verb} {route} is already served by "
                                   f"{self.files[earlier].name}")
            return out

        found = self.session.run(clashes)
        if found:
            raise PlumberLoadError("Plumber routes clash:\n" + "\n".join(found))

    def check_bridge_routes(self, templates):
        """Refuses a file route in the bridge's own namespaces (/models/..., the
        probes, /metrics) or one that matches a bridge route: the bridge would
        always answer there instead."""
        reserved = _namespaces(templates)

        def clashes():
            out = []
            for file, verb, route in self.routes:
                if _namespace(_probe(route)) in reserved:
                    out.append(f"{file.name}: {verb} {route} is under "
                               f"/{_namespace(_probe(route))}, which the bridge serves itself")
            for template in templates:
                probe = re.sub(r"\{[^}]*\}", "1", template)
                for index, path in enumerate(self.files):
                    if self._verbs_for(index, probe):
                        out.append(f"{path.name}: a route matches {probe}, which the bridge "
                                   f"serves itself ({template})")

            for file, prefix in self.assets:
                if _namespace(prefix) in reserved:
                    out.append(f"{file.name}: static files at {prefix} are under "
                               f"/{_namespace(prefix)}, which the bridge serves itself")
            return out

        found = self.session.run(clashes)
        if found:
            raise PlumberLoadError("Plumber routes clash with the bridge's own:\n"
                                   + "\n".join(sorted(set(found))))

    # ---- requests (any thread) -------------------------------------------------

    def call(self, method, path, query, headers, body, server):
        """Runs one request through Plumber: (status, [(name, value)], body bytes).

        Held to the bridge's predict timeout, like a model call: past it, R is
        interrupted and the caller gets a 504."""
        timeout = self.session.default_timeout
        try:
            return self.session.run(self._call_r, method, path, query, headers, body, server,
                                    timeout, timeout=timeout)
        except PredictTimeout:
            raise PredictTimeout(f"{method} {path} did not finish within {timeout:g} s") from None

    def _call_r(self, method, path, query, headers, body, server, timeout):
        ri = self.session.ri
        r_headers = ri.StrSexpVector(list(headers.values()))
        r_headers.names = ri.StrSexpVector(list(headers))
        r_server = ri.StrSexpVector(list(server.values()))
        r_server.names = ri.StrSexpVector(list(server))
        out = self._call(
            self._apis, ri.StrSexpVector([method]), ri.StrSexpVector([path]),
            ri.StrSexpVector([query]), r_headers, ri.ByteSexpVector(body), r_server,
            ri.FloatSexpVector([timeout]))
        out = _named(out)
        if "unclaimed" in out:
            # Under no API's paths: the bridge's own 404, as on its own routes.
            raise falcon.HTTPNotFound()
        if "timed_out" in out:  # a promise still pending: R gave up on it itself
            raise PredictTimeout(f"{method} {path} did not finish within {timeout:g} s")
        if "bad_body" in out:
            raise BadRequest(str(out["bad_body"][0]))
        status, names_values, data = out["status"], out["headers"], out["body"]
        headers_out = []
        if len(names_values):
            headers_out = list(zip(names_values.names, names_values))
        return int(status[0]), headers_out, np.asarray(data).tobytes()


class PlumberSink:
    """Falcon sink: hands a request to Plumber and writes back what it answers."""

    # Set by the WSGI server from the body; a copy from R would be stale.
    _SKIP = {"content-length", "transfer-encoding", "connection", "date"}

    def __init__(self, apis):
        self._apis = apis

    def __call__(self, req, resp, **kwargs):
        # httpuv gives Plumber the path as sent (still %-encoded): take it from
        # the raw URI the server keeps (gunicorn: RAW_URI, waitress: REQUEST_URI).
        raw = req.env.get("RAW_URI") or req.env.get("REQUEST_URI")
        if raw:
            path = raw.split("?", 1)[0] if raw.startswith("/") else urllib.parse.urlsplit(raw).path
        else:  # falcon.testing passes no raw URI; rebuild it as sent
            path = urllib.parse.quote(req.env["PATH_INFO"].encode("latin-1"), safe=_PATH_SAFE)
        headers = {name.lower(): value for name, value in req.headers.items()}
        server = {"name": req.env.get("SERVER_NAME", "localhost"),
                  "port": str(req.env.get("SERVER_PORT", "")),
                  "remote_addr": req.remote_addr or "",
                  "remote_port": str(req.env.get("REMOTE_PORT", "")),
                  "scheme": req.scheme}
        status, headers_out, body = self._apis.call(
            req.method, path, req.query_string, headers, req.bounded_stream.read(), server)
        resp.status = status
        # Without a type from Plumber, say "bytes" (what a missing one means,
        # RFC 9110 8.3) rather than let Falcon claim the app's JSON default.
        resp.content_type = None if status in _NO_CONTENT else "application/octet-stream"
        for name, value in headers_out:
            if name.lower() in self._SKIP:
                continue
            if name.lower() == "content-type":
                # httpuv sends Plumber's Content-Type even on a 204; HTTP (and
                # WSGI) say a response without content has none.
                if status not in _NO_CONTENT:
                    resp.content_type = value
            else:
                resp.append_header(name, value)
        resp.data = body


def mount(app, apis):
    """Serves the Plumber APIs on app, under the routes the app does not have."""
    if apis is None or not apis.files:
        return
    templates = [route.path for route in falcon.inspect.inspect_routes(app)]
    apis.check_bridge_routes(templates)
    # Paths in the bridge's namespaces stay the bridge's, even unrouted ones
    # (a mistyped /models/x/y gets the bridge's 404, not a Plumber file's).
    reserved = "|".join(re.escape(name) for name in sorted(_namespaces(templates)))
    prefix = f"/(?!({reserved})(/|$))" if reserved else "/"
    app.add_sink(PlumberSink(apis), prefix=prefix)


def load(settings, session):
    """The Plumber APIs settings name (folder and files), loaded; None if none."""
    files = find_plumber_files(settings.plumber_dir, settings.plumber)
    if not files:
        return None
    return PlumberApis(files, session, bare=settings.plumber_bare)


def _named(r_list):
    """An R named list as a dict (R thread)."""
    return dict(zip(r_list.names, r_list))


def _namespace(path):
    """The first segment of a path: "models" for /models/x/predict."""
    return path.lstrip("/").split("/", 1)[0]


def _namespaces(templates):
    """The fixed first segments of the bridge's route templates."""
    return {_namespace(t) for t in templates if _namespace(t) and "{" not in _namespace(t)}


def _probe(route):
    """A concrete path matching a Plumber route template such as /items/<id:int>."""
    return _PLACEHOLDER.sub("1", route)
