"""Live drift (bridge/monitoring/): the reference a model carries, found at
load in real R; PSI/KS properties; a real server fed shifted and unshifted
inputs flags exactly the shifted columns (JSON, /metrics); the /monitor page
in a real headless Chromium shows the numbers the JSON gives."""

import base64
import io
import math
import time

import numpy as np
import pandas as pd
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.monitoring import summary
from conftest import EXAMPLES, ROOT, copy_model, rscript
from test_docs_browser import browser, page  # noqa: F401  (fixtures: real Chromium)

SCREENSHOT = ROOT / "docs" / "monitoring-page.png"


# ---- PSI and KS: same distribution ~0, shifted large ---------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), mu=st.floats(-1e3, 1e3), sigma=st.floats(0.01, 1e3),
       shift=st.floats(1.0, 5.0))
def test_psi_of_numbers_is_near_zero_unshifted_and_large_shifted(seed, mu, sigma, shift):
    rng = np.random.default_rng(seed)
    ref = summary.summarize("numeric", rng.normal(mu, sigma, 5000))
    same = rng.normal(mu, sigma, 3000)
    moved = rng.normal(mu + shift * sigma, sigma, 3000)
    live_same = summary.summarize("numeric", same, ref["edges"])
    live_moved = summary.summarize("numeric", moved, ref["edges"])
    assert summary.psi(ref, live_same) < 0.05
    assert summary.psi(ref, live_moved) > 0.5
    assert summary.ks(ref, same) < 0.06
    assert summary.ks(ref, moved) > 0.3


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(2, 8))
def test_psi_of_levels_is_near_zero_unshifted_and_large_shifted(seed, k):
    rng = np.random.default_rng(seed)
    labels = [f"l{i}" for i in range(k)]
    p = rng.dirichlet(np.ones(k) * 5)
    ref = summary.summarize("factor", list(rng.choice(labels, 5000, p=p)))
    same = summary.summarize("factor", list(rng.choice(labels, 3000, p=p)))
    q = np.zeros(k)
    q[int(np.argmin(p))] = 1.0  # everything on the rarest level
    moved = summary.summarize("factor", list(rng.choice(labels, 3000, p=q)))
    assert summary.psi(ref, same) < 0.05
    assert summary.psi(ref, moved) > 0.5


def test_unseen_labels():
    ref = summary.summarize("character", ["a", "b"] * 50)
    live = summary.summarize("character", ["a"] * 30 + ["zz"] * 10, known={"a", "b"})
    assert summary.unseen(ref, live) == 0.25


def test_missing_values_are_drift_too():
    ref = summary.summarize("numeric", np.arange(1000.0))
    half = np.where(np.arange(1000) % 2 == 0, np.nan, np.arange(1000.0))
    live = summary.summarize("numeric", half, ref["edges"])
    assert live["missing"] == 0.5 and summary.psi(ref, live) > 1


# ---- references found at load, in real R ---------------------------------------------

def test_reference_is_the_training_data_or_the_ptype(session):
    from bridge.r.model import read_model_file

    lm = read_model_file(EXAMPLES / "mtcars_lm.rds", session)["mtcars_lm"].reference
    assert lm["source"] == "training data kept by the model"
    mtcars = pd.read_csv(io.StringIO(rscript("write.csv(mtcars, stdout(), row.names = FALSE)")))
    assert lm["columns"]["wt"]["n"] == 32
    assert lm["columns"]["wt"]["quantiles"][0] == mtcars["wt"].min()
    assert lm["columns"]["wt"]["quantiles"][-1] == mtcars["wt"].max()
    assert lm["columns"]["cyl"]["counts"] == {
        str(k): int(v) for k, v in mtcars["cyl"].value_counts().items()}
    ranger = read_model_file(EXAMPLES / "warpbreaks_ranger.rds", session)["warpbreaks_ranger"]
    assert ranger.reference["source"] == "schema"
    assert ranger.reference["columns"]["tension"]["counts"] == {"L": None, "M": None, "H": None}


