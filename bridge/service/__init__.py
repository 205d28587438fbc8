"""The data plane: "predict this table with this model" in one place (front
side; imports neither falcon nor rpy2).

Every transport (native JSON/CSV, V2, MLflow, forecast, `bridge predict`)
translates its wire format into a call of `Service` and its answer back; the
service resolves the model, checks the request, dispatches it to the pool
through the model's view and tells its observers (metrics; later logs and
shadow traffic) about every answered and refused call.
"""

from .calls import Answer, Context, Event
from .catalog import LocalCatalog
from .observers import Observers, Queued
from .readiness import Readiness, ReadinessReport
from .service import Service

__all__ = ["Answer", "Context", "Event", "LocalCatalog", "Observers", "Queued", "Readiness",
           "ReadinessReport", "Service"]
