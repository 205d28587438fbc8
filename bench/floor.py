"""R's own predict() time on the same rows, in a plain Rscript: the floor."""

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "r_floor.R"


def r_floor(model, rows_csv, single_loops):
    done = subprocess.run(["Rscript", str(SCRIPT), str(model), str(rows_csv), str(single_loops)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"r_floor.R failed:\n{done.stderr}")
    return json.loads(done.stdout)
