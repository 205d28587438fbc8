"""The Plumber host inside an R worker: plumber.R files served unchanged, next to the models.

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
sink (bridge/http/plumber.py), and the host gives it to the first API with
a route for that path (any verb), else the first with a static folder over
it, else the first with a route under the path's first segment (its filters
and its 404 answer). A path no API claims gets the bridge's own 404. A file route in a bridge namespace or
matching a bridge route, or one that an earlier file already serves, is
refused at load.

Runs inside an R worker (bridge/workers/worker.py), or in the test's own
process; the front reaches it through bridge/workers/remote.py. A path no API
claims raises NoRoute, which the front's sink (bridge/http/plumber.py) answers
with the bridge's own 404.
"""

import logging
import re
from pathlib import Path

import numpy as np

from ..errors import BadRequest, NoRoute, PlumberLoadError, PredictTimeout
from ..plumberfiles import namespace, namespaces, probe
from ..settings import ROOT

log = logging.getLogger(__name__)

HOST_R = ROOT / "r_scripts" / "plumber_host.R"


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
                    if self._verbs_for(earlier, probe(route)):
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
        reserved = namespaces(templates)

        def clashes():
            out = []
            for file, verb, route in self.routes:
                if namespace(probe(route)) in reserved:
                    out.append(f"{file.name}: {verb} {route} is under "
                               f"/{namespace(probe(route))}, which the bridge serves itself")
            for template in templates:
                concrete = re.sub(r"\{[^}]*\}", "1", template)
                for index, path in enumerate(self.files):
                    if self._verbs_for(index, concrete):
                        out.append(f"{path.name}: a route matches {concrete}, which the bridge "
                                   f"serves itself ({template})")

            for file, prefix in self.assets:
                if namespace(prefix) in reserved:
                    out.append(f"{file.name}: static files at {prefix} are under "
                               f"/{namespace(prefix)}, which the bridge serves itself")
            return out

        found = self.session.run(clashes)
        if found:
            raise PlumberLoadError("Plumber routes clash with the bridge's own:\n"
                                   + "\n".join(sorted(set(found))))

    # ---- requests (any thread) -------------------------------------------------

    def call(self, method, path, query, headers, body, server):
        """Runs one request through Plumber: (status, [(name, value)], body bytes).

        Held to the bridge's predict timeout, like a model call: past it, the
        front's pool ends this worker and the caller gets a 504; a promise
        still pending at the timeout is given up in R (also a 504)."""
        timeout = self.session.default_timeout
        try:
            return self.session.run(self._call_r, method, path, query, headers, body, server, timeout)
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
            raise NoRoute(f"no Plumber route for {method} {path}")
        if "timed_out" in out:  # a promise still pending: R gave up on it itself
            raise PredictTimeout(f"{method} {path} did not finish within {timeout:g} s")
        if "bad_body" in out:
            raise BadRequest(str(out["bad_body"][0]))
        status, names_values, data = out["status"], out["headers"], out["body"]
        headers_out = []
        if len(names_values):
            headers_out = list(zip(names_values.names, names_values))
        return int(status[0]), headers_out, np.asarray(data).tobytes()


def _named(r_list):
    """An R named list as a dict (R thread)."""
    return dict(zip(r_list.names, r_list))
