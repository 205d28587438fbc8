"""One versioned model kept in step with its folder (front side; the
registry's hook, bridge/registry.py, calls `scan` from its scan thread and
`pick` from request threads).

Load before swap: a version is loaded into every R worker (snapshotted,
lock-checked) before a route can reach it; a serving.json is accepted only
once every version it names is loaded, else it is refused whole and the
previous routing stays; the routing and the loaded versions are replaced
together in one assignment, and versions no longer needed are unloaded
after it. A deleted version that the routing still names keeps serving
(listed as deleted) until the routing stops naming it.
"""

import collections
import dataclasses
import datetime as dt
import logging
import threading
import time

from ..errors import ModelLoadError
from ..modelfiles import file_sha256, sidecars
from . import layout as layouts
from . import serving as servings
from .routing import Router

log = logging.getLogger(__name__)
RETIRE_MARGIN = 5.0  # seconds past a call's timeout before its copy is unloaded
PINNED = 4  # versions held because callers pinned them, per name (BRIDGE_PINNED_VERSIONS)


@dataclasses.dataclass
class Version:
    label: str
    path: object
    signature: tuple = None
    model: object = None     # a ServedModel once loaded
    file_id: str = None
    snapshot: object = None
    sha256: str = ""
    loaded_at: str = None
    error: str = None
    deleted: bool = False
    pin: dict = None
    hashed: tuple = None     # the signature sha256 was computed for

    def listing(self, routed):
        out = {"version": self.label, "file": _relative(self.path), "sha256": self.sha256,
               "loaded": self.model is not None, "loaded_at": self.loaded_at,
               "error": self.error, "routed": self.label in routed}
        if self.deleted:
            out["deleted"] = ("the folder is gone; still served because serving.json names it, "
                              "until it no longer does")
        if self.pin:
            out["pin"] = {k: v for k, v in self.pin.items() if v}
        if getattr(self.model, "requirement_warnings", None):
            out["requirement_warnings"] = list(self.model.requirement_warnings)
        return out


def _relative(path):
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


