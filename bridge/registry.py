"""The set of served models, kept in step with the model folder (front side).

A changed file is copied into a private snapshot, checked (links, manifest),
and loaded into every R worker (bridge/workers/pool.py) before its models
replace the old ones: requests never see a gap, and no worker answers from
a version another has not loaded. A file that fails to load anywhere keeps
its previous version serving everywhere and reports the error; a deleted
file is unserved.
"""

import logging
import threading
from pathlib import Path

from . import metrics
from . import requirements
from .errors import ModelLoadError, ModelNotFound
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
    def __init__(self, folder, pool, manifest=None, follow_symlinks=False, default_timeout=30.0):
        self.folder = Path(folder)
        self.follow_symlinks = follow_symlinks
        self.pool = pool
        self.default_timeout = default_timeout
        self.snapshots = Snapshots()
        self._scan_lock = threading.Lock()
        self.manifest = manifest  # a manifest.Manifest: files are checked before R reads them
        self._models = {}
        self._files = {}
        self._pending = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.generation = 0

    # ---- lookups (any thread) --------------------------------------------------

    def get(self, name):
        model = self._models.get(name)
        if model is None:
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise ModelNotFound(f"no model named {shown!r} is served{hint(name, self._models)}; "
                                "GET /models lists them", model=shown)
        return model

    def __contains__(self, name):
        return name in self._models  # replaced whole on change, never mutated

    def models(self):
        return dict(self._models)

    def listing(self):
        out = [m.summary() for m in sorted(self._models.values(), key=lambda m: m.name)]
        skipped = {n: s.skipped for s in self._files.values() if s.skipped for n in s.names}
        for entry in out:
            if entry["name"] in skipped:
                entry["skipped_objects"] = skipped[entry["name"]]
        for state in sorted(self._files.values(), key=lambda s: s.path.name):
            if state.error and not state.names:
                out.append({"name": stem(state.path), "file": state.path.name,
                            "status": "error", "error": state.error})
            elif state.error:
                for entry in out:
                    if entry["name"] in state.names:
                        entry["reload_error"] = state.error
        return out

    # ---- keeping in step with the folder ---------------------------------------------

    def scan(self, settle=False):
        """Loads new and changed files, unserves deleted ones.

        With settle, a changed file is loaded only once its size and mtime
        have held still since the previous scan: a copy in progress is never
        loaded half-way.
        """
        with self._scan_lock:  # the watcher and SIGHUP may ask at once
            self._scan(settle)

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
        for path, sig in seen.items():
            state = self._files.get(path)
            if state is not None and state.signature == sig:
                continue
            if settle and self._pending.get(path) != sig:
                self._pending[path] = sig
                continue
            self._pending.pop(path, None)
            self._load(path, sig)

    def _load(self, path, sig):
        state = self._files.get(path) or FileState(path, sig)
        snapshot = file_id = None
        try:
            self._refuse_outside_links(path)
            # R reads the copy that was checked, never the folder itself.
            snapshot = self.snapshots.take(path)
            if self.manifest is not None:
                self.manifest.verify(snapshot)
            file_id = str(snapshot.parent)  # unique to this snapshot, whichever registry
            view = self.pool.load(file_id, snapshot)
            warned = self._check_requirements(file_id, view)
            models = {name: ServedModel(self.pool, file_id, path, v, self.default_timeout)
                      for name, v in view["models"].items()}
        except Exception as exc:
            if snapshot is not None:
                self.snapshots.drop(snapshot)
            # The previous version (if any) keeps serving.
            state.signature = sig
            state.error = _message(exc)
            self._files[path] = state
            log.error("model file %s failed to load: %s", printable(path.name), printable(state.error))
            metrics.model_load_failed(path)
            return
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
