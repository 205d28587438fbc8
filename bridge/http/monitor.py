"""GET /models/{name}/monitor (JSON) and GET /monitor (the HTML page): the
live drift reports of bridge/monitoring/drift.py; the page also shows a
folder of versions' split and shadow agreement (the service's listing and
shadow report, as /models/{name}/versions and /shadow give them). Behind the API key like
every route that shows data (bridge/http/auth.py)."""

import falcon
import orjson

from ..monitoring import page


class ModelMonitorResource:
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp, name):
        model = self._service.resolve(name)  # 404 naming the served models
        resp.data = orjson.dumps(self._service.monitor.report(model.name, model),
                                 option=orjson.OPT_SERIALIZE_NUMPY)


class MonitorPage:
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp):
        monitor = self._service.monitor
        served = self._service.served()
        reports = [monitor.report(name, served[name]) for name in sorted(served)]
        routing = {}
        for name in sorted(served):
            if self._service.versions(name) is not None:  # a folder of versions
                listing = self._service.version_listing(name)
                shadow = self._service.shadow_report(name) if listing.get("shadow") else None
                routing[name] = (listing, shadow)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = page.render(reports, monitor.threshold, routing)


def add_routes(app, service):
    if service.monitor is None:  # a service made without monitoring (tests, the Python API)
        return
    app.add_route("/models/{name}/monitor", ModelMonitorResource(service))
    app.add_route("/monitor", MonitorPage(service))
