"""Watching served models (front side; no HTTP, no R): the prediction log
(every answered and refused call as Parquet rows, `log.py`), the reference
each model carries and the live summaries compared with it (`summary.py`,
`drift.py`). Both are observers of the service (bridge/service/observers.py),
run off the request path through a bounded queue (`Queued`): when they
cannot keep up they drop and count, a caller never waits on them."""
