"""The monitoring observers a server runs, from its settings: the drift
monitor always, the prediction log with --log-predictions DIR. Each behind
its own bounded queue (service.observers.Queued): a full queue drops."""

from .. import metrics
from ..service.observers import Queued
from .drift import Monitor
from .log import PredictionLog

BATCH = 0.02  # seconds: how long a call may wait to be observed, at most


def monitoring(settings, catalog):
    """(monitor, [queued observers]) for Service.from_settings."""
    monitor = Monitor(catalog, max_rows=settings.monitor_rows,
                      max_seconds=settings.monitor_minutes * 60,
                      threshold=settings.drift_threshold)
    # Both take calls in batches (BATCH): neither is on a caller's path, and a
    # wake-up per call cost the front more CPU than observing it.
    queued = [Queued(monitor, maxsize=settings.monitor_queue, name="monitor", tick=5.0, batch=BATCH)]
    if settings.log_predictions:
        if not 0 <= settings.log_sample <= 1:
            raise SystemExit(f"BRIDGE_LOG_SAMPLE={settings.log_sample}: must be between 0 and 1")
        log = PredictionLog(settings.log_predictions, sample=settings.log_sample,
                            rotate_bytes=settings.log_rotate_bytes,
                            rotate_seconds=settings.log_rotate_seconds)
        queued.append(Queued(log, maxsize=settings.log_queue, name="prediction-log",
                             tick=min(1.0, settings.log_rotate_seconds),
                             on_drop=lambda event: metrics.prediction_log_dropped(), batch=BATCH))
    return monitor, queued
