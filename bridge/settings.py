"""Configuration, read once from flags and BRIDGE_* environment variables.

Read by the front (or a command); an R worker gets the few values it needs
in its start-up config (bridge/workers/pool.py).
"""

import dataclasses
import os
from pathlib import Path

# The source tree, or, when installed from a wheel (which carries the R
# side inside the package, pyproject.toml), the package folder.
ROOT = Path(__file__).resolve().parent.parent
if not (ROOT / "r_scripts" / "bridge").is_dir():
    ROOT = Path(__file__).resolve().parent
R_HELPERS = ROOT / "r_scripts" / "bridge"


@dataclasses.dataclass(frozen=True)
class Settings:
    models: Path = ROOT / "r_models"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1              # R worker processes
    threads: int = 64             # HTTP threads of the front (waiting on R costs a thread, not CPU)
    worker_memory: int = 4 * 2**30  # bytes one R worker may use before it is replaced
    start_timeout: float = 120.0  # seconds for an R worker to start
    load_timeout: float = 120.0   # seconds for an R worker to load one model file
    reload_interval: float = 2.0
    batch_max_rows: int = 10_000
    max_queue: int = 256
    predict_timeout: float = 30.0
    worker_spin: float = 0.001    # seconds an idle R worker polls its pipe before it sleeps (docs/front.md)
    grace_period: float = 25.0
    log_level: str = "INFO"
    # operations (docs/operations.md)
    api_keys: str = ""            # comma-separated; empty with no key file = no auth
    api_key_file: str = ""        # one key per line
    max_body_bytes: int = 50 * 1024 * 1024
    max_rows: int = 1_000_000
    max_response_bytes: int = 64 * 2**20
    max_horizon: int = 10_000     # steps one forecast may ask for (docs/forecasting.md)
    max_header_bytes: int = 64 * 1024
    read_timeout: float = 30.0    # seconds to receive one request's head and body
    max_connections: int = 1000   # open client connections (docs/front.md)
    buffer_bytes: int = 8 * 2**20  # a request body or an answer kept in memory up to this, then a temp file
    require_lock: bool = False
    follow_symlinks: bool = False  # serve model files that link outside the folder
    lock_file: str = ""           # default: <models>/bridge.lock
    cors_origins: str = ""        # comma-separated origins browsers may call from; "*" any
    plumber_dir: Path = None      # docs/plumber.md; `make run` serves r_scripts/api/
    plumber: tuple = ()
    plumber_bare: bool = False    # load plumber.R files without attaching plumber
    shadow_queue: int = 64        # shadow calls waiting to run before more are dropped (docs/versions.md)
    shadow_timeout: float = 1.0   # seconds a shadow call may take (at most the model's own timeout)
    pinned_versions: int = 4      # versions held per name because callers pinned them (docs/versions.md)
    plumber_workers: int = 0      # 1: every Plumber request to one R worker (stateful files); 0: any
    package_check: str = "warn"   # warn | refuse | off: a package at another version than saved with
    # monitoring (docs/monitoring.md)
    log_predictions: str = ""     # folder of the prediction log (Parquet); empty: no log
    log_sample: float = 1.0       # share of calls logged (0-1)
    log_rotate_bytes: int = 64 * 2**20   # a log file is written once its rows reach this (in memory)
    log_rotate_seconds: float = 300.0    # ... or once its oldest row is this old
    log_queue: int = 10_000       # calls waiting for the log writer; more are dropped and counted
    monitor_rows: int = 10_000    # the live window per model version: the last N rows ...
    monitor_minutes: float = 60.0  # ... of the last T minutes
    monitor_queue: int = 10_000   # calls waiting for the drift monitor; more are dropped
    drift_threshold: float = 0.2  # PSI above this is "drifting"

    @classmethod
    def from_env(cls, environ=None, **overrides):
        """Defaults, then BRIDGE_<FIELD> variables, then explicit overrides."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"BRIDGE_{field.name.upper()}")
            if raw not in (None, ""):
                values[field.name] = _parse(field, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "models" in values:
            values["models"] = Path(values["models"])
        if "plumber_dir" in values:
            values["plumber_dir"] = Path(values["plumber_dir"])
        if "plumber" in values:
            values["plumber"] = tuple(Path(p) for p in values["plumber"])
        if values.get("package_check", "warn") not in ("warn", "refuse", "off"):
            raise SystemExit(f"BRIDGE_PACKAGE_CHECK={values['package_check']!r}: use warn, refuse or off")
        if not values.get("shadow_timeout", 1.0) > 0:  # NaN too
            raise SystemExit(f"BRIDGE_SHADOW_TIMEOUT / --shadow-timeout={values['shadow_timeout']!r}: "
                             "use a positive number of seconds")
        if not 0 <= values.get("worker_spin", 0.0) <= 1:  # NaN too
            raise SystemExit(f"BRIDGE_WORKER_SPIN / --worker-spin={values['worker_spin']!r}: "
                             "use seconds from 0 (never poll) to 1")
        if values.get("pinned_versions", 0) < 0:
            raise SystemExit(f"BRIDGE_PINNED_VERSIONS={values['pinned_versions']!r}: use 0 or more")
        return cls(**values)


SIZE_FIELDS = ("max_body_bytes", "max_response_bytes", "max_header_bytes", "worker_memory",
               "log_rotate_bytes", "buffer_bytes")


def parse_size(text):
    """Bytes from "4G", "512M", "64KiB", "1000" (binary units)."""
    raw = str(text).strip()
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    number = raw.rstrip("iBb").rstrip()
    unit = number[-1:].upper() if number[-1:].isalpha() else ""
    if unit:
        number = number[:-1]
    try:
        value = float(number) * units[unit]
    except (KeyError, ValueError):
        raise ValueError(f"not a size: {raw!r} (use bytes, or 512M, 4G)") from None
    if value < 0:
        raise ValueError(f"not a size: {raw!r}")
    return int(value)


def _parse(field, raw):
    if field.name in SIZE_FIELDS:
        try:
            return parse_size(raw)
        except ValueError as exc:
            raise SystemExit(f"BRIDGE_{field.name.upper()}: {exc}")
    kind = field.type if isinstance(field.type, type) else type(field.default)
    if kind is Path:
        return Path(raw)
    if kind is tuple:  # a list of paths, separated as in PATH
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    if kind is bool:
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise SystemExit(f"BRIDGE_{field.name.upper()}={raw!r} is not a valid bool (use 1 or 0)")
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"BRIDGE_{field.name.upper()}={raw!r} is not a valid {kind.__name__}")
