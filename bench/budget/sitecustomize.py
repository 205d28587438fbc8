"""Put on PYTHONPATH by bench/budget/run.py, with BRIDGE_BUDGET_DIR set: every
Python process of the bridge under test (the front and each R worker, which
inherit the environment) installs the stage timers of bench/budget/probes.py
as its modules are imported. Outside that run this file is never on the path."""

import os

if os.environ.get("BRIDGE_BUDGET_DIR"):
    from bench.budget import probes

    probes.install()
