"""docs/models.md's table of verified classes is the test matrix as it is."""

import importlib.util

from conftest import ROOT


def load_script():
    spec = importlib.util.spec_from_file_location("verified_classes", ROOT / "docs" / "verified_classes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verified_classes_table_is_current(fixture_models):
    script = load_script()
    text = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert script.START in text and script.END in text
    current = script.START + text.split(script.START, 1)[1].split(script.END, 1)[0] + script.END
    assert current == script.table(fixture_models), "run: python docs/verified_classes.py"


def test_rewrite_touches_only_the_marked_section():
    script = load_script()
    text = f"# Models\n\nintro\n\n{script.START}\nold\n{script.END}\n\nmore by someone else\n"
    out = script.rewrite(text, f"{script.START}\nnew\n{script.END}")
    assert out == f"# Models\n\nintro\n\n{script.START}\nnew\n{script.END}\n\nmore by someone else\n"
