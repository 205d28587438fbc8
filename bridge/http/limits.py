"""Request size limits: body bytes and rows per request.

- Body: BRIDGE_MAX_BODY_BYTES (default 50 MiB). A declared Content-Length
  over it gets 413 before a byte of the body is read. A chunked body (no
  Content-Length) is read here, at most that many bytes, then handed on as
  an ordinary body; one byte more is 413. Waitress itself is given the same
  limit (max_request_body_size), so under waitress an oversized body is
  refused by the server before the app sees it.
- Rows: BRIDGE_MAX_ROWS (default 1,000,000) per request: 413 too, since,
  like the body limit, the fix is to send the rows in smaller requests
  (checked by the service, bridge/service/service.py, for every protocol).
- JSON nesting: orjson refuses documents nested deeper than 1024 levels (a
  400 from bridge/formats); nothing of ours walks a document recursively.
- Headers: waitress's max_request_header_size = BRIDGE_MAX_HEADER_BYTES
  (default 64 KiB; waitress answers 431).
"""

import io

from ..errors import TooLarge, UnsupportedMediaType

_CHUNK = 1 << 16


class BodyLimits:
    """Falcon middleware for the body; the row limit is the service's
    (bridge/service), which knows the rows of every protocol's request."""

    def __init__(self, max_body_bytes):
        self.max_body_bytes = max_body_bytes

    @classmethod
    def from_settings(cls, settings):
        return cls(settings.max_body_bytes)

    def process_request(self, req, resp):
        encoding = (req.get_header("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            # A compressed body would be read as garbage, or inflate past every limit.
            raise UnsupportedMediaType(
                f"Content-Encoding {encoding[:40]!r} is not accepted; send the body uncompressed",
                content_encoding=encoding[:40])
        length = req.content_length
        if length is not None:
            if length > self.max_body_bytes:
                raise self._too_large(f"the body ({length} bytes) is larger")
        elif "chunked" in (req.get_header("Transfer-Encoding") or "").lower():
            self._read_chunked(req)

    def _read_chunked(self, req):
        # NOTE: falcon's bounded_stream reads nothing without a Content-Length;
        # give the resources the body as if it had come with one.
        buf = io.BytesIO()
        while True:
            block = req.stream.read(_CHUNK)
            if not block:
                break
            buf.write(block)
            if buf.tell() > self.max_body_bytes:
                raise self._too_large("the chunked body is larger")
        buf.seek(0)
        req.env["wsgi.input"] = req.stream = buf
        req.env["CONTENT_LENGTH"] = str(buf.getbuffer().nbytes)

    def _too_large(self, what):
        return TooLarge(f"{what} than this server accepts ({self.max_body_bytes} bytes, "
                        "BRIDGE_MAX_BODY_BYTES); send the rows in several requests",
                        max_body_bytes=self.max_body_bytes)
