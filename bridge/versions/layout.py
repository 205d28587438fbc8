"""What a versioned model's folder holds (front side).

`r_models/<name>/` is a versioned model when it has a `serving.json` or a
version folder. A version folder is `<n>/` (n a positive integer, ordered
numerically) with one model file and its sidecars, or a pins version
(`<version>/data.txt` naming the pinned .rds, ordered by `created`, then
name). Anything else in the folder is listed as ignored, with the reason.
"""

import dataclasses
import re
from pathlib import Path

from ..modelfiles import is_model_file
from . import pins

SERVING = "serving.json"
INTEGER = re.compile(r"[1-9][0-9]{0,17}")
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclasses.dataclass
class VersionDir:
    label: str            # what routes and serving.json call it: "3", "20220125T122531Z-c9e9b"
    path: Path            # the model file
    order: tuple          # sorts versions oldest first
    pin: dict = None      # the pin's data.txt fields, for pins versions


@dataclasses.dataclass
class Layout:
    versions: list        # VersionDir, oldest first
    ignored: list         # {"folder": ..., "reason": ...}
    serving: Path         # serving.json (may not exist)

    def labels(self):
        return [v.label for v in self.versions]

    @property
    def latest(self):
        return self.versions[-1].label if self.versions else None


def is_versioned(folder):
    """A folder of the model folder that is a versioned model (cheap: names only)."""
    folder = Path(folder)
    if not folder.is_dir() or not SAFE_NAME.fullmatch(folder.name) or folder.name.startswith("."):
        return False
    if (folder / SERVING).is_file():
        return True
    return any(p.is_dir() and (INTEGER.fullmatch(p.name) or (p / pins.META_NAME).is_file())
               for p in folder.iterdir())


def scan(folder):
    folder = Path(folder)
    versions, ignored = [], []
    for path in sorted(folder.iterdir()):
        if path.name == SERVING or path.name.startswith("."):
            continue
        if not path.is_dir():
            ignored.append({"folder": path.name, "reason": "not a version folder (a file; versions "
                            "are folders <n>/ or pins versions <version>/data.txt)"})
            continue
        try:
            versions.append(_version(path))
        except ValueError as exc:
            ignored.append({"folder": path.name, "reason": str(exc)})
    versions.sort(key=lambda v: v.order)
    return Layout(versions, ignored, folder / SERVING)


def _version(path):
    if (path / pins.META_NAME).is_file():
        if not SAFE_NAME.fullmatch(path.name):
            raise ValueError("a pins version name that is not letters, digits, '.', '_' or '-'")
        meta = pins.read_meta(path)
        model = path / meta["file"]
        if not model.is_file():
            raise ValueError(f"{pins.META_NAME} names {meta['file']!r}, which is not in the folder")
        # pins orders versions by when they were created; a version's name
        # starts with that time too, so the name breaks ties.
        return VersionDir(path.name, model, (1, meta["created"] or path.name[:16], path.name), meta)
    if not INTEGER.fullmatch(path.name):
        raise ValueError("not a version: versions are positive integers (1, 2, 3) "
                         "or pins versions (a folder with data.txt)")
    models = [p for p in sorted(path.iterdir()) if p.is_file() and is_model_file(p)]
    if len(models) != 1:
        raise ValueError(f"a version folder holds one model file (.rds, .rda, .RData); "
                         f"this one holds {len(models)}")
    return VersionDir(str(int(path.name)), models[0], (0, int(path.name), ""))
