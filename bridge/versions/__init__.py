"""Versioned models (front side; imports neither falcon nor rpy2).

A folder `r_models/<name>/` of version folders is one model with several
versions: `layout` finds them (integer folders, pins version folders) and
says why other folders are ignored; `serving` reads `serving.json` (aliases,
traffic split, shadow, which versions to load) as hostile input; `routing`
picks the version a call goes to; `shadow` replays answered calls on the
shadow version off the request path; `store` keeps one name's versions
loaded in step with its folder (the registry's hook).
"""

from .routing import Router
from .serving import Serving, ServingError
from .shadow import ShadowObserver

__all__ = ["Router", "Serving", "ServingError", "ShadowObserver"]
