"""python -m bridge serve | inspect | lock | predict | forecast | requirements

The command line, in the caller's process: `serve` becomes the front
(bridge/server.py); `inspect` loads a file in this process's own R.
"""

import argparse
import json
import logging
import sys

from .settings import Settings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bridge",
                                     description="Serve R models over HTTP.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a folder of model files")
    serve.add_argument("--models", help="model folder (BRIDGE_MODELS, default r_models/)")
    serve.add_argument("--host", help="address to bind (BRIDGE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (BRIDGE_PORT, default 8080)")
    serve.add_argument("--workers", type=int,
                       help="R worker processes, each with its own R (BRIDGE_WORKERS, default 1)")
    serve.add_argument("--worker-memory", type=_size, dest="worker_memory",
                       help="memory one R worker may use before it is replaced, e.g. 4G "
                            "(BRIDGE_WORKER_MEMORY, default 4G)")
    serve.add_argument("--load-timeout", type=float, dest="load_timeout",
                       help="seconds an R worker may take to load one model file "
                            "(BRIDGE_LOAD_TIMEOUT, default 120)")
    serve.add_argument("--threads", type=int,
                       help="HTTP threads; each request waiting on R holds one (BRIDGE_THREADS, default 64)")
    serve.add_argument("--read-timeout", type=float, dest="read_timeout",
                       help="seconds a client has to send one request's head and body, then 408 "
                            "(BRIDGE_READ_TIMEOUT, default 30)")
    serve.add_argument("--max-connections", type=int, dest="max_connections",
                       help="client connections open at once (BRIDGE_MAX_CONNECTIONS, default 1000)")
    serve.add_argument("--batch-max-rows", type=int, dest="batch_max_rows",
                       help="rows one batched predict() call may hold (BRIDGE_BATCH_MAX_ROWS, default 10000)")
    serve.add_argument("--max-queue", type=int, dest="max_queue",
                       help="requests waiting for an R worker before 503 (BRIDGE_MAX_QUEUE, default 256)")
    serve.add_argument("--predict-timeout", type=float, dest="predict_timeout",
                       help="seconds before a predict() call is answered 504 (BRIDGE_PREDICT_TIMEOUT, default 30)")
    serve.add_argument("--worker-spin", type=float, dest="worker_spin",
                       help="seconds an idle R worker polls for the next call before it sleeps, "
                            "0 to sleep at once (BRIDGE_WORKER_SPIN, default 0.001)")
    serve.add_argument("--grace-period", type=float, dest="grace_period",
                       help="seconds to finish in-flight requests after SIGTERM or SIGINT "
                            "(BRIDGE_GRACE_PERIOD, default 25)")
    serve.add_argument("--reload-interval", type=float, dest="reload_interval",
                       help="seconds between model folder scans, 0 to disable "
                            "(BRIDGE_RELOAD_INTERVAL, default 2)")
    serve.add_argument("--log-level", dest="log_level", help="BRIDGE_LOG_LEVEL, default INFO")
    serve.add_argument("--plumber-dir", dest="plumber_dir",
                       help="folder of plumber.R files to serve (BRIDGE_PLUMBER_DIR, default none)")
    serve.add_argument("--plumber", action="append", metavar="FILE",
                       help="a plumber.R file, or a folder as plumb(dir = ...) serves it; "
                            "repeatable (BRIDGE_PLUMBER)")
    serve.add_argument("--plumber-bare", dest="plumber_bare", action="store_true", default=None,
                       help="load plumber.R files as plumber::pr() alone does, without "
                            "library(plumber) (BRIDGE_PLUMBER_BARE)")
    serve.add_argument("--plumber-workers", type=int, choices=(0, 1), dest="plumber_workers",
                       help="1: send every Plumber request to the same R worker, for files that keep "
                            "state in R; 0: any free worker (BRIDGE_PLUMBER_WORKERS, default 0)")
    serve.add_argument("--cors-origins", dest="cors_origins", metavar="ORIGINS",
                       help="origins browser apps may call from, comma-separated, or '*' "
                            "(BRIDGE_CORS_ORIGINS, default none)")
    serve.add_argument("--require-lock", dest="require_lock", action="store_true", default=None,
                       help="load only files whose sha256 is in the lock file (BRIDGE_REQUIRE_LOCK)")
    serve.add_argument("--follow-symlinks", dest="follow_symlinks", action="store_true", default=None,
                       help="serve model files and sidecars that link outside the model folder "
                            "(BRIDGE_FOLLOW_SYMLINKS; default: refused)")
    serve.add_argument("--shadow-queue", type=int, dest="shadow_queue",
                       help="shadow calls waiting before more are dropped (BRIDGE_SHADOW_QUEUE, "
                            "default 64; docs/versions.md)")
    serve.add_argument("--shadow-timeout", type=float, dest="shadow_timeout",
                       help="seconds a shadow call may hold an R worker before it is stopped and "
                            "that shadow version rests (BRIDGE_SHADOW_TIMEOUT, default 1)")
    serve.add_argument("--max-response-bytes", type=_size, dest="max_response_bytes",
                       help="largest answer R may produce for one request, checked before it is "
                            "converted (BRIDGE_MAX_RESPONSE_BYTES, default 64 MiB)")
    serve.add_argument("--package-check", dest="package_check", choices=("warn", "refuse", "off"),
                       help="a model whose packages are installed at other versions than it was "
                            "saved with: served with a warning, refused, or not checked "
                            "(BRIDGE_PACKAGE_CHECK, default warn; a missing package always fails)")
    serve.add_argument("--lock-file", dest="lock_file",
                       help="lock file (BRIDGE_LOCK_FILE, default <models>/bridge.lock)")
    _monitoring_flags(serve)

    lock = sub.add_parser("lock", help="write the sha256 manifest of a model folder (bridge.lock)")
    lock.add_argument("--models", help="model folder (BRIDGE_MODELS, default r_models/)")
    lock.add_argument("--output", help="lock file to write (default <models>/bridge.lock)")

    inspect = sub.add_parser("inspect", help="print what the bridge derives from a model file")
    inspect.add_argument("file")

    from . import forecast_cli, requirements_cli, scoring

    scoring.add_parser(sub)
    forecast_cli.add_parser(sub)
    requirements_cli.add_parser(sub)
    from .monitoring import offline as monitor_cli

    monitor_cli.add_parser(sub)

    args = parser.parse_args(argv)
    if getattr(args, "log_sample", None) is not None and not 0 <= args.log_sample <= 1:
        parser.error("--log-sample must be between 0 and 1")
    if args.command == "predict":
        return scoring.main(args)
    if args.command == "forecast":
        return forecast_cli.main(args)
    if args.command == "requirements":
        return requirements_cli.main(args)
    if args.command == "monitor":
        return monitor_cli.main(args)
    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "file", "output")}
    settings = Settings.from_env(**overrides)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        from .errors import PlumberLoadError
        from .server import serve as run_server

        try:
            run_server(settings)
        except PlumberLoadError as exc:  # a plumber.R file refused: say why, don't serve
            print(f"error: {exc.description}", file=sys.stderr)
            return 1
    elif args.command == "inspect":
        return inspect_file(args.file)
    elif args.command == "lock":
        return write_lock_file(settings.models, args.output or settings.lock_file or None)
    return 0


