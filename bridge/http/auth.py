"""Optional API keys.

Keys come from BRIDGE_API_KEYS (comma-separated) and/or BRIDGE_API_KEY_FILE
(one key per line, `#` comments). With no key configured the bridge is open.
With keys, every request but the probes and /metrics must carry one, as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; anything else gets 401
from the middleware, before a resource reads the body.
"""

import hmac
import logging
from pathlib import Path

from ..errors import Unauthorized

log = logging.getLogger(__name__)

# Probes carry no credentials; /metrics is scraped by Prometheus and shows
# only counts per served model name (see docs/operations.md).
OPEN_PATHS = frozenset(("/healthz", "/readyz", "/metrics",
                        # the Open Inference Protocol's probes (KServe's readiness probe)
                        "/v2/health/live", "/v2/health/ready",
                        # the Swagger UI page and its files hold no data; without a key
                        # /openapi.json is only its security scheme (bridge/openapi.py)
                        "/docs", "/openapi.json"))
OPEN_PREFIXES = ("/docs/static/",)


def load_keys(settings):
    keys = [k.strip() for k in settings.api_keys.split(",")]
    if settings.api_key_file:
        path = Path(settings.api_key_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SystemExit(f"BRIDGE_API_KEY_FILE: cannot read {path}: {exc.strerror}")
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [k.encode("utf-8") for k in keys if k]


def presented_key(req):
    auth = req.get_header("Authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return req.get_header("X-API-Key")


class ApiKeyAuth:
    """Falcon middleware; does nothing when no key is configured."""

    def __init__(self, keys):
        self._keys = list(keys)

    @classmethod
    def from_settings(cls, settings):
        keys = load_keys(settings)
        if keys:
            log.info("API keys required (%d configured)", len(keys))
        return cls(keys)

    @property
    def enabled(self):
        return bool(self._keys)

    def process_request(self, req, resp):
        if not self._keys or req.path in OPEN_PATHS or req.path.startswith(OPEN_PREFIXES):
            return
        given = presented_key(req)
        if not given:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>' "
                               "or 'X-API-Key: <key>'")
        if not self.accepts(given.encode("utf-8", "surrogateescape")):
            raise Unauthorized("the API key is not valid", error="invalid_token")

    def accepts(self, given):
        # Compare against every key, each in constant time: the answer's timing
        # tells nothing about how much of a key matched.
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(given, key)
        return ok
