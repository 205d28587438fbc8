"""bridge.spark on real Spark (pyspark local mode, Java 17): the answers are
R's own predict()/forecast(), bad rows get HTTP's messages, tampered model
bytes are refused on the executors, a crashed R is recovered by Spark's
retry, and the driver never holds R.

One SparkSession for the module (local[2]: two cores, and no task retry, so
the crash test shows the bridge's own recovery, not Spark's). The HTTP
messages come from the real app over a real R worker process (the `client`
fixture), so this process never starts R either.
"""

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import CLEAN_ENV, ROOT, close, rscript

pyspark = pytest.importorskip("pyspark")

# pyspark 4.3 on pandas 3 (requirements.txt says why this pair is pinned).
pytestmark = [pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

BIG = 200_000  # the rows each of the acceptance classes is scored on


@pytest.fixture(scope="module")
def spark():
    from bridge.spark import local_session

    session = local_session("local[2]", conf={
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    })
    yield session
    session.stop()


def case(folder, name):
    return json.loads((folder / f"{name}.case.json").read_text())


def frame_of(rows, n, dates=()):
    """The case's rows repeated to n, with an id; `dates` columns as real dates."""
    import pandas as pd

    pdf = pd.DataFrame([rows[i % len(rows)] for i in range(n)])
    for name in dates:
        pdf[name] = [None if v is None else dt.date.fromisoformat(v) for v in pdf[name]]
    pdf.insert(0, "id", range(n))
    return pdf


def plain(v):
    """A value from toPandas: a null (None, NaN, pd.NA) as None."""
    import pandas as pd

    return None if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else v


def answers(out, outputs):
    """The output rows by id: one value (vector) or a dict of outputs."""
    pdf = out.toPandas().sort_values("id")
    cols = {name: [plain(v) for v in pdf[name]] for name in outputs}
    if outputs == ["prediction"]:
        return cols["prediction"]
    return [dict(zip(outputs, values)) for values in zip(*cols.values())]


# ---- answers equal R's ----------------------------------------------------------------------

# (case, rows, partitions, Date columns): the acceptance four at 200,000 rows,
# the other shapes (labels, several outputs, an .rda object, ptype levels) smaller.
MATRIX = [
    ("lm_factor", BIG, 4, ()),
    ("glm_binomial", BIG, 5, ()),
    ("randomforest_class_prob", BIG, 4, ()),
    ("lm_types", BIG, 6, ("day",)),
    ("randomforest_class", 20_000, 4, ()),
    ("ranger_class_prob", 20_000, 4, ()),
    ("svm_ptype", 20_000, 4, ()),
    ("multi.first", 20_000, 3, ()),
    ("gam_mgcv", 20_000, 4, ()),
    ("lm_types", 20_000, 4, ()),  # the Date column as ISO strings, as JSON sends it
    ("lda_iris", 2_000, 2, ()),              # a list result: class, posterior.*, x.*
    ("multinom_iris_probs", 2_000, 2, ()),
    ("mlm_mtcars", 2_000, 2, ()),            # several responses
    ("glmer_cbpp", 2_000, 2, ()),            # random effects, factor grouping
]


@pytest.mark.parametrize("name,n,parts,dates", MATRIX, ids=[f"{m[0]}-{m[1]}-{m[2]}" for m in MATRIX])
def test_predictions_equal_r(spark, fixture_models, name, n, parts, dates):
    from bridge.spark import predict

    spec = case(fixture_models, name)
    pdf = frame_of(spec["rows"], n, dates)
    df = spark.createDataFrame(pdf).repartition(parts)
    model, models = (spec["model"], fixture_models) if "." in spec["model"] else (
        fixture_models / f"{spec['model']}.rds", None)
    out = predict(df, model, models=models, args=spec["args"])
    want = spec["expected"]
    outputs = list(want[0]) if isinstance(want[0], dict) else ["prediction"]
    # R's names exactly (dots and all), after the input's, in R's order.
    assert out.columns == list(pdf.columns) + outputs
    assert df.rdd.getNumPartitions() == parts
    got = answers(out, outputs)
    assert len(got) == n
    for i, g in enumerate(got):
        w = want[i % len(want)]
        assert close(g, w), f"row {i}: spark {g!r} != R {w!r}"


def test_outputs_are_typed(spark, fixture_models):
    from pyspark.sql import types as T

    from bridge.spark import predict

    spec = case(fixture_models, "randomforest_class")
    df = spark.createDataFrame(frame_of(spec["rows"], 6))
    labels = predict(df, fixture_models / "randomforest_class.rds")
    assert labels.schema["prediction"].dataType == T.StringType()
    probs = predict(df, fixture_models / "randomforest_class.rds", args={"type": "prob"})
    assert [probs.schema[c].dataType for c in ("setosa", "versicolor", "virginica")] == [T.DoubleType()] * 3


def test_model_loaded_once_per_worker(spark, fixture_models):
    """Every worker that scored loaded the model once, and scored several
    batches with it (200,000 rows, 10,000 per Arrow batch, 4 tasks)."""
    from bridge.spark import executor, predict
    from bridge.spark.models import resolve

    spec = case(fixture_models, "lm_factor")
    path = fixture_models / "lm_factor.rds"
    df = spark.createDataFrame(frame_of(spec["rows"], BIG)).repartition(4)
    predict(df, path).write.format("noop").mode("overwrite").save()
    key = resolve(path).key

    def report(batches):
        import pandas as pd

        for _ in batches:
            pass
        yield pd.DataFrame({"pid": [os.getpid()], "loads": [executor.loads[key]],
                            "scored": [executor.scored[key]]})

    # Asked through mapInPandas too: Spark keeps separate worker pools per kind of job.
    seen = {r.pid: (r.loads, r.scored) for r in spark.range(16).repartition(8).mapInPandas(
        report, "pid long, loads long, scored long").collect()}
    workers = [v for v in seen.values() if v[0]]
    assert workers, seen
    assert all(loads == 1 for loads, _ in workers), seen
    assert max(scored for _, scored in workers) >= 2, seen


def test_columns_keeps_only_those(spark, fixture_models):
    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    df = spark.createDataFrame(frame_of(spec["rows"], 8))
    out = predict(df, fixture_models / "lm_factor.rds", columns=["id"])
    assert out.columns == ["id", "prediction"]


# ---- bad rows: HTTP's messages -------------------------------------------------------------

def http_message(client, model, rows, args=None):
    resp = client.simulate_post(f"/models/{model}/predict", json={"data": rows, "args": args or {}})
    assert resp.status_code in (400, 422), resp.text
    return resp.json["description"]


BAD_ROWS = {
    # an unknown factor level (did-you-mean on a near one), an ordered level, a value out of range
    "unknown level": {"cyl": "5"},
    "near level": {"power": "hihg"},
    "wrong integer": {"gear": 3.5},
}


@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
def test_rejected_rows_carry_https_message(spark, fixture_models, client, bad):
    import pandas as pd

    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    good = spec["rows"][:6]
    rows = [dict(r) for r in good * 5]
    bad_at = [3, 17, 28]
    for i in bad_at:
        rows[i].update(BAD_ROWS[bad])
    pdf = pd.DataFrame(rows)
    pdf.insert(0, "id", range(len(rows)))
    df = spark.createDataFrame(pdf).repartition(3)
    out = predict(df, fixture_models / "lm_factor.rds", on_error="reject").toPandas().sort_values("id")
    errors = [plain(e) for e in out["_bridge_error"]]
    for i, row in enumerate(rows):
        if i in bad_at:
            assert errors[i] == http_message(client, "lm_factor", [row]), errors[i]
            assert math.isnan(out["prediction"].iloc[i])
        else:
            assert errors[i] is None
            want = spec["expected"][i % 6]
            assert close(plain(out["prediction"].iloc[i]), want)


def test_wrong_type_column_rejects_each_row(spark, fixture_models, client):
    """A string column where the model wants numbers: every row gets the
    message HTTP gives for that row (quoted numbers, words)."""
    import pandas as pd

    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    rows = [dict(r, wt=w) for r, w in zip(spec["rows"][:4], ["2.62", "heavy", None, "3"])]
    pdf = pd.DataFrame(rows)
    pdf.insert(0, "id", range(len(rows)))
    out = predict(spark.createDataFrame(pdf), fixture_models / "lm_factor.rds",
                  on_error="reject").toPandas().sort_values("id")
    for row, error in zip(rows, out["_bridge_error"]):
        if row["wt"] is None:
            assert plain(error) is None  # NA: lm predicts NA, as over HTTP
        else:
            assert error == http_message(client, "lm_factor", [row])


def test_stop_fails_the_task_with_the_message_and_the_key(spark, fixture_models, client):
    import pandas as pd

    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    rows = [dict(r) for r in spec["rows"][:6]]
    rows[4]["cyl"] = "5"
    pdf = pd.DataFrame(rows)
    pdf.insert(0, "id", [f"car-{i}" for i in range(6)])
    out = predict(spark.createDataFrame(pdf), fixture_models / "lm_factor.rds", key="id")
    with pytest.raises(Exception) as err:
        out.collect()
    text = str(err.value)
    assert http_message(client, "lm_factor", [rows[4]]) in text
    assert "id='car-4'" in text


def test_missing_column_refused_on_the_driver_with_https_message(spark, fixture_models, client):
    import pandas as pd

    from bridge.errors import InputError
    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    rows = [{("wtt" if k == "wt" else k): v for k, v in r.items()} for r in spec["rows"][:3]]
    with pytest.raises(InputError) as err:
        predict(spark.createDataFrame(pd.DataFrame(rows)), fixture_models / "lm_factor.rds")
    assert err.value.description == http_message(client, "lm_factor", rows)
    assert "did you mean 'wt'?" in err.value.description


def test_bad_argument_refused_with_https_message(spark, fixture_models, client):
    import pandas as pd

    from bridge.errors import InputError
    from bridge.spark import predict

    spec = case(fixture_models, "glm_binomial")
    args = {"type": "nonsense"}
    with pytest.raises(InputError) as err:
        predict(spark.createDataFrame(pd.DataFrame(spec["rows"])), fixture_models / "glm_binomial.rds",
                args=args)
    assert err.value.description == http_message(client, "glm_binomial", spec["rows"], args)


# ---- the model file's digest ----------------------------------------------------------------

def test_tampered_bundle_refused_on_the_executors(spark, fixture_models):
    """Bytes that differ from their sha256 never reach the executors' R."""
    import dataclasses

    import pandas as pd

    from bridge.spark.models import resolve
    from bridge.spark.predict import run
    from bridge.spark.probe import probe

    spec = case(fixture_models, "lm_factor")
    bundle = resolve(fixture_models / "lm_factor.rds")
    plan = probe(bundle, ("predict", {}))
    (name, data, digest), *rest = bundle.files
    tampered = dataclasses.replace(bundle, files=((name, data[:-1] + bytes([data[-1] ^ 1]), digest), *rest))
    df = spark.createDataFrame(pd.DataFrame(spec["rows"]))
    with pytest.raises(Exception) as err:
        run(df, tampered, plan, {}, "stop", list(df.columns), []).collect()
    assert "lm_factor.rds: sha256" in str(err.value)
    assert f"does not match the expected {digest}" in str(err.value)
    # The intact bundle still scores with the same plan.
    assert run(df, bundle, plan, {}, "stop", list(df.columns), []).count() == len(spec["rows"])


def test_a_pinned_digest_that_differs_is_refused(spark, fixture_models):
    import pandas as pd

    from bridge.errors import ModelLoadError
    from bridge.modelfiles import file_sha256
    from bridge.spark import predict

    spec = case(fixture_models, "lm_factor")
    df = spark.createDataFrame(pd.DataFrame(spec["rows"]))
    path = fixture_models / "lm_factor.rds"
    with pytest.raises(ModelLoadError, match=f"does not match the expected {'ab' * 32}"):
        predict(df, path, sha256="ab" * 32)
    assert predict(df, path, sha256=file_sha256(path)).count() == len(spec["rows"])


def test_file_changed_after_the_lock_is_refused(spark, fixture_models, tmp_path):
    import pandas as pd

    from bridge.errors import ModelLoadError
    from bridge.manifest import write_manifest
    from bridge.spark import predict

    shutil.copy(fixture_models / "lm_factor.rds", tmp_path / "lm_factor.rds")
    write_manifest(tmp_path)
    spec = case(fixture_models, "lm_factor")
    df = spark.createDataFrame(pd.DataFrame(spec["rows"]))
    assert predict(df, "lm_factor", models=tmp_path).count() == len(spec["rows"])
    shutil.copy(fixture_models / "glm_binomial.rds", tmp_path / "lm_factor.rds")
    with pytest.raises(ModelLoadError, match="does not match the expected"):
        predict(df, "lm_factor", models=tmp_path)


# ---- a folder of versions ---------------------------------------------------------------------

def test_folder_of_versions_takes_the_highest(spark, fixture_models, tmp_path):
    import pandas as pd

    from bridge.spark import predict

    folder = tmp_path / "cars"
    for version, src in (("1", "lm_factor"), ("2", "glm_binomial"), ("10", "lm_factor")):
        (folder / version).mkdir(parents=True)
        shutil.copy(fixture_models / f"{src}.rds", folder / version / "model.rds")
    spec = case(fixture_models, "lm_factor")
    df = spark.createDataFrame(pd.DataFrame(spec["rows"][:6]))
    got = [r.prediction for r in predict(df, "cars", models=tmp_path).collect()]
    assert all(close(g, w) for g, w in zip(got, spec["expected"]))
    with pytest.raises(Exception, match="missing column"):
        predict(df, folder, version="2")


def test_which_model_errors_name_what_is_there(fixture_models, tmp_path):
    """Driver-side model references (no Spark, no R): a near name gets a
    did-you-mean, a missing version lists the versions there are."""
    from bridge.errors import ModelNotFound
    from bridge.spark.models import resolve

    with pytest.raises(ModelNotFound, match="did you mean 'lm_factor'"):
        resolve("lm_facto", models=fixture_models)
    assert resolve("multi.second", models=fixture_models).object == "second"
    for version in ("1", "3"):
        (tmp_path / "cars" / version).mkdir(parents=True)
        shutil.copy(fixture_models / "lm_factor.rds", tmp_path / "cars" / version / "m.rds")
    assert resolve(tmp_path / "cars").version == "3"
    with pytest.raises(ModelNotFound, match="has no version '2'; it has 1, 3"):
        resolve(tmp_path / "cars", version="2")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ModelNotFound, match="not of versions"):
        resolve(tmp_path / "plain")


