"""One exception tree for the whole bridge; each error carries its HTTP status.

Shared code, raised in every process: code that knows nothing of HTTP
raises them with a message a caller can act on; an R worker's cross its
pipe as (class name, description, details) (bridge/workers/messages.py);
only the HTTP side maps them to HTTP, in one place (bridge/http/errors.py,
one renderer per wire format: native, V2, MLflow; bridge/http/plumber.py
for NoRoute).
"""


class BridgeError(Exception):
    status = 500
    title = "Internal error"
    headers = {}  # extra response headers (WWW-Authenticate, Retry-After)

    def __init__(self, description, **details):
        super().__init__(description)
        self.description = description
        self.details = details

    def to_dict(self):
        return {"title": self.title, "description": self.description, **self.details}


class BadRequest(BridgeError):
    status = 400
    title = "Malformed request"


class ModelNotFound(BridgeError):
    status = 404
    title = "Unknown model"


class NoRoute(BridgeError):
    """No route serves this path: none of the bridge's, none of a Plumber
    file's. The HTTP side answers it as it answers any unrouted path."""

    status = 404
    title = "Not found"


class UnsupportedMediaType(BridgeError):
    status = 415
    title = "Unsupported content type"


class InputError(BridgeError):
    """The request is well formed but does not fit the model's inputs."""

    status = 422
    title = "Input does not fit the model"


class ModelLoadError(BridgeError):
    status = 503
    title = "Model not loaded"


class ModelLoading(ModelLoadError):
    """The name is a model file's that is still loading (at start, mostly)."""

    title = "Model still loading"

    def __init__(self, description, retry_after=1, **details):
        super().__init__(description, **details)
        self.headers = {"Retry-After": str(retry_after)}


class ModelError(BridgeError):
    """The model itself failed (R raised an error not caused by the input)."""

    status = 500
    title = "Model failed"


class Overloaded(BridgeError):
    status = 503
    title = "Overloaded"

    def __init__(self, description, retry_after=1, **details):
        super().__init__(description, **details)
        self.headers = {"Retry-After": str(retry_after)}


class PredictTimeout(BridgeError):
    status = 504
    title = "Prediction timed out"


class NoSpareWorker(Exception):
    """Internal, never a caller's answer: no R worker could take a call that
    must not make a caller wait (a shadow call, bridge/workers/pool.py)."""


class Unauthorized(BridgeError):
    status = 401
    title = "Unauthorized"

    def __init__(self, description, error=None, **details):
        super().__init__(description, **details)
        challenge = 'Bearer realm="r-bridge"'
        if error:
            challenge += f', error="{error}"'
        self.headers = {"WWW-Authenticate": challenge}


class TooLarge(BridgeError):
    """The request is larger than this server accepts (body bytes or rows)."""

    status = 413
    title = "Request too large"


class PlumberLoadError(BridgeError):
    """A plumber.R file cannot be served (refused feature, clash, or its own error)."""

    status = 503
    title = "Plumber API not loaded"


class AnswerTooLarge(BridgeError):
    """R's answer would be larger than BRIDGE_MAX_RESPONSE_BYTES: the caller
    asked for too many rows, or for arguments that widen every row."""

    status = 422
    title = "Answer too large"


class WorkerStartError(BridgeError):
    """An R worker process did not come up (R failed to start, a Plumber file
    refused, no Ready in time)."""

    status = 503
    title = "R worker did not start"


class WorkerCrashed(BridgeError):
    """The R worker process running this request died (a crash in R or a
    package, quit(), a signal). The server replaced it."""

    status = 502
    title = "R worker failed"


class WorkerOutOfMemory(BridgeError):
    """The call made its R worker grow past --worker-memory; the worker was
    ended and replaced."""

    status = 507
    title = "R worker out of memory"
