"""The Falcon side of Plumber files: the sink that hands every path the
bridge does not route to the R workers' Plumber host (bridge/r/plumber.py)
and writes back what Plumber answered.

Runs in the front, on the HTTP request's thread. A path no Plumber file
claims (NoRoute from the host) gets the bridge's own 404, as on its own routes.
"""

import re
import urllib.parse

import falcon
import falcon.inspect

from ..errors import NoRoute
from ..plumberfiles import namespaces

_NO_CONTENT = {204, 304, *range(100, 200)}
# What httpuv leaves unescaped in PATH_INFO (it passes the raw path on).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


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
        try:
            status, headers_out, body = self._apis.call(
                req.method, path, req.query_string, headers, req.bounded_stream.read(), server)
        except NoRoute:
            raise falcon.HTTPNotFound() from None
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
    reserved = "|".join(re.escape(name) for name in sorted(namespaces(templates)))
    prefix = f"/(?!({reserved})(/|$))" if reserved else "/"
    app.add_sink(PlumberSink(apis), prefix=prefix)
