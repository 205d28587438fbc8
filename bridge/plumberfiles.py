"""Plumber files: which to serve, and the paths the bridge keeps for itself.

Shared code (no rpy2, no falcon). The front finds the files
(`find_plumber_files`) and hands them to every R worker, which hosts them
(bridge/r/plumber.py); the front's sink (bridge/http/plumber.py) gives
Plumber only the paths outside the bridge's own namespaces. How the files
are served: docs/plumber.md.
"""

import logging
import re
from pathlib import Path

from .errors import PlumberLoadError

log = logging.getLogger(__name__)

# plumber reads a tag only where `#*` or `#'` starts the line.
_ANNOTATION = re.compile(
    r"^#['*]\s*@(get|put|post|use|delete|head|options|patch|filter|plumber|assets)\b", re.MULTILINE)
_PLACEHOLDER = re.compile(r"<[^>]*>")


def is_plumber_file(path):
    """True when the file carries Plumber endpoint or filter annotations."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_ANNOTATION.search(text))


def entrypoint_of(folder):
    """The file plumb(dir = folder) starts from: entrypoint.R, else plumber.R
    (any case); None when the folder has neither."""
    names = {p.name.lower(): p for p in sorted(Path(folder).iterdir()) if p.is_file()}
    return names.get("entrypoint.r") or names.get("plumber.r")


def find_plumber_files(folder=None, files=()):
    """The APIs to serve: the annotated *.R files in folder (sorted), then the
    named files and folders. A folder is one API, as plumb(dir = folder) builds
    it, when it is named, and when the folder holds an entrypoint.R.

    Unannotated files in the folder (helpers an API sources) are skipped; a
    named file without annotations is an error, since it was asked for."""
    found = []
    if folder is not None and Path(folder).is_dir() and any(
            p.name.lower() == "entrypoint.r" for p in Path(folder).iterdir()):
        found.append(Path(folder).resolve())
    elif folder is not None and Path(folder).is_dir():
        for path in sorted(Path(folder).glob("*.R")):
            if is_plumber_file(path):
                found.append(path.resolve())
            else:
                log.debug("%s has no Plumber annotations; not served", path)
    for path in files:
        path = Path(path)
        if path.is_dir():
            if entrypoint_of(path) is None:
                raise PlumberLoadError(f"{path}: a folder to serve needs an entrypoint.R "
                                       "or a plumber.R, as plumb(dir = ...) does", file=str(path))
            if path.resolve() not in found:
                found.append(path.resolve())
            continue
        if not path.is_file():
            raise PlumberLoadError(f"{path}: no such file", file=str(path))
        if not is_plumber_file(path):
            raise PlumberLoadError(f"{path}: no Plumber annotations (#* @get /path, ...) found",
                                   file=str(path))
        if path.resolve() not in found:
            found.append(path.resolve())
    return found


def namespace(path):
    """The first segment of a path: "models" for /models/x/predict."""
    return path.lstrip("/").split("/", 1)[0]


def namespaces(templates):
    """The fixed first segments of the bridge's route templates."""
    return {namespace(t) for t in templates if namespace(t) and "{" not in namespace(t)}


def probe(route):
    """A concrete path matching a Plumber route template such as /items/<id:int>."""
    return _PLACEHOLDER.sub("1", route)
