"""The probe: loads a model once, in a subprocess of the driver, to learn
what the job needs before it starts (bridge/spark/plan.py).

Not in the driver's own process: PySpark forks its Python workers from a
daemon, and an R started in the driver would be a second R that the
driver holds for the job's whole life for one example prediction. The
subprocess checks the bundle's digests before R reads a byte, predicts the
schema's example rows with the caller's arguments (through the same
Service the executors use, so a bad argument is refused here with HTTP's
message), and exits; the driver never imports rpy2.

    python -m bridge.spark.probe IN OUT   (IN, OUT: pickle files)
"""

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BridgeError
from ..workers.messages import error_from_wire, error_to_wire
from .plan import Plan

ROOT = Path(__file__).resolve().parents[2]

_plans = {}  # (Bundle.key, task) -> Plan: a model probed once per driver for the same call


def probe(bundle, task):
    """Plan for `task`: ("predict", args) or ("forecast", request doc)."""
    key = (bundle.key, pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))
    if key not in _plans:
        _plans[key] = _probe(bundle, task)
    return _plans[key]


def _probe(bundle, task):
    with tempfile.TemporaryDirectory(prefix="bridge-spark-probe-") as tmp:
        src, out = Path(tmp) / "in.pickle", Path(tmp) / "out.pickle"
        src.write_bytes(pickle.dumps((bundle, task), protocol=pickle.HIGHEST_PROTOCOL))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        done = subprocess.run([sys.executable, "-m", "bridge.spark.probe", str(src), str(out)],
                              env=env, capture_output=True, text=True)
        if not out.is_file():
            raise BridgeError(f"the model probe exited with status {done.returncode}: "
                              f"{done.stderr.strip()[-2000:]}")
        status, value = pickle.loads(out.read_bytes())
    if status == "error":
        raise error_from_wire(value)
    return value


def _run(bundle, task):
    """In the probe's process: R here, once."""
    from ..r.model import load_model
    from ..service import Context, LocalCatalog, Service
    from ..signature import example_row, json_type
    from ..table import Table

    with tempfile.TemporaryDirectory(prefix="bridge-spark-probe-") as tmp:
        model = load_model(bundle.unpack(tmp), object=bundle.object)
        service = Service(LocalCatalog([model]))
        what, request = task
        if what == "predict":
            row = example_row(model.schema)
            table = Table({n: [v, v] for n, v in row.items()}, 2)
            columns = service.predict(model.name, table, request, Context("spark")).result.columns
        else:
            if model.kind == "forecaster" and not model.forecaster.can_apply:
                from ..forecast import parse_request

                parse_request({"y": [0.0]}, model.forecaster, model.schema)  # raises HTTP's message
            # The template's own series, with the caller's horizon and levels.
            doc = {k: v for k, v in request.items() if k not in ("y", "start")}
            columns = service.forecast(model.name, doc, Context("spark")).result.columns
        outputs = tuple((name, json_type(values)) for name, values in columns.items())
        return Plan(model.name, model.kind, model.schema, outputs, bundle.version)


def main(src, out):
    bundle, task = pickle.loads(Path(src).read_bytes())
    try:
        result = ("ok", _run(bundle, task))
    except Exception as exc:  # noqa: BLE001 -- every failure goes back to the driver as the bridge's own
        result = ("error", error_to_wire(exc))
    Path(out).write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main(*sys.argv[1:3])
