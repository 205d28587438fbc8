"""A catalog is what the service resolves names in: the registry (served
models, bridge/registry.py) or, in one process, `LocalCatalog` (the models
`bridge predict` scores from a file). Both answer get(name), models(),
listing(), loading() (how many files are loading now), `name in catalog`
and `generation`."""

from ..errors import ModelNotFound
from ..suggest import hint


class LocalCatalog:
    """Models loaded in this process (bridge/r/model.py RModel)."""

    generation = 0

    def __init__(self, models):
        self._models = {m.name: m for m in models}

    def get(self, name):
        model = self._models.get(name)
        if model is None:
            raise ModelNotFound(f"no model named {name!r} is loaded{hint(name, self._models)}",
                                model=name)
        return model

    def __contains__(self, name):
        return name in self._models

    def models(self):
        return dict(self._models)

    def listing(self):
        return [m.summary() for m in sorted(self._models.values(), key=lambda m: m.name)]

    def loading(self):
        return 0  # loaded before the catalog is made
