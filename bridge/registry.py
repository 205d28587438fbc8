"""The set of served models, kept in step with the model folder (front side).

A changed file is copied into a private snapshot, checked (links, manifest),
and loaded by an R worker (bridge/workers/pool.py) before its models
replace the old ones: requests never see a gap, and a request goes only to
a worker that has loaded the version it is served from. A file that fails
to load keeps its previous version serving and reports the error; a
deleted file is unserved.

A scan hands every changed file to the pool at once, smallest first, and
serves each as soon as it has loaded: a file whose load is slow or hangs
(until --load-timeout) holds no other file. Meanwhile GET /models lists it
as "loading", and a request for it is told to retry (503). `scanned` is set
once the first scan has finished (/readyz).
"""

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

from . import metrics
from . import requirements
from .errors import ModelLoadError, ModelLoading, ModelNotFound
from .http.logs import printable
from .modelfiles import Snapshots, is_model_file, sidecars, stem
from .suggest import hint
from .workers.remote import ServedModel

log = logging.getLogger(__name__)


class FileState:
    """What the registry knows of one model file."""

    def __init__(self, path, signature):
        self.path = path
        self.signature = signature
        self.names = []
        self.error = None
        self.skipped = []
        self.file_id = None     # the version the workers serve
        self.snapshot = None


