"""The manifest (the `bridge.lock` file): the sha256 of every model file and
sidecar a deployer approved.

R's readRDS()/load() can run code hidden in a file (CVE-2024-27322), and a
sidecar <name>.R is R code by design, so what the bridge may read is decided
before R sees a byte: `python -m bridge lock` writes the manifest, and with
--require-lock (BRIDGE_REQUIRE_LOCK=1) the registry refuses, as a load error
shown in /models, any model file whose sha256, or whose sidecars' sha256,
is not in it.

The manifest is re-read when it changes, so a deploy that copies new files
and a new lock reloads both. It protects only as far as it is itself
trusted: mount it from somewhere the model folder's writers cannot write
(BRIDGE_LOCK_FILE) when they are not the same people.

Front side: read by the registry (bridge/registry.py) and written by
`bridge lock` (bridge/cli.py); R never sees it.
"""

import datetime as dt
import json
from pathlib import Path

from .errors import ModelLoadError
from .versions.layout import SERVING, is_versioned
from .modelfiles import MODEL_SUFFIXES, SIDECAR_SUFFIXES, file_sha256, sidecars, stem

LOCK_NAME = "bridge.lock"


def manifest_files(folder):
    """Model files and sidecars in a folder, by name; and in its folders of
    versions (docs/versions.md) every version's files and serving.json."""
    folder = Path(folder)
    out = [p for p in folder.iterdir() if p.is_file() and _approvable(p)]
    for sub in folder.iterdir():
        if is_versioned(sub):
            out += [p for p in sub.glob("*/*") if p.is_file() and (_approvable(p) or p.name == "data.txt")]
            if (sub / SERVING).is_file():
                out.append(sub / SERVING)
    return sorted(out)


def _approvable(p):
    return p.suffix.lower() in MODEL_SUFFIXES or p.suffix in SIDECAR_SUFFIXES


def manifest_key(path, folder):
    """A file's name in the manifest: its path below the model folder."""
    return Path(path).relative_to(folder).as_posix()


def write_manifest(folder, out=None):
    """Writes the manifest of `folder` (default <folder>/bridge.lock); returns
    (path, {file name: sha256})."""
    folder = Path(folder)
    files = {manifest_key(p, folder): file_sha256(p) for p in manifest_files(folder)}
    out = Path(out) if out else folder / LOCK_NAME
    doc = {
        "comment": "sha256 of the model files and sidecars R Bridge may load; "
                   "written by `python -m bridge lock`",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out, files


class Manifest:
    """The registry's check, made before R reads a file."""

    def __init__(self, path):
        self.path = Path(path)
        self._signature = None
        self._files = None
        self._error = None

    @classmethod
    def from_settings(cls, settings):
        if not settings.require_lock:
            return None
        return cls(settings.lock_file or Path(settings.models) / LOCK_NAME)

    def signature(self):
        """Changes when the manifest file does (the registry reloads then)."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def verify(self, path):
        """Raises ModelLoadError unless `path` and its sidecars are in the manifest."""
        files = self._listed()
        for p in [Path(path), *sidecars(path)]:
            self._check(files, p.name, p)

    def verify_version(self, original, snapshot, root):
        """A version's file and sidecars (copied into `snapshot`, renamed to
        the model's name) against the manifest's `<name>/<version>/<file>`."""
        files = self._listed()
        original, snapshot = Path(original), Path(snapshot)
        old, new = stem(original), stem(snapshot)
        for p in [original, *sidecars(original)]:
            self._check(files, manifest_key(p, root), snapshot.parent / (new + p.name[len(old):]))
        pin = original.parent / "data.txt"  # a pins version's metadata (read as data)
        if pin.is_file():
            self._check(files, manifest_key(pin, root), pin)

    def verify_file(self, path, root):
        """Any other file the bridge reads as configuration (serving.json)."""
        self._check(self._listed(), manifest_key(path, root), path)

    def _check(self, files, key, copy):
        expected = files.get(key)
        if expected is None:
            raise ModelLoadError(f"{key} is not in {self.path.name}; refused "
                                 "(--require-lock). Run `python -m bridge lock` to approve it")
        if file_sha256(copy) != expected:
            raise ModelLoadError(f"{key} does not match its sha256 in {self.path.name}; "
                                 "refused (--require-lock)")

    def _listed(self):
        sig = self.signature()
        if sig != self._signature or self._files is None and self._error is None:
            self._signature, self._files, self._error = sig, None, None
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                files = doc["files"]
                if not isinstance(files, dict):
                    raise ValueError("'files' is not an object")
                self._files = {str(k): str(v).lower() for k, v in files.items()}
            except FileNotFoundError:
                self._error = (f"{self.path} not found; with --require-lock no model is loaded "
                               "without one. Run `python -m bridge lock`")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._error = f"{self.path} is not a valid lock file ({exc})"
        if self._error:
            raise ModelLoadError(self._error)
        return self._files
