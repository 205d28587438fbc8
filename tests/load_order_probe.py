"""Run by tests/test_fidelity_isolation.py in a process of its own (one R, as
one worker has): loads fixture model files one after another, in the order
given, and after each load predicts every model loaded before it, printing
one JSON line per answer that is no longer R's.

    python tests/load_order_probe.py FIXTURES CASE [CASE ...]
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bridge.errors import BridgeError  # noqa: E402
from bridge.formats.shapes import rows_to_columns  # noqa: E402
from bridge.r.model import read_model_file  # noqa: E402
from bridge.table import Table  # noqa: E402
from conftest import close  # noqa: E402

FILES = (".rds", ".rda", ".RData")


def model_file(folder, served):
    stem = served.split(".")[0]
    return next(folder / f"{stem}{ext}" for ext in FILES if (folder / f"{stem}{ext}").exists())


def answer(model, case):
    try:
        table = Table(rows_to_columns(case["rows"]), len(case["rows"]))
        return model.predict_table(table, case["args"]).records()
    except BridgeError as exc:
        return f"error: {exc}"


def main(folder, names):
    folder = Path(folder)
    loaded = []  # (name, model, case)
    for name in names:
        case = json.loads((folder / f"{name}.case.json").read_text(encoding="utf-8"))
        model = read_model_file(model_file(folder, case["model"]))[case["model"]]
        for earlier, other, want in loaded:
            got = answer(other, want)
            if not (isinstance(got, list) and len(got) == len(want["expected"])
                    and all(close(g, w) for g, w in zip(got, want["expected"]))):
                print(json.dumps({"model": earlier, "after": name, "got": str(got)[:300]}), flush=True)
        loaded.append((name, model, case))
        print(json.dumps({"loaded": name}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
