"""Which version answers a call (front side, request threads; immutable,
so a new routing replaces the old one whole and a call sees one or the other).

A call that names a version or alias gets it. Otherwise: the traffic split
when there is one, else the `champion` alias, else the latest version. The
split is sticky for a routing key (the caller's X-Routing-Key): the key's
sha256 picks a point in [0, 1), so one key always lands on the same side of
a given split; without a key the point is random.
"""

import hashlib
import random

from ..errors import ModelNotFound
from ..suggest import hint
from .serving import DEFAULT, _normal

CHAMPION = "champion"


class Router:
    def __init__(self, name, serving=DEFAULT, labels=(), latest=None, rng=None):
        """`labels`: every version label the folder has (oldest first);
        `latest`: the one answering when nothing else says which."""
        self.name = name
        self.serving = serving
        self.labels = list(labels)
        self.latest = latest
        self._rng = rng or random.Random()
        total = sum(w for _, w, _ in serving.traffic)
        self._split, point = [], 0.0
        for label, weight, _ in serving.traffic:
            if weight > 0:
                point += weight / total
                self._split.append((point, label))

    @property
    def default(self):
        """The version an unpinned call goes to when there is no split."""
        return self.serving.aliases.get(CHAMPION, self.latest)

    def route(self, key=None):
        """The version label for an unpinned call."""
        if not self._split:
            return self.default
        point = bucket(key) if key is not None else self._rng.random()
        for edge, label in self._split:
            if point < edge:
                return label
        return self._split[-1][1]

    def pinned(self, text):
        """The version label a caller named (a version or an alias)."""
        text = str(text)
        if text in self.serving.aliases:
            return self.serving.aliases[text]
        label = _normal(text)
        if label in self.labels:
            return label
        shown = text if len(text) <= 40 else text[:37] + "..."
        names = [*self.labels, *self.serving.aliases]
        raise ModelNotFound(
            f"model {self.name!r} has no version or alias {shown!r}{hint(text, names)}; versions: "
            f"{', '.join(self.labels) or 'none'}; aliases: {', '.join(self.serving.aliases) or 'none'}"
            f"; GET /models/{self.name}/versions lists them", model=self.name, version=shown,
            versions=self.labels, aliases=sorted(self.serving.aliases))


def bucket(key):
    """A point in [0, 1) fixed by the key."""
    digest = hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