def test_a_reference_file_overrides(session, model_dir):
    from bridge.r.model import read_model_file

    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    pd.DataFrame({"wt": [1.0, 2.0, 3.0, None], "hp": [100, 200, 300, 400],
                  "cyl": ["4", "4", "8", None]}).to_csv(model_dir / "mtcars_lm.reference.csv",
                                                        index=False)
    ref = read_model_file(model_dir / "mtcars_lm.rds", session)["mtcars_lm"].reference
    assert ref["source"] == "file mtcars_lm.reference.csv"
    assert ref["columns"]["wt"]["missing"] == 0.25
    assert ref["columns"]["cyl"]["counts"] == {"4": 2, "8": 1}


def test_a_reference_csv_of_dates_is_read_as_dates(session, model_dir):
    """Dates and times in a CSV are text: read as R's numbers for them (days,
    seconds since 1970 UTC), the same scale live requests are summarised on."""
    from bridge.r.model import read_model_file

    rscript(f"""d <- data.frame(day = as.Date("2024-01-01") + 0:29,
                                at = as.POSIXct("2024-01-01", tz = "UTC") + 3600 * (0:29), y = 1:30)
                saveRDS(lm(y ~ day + at, d), {str(model_dir / "dated.rds")!r})""")
    pd.DataFrame({"day": ["2024-01-01", "2024-01-11", None, "not a date"],
                  "at": ["2024-01-01 00:00:00", "2024-01-01T02:00:00Z", "2024-01-01 04:00:00+00:00",
                         None]}).to_csv(model_dir / "dated.reference.csv", index=False)
    ref = read_model_file(model_dir / "dated.rds", session)["dated"].reference
    assert ref["source"] == "file dated.reference.csv"
    day, at = ref["columns"]["day"], ref["columns"]["at"]
    first = (pd.Timestamp("2024-01-01") - pd.Timestamp("1970-01-01")).days
    assert day["quantiles"][0] == first and day["quantiles"][-1] == first + 10, day
    assert day["missing"] == 0.5  # the empty cell and the one that is no date
    assert at["quantiles"][0] == first * 86400 and at["quantiles"][-1] == first * 86400 + 4 * 3600, at
    assert at["missing"] == 0.25
    # Parquet: a date32 column (Python dates to pandas) and a timestamp column
    (model_dir / "dated.reference.csv").unlink()
    pd.DataFrame({"day": pd.Series([pd.Timestamp("2024-01-01").date(), None], dtype=object),
                  "at": pd.to_datetime(["2024-01-01 01:00", None]).as_unit("ms")}).to_parquet(
        model_dir / "dated.reference.parquet")
    ref = read_model_file(model_dir / "dated.rds", session)["dated"].reference
    assert ref["source"] == "file dated.reference.parquet"
    assert ref["columns"]["day"]["quantiles"][0] == first and ref["columns"]["day"]["missing"] == 0.5
    assert ref["columns"]["at"]["quantiles"][0] == first * 86400 + 3600


def test_a_version_folder_reference(session, model_dir):
    from bridge.r.model import read_model_file

    version = model_dir / "mt" / "3"
    version.mkdir(parents=True)
    copy_model(EXAMPLES / "mtcars_lm.rds", version, "model.rds")
    pd.DataFrame({"wt": [1.0, 2.0], "hp": [1, 2], "cyl": ["6", "6"]}).to_parquet(
        version / "reference.parquet")
    (model,) = read_model_file(version / "model.rds", session).values()
    assert model.reference["source"] == "file reference.parquet"
    assert model.reference["columns"]["cyl"]["counts"] == {"6": 2}


# ---- a real server: shifted columns drift, unshifted do not ---------------------------

