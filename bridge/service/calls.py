"""What one call of the service is: who asked (Context), what it answered
(Answer), and what observers are told (Event). Plain data, any thread."""

import dataclasses
import time

PROTOCOLS = ("json", "csv", "v2", "mlflow", "forecast", "plumber", "cli", "python")


@dataclasses.dataclass
class Context:
    """Who is calling, made by the transport. `name`, `model` and `rows` are
    filled in as the call goes (the access log and the metrics read them)."""

    protocol: str
    route: str = ""
    request_id: str = None
    traceparent: str = None
    routing_key: str = None
    started: float = dataclasses.field(default_factory=time.perf_counter)
    name: str = None        # the model name the caller asked for (None: "the one served")
    model: str = None       # the served model that took the call, once resolved
    version: str = None     # the version that took it, once resolved (X-Model-Version)
    pinned: str = None      # the version or alias the caller named (None: routed)
    rows: int = None        # the rows the caller sent, once known
    observed: bool = False  # observers were told of this call

    def elapsed_ms(self):
        return (time.perf_counter() - self.started) * 1000


@dataclasses.dataclass
class Answer:
    model: str
    version: str            # the version that answered, or None
    result: object          # a prediction.Prediction or a forecast.Forecast
    latency_ms: float


@dataclasses.dataclass
class Event:
    """One answered or refused call, as observers see it. `model` is only
    ever a served model's name (None when the name did not resolve), so an
    observer can use it as a label."""

    context: Context
    model: str
    version: str
    status: int
    latency_ms: float
    request: object = None  # the checked request: table.Request or forecast.ForecastRequest
    table: object = None    # the request's table.Table
    answer: Answer = None
    error: Exception = None  # a BridgeError, or None
    shadow: bool = False
