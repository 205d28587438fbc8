"""One model's packages never change another's answer (issue 23, class 4).

Hastie's gam and mgcv both export s(): with both attached, a formula's s()
is whichever came last, and the other model fails ("invalid model formula")
or, worse, answers differently. Each model predicts with its own scope
(r_scripts/bridge/packages.R, bridge_scoped_model), so loading B after A in
one worker leaves A's answers R's. The property is checked for every
ordered pair of fixture cases at once: the cases are loaded one after
another in one R, and after each load every model loaded before it is
predicted again and compared with R's own predict(); run forward and in
reverse, every pair is tried in both orders.
"""

import json
import subprocess
import sys

import pytest

from conftest import CLEAN_ENV, ROOT
from test_fidelity import MATRIX

PROBE = ROOT / "tests" / "load_order_probe.py"


def load_in_order(fixture_models, names):
    done = subprocess.run([sys.executable, str(PROBE), str(fixture_models), *names], env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    loaded = [line["loaded"] for line in lines if "loaded" in line]
    changed = [line for line in lines if "loaded" not in line]
    return loaded, changed


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_loading_any_model_after_another_leaves_its_answers_rs(fixture_models, order):
    names = MATRIX if order == "forward" else MATRIX[::-1]
    loaded, changed = load_in_order(fixture_models, names)
    assert loaded == names
    assert not changed, changed[:5]


@pytest.mark.parametrize("names", [
    ["gam_hastie", "gam_mgcv", "gam_te_by", "bam_smooth"],
    ["gam_mgcv", "gam_te_by", "bam_smooth", "gam_hastie"],
    ["glm_splines", "gam_hastie", "coxph_lung", "survreg_strata", "gam_mgcv", "lm_transforms"],
])
def test_gam_and_mgcv_both_export_s_and_each_model_finds_its_own(fixture_models, names):
    loaded, changed = load_in_order(fixture_models, names + names[:1])
    assert loaded == names + names[:1]
    assert not changed, changed


def test_no_model_attaches_packages_to_the_shared_search_path(fixture_models):
    """What a model needs is in its own scope, not on search(): loading the
    models whose formulas call gam's, splines' and survival's functions
    leaves the worker's search path as it was."""
    code = (
        "import sys; sys.path[:0] = ['.', 'tests']\n"
        "from bridge.r.model import read_model_file\n"
        "from bridge.r.session import default_session\n"
        "s = default_session()\n"
        "before = list(s.run(lambda: s.ri.baseenv['search']()))\n"
        f"for f in ['gam_hastie.rds', 'glm_splines.rds', 'coxph_lung.rds', 'gam_mgcv.rds']:\n"
        f"    read_model_file({str(fixture_models)!r} + '/' + f)\n"
        "after = list(s.run(lambda: s.ri.baseenv['search']()))\n"
        "print('SEARCH', before == after, after)\n")
    done = subprocess.run([sys.executable, "-c", code], env=CLEAN_ENV, capture_output=True, text=True,
                          timeout=300, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("SEARCH"))
    assert line.startswith("SEARCH True"), line
