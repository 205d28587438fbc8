"""Cross-origin requests (CORS), for browser apps on other origins.

Off unless origins are configured (--cors-origins / BRIDGE_CORS_ORIGINS, a
comma-separated list of origins such as https://app.example.com, or `*`).
Then:

- a preflight (OPTIONS with Origin and Access-Control-Request-Method) from
  an allowed origin is answered here, 204, before the API key check: a
  browser never sends credentials on a preflight. One that asks for a
  method or header the bridge does not take, or comes from another origin,
  is a 403 without CORS headers, which the browser reports as a CORS error;
- every other answer to an allowed origin (errors included) carries
  Access-Control-Allow-Origin and exposes the headers a caller reads.

No cookies are involved (API keys travel in a header), so credentials are
never allowed and `*` is safe to send as it is.
"""

import falcon

ALLOWED_METHODS = ("GET", "HEAD", "POST", "OPTIONS")
# What a caller sets: the body's type, an API key, a request id.
ALLOWED_HEADERS = frozenset(("accept", "accept-language", "content-language", "content-type",
                             "authorization", "x-api-key", "x-request-id"))
EXPOSED_HEADERS = "X-Request-ID, Retry-After, WWW-Authenticate"
MAX_AGE = "600"


def parse_origins(text):
    """'https://a.example, https://b.example' -> ('https://a.example', ...)."""
    return tuple(o.strip().rstrip("/") for o in (text or "").split(",") if o.strip())


class Cors:
    """Falcon middleware; put it before the API key check."""

    def __init__(self, origins):
        self._any = "*" in origins
        self._origins = frozenset(origins)

    @classmethod
    def from_settings(cls, settings):
        origins = parse_origins(settings.cors_origins)
        return cls(origins) if origins else None

    def allowed(self, origin):
        return bool(origin) and (self._any or origin in self._origins)

    def _allow_origin(self, origin):
        return "*" if self._any else origin

    def process_request(self, req, resp):
        method = req.get_header("Access-Control-Request-Method")
        if req.method != "OPTIONS" or not method or not req.get_header("Origin"):
            return
        origin = req.get_header("Origin")
        # A preflight is answered here, whatever the route: the real request decides the rest.
        resp.complete = True
        resp.vary = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
        asked = [h.strip().lower() for h in (req.get_header("Access-Control-Request-Headers") or "").split(",")
                 if h.strip()]
        refused = [h for h in asked if h not in ALLOWED_HEADERS]
        if not self.allowed(origin) or method.upper() not in ALLOWED_METHODS or refused:
            req.context.cors_refused = True
            resp.status = falcon.HTTP_403
            resp.content_type = falcon.MEDIA_JSON
            why = (f"origin {origin!r} is not allowed" if not self.allowed(origin)
                   else f"method {method!r} is not allowed" if method.upper() not in ALLOWED_METHODS
                   else f"header {refused[0]!r} is not allowed")
            resp.media = {"title": "CORS preflight refused", "description": why}
            return
        resp.status = falcon.HTTP_204
        resp.set_header("Access-Control-Allow-Origin", self._allow_origin(origin))
        resp.set_header("Access-Control-Allow-Methods", ", ".join(ALLOWED_METHODS))
        if asked:
            resp.set_header("Access-Control-Allow-Headers", ", ".join(asked))
        resp.set_header("Access-Control-Max-Age", MAX_AGE)

    def process_response(self, req, resp, resource, req_succeeded):
        origin = req.get_header("Origin")
        if not origin or resp.get_header("Access-Control-Allow-Origin"):
            return
        if self.allowed(origin) and not req.context.get("cors_refused"):
            resp.set_header("Access-Control-Allow-Origin", self._allow_origin(origin))
            resp.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
            resp.append_header("Vary", "Origin")