# ---- a crashed R ---------------------------------------------------------------------------

def test_r_crash_in_one_batch_is_recovered_by_retry(spark, fixture_models, tmp_path):
    """The first batch of the job kills its R (the process dies, as on a
    segfault): the Python worker's pool starts a new R worker, which loads
    the model again, the batch is tried again, and the job's answers are R's.
    (The probe's two example rows pass.)"""
    from bridge.spark import predict

    marker = tmp_path / "crashed"
    shutil.copy(fixture_models / "lm_factor.rds", tmp_path / "crashy.rds")
    (tmp_path / "crashy.R").write_text(textwrap.dedent(f"""
        predict_fn <- function(model, newdata, ...) {{
          if (nrow(newdata) > 2 && !file.exists("{marker}")) {{
            file.create("{marker}")
            tools::pskill(Sys.getpid(), tools::SIGKILL)
          }}
          stats::predict(model, newdata = newdata, ...)
        }}
    """))
    spec = case(fixture_models, "lm_factor")
    df = spark.createDataFrame(frame_of(spec["rows"], 4000)).repartition(4)
    got = answers(predict(df, tmp_path / "crashy.rds"), ["prediction"])
    assert marker.exists()  # a worker did crash
    want = spec["expected"]
    assert all(close(g, want[i % len(want)]) for i, g in enumerate(got))


