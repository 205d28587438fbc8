"""The prediction log (--log-predictions, bridge/monitoring/log.py) on a real
server with real R: every protocol's answer is on record with the right
model, version, protocol, route and status, inputs as sent (typed) and
outputs as answered; refusals too; sampling, rotation, files readable while
the server writes, SIGTERM drains, a full queue drops and counts without
any caller waiting; hostile names and values survive into Parquet."""

import json
import random
import threading
import time

import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest
import requests

from bridge.monitoring import union
from bridge.monitoring.log import PredictionLog, model_folder
from bridge.monitoring.records import event_table
from bridge.service import Context, Event, Queued
from conftest import EXAMPLES, copy_model, rscript

ROWS = [{"wt": 2.62, "hp": 110, "cyl": "6"}, {"wt": 3.57, "hp": 245, "cyl": "8"},
        {"wt": 1.835, "hp": 66, "cyl": "4"}]


def wait_rows(folder, n, timeout=30):
    """The log's rows once at least n are on disk (bounded wait, no timing asserted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            frame = pd.read_parquet(folder)
            if len(frame) >= n:
                return frame
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} log rows in {folder} after {timeout}s")


@pytest.fixture
def models(model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    (model_dir / "mtcars_lm.json").write_text(json.dumps({"version": "1.2.3"}))
    rscript(f'saveRDS(stats::arima(lh, order = c(1, 0, 0)), "{model_dir}/lh_ar.rds")')
    return model_dir


def post(server, path, body=None, **kw):
    return requests.post(server.url + path, json=body, timeout=30, **kw)


def test_every_protocol_is_on_record(models, tmp_path, start_server):
    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-seconds", "0.2")
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent = {}
    r = post(server, "/models/mtcars_lm/predict", ROWS, headers={"traceparent": trace})
    sent["json"] = (r, ROWS, r.json()["predictions"])
    csv = "wt,hp,cyl\n" + "\n".join(f"{x['wt']},{x['hp']},{x['cyl']}" for x in ROWS)
    r = requests.post(server.url + "/models/mtcars_lm/predict", data=csv,
                      headers={"Content-Type": "text/csv"}, timeout=30)
    sent["csv"] = (r, ROWS, [float(v) for v in r.text.splitlines()[1:]] if
                   r.headers["Content-Type"].startswith("text/csv") else r.json()["predictions"])
    v2 = {"inputs": [
        {"name": "wt", "shape": [3], "datatype": "FP64", "data": [x["wt"] for x in ROWS]},
        {"name": "hp", "shape": [3], "datatype": "FP64", "data": [x["hp"] for x in ROWS]},
        {"name": "cyl", "shape": [3], "datatype": "BYTES", "data": [x["cyl"] for x in ROWS]}]}
    r = post(server, "/v2/models/mtcars_lm/infer", v2)
    sent["v2"] = (r, ROWS, r.json()["outputs"][0]["data"])
    r = post(server, "/invocations?model=mtcars_lm", {"dataframe_records": ROWS})
    sent["mlflow"] = (r, ROWS, r.json()["predictions"])
    for protocol, (resp, _, _) in sent.items():
        assert resp.status_code == 200, (protocol, resp.text)
    refused = post(server, "/models/mtcars_lm/predict", [{"wt": 1, "hp": 1, "cyl": "7"}])
    assert refused.status_code == 422
    forecast = post(server, "/models/lh_ar/forecast", {"h": 3})
    assert forecast.status_code == 200, forecast.text

    frame = wait_rows(log / "mtcars_lm", 13)
    assert set(frame["version"]) == {"1.2.3"}
    assert set(frame["model"]) == {"mtcars_lm"}
    for protocol, (resp, rows, answered) in sent.items():
        got = frame[frame["id"] == resp.headers["X-Request-ID"]].sort_values("row")
        assert list(got["protocol"]) == [protocol] * 3
        assert list(got["status"]) == [200] * 3
        assert list(got["in.wt"]) == [x["wt"] for x in rows]
        assert list(got["in.hp"]) == [float(x["hp"]) for x in rows]
        assert list(got["in.cyl"]) == [x["cyl"] for x in rows]
        assert list(got["out.prediction"]) == pytest.approx(answered, rel=1e-12)
        assert (got["latency_ms"] > 0).all() and not got["shadow"].any()
    assert frame.dtypes["in.wt"] == "float64" and frame.dtypes["status"] == "int16"
    routes = dict(zip(frame["protocol"], frame["route"]))
    assert routes["json"] == "/models/{name}/predict" and routes["v2"] == "/v2/models/{name}/infer"
    first = frame[frame["id"] == sent["json"][0].headers["X-Request-ID"]]
    assert set(first["traceparent"]) == {trace}
    assert frame[frame["protocol"] == "csv"]["traceparent"].isna().all()
    bad = frame[frame["id"] == refused.headers["X-Request-ID"]]
    assert list(bad["status"]) == [422] and "'cyl'" in bad["error"].iloc[0]

    steps = wait_rows(log / "lh_ar", 3)
    assert list(steps["protocol"]) == ["forecast"] * 3 and list(steps["in.h"].dropna()) == [3]
    assert list(steps["out.mean"]) == pytest.approx(
        [step["mean"] for step in forecast.json()["forecast"]], rel=1e-12)


def test_refusals_of_unknown_names_never_name_a_folder(models, tmp_path, start_server):
    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-seconds", "0.2")
    for name in ("nope", ".hidden", "x%20y%2E%2E"):
        assert post(server, f"/models/{name}/predict", ROWS).status_code == 404
    frame = wait_rows(log / "_unresolved", 3)
    assert list(frame["status"]) == [404] * 3 and frame["model"].isna().all()
    # the folder's union schema (union.py) sits beside it, named by us, not by a caller
    assert sorted(p.name for p in log.iterdir()) == ["!schema", "_unresolved"]


def test_a_served_name_with_a_version_it_lacks_is_that_models_refusal(models, tmp_path,
                                                                      start_server):
    (models / "cars" / "1").mkdir(parents=True)
    copy_model(EXAMPLES / "mtcars_lm.rds", models / "cars" / "1", "model.rds")
    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-seconds", "0.2")
    for name, version in (("cars", "7"), ("cars", "champion"), ("mtcars_lm", "9.9")):
        assert post(server, f"/models/{name}/versions/{version}/predict", ROWS).status_code == 404
    for name, n in (("cars", 2), ("mtcars_lm", 1)):
        frame = wait_rows(log / name, n)
        assert list(frame["status"]) == [404] * n and set(frame["model"]) == {name}
        assert frame["version"].isna().all()
    assert not (log / "_unresolved").exists()


def test_sample_zero_logs_nothing_and_sigterm_drains(models, tmp_path, start_server):
    """Sample 0: no row; sample 1 with files written only at shutdown: every
    call answered before SIGTERM is in the log after it."""
    quiet = tmp_path / "quiet"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(quiet),
                          "--log-sample", "0")
    for _ in range(20):
        assert post(server, "/models/mtcars_lm/predict", ROWS).status_code == 200
    server.stop()
    assert not list(quiet.rglob("*.parquet"))

    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-seconds", "3600", "--workers", "2")
    answered, stop = [], threading.Event()

    def load():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = session.post(server.url + "/models/mtcars_lm/predict", json=ROWS, timeout=30)
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    answered.append(r.headers["X-Request-ID"])

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(answered) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(log.rglob("*.parquet")), "nothing is written before rotation or shutdown"
    server.proc.terminate()
    assert server.proc.wait(timeout=60) == 0
    stop.set()
    for t in threads:
        t.join()
    frame = pd.read_parquet(log / "mtcars_lm")
    assert set(answered) <= set(frame["id"]), "an answered call is missing from the log"
    assert len(frame) == 3 * frame["id"].nunique()
    assert not list(log.rglob("*.tmp"))


def test_rotation_by_size_and_files_readable_while_written(models, tmp_path, start_server):
    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-bytes", "2K", "--log-rotate-seconds", "0.3")
    rows = ROWS * 10
    stop, sent = threading.Event(), []

    def load():
        while not stop.is_set() and len(sent) < 150:
            assert post(server, "/models/mtcars_lm/predict", rows).status_code == 200
            sent.append(1)

    writer = threading.Thread(target=load)
    writer.start()
    seen = []
    try:
        while writer.is_alive():
            if (log / "mtcars_lm").is_dir():
                seen.append(len(pd.read_parquet(log / "mtcars_lm")))  # never a partial file
    finally:
        stop.set()
        writer.join()
    assert seen == sorted(seen) and len(seen) > 1
    frame = wait_rows(log / "mtcars_lm", 30 * len(sent))
    assert len(frame) == 30 * len(sent)
    files = list((log / "mtcars_lm").glob("*.parquet"))
    assert len(files) > 5, "2K files: many of them"
    for f in files:
        assert pq.read_table(f).num_rows > 0


def test_the_whole_folder_reads_as_one_table_while_written(models, tmp_path, start_server):
    """pandas.read_parquet(DIR) over several models: every model's rows with
    every column (the others' as nulls), at every moment while the server
    writes. `wt` is a number in mtcars_lm and a factor in wt_factor: a type
    conflict, read over the folder as text (each model's folder keeps its type)."""
    rscript('set.seed(2); d <- data.frame(y = rnorm(40), wt = factor(rep(c("light", "heavy"), 20))); '
            f'saveRDS(lm(y ~ wt, data = d), "{models}/wt_factor.rds")')
    log = tmp_path / "log"
    server = start_server(models, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-bytes", "2K", "--log-rotate-seconds", "0.2")
    stop, sent = threading.Event(), {"mtcars_lm": [], "wt_factor": [], "lh_ar": []}
    factor_rows = [{"wt": "light"}, {"wt": "heavy"}]

    def load():
        while not stop.is_set() and len(sent["mtcars_lm"]) < 60:
            for name, path, body in (("mtcars_lm", "predict", ROWS), ("wt_factor", "predict", factor_rows),
                                     ("lh_ar", "forecast", {"h": 2})):
                r = post(server, f"/models/{name}/{path}", body)
                assert r.status_code == 200, r.text
                sent[name].append(r.headers["X-Request-ID"])

    writer = threading.Thread(target=load)
    writer.start()
    columns = {"in.wt", "in.hp", "in.cyl", "in.h", "out.prediction", "out.mean"}
    seen = []
    try:
        while writer.is_alive():
            if any(log.rglob("*.parquet")):
                frame = pd.read_parquet(log)  # files and the union renamed into place meanwhile
                models_in = set(frame["model"])
                if len(models_in) == 3:
                    assert columns <= set(frame.columns), sorted(frame.columns)
                seen.append(len(frame))
    finally:
        stop.set()
        writer.join()
    assert seen == sorted(seen) and len(seen) > 1
    total = 3 * len(sent["mtcars_lm"]) + 2 * len(sent["wt_factor"]) + 2 * len(sent["lh_ar"])
    frame = wait_rows(log, total)
    assert len(frame) == total and columns <= set(frame.columns)
    for name, n in (("mtcars_lm", 3), ("wt_factor", 2), ("lh_ar", 2)):
        rows = frame[frame["model"] == name]
        assert sorted(set(rows["id"])) == sorted(sent[name]) and len(rows) == n * len(sent[name])
    mt, fa, ar = (frame[frame["model"] == m] for m in ("mtcars_lm", "wt_factor", "lh_ar"))
    # a column of another model is null here
    assert mt["in.h"].isna().all() and ar["in.wt"].isna().all() and ar["out.prediction"].isna().all()
    assert mt["out.mean"].isna().all() and (ar["in.h"].dropna() == 2).all()
    assert mt["in.hp"].notna().all() and fa["in.hp"].isna().all()
    # the conflicting column, as text over the folder: the numbers and the labels as sent
    one = mt[mt["id"] == sent["mtcars_lm"][0]].sort_values("row")
    assert [float(v) for v in one["in.wt"]] == [x["wt"] for x in ROWS]
    assert set(fa["in.wt"]) == {"light", "heavy"}
    # one model's folder: its own types
    assert pd.read_parquet(log / "mtcars_lm").dtypes["in.wt"] == "float64"
    assert pq.read_schema(log / "!schema" / "union.parquet").field("in.wt").type == "string"


# ---- the writer and its queue, at unit level (with real records) ----------------------

def _event(n=3, status=200, shadow=False, model="m"):
    from bridge.convert import prepare_column
    from bridge.prediction import Prediction
    from bridge.schema import Column
    from bridge.service import Answer
    from bridge.table import Request

    cols = [prepare_column(Column("x", "numeric"), [float(i) for i in range(n)])]
    answer = Answer(model, "v1", Prediction("vector", {"prediction": list(range(n))}, {}, []), 1.0)
    return Event(Context("json", "/models/{name}/predict", request_id="r"), model, "v1", status,
                 1.0, Request(cols, n, {}, ()), None, answer=answer if status == 200 else None,
                 shadow=shadow)


def test_sampling_takes_the_calls_its_random_numbers_pick(tmp_path):
    writer = PredictionLog(tmp_path, sample=0.3, rng=random.Random(7))
    for _ in range(300):
        writer.observe(_event(n=1))
    writer.close()
    rng = random.Random(7)
    expected = sum(rng.random() < 0.3 for _ in range(300))
    assert len(pd.read_parquet(tmp_path / "m")) == expected
    assert 0 < expected < 300


def test_shadow_answers_are_marked(tmp_path):
    """On main nothing sends shadow calls yet (the versions work does): a
    synthetic shadow Event is logged with shadow=true beside the primary."""
    writer = PredictionLog(tmp_path)
    writer.observe(_event())
    writer.observe(_event(shadow=True))
    writer.close()
    frame = pd.read_parquet(tmp_path / "m")
    assert list(frame["shadow"]) == [False] * 3 + [True] * 3


def test_a_full_queue_drops_and_counts_and_no_caller_waits(tmp_path):
    from bridge import metrics
    from bridge.metrics import _get

    release, entered = threading.Event(), threading.Event()

    class Stuck(PredictionLog):
        def observe(self, event):
            entered.set()
            release.wait(60)
            super().observe(event)

    before = _get().log_dropped._value.get()
    queued = Queued(Stuck(tmp_path), maxsize=2,
                    on_drop=lambda event: metrics.prediction_log_dropped())
    queued.observe(_event())
    assert entered.wait(30)          # the writer holds one event and is stuck
    for _ in range(50):              # returns at once each time: the queue is never waited on
        queued.observe(_event())
    assert queued.dropped == 48      # 2 fit in the queue
    assert _get().log_dropped._value.get() - before == 48
    release.set()
    assert queued.close(timeout=30)
    assert len(pd.read_parquet(tmp_path / "m")) == 3 * 3


def test_hostile_names_and_values_survive(model_dir, tmp_path, start_server):
    """Column names and factor levels that are SQL, paths, quotes, newlines,
    unicode, and our own prefixes: the Parquet holds them exactly."""
    levels = ["'; DROP TABLE x; --", "a\nb", "ünï \u2028 code", "../../etc", "${HOME}", "in.x"]
    rscript(
        "lev <- c(\"'; DROP TABLE x; --\", \"a\\nb\", \"\\u00fcn\\u00ef \\u2028 code\", "
        "\"../../etc\", \"${HOME}\", \"in.x\"); set.seed(1); n <- 60; "
        "d <- data.frame(y = rnorm(n), `in.x` = rnorm(n), `id` = rnorm(n), `a b\"` = rnorm(n), "
        "g = factor(rep(lev, 10), levels = lev), check.names = FALSE); "
        f"m <- lm(y ~ ., data = d); saveRDS(m, \"{model_dir}/hostile.rds\")")
    log = tmp_path / "log"
    server = start_server(model_dir, "--reload-interval", "0", "--log-predictions", str(log),
                          "--log-rotate-seconds", "0.2")
    rows = [{"in.x": 0.5, "id": 1.5, 'a b"': -2.0, "g": g} for g in levels]
    r = post(server, "/models/hostile/predict", rows)
    assert r.status_code == 200, r.text
    frame = wait_rows(log / "hostile", len(levels))
    assert list(frame["in.g"]) == levels
    assert list(frame["in.in.x"]) == [0.5] * 6 and list(frame["in.id"]) == [1.5] * 6
    assert list(frame['in.a b"']) == [-2.0] * 6
    assert frame["id"].nunique() == 1 and frame["id"].iloc[0] == r.headers["X-Request-ID"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "a\\b", "ünï", "", "%2E%2E",
                                  "_unresolved", "_private", "!schema"])
def test_model_folder_is_one_safe_name(name):
    folder = model_folder(name)
    assert "/" not in folder and "\\" not in folder and not folder.startswith(".")
    assert folder and folder not in (".", "..")
    # a served model's folder is one the whole-folder read does not skip, and
    # never the unresolved names' folder or the union schema's
    assert not folder.startswith(("_", "!")) and folder != model_folder(None)


def test_strings_that_utf8_cannot_hold_are_escaped_not_fatal(tmp_path):
    from bridge.convert import Prepared
    from bridge.schema import Column
    from bridge.table import Request

    event = _event()
    event.request = Request([Prepared(Column("s", "character"), ["ok", "\udc80bad", None])], 3, {}, ())
    table = event_table(event)
    assert table.column("in.s").to_pylist() == ["ok", "\\udc80bad", None]


def test_shadow_answers_from_a_real_server_are_logged(model_dir, tmp_path, start_server):
    """A folder of versions with a shadow (docs/versions.md): each call is on
    record twice, the caller's answer (version 1) and the shadow's (version 2,
    shadow=true), with the same request id."""
    for version in ("1", "2"):
        (model_dir / "mt" / version).mkdir(parents=True)
        copy_model(EXAMPLES / "mtcars_lm.rds", model_dir / "mt" / version, "model.rds")
    (model_dir / "mt" / "serving.json").write_text(json.dumps(
        {"aliases": {"champion": 1}, "shadow": 2}))
    log = tmp_path / "log"
    server = start_server(model_dir, "--reload-interval", "0", "--workers", "2",
                          "--log-predictions", str(log), "--log-rotate-seconds", "0.2")
    ids = []
    for _ in range(3):
        r = post(server, "/models/mt/predict", ROWS)
        assert r.status_code == 200, r.text
        ids.append(r.headers["X-Request-ID"])
    frame = wait_rows(log / "mt", 2 * 3 * len(ROWS))
    mine = frame[frame["id"].isin(ids)]
    primary, shadow = mine[~mine["shadow"]], mine[mine["shadow"]]
    assert set(primary["version"]) == {"1"} and set(shadow["version"]) == {"2"}
    assert sorted(primary["id"]) == sorted(shadow["id"]) and len(shadow) == 3 * len(ROWS)
    assert list(shadow.sort_values(["id", "row"])["in.wt"]) == \
        list(primary.sort_values(["id", "row"])["in.wt"])


# ---- the folder's union schema (union.py) ------------------------------------------------

def _typed_event(model, columns, status=200):
    """An Event whose inputs are `columns` {name: (Column, values)} and one output."""
    from bridge.convert import prepare_column
    from bridge.prediction import Prediction
    from bridge.service import Answer
    from bridge.table import Request

    cols = [prepare_column(col, values) for col, values in columns.values()]
    n = len(next(iter(columns.values()))[1])
    answer = Answer(model, "v1", Prediction("vector", {"prediction": [1.0] * n}, {}, []), 1.0)
    return Event(Context("json", "/models/{name}/predict", request_id="r"), model, "v1", status,
                 1.0, Request(cols, n, {}, ()), None, answer=answer)


KINDS = {  # an input kind the log writes, with values as a caller sends them
    "numeric": [1.5, None], "integer": [3, None], "logical": [True, None],
    "character": ["a", None], "Date": ["2020-01-02", None],
    "POSIXct": ["2020-01-02T03:04:05Z", None],
}


@pytest.mark.parametrize("first", sorted(KINDS))
@pytest.mark.parametrize("second", sorted(KINDS))
def test_two_models_one_column_name_any_two_types(tmp_path, first, second):
    """Whatever two types two models give one column, the whole folder reads:
    every row, the values as each model logged them (as text where the types
    have no common type)."""
    from bridge.schema import Column

    writer = PredictionLog(tmp_path)
    writer.observe(_typed_event("a", {"x": (Column("x", first), KINDS[first])}))
    writer.close()
    writer.observe(_typed_event("b", {"x": (Column("x", second), KINDS[second])}))
    writer.close()
    whole = pd.read_parquet(tmp_path)
    assert list(whole["model"]) == ["a", "a", "b", "b"]
    table = pq.read_table(tmp_path)
    typed = table.schema.field("in.x").type
    if first == second:
        assert typed == pq.read_schema(next((tmp_path / "a").glob("*.parquet"))).field("in.x").type
    for model in ("a", "b"):
        own = pq.read_table(tmp_path / model).column("in.x")
        got = table.filter(pa.compute.equal(table.column("model"), model)).column("in.x")
        assert got.to_pylist() == own.cast(typed).to_pylist()
        assert got.null_count == 1 and own.null_count == 1  # NA stays NA, the value stays a value


def test_the_union_is_in_place_before_the_file_and_survives_a_restart(tmp_path):
    """The union covers a file before the file is renamed in (a reader never
    sees a column the union lacks); a new writer on the folder (a restart, a
    second server) keeps the columns already there; a folder written before
    there was a union gets one from its files' footers."""
    from bridge.schema import Column

    seen_at_admit = []

    class Watching(union.UnionSchema):
        def admit(self, schema):
            seen_at_admit.append(sorted(p.name for p in tmp_path.glob("*/*.parquet")))
            super().admit(schema)

    writer = PredictionLog(tmp_path)
    writer.union = Watching(tmp_path)
    writer.observe(_typed_event("a", {"x": (Column("x", "numeric"), [1.0])}))
    writer.close()
    assert seen_at_admit == [[]]  # no data file yet (the union's own is not under a model)

    again = PredictionLog(tmp_path)  # a restart
    again.observe(_typed_event("b", {"y": (Column("y", "character"), ["s"])}))
    again.close()
    cols = set(pd.read_parquet(tmp_path).columns)
    assert {"in.x", "in.y"} <= cols

    (tmp_path / union.FOLDER / union.FILE).unlink()  # as written before this change
    late = PredictionLog(tmp_path)
    late.observe(_typed_event("c", {"z": (Column("z", "integer"), [2])}))
    late.close()
    whole = pd.read_parquet(tmp_path)
    assert {"in.x", "in.y", "in.z"} <= set(whole.columns) and len(whole) == 3
    assert not list(tmp_path.rglob("*.tmp"))


def test_model_folders_are_not_hive_partitions(tmp_path):
    """A model named like a hive partition (`year=2024`) is %-escaped: pyarrow
    infers no partition column from its folder."""
    from bridge.schema import Column

    writer = PredictionLog(tmp_path)
    for model in ("year=2024", "m"):
        writer.observe(_typed_event(model, {"x": (Column("x", "numeric"), [1.0])}))
    writer.close()
    whole = pd.read_parquet(tmp_path)
    assert "year" not in whole.columns and sorted(whole["model"]) == ["m", "year=2024"]


def test_union_type_of_what_the_log_writes():
    assert union.union_type([pa.int32(), pa.float64()]) == pa.float64()
    assert union.union_type([pa.null(), pa.date32()]) == pa.date32()
    assert union.union_type([pa.float64(), pa.string()]) == pa.string()
    assert union.union_type([pa.bool_(), pa.timestamp("us", tz="UTC")]) == pa.string()
    assert union.union_type([pa.list_(pa.float64()), pa.float64()]) is None  # no text cast