def training(name, columns):
    text = rscript(f"d <- {name}[, c({', '.join(repr(c) for c in columns)})]; "
                   "write.csv(d, stdout(), row.names = FALSE)")
    return pd.read_csv(io.StringIO(text), dtype=str).to_dict("list")


def rows_of(columns, index, shift=None):
    shift = shift or {}
    out = []
    for i in index:
        row = {}
        for name, values in columns.items():
            v = values[i]
            row[name] = shift[name](v) if name in shift else v
        out.append(row)
    return out


@pytest.fixture(scope="module")
def drift_server(tmp_path_factory):
    from conftest import Server

    folder = tmp_path_factory.mktemp("drift")
    for name in ("mtcars_same", "mtcars_shifted"):
        copy_model(EXAMPLES / "mtcars_lm.rds", folder, f"{name}.rds")
    copy_model(EXAMPLES / "infert_glm.rda", folder)
    server = Server(folder, "--reload-interval", "0", "--monitor-rows", "5000")
    mt = training("mtcars", ["wt", "hp", "cyl"])
    mt = {"wt": [float(v) for v in mt["wt"]], "hp": [float(v) for v in mt["hp"]], "cyl": mt["cyl"]}
    inf = training("infert", ["age", "parity", "education", "spontaneous", "induced"])
    inf = {k: (v if k == "education" else [float(x) for x in v]) for k, v in inf.items()}
    rng = np.random.default_rng(3)
    for _ in range(4):
        same = rows_of(mt, rng.integers(0, 32, 500))
        shifted = rows_of(mt, rng.integers(0, 32, 500), {"wt": lambda v: v + 2.5})
        # education moved: everyone in the rarest class; the rest as trained
        moved = rows_of(inf, rng.integers(0, len(inf["age"]), 500),
                        {"education": lambda v: "0-5yrs"})
        for name, rows in (("mtcars_same", same), ("mtcars_shifted", shifted), ("infert_glm", moved)):
            r = requests.post(f"{server.url}/models/{name}/predict", json=rows, timeout=30)
            assert r.status_code == 200, r.text
    requests.post(f"{server.url}/models/mtcars_same/predict", json=[{"wt": 1, "hp": 1, "cyl": "5"}],
                  timeout=30)
    yield server
    server.stop()


def monitor(server, name, rows=2000, refused=0):
    """The model's report once the monitor has seen `rows` rows and `refused`
    refused rows (its queue is asynchronous, its thread wakes every 20 ms at
    most; bounded wait)."""
    deadline = time.monotonic() + 30
    while True:
        report = requests.get(f"{server.url}/models/{name}/monitor", timeout=30).json()
        version = report["versions"][0]
        seen = version["rows"] >= rows and version["refused"]["rows"] >= refused
        if seen or time.monotonic() > deadline:
            return version
        time.sleep(0.1)


def test_exactly_the_shifted_columns_drift(drift_server):
    same = monitor(drift_server, "mtcars_same", refused=1)
    shifted = monitor(drift_server, "mtcars_shifted")
    infert = monitor(drift_server, "infert_glm")
    assert same["rows"] == shifted["rows"] == 2000
    assert same["drifting"] == []
    assert shifted["drifting"] == ["wt"]
    assert infert["drifting"] == ["education"]
    assert shifted["columns"]["wt"]["psi"] > 1 and shifted["columns"]["wt"]["ks"] > 0.5
    for col in ("hp", "cyl"):
        assert shifted["columns"][col]["psi"] < 0.2
    assert same["refused"]["rows"] == 1 and same["refused"]["reasons"] == {"unknown level": 1}
    assert same["latency_ms"]["n"] == 5 and same["latency_ms"]["p50"] > 0
    assert same["outputs"]["prediction"]["n"] == 2000
    assert same["reference_source"] == "training data kept by the model"


