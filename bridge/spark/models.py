"""Which model file a `bridge.spark` call means (driver side, no R): a
file, a folder of versions, or a name in a models folder; read into a
Bundle with the digests it must have.

A folder of versions holds one sub-folder per version, named by a whole
number (`churn/1/`, `churn/2/`), each with one model file; the highest is
taken unless `version=` names one. (NOTE for the merge with
bridge/versions/: `_highest_version` is the one local rule to replace with
that package's.)
"""

from pathlib import Path

from ..errors import ModelLoadError, ModelNotFound
from ..manifest import LOCK_NAME, Manifest
from ..modelfiles import is_model_file, sidecars, stem
from ..suggest import hint
from .bundle import Bundle, sha256


def resolve(model, models=None, version=None, object_name=None, sha256=None):
    """A Bundle for `model`: a path to a model file or a folder of
    versions, or (with `models=`) a name in that models folder. `sha256`:
    the digest the model file must have (else the lock's, else its own)."""
    if isinstance(model, Bundle):
        return model
    if models is not None:
        path = _named(Path(models), str(model))
        if isinstance(path, tuple):
            path, object_name = path
    else:
        path = Path(model)
        if not path.exists():
            raise ModelNotFound(f"{model}: no such model file or folder (or pass models= "
                                "to name a model in a models folder)", model=str(model))
    if path.is_dir():
        path, version = _version_file(path, version)
    elif version is not None:
        raise ModelNotFound(f"{path.name} is a model file, not a folder of versions: "
                            f"it has no version {version!r}", model=str(model), version=version)
    return _read(path, object_name, version, sha256)


def _named(folder, name):
    """The file (or folder of versions) serving `name` in a models folder;
    (file, object) for a model inside a several-model .rda."""
    if not folder.is_dir():
        raise ModelNotFound(f"{folder}: not a models folder", model=name)
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ModelNotFound(f"{name!r} is not a model name", model=name)
    if (folder / name).is_dir():
        return folder / name
    files = [p for p in folder.iterdir() if p.is_file() and is_model_file(p)]
    for p in files:
        if stem(p) == name:
            return p
    for p in files:
        if name.startswith(stem(p) + "."):
            return p, name[len(stem(p)) + 1:]
    names = sorted(stem(p) for p in files)
    raise ModelNotFound(f"no model named {name!r} in {folder}{hint(name, names)}", model=name)


def _highest_version(folder):
    versions = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    if not versions:
        raise ModelNotFound(f"{folder}: a folder, but not of versions (no sub-folder named "
                            "by a whole number, such as 1/)", model=folder.name)
    return max(versions, key=lambda p: int(p.name))


def _version_file(folder, version):
    if version is None:
        chosen = _highest_version(folder)
    else:
        chosen = folder / str(version)
        if not str(version).isdigit() or not chosen.is_dir():
            have = sorted((p.name for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
            raise ModelNotFound(f"model {folder.name!r} has no version {version!r}; it has "
                                f"{', '.join(have) or 'none'}", model=folder.name, version=str(version))
    files = sorted(p for p in chosen.iterdir() if p.is_file() and is_model_file(p))
    if len(files) != 1:
        raise ModelLoadError(f"{chosen}: a version folder holds exactly one model file; found "
                             f"{len(files)}")
    return files[0], chosen.name


def _read(path, object_name, version, pinned=None):
    """The bundle of a model file: its bytes and its sidecars', each with
    the digest the lock beside it lists (else the digest of what was read)."""
    lock = _lock_for(path)
    files = []
    for p in [path, *sidecars(path)]:
        data = p.read_bytes()
        expected = sha256(data)
        if lock is not None:
            listed = lock._listed()
            if p.name not in listed:
                raise ModelLoadError(f"{p.name} is not in {lock.path}; refused. Run "
                                     "`python -m bridge lock` to approve it", file=p.name)
            expected = listed[p.name]
        if p == path and pinned is not None:
            if lock is not None and pinned.lower() != expected:
                raise ModelLoadError(f"{p.name}: sha256={pinned} differs from {lock.path.name}'s "
                                     f"{expected}; refused", file=p.name)
            expected = pinned.lower()
        files.append((p.name, data, expected))
    name = stem(path) if object_name is None else f"{stem(path)}.{object_name}"
    return Bundle(name, path.name, object_name, tuple(files), version)


def _lock_for(path):
    """The manifest (bridge.lock) of the folder a model file sits in, if any."""
    lock = path.parent / LOCK_NAME
    return Manifest(lock) if lock.is_file() else None