# ---- grouped forecasting -------------------------------------------------------------------

def test_grouped_forecast_equals_rs_per_series(spark, tmp_path):
    import numpy as np
    import pandas as pd

    from bridge.spark import forecast

    rscript(f'fit <- forecast::ets(WWWusage, model = "AAN", damped = TRUE); '
            f'saveRDS(fit, "{tmp_path}/www_ets.rds")')
    rng = np.random.default_rng(7)
    series = []
    for s in range(50):
        y = 100 + np.cumsum(rng.normal(0, 3, 60)) + 2 * s
        series += [{"store": f"s{s:02d}", "t": t, "y": float(v)} for t, v in enumerate(y)]
    pdf = pd.DataFrame(series).sample(frac=1, random_state=3)  # the order within a group is lost
    pdf.to_csv(tmp_path / "series.csv", index=False)
    rscript(textwrap.dedent(f"""
        fit <- readRDS("{tmp_path}/www_ets.rds")
        d <- read.csv("{tmp_path}/series.csv")
        out <- do.call(rbind, lapply(split(d, d$store), function(g) {{
          g <- g[order(g$t), ]
          fc <- forecast::forecast(forecast::ets(ts(g$y), model = fit), h = 6, level = c(80, 95))
          data.frame(store = g$store[1], step = 1:6, mean = sprintf("%.17g", fc$mean),
                     lower_95 = sprintf("%.17g", fc$lower[, 2]), upper_80 = sprintf("%.17g", fc$upper[, 1]))
        }}))
        write.csv(out, "{tmp_path}/want.csv", row.names = FALSE)
    """))
    want = pd.read_csv(tmp_path / "want.csv")
    df = spark.createDataFrame(pdf)
    out = forecast(df, tmp_path / "www_ets.rds", by="store", time="t", h=6, level=[80, 95])
    assert out.columns[:3] == ["store", "step", "time"]
    got = out.toPandas().sort_values(["store", "step"]).reset_index(drop=True)
    assert len(got) == 50 * 6 == len(want)
    assert list(got["store"]) == list(want["store"])
    assert list(got["step"]) == list(want["step"])
    for col in ("mean", "lower_95", "upper_80"):
        assert np.allclose(got[col], want[col], rtol=1e-9, atol=0), col