def test_psi_gauges_on_metrics(drift_server):
    deadline = time.monotonic() + 40
    while True:
        text = requests.get(f"{drift_server.url}/metrics", timeout=30).text
        line = [ln for ln in text.splitlines() if ln.startswith("bridge_input_drift_psi{")
                and 'model="mtcars_shifted"' in ln and 'column="wt"' in ln]
        if line or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert line, "no PSI gauge for mtcars_shifted wt"
    json_psi = monitor(drift_server, "mtcars_shifted")["columns"]["wt"]["psi"]
    assert math.isclose(float(line[0].rsplit(" ", 1)[1]), json_psi, rel_tol=1e-9)


def test_unknown_model_monitor_is_404(drift_server):
    r = requests.get(f"{drift_server.url}/models/nope/monitor", timeout=30)
    assert r.status_code == 404


def test_the_page_shows_the_numbers_of_the_json(drift_server, page):  # noqa: F811
    reports = {name: monitor(drift_server, name)
               for name in ("mtcars_same", "mtcars_shifted", "infert_glm")}
    page.call("Page.navigate", url=drift_server.url + "/monitor")
    page.wait_for("document.querySelectorAll('section.panel').length >= 3")
    shown = page.js("""[...document.querySelectorAll('section.panel')].map(s => ({
        model: s.dataset.model, rows: s.querySelector('.rows').textContent,
        columns: [...s.querySelectorAll('tr[data-column]')].map(r => ({
            name: r.dataset.column, psi: r.querySelector('.psi').dataset.psi,
            cls: r.querySelector('.psi').className}))}))""")
    assert {s["model"] for s in shown} == set(reports)
    for panel in shown:
        report = reports[panel["model"]]
        assert int(panel["rows"]) == report["rows"]
        for col in panel["columns"]:
            want = report["columns"][col["name"]]
            assert float(col["psi"]) == want["psi"]
            assert ("drift" in col["cls"].split()) == (col["name"] in report["drifting"])
    assert page.js("document.querySelectorAll('svg rect').length") > 20
    page.call("Emulation.setDeviceMetricsOverride", width=1100, height=900, deviceScaleFactor=1,
              mobile=False)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    data = base64.b64decode(shot["data"])
    assert data.startswith(b"\x89PNG")
    if not SCREENSHOT.exists():  # the docs' picture, made by this test once
        SCREENSHOT.write_bytes(data)


def test_monitor_needs_the_api_key(model_dir, start_server):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--reload-interval", "0", env={"BRIDGE_API_KEYS": "k1"})
    for path in ("/monitor", "/models/mtcars_lm/monitor"):
        assert requests.get(server.url + path, timeout=30).status_code == 401
        assert requests.get(server.url + path, headers={"X-API-Key": "k1"},
                            timeout=30).status_code == 200


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), lam=st.floats(0.2, 5))
def test_ks_of_discrete_numbers_is_near_zero_unshifted(seed, lam):
    """Counts (many ties): the same distribution is no drift by KS either."""
    rng = np.random.default_rng(seed)
    ref = summary.summarize("integer", rng.poisson(lam, 5000).astype(float))
    assert summary.ks(ref, rng.poisson(lam, 3000).astype(float)) < 0.06
    shift = int(3 * math.sqrt(lam)) + 2  # three standard deviations and more
    assert summary.ks(ref, rng.poisson(lam, 3000).astype(float) + shift) > 0.5


# ---- `bridge monitor DIR`: the report from a log folder, with the truth --------------

