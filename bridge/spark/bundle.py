"""What crosses to the executors: a model file and its sidecars as bytes,
each with the sha256 the driver expects, checked before R reads a byte.

Built on the driver (no R there), shipped as a Spark broadcast, unpacked in
each executor's Python worker into a private folder. The expected digests
come from the models folder's `bridge.lock` when there is one (the lock's
guarantee holds on the cluster: a file changed after the lock is refused),
else from the bytes the driver read.
"""

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

from ..errors import ModelLoadError


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True)
class Bundle:
    name: str            # the served name (file stem, or stem.object for an .rda)
    filename: str        # the model file's name; sidecars sit beside it
    object: str          # the object of an .rda (None: the only one)
    files: tuple         # ((file name, bytes, expected sha256), ...), the model file first
    version: str = None  # the version folder it came from, if any

    @property
    def sha256(self):
        """The model file's expected digest: the key of every executor's cache."""
        return self.files[0][2]

    @property
    def key(self):
        """The cache key: the object, and every file's expected digest and the
        digest of the bytes it holds, so bytes that differ are never taken
        for the checked ones a cache holds (computed each time, never shipped)."""
        parts = [self.object or ""] + [f"{n}:{d}:{sha256(data)}" for n, data, d in self.files]
        return sha256("\0".join(parts).encode())

    def verify(self):
        """Raises ModelLoadError unless every file's bytes have their expected sha256."""
        for name, data, expected in self.files:
            got = sha256(data)
            if got != expected:
                raise ModelLoadError(f"{name}: sha256 {got} does not match the expected {expected}; "
                                     "refused before R read it (the file changed after it was "
                                     "approved, or was altered on the way)", file=name,
                                     expected=expected, got=got)

    def unpack(self, root=None):
        """Writes the checked files into a new private folder; returns the
        model file's path. The written files are checked again: R reads
        exactly what was approved."""
        self.verify()
        folder = Path(tempfile.mkdtemp(prefix="bridge-spark-", dir=root))
        for name, data, expected in self.files:
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            if sha256(path.read_bytes()) != expected:
                raise ModelLoadError(f"{name}: the copy written for R does not match its sha256; refused")
        return folder / self.filename