def _size(text):
    from .settings import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def inspect_file(path):
    from .errors import BridgeError
    from .r.model import read_model_file

    try:
        models = read_model_file(path)
    except BridgeError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 1
    print(json.dumps([m.describe() for m in models.values()], indent=2, ensure_ascii=False))
    return 0


def write_lock_file(folder, out):
    from .manifest import write_manifest

    path, files = write_manifest(folder, out)
    for name, digest in files.items():
        print(f"{digest}  {name}")
    print(f"wrote {path} ({len(files)} files)", file=sys.stderr)
    return 0


def _monitoring_flags(serve):
    """docs/monitoring.md: the prediction log and the live drift window."""
    serve.add_argument("--log-predictions", dest="log_predictions", metavar="DIR",
                       help="write every prediction (inputs, outputs, model, version) as Parquet "
                            "files under DIR (BRIDGE_LOG_PREDICTIONS; default: no log)")
    serve.add_argument("--log-sample", type=float, dest="log_sample", metavar="RATE",
                       help="share of calls logged, 0-1 (BRIDGE_LOG_SAMPLE, default 1)")
    serve.add_argument("--log-rotate-bytes", type=_size, dest="log_rotate_bytes",
                       help="a log file is written once its rows reach this size "
                            "(BRIDGE_LOG_ROTATE_BYTES, default 64M)")
    serve.add_argument("--log-rotate-seconds", type=float, dest="log_rotate_seconds",
                       help="... or once its oldest row is this old (BRIDGE_LOG_ROTATE_SECONDS, "
                            "default 300)")
    serve.add_argument("--log-queue", type=int, dest="log_queue",
                       help="calls waiting for the log writer before new ones are dropped and "
                            "counted (BRIDGE_LOG_QUEUE, default 10000)")
    serve.add_argument("--monitor-rows", type=int, dest="monitor_rows",
                       help="live drift window: the last N rows per model version "
                            "(BRIDGE_MONITOR_ROWS, default 10000)")
    serve.add_argument("--monitor-minutes", type=float, dest="monitor_minutes",
                       help="... of the last T minutes (BRIDGE_MONITOR_MINUTES, default 60)")
    serve.add_argument("--drift-threshold", type=float, dest="drift_threshold",
                       help="PSI above which a column is drifting (BRIDGE_DRIFT_THRESHOLD, "
                            "default 0.2)")
