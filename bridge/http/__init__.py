"""The HTTP front: everything that speaks HTTP, and nothing that embeds R.

`front.py` serves (waitress, read timeouts, signals), `app.py` wires routes to
thin resources and renders the one error tree; the rest is one concern each:
probes (`health.py`), API keys, size limits, CORS, the access log, OpenAPI
and the docs page, the Open Inference Protocol (`v2.py`), MLflow's scoring
protocol, forecasting's route.
"""
