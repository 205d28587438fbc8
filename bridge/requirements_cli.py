"""`bridge requirements`: what an image must contain to serve a models folder.

Runs in the caller's process, with its own embedded R (the model files are
read as a server's workers read them, bridge/r/model.py): every package the
models need, the versions they were saved with and the ones installed,
mismatches, and packages that are missing. `--format debian` prints the
Debian packages to install (deploy/r-packages.extra.txt, read by
deploy/install-system.sh and so by Dockerfile.r-py), `--format renv` an
renv-style lockfile. Exit status 1 on a missing package or a file that
does not load, and with --strict on any version mismatch too: a CI gate.
"""

import json
import sys
from pathlib import Path

FORMATS = ("text", "json", "debian", "renv")


def add_parser(sub):
    p = sub.add_parser("requirements", help="print the R packages a models folder needs "
                                            "(Debian packages, an renv lockfile)")
    p.add_argument("--models", help="model folder (BRIDGE_MODELS, default r_models/)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 on a version mismatch as well as on a missing package")
    return p


def main(args):
    from .settings import Settings

    folder = Path(args.models) if args.models else Settings.from_env().models
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    report = folder_requirements(folder)
    out = {"text": as_text, "json": lambda r: json.dumps(r, indent=2, ensure_ascii=False),
           "debian": as_debian, "renv": as_renv}[args.format](report)
    print(out)
    missing = [p for p in report["packages"] if p["status"] == "missing"]
    mismatched = [p for p in report["packages"] if p["status"] == "mismatch"]
    for name, error in report["errors"].items():
        print(f"error: {name}: {error}", file=sys.stderr)
    if missing or report["errors"]:
        return 1
    return 1 if args.strict and mismatched else 0


def folder_requirements(folder):
    """{"r_version", "packages": [{package, debian, saved, installed, status,
    models}], "errors": {file: message}} for every model file in `folder`."""
    from .errors import BridgeError
    from .modelfiles import is_model_file
    from .r.model import read_model_file
    from .r.session import default_session

    session = default_session()
    packages, errors = {}, {}

    def note(p, model):
        entry = packages.setdefault(p["package"], {
            "package": p["package"], "debian": p["debian"], "saved": [], "installed": p["installed"],
            "models": []})
        if p.get("saved") and p["saved"] not in entry["saved"]:
            entry["saved"].append(p["saved"])
        entry["models"].append(model)

    for path in sorted(folder.iterdir()):
        if not (path.is_file() and is_model_file(path)):
            continue
        try:
            models = read_model_file(path, session)
        except BridgeError as exc:
            for p in exc.details.get("missing", []):
                note(p, path.name)
            if not exc.details.get("missing"):
                errors[path.name] = exc.description
            continue
        for name, model in models.items():
            for p in model.requirements.describe()["packages"]:
                note(p, name)
    for entry in packages.values():
        if entry["installed"] is None:
            entry["status"] = "missing"
        elif not entry["saved"]:
            entry["status"] = "unrecorded"
        elif any(_key(s) != _key(entry["installed"]) for s in entry["saved"]):
            entry["status"] = "mismatch"
        else:
            entry["status"] = "ok"
    from .r.requirements import r_version

    return {"r_version": session.run(r_version, session),
            "packages": sorted(packages.values(), key=lambda e: e["package"].lower()),
            "errors": errors}


def _key(version):
    from .requirements import version_key

    return version_key(version)


def as_text(report):
    lines = [f"R {report['r_version']}", f"{'package':<16} {'saved':<12} {'installed':<12} "
             f"{'status':<10} {'debian':<24} models"]
    for p in report["packages"]:
        lines.append(f"{p['package']:<16} {','.join(p['saved']) or '-':<12} {p['installed'] or '-':<12} "
                     f"{p['status']:<10} {p['debian']:<24} {', '.join(sorted(set(p['models'])))}")
    return "\n".join(lines)


def as_debian(report):
    """One Debian package a line, for deploy/r-packages.extra.txt."""
    names = sorted({p["debian"] for p in report["packages"]})
    return "\n".join(["# written by: python -m bridge requirements --format debian", *names])


def as_renv(report):
    """An renv-style lockfile: the saved version where one was recorded,
    else the installed one."""
    out = {"R": {"Version": report["r_version"],
                 "Repositories": [{"Name": "CRAN", "URL": "https://cloud.r-project.org"}]},
           "Packages": {}}
    for p in report["packages"]:
        if p["debian"] == "r-base-core":
            continue
        version = (p["saved"] or [p["installed"]])[0]
        out["Packages"][p["package"]] = {"Package": p["package"], "Version": version,
                                         "Source": "Repository", "Repository": "CRAN"}
    return json.dumps(out, indent=2)
