"""What a model needs from R, what it was saved with, and the check at load.

Shared code (no R, no HTTP): the R worker reads what an object needs
(bridge/r/requirements.py, r_scripts/bridge/requirements.R) and what the
sidecar or vetiver recorded; here the records are validated, the two are
compared and the policy (`--package-check warn|refuse|off`) decides.

A sidecar is a config file anyone may have written: its "packages" are
checked against R's package-name and version grammars before any name
reaches R, and R only ever looks them up (never loads or attaches them).
"""

import dataclasses
import re

from .errors import ModelLoadError

POLICIES = ("warn", "refuse", "off")
# Writing R Extensions 1.1.1: letters, digits and '.', starting with a
# letter, not ending in '.', at least two characters.
PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]\Z")
VERSION = re.compile(r"[0-9]+(?:[.-][0-9]+){1,8}\Z")
MAX_RECORDED = 500
MAX_NAME = 100


def debian_package(package, base=False):
    """The Debian package that provides an R package: r-cran-<lowercased
    name>, or r-base-core for R's own base packages."""
    return "r-base-core" if base else f"r-cran-{package.lower()}"


def version_key(text):
    """R's package_version order: numbers split at '.' and '-'."""
    return tuple(int(p) for p in re.split(r"[.-]", text))


def read_record(meta, source):
    """(packages {name: version}, r_version) from a sidecar's "packages" and
    "r_version" fields, or ModelLoadError saying which value is wrong."""
    packages = meta.get("packages", {})
    r_version = meta.get("r_version")
    if packages is None:
        packages = {}
    if not isinstance(packages, dict):
        raise ModelLoadError(f"{source}: 'packages' must be an object of package name -> version, "
                             'e.g. {"randomForest": "4.7-1.1"}')
    if len(packages) > MAX_RECORDED:
        raise ModelLoadError(f"{source}: 'packages' names {len(packages)} packages; at most "
                             f"{MAX_RECORDED} are read")
    out = {}
    for name, version in packages.items():
        shown = _shown(name)
        if not isinstance(name, str) or len(name) > MAX_NAME or not PACKAGE_NAME.match(name):
            raise ModelLoadError(f"{source}: 'packages' key {shown} is not an R package name "
                                 "(letters, digits and '.', starting with a letter)")
        if not isinstance(version, str) or not VERSION.match(version):
            raise ModelLoadError(f"{source}: 'packages' version of {name} must be a version string "
                                 f"such as \"4.7-1.1\", not {_shown(version)}")
        out[name] = version
    if r_version is not None and (not isinstance(r_version, str) or not VERSION.match(r_version)):
        raise ModelLoadError(f"{source}: 'r_version' must be a version string such as \"4.2.2\", "
                             f"not {_shown(r_version)}")
    return out, r_version


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclasses.dataclass
class Requirement:
    package: str
    why: str               # what in the object needs it, or "recorded"
    installed: str = None  # None: not installed
    saved: str = None      # the version recorded at save time, when known
    base: bool = False

    @property
    def status(self):
        if self.installed is None:
            return "missing"
        if self.saved is None:
            return "unrecorded"
        return "ok" if version_key(self.saved) == version_key(self.installed) else "mismatch"

    def describe(self):
        return {"package": self.package, "needed_for": self.why, "saved": self.saved,
                "installed": self.installed, "status": self.status,
                "debian": debian_package(self.package, self.base)}


@dataclasses.dataclass
class Requirements:
    packages: list
    r_version: str                 # the R serving it
    saved_r_version: str = None    # the R it was saved with, when recorded
    recorded_by: tuple = ()        # "sidecar", "vetiver"
    file: dict = dataclasses.field(default_factory=dict)  # the serialization header

    def missing(self):
        return [p for p in self.packages if p.status == "missing"]

    def mismatches(self):
        return [p for p in self.packages if p.status == "mismatch"]

    def describe(self):
        return {"r_version": self.r_version, "saved_r_version": self.saved_r_version,
                "recorded_by": list(self.recorded_by), "file": dict(self.file),
                "packages": [p.describe() for p in self.packages]}


def combine(found, recorded, installed_of, r_version, saved_r_version=None, recorded_by=(), file=None):
    """Requirements from what the object needs (`found`: Requirement list)
    and what was recorded ({name: version or None}); `installed_of(names)`
    looks up the installed versions of recorded packages the object did not
    name itself."""
    by_name = {p.package: p for p in found}
    extra = [n for n in recorded if n not in by_name]
    for name, version in zip(extra, installed_of(extra) if extra else []):
        by_name[name] = Requirement(name, "recorded", installed=version)
    for name, version in recorded.items():
        # vetiver's lockfile versions are read as they are: only a version string counts.
        if isinstance(version, str) and VERSION.match(version) and name in by_name:
            by_name[name].saved = version
    return Requirements(list(by_name.values()), r_version, saved_r_version, tuple(recorded_by),
                        dict(file or {}))


def missing_error(source, missing):
    """The load error for packages that are not installed."""
    parts = []
    for p in missing:
        saved = f" (saved with {p.saved})" if p.saved else ""
        parts.append(f"{p.package}{saved}, Debian package {debian_package(p.package, p.base)}")
    many = len(missing) > 1
    return ModelLoadError(
        f"{source} needs the R package{'s' if many else ''} {'; '.join(parts)}, "
        f"{'which are' if many else 'which is'} not installed on this server: install "
        f"{'them' if many else 'it'} (apt-get install "
        f"{' '.join(sorted({debian_package(p.package, p.base) for p in missing}))}, or add "
        f"{'them' if many else 'it'} to deploy/r-packages.txt) and reload",
        missing=[p.describe() for p in missing])


def mismatched(describe):
    """The packages of a describe() dict's requirements whose installed
    version is not the one saved with."""
    req = (describe or {}).get("requirements") or {}
    return [p["package"] for p in req.get("packages", []) if p.get("status") == "mismatch"]


def enforce(name, describe, policy):
    """The policy applied to a loaded model's requirements (its describe()
    dict's "requirements"): [] or warnings under warn, ModelLoadError under
    refuse, [] under off."""
    if policy not in POLICIES:
        raise ValueError(f"package check must be one of {', '.join(POLICIES)}, not {policy!r}")
    req = (describe or {}).get("requirements") or {}
    mismatched = [p for p in req.get("packages", []) if p.get("status") == "mismatch"]
    if policy == "off" or not mismatched:
        return []
    lines = [f"{p['package']} {p['installed']} is installed; the model was saved with {p['saved']}"
             for p in mismatched]
    if policy == "refuse":
        raise ModelLoadError(f"model {name!r} not served (--package-check refuse): "
                             + "; ".join(lines), mismatches=mismatched)
    return lines
