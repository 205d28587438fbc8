"""The HTTP front: everything that speaks HTTP, and nothing that embeds R.

`front.py` serves (waitress, read timeouts, signals), `app.py` wires routes to
thin resources over one `Service` (bridge/service), `errors.py` renders the
one error tree (one renderer per wire format); the rest is one concern each:
probes (`health.py`), API keys, size limits, CORS, the access log, request
metrics, OpenAPI and the docs page, the Open Inference Protocol (`v2.py`),
MLflow's scoring protocol, forecasting's route, the sink that hands other paths to Plumber
files (`plumber.py`). The only importers of falcon (tests/test_layout.py). No resource looks up a model
or the pool itself: they translate a wire format into a service call.
"""