class Registry:
    def __init__(self, folder, pool, manifest=None, follow_symlinks=False, default_timeout=30.0,
                 pinned_versions=None):
        self.folder = Path(folder)
        self.pinned_versions = pinned_versions  # None: versions.store.PINNED
        self.follow_symlinks = follow_symlinks
        self.pool = pool
        self.default_timeout = default_timeout
        self.snapshots = Snapshots()
        self._scan_lock = threading.Lock()
        self.manifest = manifest  # a manifest.Manifest: files are checked before R reads them
        self._models = {}
        self._files = {}
        self._pending = {}
        self._loading = {}  # path -> file name, while its load runs; replaced whole, never mutated
        self._versioned = {}  # name -> versions.store.Versioned (folders of versions)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.scanned = threading.Event()  # the first scan has finished
        self.generation = 0

    # ---- lookups (any thread) --------------------------------------------------

    def get(self, name):
        model = self._models.get(name)
        if model is None:
            shown = name if len(name) <= 80 else name[:77] + "..."
            # An .rds serves its stem; an .rda with several objects <stem>.<object>.
            if any(name == stem(p) or name.startswith(stem(p) + ".") for p in self._loading):
                raise ModelLoading(f"model {shown!r} is still loading; retry shortly",
                                   model=shown)
            raise ModelNotFound(f"no model named {shown!r} is served{hint(name, self._models)}; "
                                "GET /models lists them", model=shown)
        return model

    def __contains__(self, name):
        return name in self._models  # replaced whole on change, never mutated

    def models(self):
        return dict(self._models)

    def versioned(self, name):
        """The versions of a name served from a folder of versions, or None
        (a one-file model). The service routes calls through it."""
        return self._versioned.get(name)

    def listing(self):
        out = [m.summary() for m in sorted(self._models.values(), key=lambda m: m.name)]
        skipped = {n: s.skipped for s in self._files.values() if s.skipped for n in s.names}
        for entry in out:
            if entry["name"] in skipped:
                entry["skipped_objects"] = skipped[entry["name"]]
        loading = self._loading
        for state in sorted(list(self._files.values()), key=lambda s: s.path.name):
            if state.path in loading:
                continue
            if state.error and not state.names:
                out.append({"name": stem(state.path), "file": state.path.name,
                            "status": "error", "error": state.error})
            elif state.error:
                for entry in out:
                    if entry["name"] in state.names:
                        entry["reload_error"] = state.error
        served = {p for s in list(self._files.values()) if s.names for p in [s.path]}
        for path in sorted(loading, key=lambda p: p.name):
            if path not in served:  # a new version of a served file: the old one serves meanwhile
                out.append({"name": stem(path), "file": path.name, "status": "loading"})
        return self._list_versions(out)

    def loading(self):
        """How many files are loading now."""
        return len(self._loading)

    # ---- keeping in step with the folder ---------------------------------------------

    def scan(self, settle=False):
        """Loads new and changed files, unserves deleted ones.

        With settle, a changed file is loaded only once its size and mtime
        have held still since the previous scan: a copy in progress is never
        loaded half-way.
        """
        with self._scan_lock:  # the watcher and SIGHUP may ask at once
            try:
                self._scan(settle)
            finally:
                self.scanned.set()

    def _scan(self, settle):
        seen = {}
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            if path.is_file() and is_model_file(path):
                seen[path] = _signature(path)
                if self.manifest is not None:
                    # A new lock file re-checks every file against it.
                    seen[path] += (self.manifest.signature(),)
        for path in set(self._files) - set(seen):
            self._unserve(path)
        changed = []
        for path, sig in seen.items():
            state = self._files.get(path)
            if state is not None and state.signature == sig:
                continue
            if settle and self._pending.get(path) != sig:
                self._pending[path] = sig
                continue
            self._pending.pop(path, None)
            changed.append((path, sig))
        # Smallest first: the likeliest to be quick, so most models serve soonest.
        changed.sort(key=lambda item: (item[1][0], item[0].name))
        self._loading = {path: path.name for path, _ in changed}
        loads = {}
        for path, sig in changed:
            load = self._begin(path, sig)
            if load is not None:
                loads[load[2]] = (path, sig, load)
            else:
                self._loaded(path)
        while loads:  # each is served as soon as it has loaded, whichever order they finish in
            if self._stop.is_set() or self.pool.stopping:
                self._loading = {}
                return
            done, _ = wait(list(loads), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                path, sig, (snapshot, file_id, _) = loads.pop(future)
                self._finish(path, sig, snapshot, file_id, future)
                self._loaded(path)
        self._scan_versioned(settle)

    def _loaded(self, path):
        self._loading = {p: n for p, n in self._loading.items() if p != path}

    def _begin(self, path, sig):
        """Checks a file and queues its load: (snapshot, file_id, future), or
        None when it was refused (the error recorded)."""
        snapshot = None
        try:
            self._refuse_outside_links(path)
            # R reads the copy that was checked, never the folder itself.
            snapshot = self.snapshots.take(path)
            if self.manifest is not None:
                self.manifest.verify(snapshot)
            file_id = str(snapshot.parent)  # unique to this snapshot, whichever registry
            return snapshot, file_id, self.pool.load_async(file_id, snapshot)
        except Exception as exc:
            self._failed(path, sig, snapshot, exc)
            return None

    def _failed(self, path, sig, snapshot, exc):
        if snapshot is not None:
            self.snapshots.drop(snapshot)
        # The previous version (if any) keeps serving.
        state = self._files.get(path) or FileState(path, sig)
        state.signature = sig
        state.error = _message(exc)
        self._files[path] = state
        log.error("model file %s failed to load: %s", printable(path.name), printable(state.error))
        metrics.model_load_failed(path)

    def _finish(self, path, sig, snapshot, file_id, future):
        try:
            view = future.result()
            warned = self._check_requirements(file_id, view)
            models = {name: ServedModel(self.pool, file_id, path, v, self.default_timeout)
                      for name, v in view["models"].items()}
        except Exception as exc:
            self._failed(path, sig, snapshot, exc)
            return
        state = self._files.get(path) or FileState(path, sig)
        clashes = [n for n in models if n in self._models and n not in state.names]
        if clashes:
            self.pool.unload(file_id)
            self.snapshots.drop(snapshot)
            state.signature, state.error = sig, f"name {clashes[0]!r} is already served by another file"
            self._files[path] = state
            log.error("model file %s: %s", printable(path.name), printable(state.error))
            return
        with self._lock:
            updated = dict(self._models)
            for name in set(state.names) - set(models):
                updated.pop(name, None)
            updated.update(models)
            self._models = updated
            self.generation += 1
        old_id, old_snapshot = state.file_id, state.snapshot
        state.signature, state.names, state.error = sig, list(models), None
        state.skipped = view["skipped"]
        state.file_id, state.snapshot = file_id, snapshot
        self._files[path] = state
        if old_id is not None:
            self.pool.unload(old_id)
            self.snapshots.drop(old_snapshot)
        log.info("serving %s from %s", printable(", ".join(models)), printable(path.name))
        for name in models:
            metrics.model_loaded(name)
            lines, packages = warned.get(name, ([], []))
            metrics.requirement_mismatch(name, packages)
            for line in lines:
                log.warning("model %s: %s (--package-check warn)", printable(name), printable(line))
        for skipped in state.skipped:
            log.warning("model file %s: object %s not served: %s", printable(path.name),
                        printable(skipped["object"]), skipped["reason"])

    def _check_requirements(self, file_id, view):
        """--package-check on what the workers found: warnings per model, put
        in its listing entry; under refuse the file is unloaded and fails."""
        policy = getattr(getattr(self.pool, "settings", None), "package_check", "warn")
        warned = {}
        try:
            for name, v in view["models"].items():
                lines = requirements.enforce(name, v.get("describe"), policy)
                warned[name] = (lines, requirements.mismatched(v.get("describe")) if lines else [])
        except ModelLoadError:
            self.pool.unload(file_id)
            raise
        for name, (lines, _) in warned.items():
            if lines:
                view["models"][name]["summary"]["requirement_warnings"] = lines
                view["models"][name]["describe"]["requirement_warnings"] = lines
        return warned

    def _unserve(self, path):
        state = self._files.pop(path)
        for name in state.names:
            metrics.requirement_mismatch(name, [])
        with self._lock:
            self._models = {n: m for n, m in self._models.items() if n not in state.names}
            self.generation += 1
        if state.file_id is not None:
            self.pool.unload(state.file_id)
            self.snapshots.drop(state.snapshot)
        log.info("unserved %s (file removed)", printable(path.name))

    # ---- folders of versions (bridge/versions/) -----------------------------------------

    def _scan_versioned(self, settle, only=None):
        """Every folder of versions (or, with `only`, that one name's)."""
        from .versions import layout
        from .versions.store import Versioned

        folders = {}
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            if layout.is_versioned(path) and (only is None or path.name == only):
                folders[path.name] = path
        changed = False
        for name in set(self._versioned) - set(folders) if only is None else ():
            self._versioned.pop(name).close()
            metrics.requirement_mismatch(name, [])
            changed = True
            log.info("unserved %s (its folder of versions was removed)", printable(name))
        file_names = {n for st in self._files.values() for n in st.names}
        if only is None:
            self._version_clashes = sorted(n for n in folders if n in file_names)
        for name, path in folders.items():
            if name in file_names:
                continue  # a file serves this name; listed as a clash
            versioned = self._versioned.get(name)
            if versioned is None:
                versioned = self._versioned[name] = Versioned(
                    name, path, self, manifest_signature=lambda: (
                        self.manifest.signature() if self.manifest is not None else None),
                    verify=None if self.manifest is None else (
                        lambda p: self.manifest.verify_file(p, self.folder)),
                    **({} if self.pinned_versions is None else {"pinned": self.pinned_versions}))
            try:
                changed |= versioned.scan(settle)
            except Exception:
                log.exception("scanning the versions of %s failed", printable(name))
        if changed:
            with self._lock:
                updated = {n: m for n, m in self._models.items() if n not in self._served_versioned}
                served = set()
                for name, versioned in self._versioned.items():
                    model = versioned.default()
                    if model is not None:
                        updated[name] = model
                        served.add(name)
                self._models, self._served_versioned = updated, served
                self.generation += 1
            for name in self._served_versioned:
                metrics.model_loaded(name)
        for name, versioned in self._versioned.items() if changed else ():
            # One series per package any held version of the model runs mismatched.
            metrics.requirement_mismatch(name, sorted(versioned.requirement_mismatches()))

    _served_versioned = frozenset()
    _version_clashes = ()

    def load_version(self, name, path):
        """One version's model file, loaded as `name` into every R worker:
        (ServedModel, file id, snapshot). Raises as a load does."""
        self._refuse_outside_links(path)
        snapshot = self.snapshots.take(path, name=name)
        try:
            if self.manifest is not None:
                self.manifest.verify_version(path, snapshot, self.folder)
            file_id = str(snapshot.parent)
            view = self.pool.load(file_id, snapshot)
        except Exception:
            self.snapshots.drop(snapshot)
            raise
        if list(view["models"]) != [name]:
            self.pool.unload(file_id)
            self.snapshots.drop(snapshot)
            raise ModelLoadError(f"{path.name}: a version file serves one model; this one holds "
                                 f"{len(view['models'])} ({', '.join(view['models'])})")
        try:
            # --package-check as for a file: refuse unloads it and raises.
            lines, packages = self._check_requirements(file_id, view).get(name, ([], []))
        except Exception:
            self.snapshots.drop(snapshot)
            raise
        model = ServedModel(self.pool, file_id, path, view["models"][name], self.default_timeout)
        model.requirement_warnings, model.requirement_mismatches = lines, packages
        for line in lines:
            log.warning("model %s (%s): %s (--package-check warn)", printable(name),
                        printable(f"{path.parent.name}/{path.name}"), printable(line))
        return model, file_id, snapshot

    def demand_version(self, name, label):
        """A caller pinned a version that is not held: load it now (on the
        caller's thread, under the scan lock, as a scan would) and hold it."""
        with self._scan_lock:
            versioned = self._versioned.get(name)
            if versioned is not None:
                versioned.demand(label)
                self._scan_versioned(settle=False, only=name)

    def release(self, file_id, snapshot):
        self.pool.unload(file_id)
        self.snapshots.drop(snapshot)

    def _list_versions(self, out):
        for entry in out:
            versioned = self._versioned.get(entry["name"])
            if versioned is not None:
                entry.update(versioned.listing())
                entry["file"] = f"{entry['name']}/"
                entry["version"] = versioned.router.default
        for name, versioned in sorted(self._versioned.items()):
            if name not in self._models:
                out.append({"name": name, "file": f"{name}/", "status": "error",
                            "error": "no version of it is loaded", **versioned.listing()})
        for name in self._version_clashes:
            out.append({"name": name, "file": f"{name}/", "status": "error",
                        "error": f"name {name!r} is already served by a model file; the folder "
                                 "of versions is not served"})
        return out

    def _refuse_outside_links(self, path):
        """A model file or sidecar that resolves outside the model folder
        (a symlink to /etc, say) is refused unless --follow-symlinks."""
        if self.follow_symlinks:
            return
        root = self.folder.resolve()
        for p in [path, *sidecars(path)]:
            if not p.resolve().is_relative_to(root):
                raise ModelLoadError(f"{p.name} links outside the model folder; refused "
                                     "(serve it with --follow-symlinks, or copy it in)")

    def watch(self, interval):
        """Polls the folder in a background thread until stop()."""
        def loop():
            while not self._stop.wait(interval):
                try:
                    self.scan(settle=True)
                except Exception:
                    log.exception("model folder scan failed")

        thread = threading.Thread(target=loop, name="model-watch", daemon=True)
        thread.start()
        return thread

    def stop(self):
        self._stop.set()
        self.snapshots.close()


def _signature(path):
    st = path.stat()
    # Sidecars count as part of a model: editing one reloads it.
    extra = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sidecars(path))
    return (st.st_size, st.st_mtime_ns, extra)


def _message(exc):
    return getattr(exc, "description", None) or str(exc).strip() or type(exc).__name__
