"""What a model file and the objects in it need from R, read in R
(r_scripts/bridge/requirements.R) and handed back as data.

Runs with R to itself (bridge/r/session.py), on an R worker's main thread
or under the R lock for the Python API and the commands.
"""

from pathlib import Path

from ..errors import ModelLoadError
from ..requirements import Requirement, version_key
from .convert import rpy2py_vector

# The newest serialization format this bridge knows; R 3.5+ writes 3.
KNOWN_FORMATS = (2, 3)


def file_header(session, path):
    """The serialization header of a model file as a dict (format, version,
    writer, min_reader, kind); ModelLoadError when this R cannot read it."""
    ri, h = session.ri, session.helper
    path = Path(path)
    try:
        raw = h("bridge_file_header")(ri.StrSexpVector([str(path)]))
    except Exception as exc:  # an unreadable file: R's reader says why, later
        return {"error": str(exc).strip()}
    header = {k: _first(v) for k, v in zip(raw.names, raw)}
    ours = r_version(session)
    writer, reader, version = header.get("writer"), header.get("min_reader"), header.get("version")
    if reader and version_key(reader) > version_key(ours):
        raise ModelLoadError(
            f"{path.name} was written by R {writer} (serialization format {version}), which only "
            f"R {reader} or newer can read; this server runs R {ours}: serve it from an image with "
            f"R {reader} or newer, or save it again with saveRDS(..., version = 2) "
            "from the R that wrote it",
            written_by=writer, min_reader=reader, server_r=ours)
    if version is not None and version not in KNOWN_FORMATS:
        raise ModelLoadError(
            f"{path.name} uses serialization format {version} (written by R {writer}), which R "
            f"{ours} on this server does not read; save it with saveRDS(..., version = 3)",
            written_by=writer, server_r=ours)
    return header


def r_version(session):
    return _first(session.helper("bridge_r_version")())


def read_objects(session, path):
    """(named list of the file's objects, namespaces R could not load while
    reading them)."""
    h = session.helper
    objects = h("bridge_read_file_noting")(session.ri.StrSexpVector([str(path)]))
    missing = objects.do_slot("missing_namespaces") if "missing_namespaces" in objects.list_attrs() else None
    return objects, (rpy2py_vector(missing) if missing is not None else [])


def found(session, robj, missing_namespaces=(), script=None):
    """What an object (and its predict_fn `script`, a path) needs:
    (Requirement list, vetiver's record {pkg: version or None}, vetiver's R
    version, this R's version)."""
    ri, h = session.ri, session.helper
    out = h("bridge_requirements")(robj, ri.StrSexpVector(list(missing_namespaces)),
                                   ri.StrSexpVector([str(script)] if script else []))
    parts = {k: v for k, v in zip(out.names, out)}
    packages = rpy2py_vector(parts["package"])
    reqs = [Requirement(p, w, installed=i, base=bool(b))
            for p, w, i, b in zip(packages, rpy2py_vector(parts["why"]), rpy2py_vector(parts["installed"]),
                                  rpy2py_vector(parts["base"]))]
    vetiver = dict(zip(rpy2py_vector(parts["vetiver_packages"]), rpy2py_vector(parts["vetiver_versions"])))
    return reqs, vetiver, _first(parts["vetiver_r_version"]), _first(parts["r_version"])


def installed_versions(session, names):
    """Installed versions (None: not installed) of package names already
    checked against the package-name grammar (bridge/requirements.py)."""
    h = session.helper
    return rpy2py_vector(h("bridge_installed_versions")(session.ri.StrSexpVector(list(names))))


def _first(vec):
    values = rpy2py_vector(vec)
    return values[0] if values else None