def test_grouped_forecast_rejects_a_short_series(spark, tmp_path):
    import pandas as pd

    from bridge.spark import forecast

    rscript(f'saveRDS(forecast::ets(WWWusage, model = "AAN", damped = TRUE), "{tmp_path}/www.rds")')
    rows = [{"g": "long", "y": float(100 + t % 7)} for t in range(40)] + [{"g": "short", "y": 1.0}] * 2
    out = forecast(spark.createDataFrame(pd.DataFrame(rows)), tmp_path / "www.rds", by="g", h=3,
                   on_error="reject").toPandas()
    short = out[out["g"] == "short"]
    assert len(short) == 1 and "this model needs at least" in short["_bridge_error"].iloc[0]
    assert all(plain(e) is None for e in out[out["g"] == "long"]["_bridge_error"])
    assert len(out[out["g"] == "long"]) == 3
    with pytest.raises(Exception, match=r"this model needs at least \d+ \[bridge.spark: the series with g='short'"):
        forecast(spark.createDataFrame(pd.DataFrame(rows)), tmp_path / "www.rds", by="g", h=3).collect()


# ---- the driver holds no R -----------------------------------------------------------------

def test_driver_never_loads_r(fixture_models, tmp_path):
    """In a fresh driver process: predict and collect, then neither rpy2 nor
    bridge.r is imported there (R ran in the probe and the executors)."""
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, warnings
        warnings.filterwarnings("ignore")
        import pandas as pd
        from bridge.spark import local_session, predict
        spark = local_session("local[1]", conf={{"spark.ui.enabled": "false"}})
        spec = json.load(open({str(fixture_models / 'lm_factor.case.json')!r}))
        rows = predict(spark.createDataFrame(pd.DataFrame(spec["rows"])),
                       {str(fixture_models / 'lm_factor.rds')!r}).collect()
        print(json.dumps({{"rows": len(rows), "rpy2": "rpy2" in sys.modules,
                          "bridge.r": any(m == "bridge.r" or m.startswith("bridge.r.") for m in sys.modules)}}))
        spark.stop()
    """))
    env = dict(CLEAN_ENV, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"rows": 8, "rpy2": False, "bridge.r": False}


# ---- the command line ------------------------------------------------------------------------

def test_bridge_predict_spark_scores_a_csv_as_r_does(fixture_models, tmp_path):
    """`bridge predict --spark`: a CSV read as text and parsed by the model's
    types (as HTTP reads a CSV body), written as partitioned Parquet."""
    import pandas as pd

    spec = case(fixture_models, "glm_binomial")
    pdf = frame_of(spec["rows"], 3000)
    pdf.to_csv(tmp_path / "rows.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "bridge", "predict", "--spark", "--master", "local[2]",
                           str(fixture_models / "glm_binomial.rds"), str(tmp_path / "rows.csv"),
                           "-o", str(tmp_path / "scored"), "--arg", "type=response"],
                          env=dict(CLEAN_ENV, PYTHONPATH=str(ROOT)), cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wrote 3,000 rows" in done.stderr
    assert len(list((tmp_path / "scored").glob("part-*.parquet"))) >= 1
    got = pd.read_parquet(tmp_path / "scored").sort_values("id")
    want = spec["expected"]
    assert all(close(g, want[int(i) % len(want)]) for i, g in zip(got["id"], got["prediction"]))


# ---- the prediction log read by Spark (docs/monitoring.md) -----------------------------

def test_spark_reads_a_prediction_log_folder_whole(spark, tmp_path):
    """A log of two models with different columns (one folder %-escaped):
    recursiveFileLookup reads every row and, from the log's union schema
    (bridge/monitoring/union.py), every column, without mergeSchema. What
    docs/monitoring.md says Spark does not do is checked too: without that
    option it finds nothing, and a column typed differently by two models fails."""
    from pyspark.errors import PySparkException

    from bridge.monitoring.log import PredictionLog
    from bridge.schema import Column
    from test_predlog import _typed_event

    log = tmp_path / "log"
    writer = PredictionLog(log)
    writer.observe(_typed_event("a", {"x": (Column("x", "numeric"), [1.5, None])}))
    writer.observe(_typed_event("ünï", {"y": (Column("y", "character"), ["s", None])}))
    writer.close()
    df = spark.read.option("recursiveFileLookup", "true").parquet(str(log))
    assert {"model", "in.x", "in.y", "out.prediction"} <= set(df.columns)
    got = sorted(((r["model"], r["in.x"], r["in.y"]) for r in df.collect()), key=repr)
    assert got == sorted([("a", 1.5, None), ("a", None, None), ("ünï", None, "s"),
                          ("ünï", None, None)], key=repr)
    with pytest.raises(PySparkException, match="UNABLE_TO_INFER_SCHEMA"):
        spark.read.parquet(str(log)).collect()

    writer.observe(_typed_event("b", {"x": (Column("x", "character"), ["t", "u"])}))
    writer.close()
    with pytest.raises(Exception, match="(?i)mismatch|incompatible|convert"):
        spark.read.option("recursiveFileLookup", "true").parquet(str(log)).collect()

    # bridge.spark.read_log reads it all the same: the column two models type
    # differently as text, the rest with their types
    from bridge.spark import read_log

    whole = read_log(spark, log)
    assert dict(whole.dtypes)["in.x"] == "string" and dict(whole.dtypes)["in.y"] == "string"
    got = sorted(((r["model"], r["in.x"], r["in.y"]) for r in whole.collect()), key=repr)
    assert got == sorted([("a", "1.5", None), ("a", None, None), ("ünï", None, "s"),
                          ("ünï", None, None), ("b", "t", None), ("b", "u", None)], key=repr)
    writer.observe(_typed_event("c", {"x": (Column("x", "integer"), [7])}))
    writer.close()
    again = read_log(spark, str(log))
    assert sorted(r["in.x"] for r in again.where("model = 'c'").collect()) == ["7"]
    assert again.count() == 7
    numbers = PredictionLog(tmp_path / "numbers")  # int32 in one model, double in another
    numbers.observe(_typed_event("i", {"x": (Column("x", "integer"), [3, None])}))
    numbers.observe(_typed_event("d", {"x": (Column("x", "numeric"), [2.5])}))
    numbers.close()
    both = read_log(spark, tmp_path / "numbers")
    assert dict(both.dtypes)["in.x"] == "double"
    assert sorted(((r["model"], r["in.x"]) for r in both.collect()), key=repr) == \
        sorted([("i", 3.0), ("i", None), ("d", 2.5)], key=repr)
    changed = PredictionLog(tmp_path / "changed")  # one model whose new version types x as text
    changed.observe(_typed_event("m", {"x": (Column("x", "numeric"), [1.25])}))
    changed.observe(_typed_event("m", {"x": (Column("x", "character"), ["v2"])}))
    changed.close()
    assert len(list((tmp_path / "changed" / "m").glob("*.parquet"))) == 2
    assert sorted(r["in.x"] for r in read_log(spark, tmp_path / "changed").collect()) == \
        ["1.25", "v2"]
    with pytest.raises(FileNotFoundError, match="no prediction log"):
        read_log(spark, tmp_path / "nothing")