class Versioned:
    """The versions of one name. `loader` is the registry: load_version(name,
    path) -> (ServedModel, file_id, snapshot) and release(file_id, snapshot)."""

    def __init__(self, name, folder, loader, manifest_signature=lambda: None, verify=None,
                 pinned=PINNED):
        """`verify(path)`: raises unless the manifest approves serving.json
        (--require-lock); None: no manifest. `pinned`: how many versions
        callers pinned are held at most (the least recently pinned goes)."""
        self.name = name
        self._verify = verify
        self.folder = folder
        self._loader = loader
        self._manifest_signature = manifest_signature
        self.versions = {}          # label -> Version (scan thread only)
        self.ignored = []
        self.serving = servings.DEFAULT
        self.serving_error = None
        self._serving_sig = None
        self._pending = {}
        self._after = []
        self._retiring = []   # (when, file id, snapshot): copies unloaded once no call can hold them
        # Versions a caller pinned and serving.json does not hold, least
        # recently pinned first: held while they are among the last `pinned`
        # (a caller naming every version must not load them all into every worker).
        self._demanded = collections.OrderedDict()
        self._pinned = max(0, pinned)
        self._demand_lock = threading.Lock()
        # What request threads read, replaced whole: (Router, {label: ServedModel}).
        self._view = (Router(name), {})

    # ---- request threads --------------------------------------------------------------

    @property
    def router(self):
        return self._view[0]

    def served(self):
        return dict(self._view[1])

    def pick(self, version=None, key=None):
        """The ServedModel for a call: the version or alias named, else routed."""
        router, models = self._view
        label = router.pinned(version) if version is not None else router.route(key)
        if label is None:
            raise ModelLoadError(f"no version of {self.name!r} is loaded; GET /models/"
                                 f"{self.name}/versions says why", model=self.name)
        model = models.get(label)
        state = self.versions.get(label)
        if model is not None and version is not None and label in self._demanded:
            self._touch(label)
        if model is None and version is not None and state is not None and not state.error \
                and not state.deleted:
            # A version not held in the workers, pinned by a caller: loaded
            # now (this call waits for it, as for any load) and held from then on.
            self._loader.demand_version(self.name, label)
            model = self._view[1].get(label)
            state = self.versions.get(label)
        if model is None:
            why = state.error if state is not None and state.error else "it is not loaded"
            if why == "it is not loaded" and version is not None and self._pinned == 0:
                why += " (BRIDGE_PINNED_VERSIONS=0: a version is not loaded for a call that pins it)"
            raise ModelLoadError(f"version {label} of {self.name!r} cannot answer: {why}",
                                 model=self.name, version=label)
        return model

    def default(self):
        """The model a caller who names no version gets when there is no split
        (what the catalog shows as this name: its schema, its OpenAPI)."""
        router, models = self._view
        return models.get(router.default) or next(iter(models.values()), None)

    # ---- the scan thread --------------------------------------------------------------

    def scan(self, settle=False):
        """Brings this name in step with its folder; True when what is served changed."""
        found = layouts.scan(self.folder)
        self.ignored = found.ignored
        present = {v.label: v for v in found.versions}
        sigs = {label: self._signature(v) for label, v in present.items()}
        if settle:
            # A file still being written is loaded once it held still for one
            # scan: until then a known version keeps its copy, a new one waits.
            for label in list(present):
                state = self.versions.get(label)
                if (state is None or state.signature != sigs[label]) \
                        and self._pending.get(label) != sigs[label]:
                    self._pending[label] = sigs[label]
                    if state is None or state.deleted:
                        del present[label]
                    else:
                        sigs[label] = state.signature
        labels = [v.label for v in found.versions if v.label in present]
        serving_sig = (_file_signature(found.serving), tuple((l, sigs[l]) for l in labels),
                       self._manifest_signature())
        candidate = None
        if serving_sig != self._serving_sig:
            self._serving_sig = serving_sig
            try:
                if self._verify is not None and found.serving.is_file():
                    try:
                        self._verify(found.serving)
                    except ModelLoadError as exc:
                        raise servings.ServingError(exc.description) from None
                candidate = servings.read(found.serving, labels)
                self.serving_error = None
            except servings.ServingError as exc:
                self.serving_error = str(exc)
                log.error("%s/serving.json refused, the previous routing stays: %s", self.name, exc)
        return self._apply(present, sigs, labels, candidate)

    def _apply(self, present, sigs, labels, candidate):
        old_router, old_models = self._view
        states = dict(self.versions)
        for label, vdir in present.items():
            state = states.get(label)
            if state is None:
                state = states[label] = Version(label, vdir.path)
            state.deleted, state.path, state.pin = False, vdir.path, vdir.pin
            if state.hashed != sigs[label]:
                # Listed for every version, loaded or not; hashed again only when it changes.
                state.sha256, state.hashed = _sha(vdir.path), sigs[label]
        for label in set(states) - set(present):
            if not states[label].deleted and states[label].model is not None \
                    and label in self.serving.named():
                log.warning("%s version %s: its folder is gone; still served because "
                            "serving.json names it, until it no longer does", self.name, label)
            states[label].deleted = True
        self._after = []
        serving = self.serving
        if candidate is not None:
            self._load(states, present, sigs, self._needed(candidate, labels))
            missing = [l for l in sorted(self._reachable(candidate, labels))
                       if states.get(l) is None or states[l].model is None]
            if missing:
                state = states.get(missing[0])
                why = state.error if state is not None and state.error else "not loaded"
                self.serving_error = (f"serving.json refused, the previous routing stays: it names "
                                      f"version {missing[0]}, which did not load ({why})")
                log.error("%s: %s", self.name, self.serving_error)
            else:
                serving = candidate
        needed = self._needed(serving, labels)
        self._load(states, present, sigs, needed)
        released = []
        for label in list(states):
            state = states[label]
            if state.deleted and label not in serving.named():
                released.append((state.file_id, state.snapshot, _timeout(state.model)))
                del states[label]
            elif state.model is not None and label not in needed:
                released.append((state.file_id, state.snapshot, _timeout(state.model)))
                state.model = state.file_id = state.snapshot = state.loaded_at = None
        models = {l: s.model for l, s in states.items() if s.model is not None}
        order = list(labels) + sorted(l for l in states if l not in labels)
        router = Router(self.name, serving, order, latest=_latest_loaded(states, labels))
        changed = (serving is not self.serving or models != old_models
                   or router.labels != old_router.labels or router.latest != old_router.latest)
        self.versions, self.serving = states, serving
        self._view = (router, models)  # the swap: one assignment request threads see whole
        # Calls that picked an old copy before the swap may still be on their
        # way to a worker: it is unloaded once they are surely done (the
        # pool ends any call at its timeout), at a later scan.
        now = time.monotonic()
        for file_id, snapshot, timeout in self._after + released:
            if file_id is not None:
                self._retiring.append((now + timeout + RETIRE_MARGIN, file_id, snapshot))
        self._retire(now)
        return changed

    def _retire(self, now, everything=False):
        due = [r for r in self._retiring if everything or r[0] <= now]
        self._retiring = [r for r in self._retiring if r not in due]
        for _, file_id, snapshot in due:
            self._loader.release(file_id, snapshot)

    def _reachable(self, serving, labels):
        """Versions serving.json sends calls to (or shadows): each must be
        loaded for it to be accepted. Without them, calls go to the latest
        version that is loaded."""
        return set(serving.named())

    def _load(self, states, present, sigs, needed):
        for label in sorted(needed):
            state = states.get(label)
            if state is None or label not in present or state.signature == sigs[label] and (
                    state.model is not None or state.error):
                continue  # loaded and unchanged, or failed and unchanged since
            try:
                model, file_id, snapshot = self._loader.load_version(self.name, present[label].path)
            except Exception as exc:
                state.signature = sigs[label]
                state.error = getattr(exc, "description", None) or str(exc) or type(exc).__name__
                log.error("%s version %s failed to load: %s", self.name, label, state.error)
                continue  # a version loaded before keeps serving its previous copy
            model.version = label
            # The old copy goes once the swap is done.
            self._after.append((state.file_id, state.snapshot, _timeout(state.model)))
            state.model, state.file_id, state.snapshot = model, file_id, snapshot
            state.signature, state.error = sigs[label], None
            state.loaded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    def demand(self, label):
        """Holds `label` in the workers from the next scan on (a caller pinned
        it); past `pinned` such versions, the least recently pinned is let go."""
        with self._demand_lock:
            self._demanded[label] = None
            self._demanded.move_to_end(label)
            while len(self._demanded) > self._pinned:
                gone, _ = self._demanded.popitem(last=False)
                log.info("%s version %s: no longer held for pinned calls (%d pinned versions "
                         "at most, BRIDGE_PINNED_VERSIONS); loaded again when pinned", self.name,
                         gone, self._pinned)

    def _touch(self, label):
        with self._demand_lock:
            if label in self._demanded:
                self._demanded.move_to_end(label)

    def _needed(self, serving, labels):
        """Versions held in the R workers: serving.json "load", plus every
        version a call can reach, plus the latest (the next default), plus
        those a caller pinned."""
        if serving.load == "all":
            out = set(labels)
        elif isinstance(serving.load, tuple):
            out = set(serving.load)
        else:
            out = set()
        out |= self._reachable(serving, labels)
        if labels and serving.load == "routed":
            out.add(labels[-1])
        with self._demand_lock:
            for label in [l for l in self._demanded if l not in labels]:
                del self._demanded[label]  # a deleted version is not held again if it comes back
            return out | set(self._demanded)

    def _signature(self, vdir):
        path = vdir.path
        try:
            st = path.stat()
            extra = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sidecars(path))
            meta = path.parent / "data.txt"
            pin = meta.stat().st_mtime_ns if meta.is_file() else None
        except OSError:
            return None
        return (str(path), st.st_size, st.st_mtime_ns, extra, pin, self._manifest_signature())

    # ---- what is shown ----------------------------------------------------------------

    def requirement_mismatches(self):
        """Packages any loaded version runs at another version than saved with."""
        return {p for state in self.versions.values() if state.model is not None
                for p in getattr(state.model, "requirement_mismatches", ())}

    def listing(self):
        router = self.router
        routed = self.serving.named() | ({router.default} if router.default else set())
        return {
            "versions": [self.versions[l].listing(routed) for l in router.labels if l in self.versions],
            "latest": router.latest,
            "default": router.default,
            "aliases": dict(self.serving.aliases),
            "traffic": {label: weight for label, weight, _ in self.serving.traffic},
            "shadow": self.serving.shadow,
            "load": self.serving.to_dict()["load"],
            "serving_error": self.serving_error,
            "ignored": list(self.ignored),
        }

    def close(self):
        self._retire(0, everything=True)
        for state in self.versions.values():
            if state.file_id is not None:
                self._loader.release(state.file_id, state.snapshot)
        self.versions = {}
        self._view = (Router(self.name), {})


def _timeout(model):
    return getattr(model, "timeout", None) or 30.0


def _latest_loaded(states, labels):
    for label in reversed(labels):
        if states.get(label) is not None and states[label].model is not None:
            return label
    return None


def _file_signature(path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _sha(path):
    try:
        return file_sha256(path)
    except OSError:
        return ""