def _logged(folder, rows_by_day, kind="number"):
    """A log written by the real writer: calls on given days."""
    import datetime as dt

    from bridge.convert import prepare_column
    from bridge.monitoring.log import PredictionLog
    from bridge.monitoring.records import Rows, layout
    from bridge.prediction import Prediction
    from bridge.schema import Column
    from bridge.service import Answer, Context, Event
    from bridge.table import Request

    writer = PredictionLog(folder)
    ids = []
    for day, calls in rows_by_day.items():
        for i, (x, predicted) in enumerate(calls):
            rid = f"{day}-{i}"
            cols = [prepare_column(Column("x", "numeric"), [x])]
            pred = Prediction("vector", {"prediction": [predicted]}, {}, [])
            event = Event(Context("json", "/models/{name}/predict", request_id=rid), "m", "v1",
                          200, 5.0, Request(cols, 1, {}, ()), None,
                          answer=Answer("m", "v1", pred, 5.0))
            rows = writer._pending.get("m") or Rows(layout(event))
            rows.since = 0
            writer._pending["m"] = rows
            rows.add(event, now=dt.datetime.fromisoformat(f"{day}T12:00:00+00:00"))
            ids.append(rid)
    writer.close()
    return ids


def test_bridge_monitor_gives_the_metrics_a_hand_computation_gives(tmp_path):
    import subprocess
    import sys

    rng = np.random.default_rng(5)
    days = {"2026-01-01": [(float(x), float(x * 2 + rng.normal())) for x in rng.normal(0, 1, 40)],
            "2026-01-02": [(float(x), float(x * 2 + rng.normal())) for x in rng.normal(3, 1, 40)]}
    _logged(tmp_path / "log", days)
    truth = {f"{day}-{i}": x * 2 for day, calls in days.items() for i, (x, _) in enumerate(calls)}
    pd.DataFrame({"id": list(truth), "y": list(truth.values())}).to_csv(tmp_path / "truth.csv",
                                                                        index=False)
    done = subprocess.run([sys.executable, "-m", "bridge", "monitor", str(tmp_path / "log"),
                           "--period", "1d", "--truth", str(tmp_path / "truth.csv"),
                           "--id-column", "id", "--json", str(tmp_path / "r.json"),
                           "--html", str(tmp_path / "r.html")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    doc = __import__("json").loads((tmp_path / "r.json").read_text())
    (model,) = doc["models"]
    assert [p["start"][:10] for p in model["periods"]] == list(days)
    for period, (day, calls) in zip(model["periods"], days.items()):
        err = np.array([p - x * 2 for x, p in calls])
        assert period["metrics"]["rows"] == 40 and period["calls"] == 40
        assert math.isclose(period["metrics"]["rmse"], math.sqrt(np.mean(err ** 2)), rel_tol=1e-12)
        assert math.isclose(period["metrics"]["mae"], np.mean(np.abs(err)), rel_tol=1e-12)
    first, second = (p["inputs"]["x"]["psi"] for p in model["periods"])
    assert first < 0.05 < 0.2 < second   # day 2's inputs moved by three sd
    assert "<table" in (tmp_path / "r.html").read_text()


def test_bridge_monitor_classes_accuracy_and_log_loss():
    from bridge.monitoring.offline import metrics

    frame = pd.DataFrame({"out.class": ["a", "b", "a", "b"], "out.a": [0.9, 0.2, 0.6, 0.4],
                          "out.b": [0.1, 0.8, 0.4, 0.6], "truth": ["a", "b", "b", "b"]})
    got = metrics(frame)
    assert got["accuracy"] == 0.75
    assert math.isclose(got["log_loss"], -np.mean(np.log([0.9, 0.8, 0.4, 0.6])), rel_tol=1e-12)


# ---- the window: bounded by rows and time; shadow answers counted apart ----------------

class _Served:
    """A served model as the monitor sees it (name, version, schema, reference)."""

    def __init__(self, reference):
        from bridge.schema import Column, Schema

        self.name, self.version = "m", "v1"
        self.schema = Schema((Column("x", "numeric"), Column("g", "character")), "ptype")
        self.reference = reference


def _call(x, g, shadow=False, status=200):
    from bridge.convert import prepare_column
    from bridge.prediction import Prediction
    from bridge.schema import Column
    from bridge.service import Answer, Context, Event
    from bridge.table import Request

    x, g = np.asarray(x, dtype=float).tolist(), [str(v) for v in g]
    cols = [prepare_column(Column("x", "numeric"), x), prepare_column(Column("g", "character"), g)]
    answer = Answer("m", "v1", Prediction("vector", {"prediction": x}, {}, []), 1.0)
    return Event(Context("json", "/models/{name}/predict"), "m", "v1", status, 2.0,
                 Request(cols, len(x), {}, ()), None, answer=answer, shadow=shadow)


def test_the_window_is_bounded_and_shadow_is_apart():
    from bridge.monitoring.drift import Monitor
    from bridge.service import LocalCatalog

    rng = np.random.default_rng(0)
    labels = [f"u{i}" for i in range(500)]  # more labels than a summary keeps
    ref = {"source": "test", "columns": {
        "x": summary.summarize("numeric", rng.normal(0, 1, 5000)),
        "g": summary.summarize("character", list(rng.choice(labels, 20000)))}}
    assert len(ref["columns"]["g"]["counts"]) == summary.MAX_LEVELS + 1
    now = [1000.0]
    monitor = Monitor(LocalCatalog([_Served(ref)]), max_rows=3000, max_seconds=60,
                      clock=lambda: now[0])
    for _ in range(40):
        monitor.observe(_call(rng.normal(0, 1, 100), rng.choice(labels, 100)))
    monitor.observe(_call(rng.normal(5, 1, 100), ["new"] * 100, shadow=True))
    report = monitor.report_version("m", "v1")
    assert report["rows"] == 3000 and report["shadow_calls"] == 1  # the last 3,000 rows exactly
    assert report["drifting"] == []
    assert report["columns"]["g"]["unseen"] is None  # a capped reference cannot tell
    monitor.observe(_call(rng.normal(0, 1, 1000), ["new"] * 1000))
    assert monitor.report_version("m", "v1")["columns"]["g"]["drifting"]
    now[0] += 61  # the window's time bound passes: the old rows leave it
    monitor.observe(_call(rng.normal(0, 1, 50), rng.choice(labels, 50)))
    assert monitor.report_version("m", "v1")["rows"] == 50


# ---- the compact window gives the numbers of holding the values themselves -------------

LEVELS = ("a", "b", "c")


def _mixed_call(latency, n, parts):
    """A call of n rows: x numeric (NaN: NA), f a factor, g characters (sometimes
    absent), an output; `parts` the drawn values."""
    from bridge.convert import prepare_column
    from bridge.prediction import Prediction
    from bridge.schema import Column
    from bridge.service import Answer, Context, Event
    from bridge.table import Request

    x, f, g, y = parts
    cols = [prepare_column(Column("x", "numeric"), x),
            prepare_column(Column("f", "factor", levels=LEVELS), f)]
    if g is not None:
        cols.append(prepare_column(Column("g", "character"), g))
    answer = Answer("m", "v1", Prediction("vector", {"prediction": y}, {}, []), 1.0)
    return Event(Context("json", "/models/{name}/predict"), "m", "v1", 200, latency,
                 Request(cols, n, {}, ()), None, answer=answer)


def _straight_report(rows, latencies, reference, max_rows, since):
    """What the window should say, computed the plain way: the rows kept as
    Python values, the last max_rows of those since `since`."""
    kept = [r for r in rows if r[0] >= since][-max_rows:]
    out = {}
    for col in ("x", "f", "g"):
        values = [r[1][col] for r in kept if col in r[1]]
        ref = reference.get(col)
        if not values:
            live = None
        elif col == "x":
            edges = ref["edges"] if summary.has_distribution(ref) else None
            live = summary.summarize("numeric", np.array(values, dtype=float), edges)
        else:
            known = set(ref["counts"]) if summary.has_distribution(ref) else None
            live = summary.summarize("character", values, known=known)
        ks = summary.ks(ref, np.array(values, dtype=float)) if col == "x" and values else None
        out[col] = {"live": live, "psi": summary.psi(ref, live) if ref and live else None,
                    "ks": ks}
    preds = [r[2] for r in kept]
    output = summary.summarize("numeric", np.array(preds, dtype=float)) if preds else None
    lat = np.array(latencies[-2000:])
    p = np.percentile(lat, [50, 90, 99]).tolist() if len(lat) else [None] * 3
    return len(kept), out, output, p


_maybe_float = st.one_of(st.none(), st.floats(-5, 5, allow_nan=False))
_call_strategy = st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, 40),            # rows, seconds since the last (ties: the bound)
    st.lists(_maybe_float, min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.sampled_from(LEVELS)), min_size=n, max_size=n),
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from("pqrstu")),
                                  min_size=n, max_size=n)),
    st.lists(st.floats(-100, 100), min_size=n, max_size=n),
    st.floats(0.1, 50)))                                            # latency


