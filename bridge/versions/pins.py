"""pins' `data.txt` (the metadata of one version of a pin), read as data.

pins::board_folder(versioned = TRUE) writes `<board>/<name>/<version>/`
with `data.txt` (YAML: file, file_size, pin_hash, type, title, description,
tags, urls, created "%Y%m%dT%H%M%SZ", api_version 1, user) and the pinned
file(s). The YAML is read with yaml.safe_load (never a tag that builds an
object or runs code); only plain scalars and lists of them are kept.
"""

import datetime as dt
import re

import yaml

META_NAME = "data.txt"
MAX_META_BYTES = 256 * 1024
CREATED = re.compile(r"\d{8}T\d{6}Z")
# The only file names a pin may point at: a plain name inside the version folder.
SAFE_FILE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class PinError(ValueError):
    pass


def read_meta(folder):
    """The data.txt of one version folder as a dict of checked fields."""
    path = folder / META_NAME
    if path.is_symlink():
        raise PinError(f"{META_NAME} is a symbolic link; pins writes a plain file")
    raw = path.read_bytes()
    if len(raw) > MAX_META_BYTES:
        raise PinError(f"{META_NAME} is larger than {MAX_META_BYTES} bytes")
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PinError(f"{META_NAME} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise PinError(f"{META_NAME} is not a YAML mapping")
    api = doc.get("api_version")
    if api is not None and api != 1:
        raise PinError(f"{META_NAME}: api_version {api!r} is not read (pins 1.x writes 1)")
    files = doc.get("file") if api is not None else doc.get("path", doc.get("file"))
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise PinError(f"{META_NAME}: 'file' names no file")
    models = [f for f in files if f.lower().endswith((".rds", ".rda", ".rdata"))]
    if len(models) != 1:
        raise PinError(f"{META_NAME}: 'file' names {len(models)} R data files "
                       f"({', '.join(map(repr, files))}); a served pin holds one .rds")
    if not SAFE_FILE.fullmatch(models[0]) or models[0].startswith("."):
        raise PinError(f"{META_NAME}: file {models[0]!r} is not a plain file name")
    created = doc.get("created")
    if isinstance(created, (dt.datetime, dt.date)):
        created = created.strftime("%Y%m%dT%H%M%SZ")
    created = str(created) if created is not None else ""
    user = doc.get("user") if isinstance(doc.get("user"), dict) else {}
    return {
        "file": models[0],
        "type": _text(doc.get("type")),
        "title": _text(doc.get("title")),
        "description": _text(doc.get("description")),
        "created": created if CREATED.fullmatch(created) else "",
        "pin_hash": _text(doc.get("pin_hash")),
        "required_pkgs": _required(user),
    }


def _required(user):
    """vetiver_pin_write keeps required_pkgs in the pin's user metadata
    (vetiver >= 0.2 under user$vetiver_meta)."""
    vetiver = user.get("vetiver_meta")
    found = user.get("required_pkgs") or (vetiver.get("required_pkgs") if isinstance(vetiver, dict) else None)
    return _names(found)


def _text(value):
    return value if isinstance(value, str) else ""


def _names(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
