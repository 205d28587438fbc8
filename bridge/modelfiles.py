"""Model files on disk: which files are models, their digests, and the
private snapshot of a version that the R workers read.

The front reads a file once, into a snapshot folder of its own, checks the
snapshot (not the original) against the manifest (bridge/manifest.py), and hands the snapshot's path
to every R worker: what R reads is exactly what was checked, and a worker
started later loads the very version being served even if the folder has
changed since.
"""

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

MODEL_SUFFIXES = (".rds", ".rda", ".rdata")
SIDECAR_SUFFIXES = (".json", ".R")
# Object names an .rda may serve under: they become URL paths and sidecar
# file names (<stem>.<object>.R), so nothing that could leave the folder.
SAFE_OBJECT_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


def is_model_file(path):
    return Path(path).suffix.lower() in MODEL_SUFFIXES


def stem(path):
    path = Path(path)
    return path.name[: -len(path.suffix)]


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecars(path):
    """The files that are read with a model file: <stem>.json, <stem>.R and
    <stem>.<object>.json/.R for the objects of an .rda."""
    path = Path(path)
    name = stem(path)
    return sorted(p for p in path.parent.iterdir()
                  if p.is_file() and p.suffix in SIDECAR_SUFFIXES
                  and (stem(p) == name or p.name.startswith(name + ".")))


class Snapshots:
    """A private folder holding one sub-folder per file version served."""

    def __init__(self, root=None):
        self.root = Path(root or tempfile.mkdtemp(prefix="r-bridge-snapshots-"))
        self._count = 0

    def take(self, path, name=None):
        """Copies a model file and its sidecars; returns the copy's path.
        With `name`, the copies are renamed to that stem (a version folder's
        `3/model.rds` is served as its model's name: `<name>.rds`, and its
        `model.json` as `<name>.json`)."""
        self._count += 1
        folder = self.root / f"v{self._count}"
        folder.mkdir()
        path = Path(path)
        old = stem(path)
        for p in [path, *sidecars(path)]:
            target = p.name if name is None else name + p.name[len(old):]
            shutil.copyfile(p, folder / target)
        return folder / (path.name if name is None else name + path.name[len(old):])

    def drop(self, copy):
        shutil.rmtree(Path(copy).parent, ignore_errors=True)

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)