@settings(max_examples=80, deadline=None)
@given(calls=st.lists(_call_strategy, min_size=1, max_size=60), max_rows=st.integers(1, 200),
       max_seconds=st.integers(5, 300), capped=st.booleans())
def test_the_compact_window_gives_the_numbers_of_the_values_themselves(calls, max_rows,
                                                                      max_seconds, capped):
    from bridge.monitoring.drift import Monitor
    from bridge.schema import Column, Schema
    from bridge.service import LocalCatalog

    rng = np.random.default_rng(1)
    reference = {"x": summary.summarize("numeric", rng.normal(0, 2, 500)),
                 "f": summary.summarize("character", list(rng.choice(["a", "b"], 200)))}
    if capped:  # g: a reference that knows some labels; else none at all (live labels in full)
        reference["g"] = summary.summarize("character", list(rng.choice(list("pqz"), 200)))
    served = _Served({"source": "test", "columns": reference})
    served.schema = Schema((Column("x", "numeric"), Column("f", "factor", levels=LEVELS),
                            Column("g", "character")), "ptype")
    now = [0.0]
    monitor = Monitor(LocalCatalog([served]), max_rows=max_rows, max_seconds=max_seconds,
                      clock=lambda: now[0])
    rows, latencies = [], []
    for n, dt_, x, f, g, y, latency in calls:
        now[0] += dt_
        monitor.observe(_mixed_call(latency, n, (x, f, g, y)))
        latencies.append(latency)
        for i in range(n):
            values = {"x": np.nan if x[i] is None else x[i], "f": f[i]}
            if g is not None:
                values["g"] = g[i]
            rows.append((now[0], values, y[i]))
    got = monitor.report_version("m", "v1")
    n, want, output, p = _straight_report(rows, latencies, reference, max_rows,
                                          now[0] - max_seconds)
    assert got["rows"] == n
    for col in ("x", "f", "g"):
        assert got["columns"][col]["live"] == want[col]["live"], col
        assert got["columns"][col]["psi"] == want[col]["psi"], col
        assert got["columns"][col]["ks"] == want[col]["ks"], col
    assert got["outputs"].get("prediction") == output
    assert [got["latency_ms"][k] for k in ("p50", "p90", "p99")] == p
    ring = monitor._windows[("m", "v1")].rows
    table = ring.columns[("in", "g")].table if ("in", "g") in ring.columns else None
    if table is not None:  # the label table holds the window's labels only
        in_window = {r[1].get("g") for r in rows if r[0] >= now[0] - max_seconds}
        assert set(table.code) <= in_window - {None}


