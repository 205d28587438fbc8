"""What scores a chunk: a model file in this process's own R (LocalScorer,
which imports bridge/r/ only when used), or a served model over HTTP
(RemoteScorer, through bridge/client.py).
"""

import urllib.parse
from pathlib import Path

from .files import ScoringError


class LocalScorer:
    def __init__(self, path, object_name=None):
        from ..r.model import load_model
        from ..service import LocalCatalog, Service

        self.model = load_model(path, object=object_name)
        self.service = Service(LocalCatalog([self.model]))
        self.identity = f"{Path(path).resolve()}:{object_name or ''}"

    def score(self, chunk, args):
        # No server's per-request timeout here: a chunk takes what R needs.
        from ..service import Context

        answer = self.service.predict(self.model.name, chunk.table(), args,
                                      Context("cli", "bridge predict"))
        return answer.result.columns


class RemoteScorer:
    def __init__(self, url, name, api_key=None, version=None):
        from ..client import Client

        self.client = Client(url, api_key=api_key)
        self.name = name
        self.version = version  # a version or alias of a versioned model (docs/versions.md)
        self.identity = f"{self.client.url}/models/{name}" + (
            f"/versions/{version}" if version is not None else "")
        self.client.describe(name)  # fail now, not after the first chunk

    def score(self, chunk, args):
        if chunk.text:
            # CSV goes as CSV, so the server reads each column by the same text rules.
            predictions = self.client.predict_raw(
                self.name, chunk.frame.to_csv(index=False).encode("utf-8"), "text/csv", args,
                version=self.version)
        else:
            predictions = self.client.predict_raw(self.name, {"data": chunk.rows(), "args": args},
                                                  version=self.version)
        return prediction_columns(predictions)


def prediction_columns(predictions):
    """The server's JSON predictions back as columns, as Prediction.columns."""
    if predictions and isinstance(predictions[0], dict):
        names = list(predictions[0])
        return {n: [p.get(n) for p in predictions] for n in names}
    return {"prediction": list(predictions)}


def scorer_for(model, url=None, object_name=None, api_key=None, version=None):
    if url:
        return RemoteScorer(url, model, api_key, version)
    parsed = urllib.parse.urlparse(model)
    if parsed.scheme in ("http", "https"):
        head, sep, name = parsed.path.rstrip("/").rpartition("/models/")
        if not sep or not name or "/" in name:
            raise ScoringError(f"{model}: expected a URL like http://host:8080/models/NAME")
        base = urllib.parse.urlunparse(parsed._replace(path=head, query="", fragment=""))
        return RemoteScorer(base, urllib.parse.unquote(name), api_key, version)
    if version is not None:
        raise ScoringError("--version picks a version of a served model: give its URL "
                           "(http://host:port/models/NAME) or --url")
    if not Path(model).is_file():
        raise ScoringError(f"{model}: no such model file (or give a URL: http://host:port/models/NAME)")
    return LocalScorer(model, object_name)