# ---- the page: a folder of versions' split and shadow agreement --------------------------

def test_the_page_shows_the_split_and_the_shadow_agreement(model_dir, start_server, page):  # noqa: F811
    """Versions 1 and 2 split 90/10, version 3 (another fit) shadows: the
    page's routing block gives the numbers of /models/mt/versions and /shadow."""
    import json

    for version in ("1", "2", "3"):
        (model_dir / "mt" / version).mkdir(parents=True)
    for version in ("1", "2"):
        copy_model(EXAMPLES / "mtcars_lm.rds", model_dir / "mt" / version, "model.rds")
    rscript('d <- mtcars; d$cyl <- factor(d$cyl); '
            f'saveRDS(lm(mpg ~ wt + hp + cyl, data = d[1:20, ]), "{model_dir}/mt/3/model.rds")')
    (model_dir / "mt" / "serving.json").write_text(json.dumps(
        {"traffic": {"1": 90, "2": 10}, "shadow": 3}))
    server = start_server(model_dir, "--reload-interval", "0", "--workers", "2")
    rows = [{"wt": 2.62, "hp": 110, "cyl": "6"}, {"wt": 3.57, "hp": 245, "cyl": "8"}]
    calls = 30
    for _ in range(calls):
        r = requests.post(f"{server.url}/models/mt/predict", json=rows, timeout=30)
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while True:  # the shadow replays after the answers (bounded wait, nothing timed)
        shadow = requests.get(f"{server.url}/models/mt/shadow", timeout=30).json()
        done = shadow["shadowed"] + shadow["dropped"] + sum(shadow["errors"].values())
        if done >= calls or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shadow["shadowed"] > 0, shadow
    listing = requests.get(f"{server.url}/models/mt/versions", timeout=30).json()
    page.call("Page.navigate", url=server.url + "/monitor")
    page.wait_for("document.querySelector('section.routing .shadow') !== null")
    shown = page.js("""(() => { const s = document.querySelector('section.routing');
        return {model: s.dataset.model,
                split: [...s.querySelectorAll('.share')].map(e => [e.dataset.version, e.dataset.weight]),
                shadow: s.querySelector('.shadow').dataset.version,
                shadowed: s.querySelector('.shadowed').textContent,
                rows: s.querySelector('.rows-compared').textContent,
                diff: s.querySelector('.mean-diff').dataset.value,
                agreement: s.querySelector('.agreement').dataset.value}; })()""")
    assert shown["model"] == "mt"
    assert {v: float(w) for v, w in shown["split"]} == {
        str(v): float(w) for v, w in listing["traffic"].items()} == {"1": 90.0, "2": 10.0}
    assert shown["shadow"] == "3" == str(shadow["shadow_version"])
    assert int(shown["shadowed"]) == shadow["shadowed"]
    assert int(shown["rows"]) == shadow["rows_compared"] == 2 * shadow["shadowed"]
    assert float(shown["diff"]) == shadow["mean_abs_difference"] > 0  # another fit: it differs
    assert shown["agreement"] == "" and shadow["agreement"] is None    # numbers: no class to agree on
    assert page.js("document.querySelectorAll('section.panel').length") >= 1  # drift panels as before


# ---- an answer's doubles are watched as the vectors they came as ---------------------------

@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), min_size=1,
                       max_size=300),
       labels=st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=1, max_size=1))
def test_answer_vectors_are_watched_as_their_lists_would_be(values, labels):
    from types import SimpleNamespace

    from bridge.monitoring.drift import live_outputs
    from bridge.prediction import Prediction

    vector = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    as_vector = Prediction("table", {"p": vector, "class": labels * len(values)}, {}, [])
    as_lists = Prediction("table", {"p": list(values), "class": labels * len(values)}, {}, [])
    got = live_outputs(SimpleNamespace(result=as_vector))
    want = live_outputs(SimpleNamespace(result=as_lists))
    assert got.keys() == want.keys() == {"p", "class"}
    assert got["p"][0] == "number"
    for key in want:
        assert got[key][0] == want[key][0]
        if want[key][0] == "number":
            np.testing.assert_array_equal(got[key][1], want[key][1])  # NaN where None
        else:
            assert got[key] == want[key]
    assert as_vector._lists is None  # the lists were never made for the monitor
