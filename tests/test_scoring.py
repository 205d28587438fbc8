"""python -m bridge predict: files scored in chunks, equal to R's predictions."""

import io
import json
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bridge.scoring.readers import iter_json_rows
from bridge.scoring.run import score_file
from bridge.scoring.scorers import LocalScorer
from conftest import ROOT, Server


def case(fixture_models, name):
    return json.loads((fixture_models / f"{name}.case.json").read_text())


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False, na_rep="NA")


def run_cli(*args):
    done = subprocess.run([sys.executable, "-m", "bridge", "predict", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True)
    return done


@pytest.fixture(scope="module")
def lm_factor(fixture_models, session):
    return LocalScorer(fixture_models / "lm_factor.rds")


def test_csv_in_chunks_equals_r(lm_factor, fixture_models, tmp_path):
    c = case(fixture_models, "lm_factor")
    write_csv(tmp_path / "in.csv", c["rows"])
    # A chunk of 3 rows: the 8 rows take three chunks, the last one short.
    rows = score_file(lm_factor, tmp_path / "in.csv", tmp_path / "out.csv", chunk_size=3,
                      progress=False)
    assert rows == len(c["rows"])
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == ["wt", "cyl", "power", "gear", "prediction"]
    assert [None if v == "NA" else float(v) for v in out["prediction"]] == c["expected"]
    # The input columns are written back as they were read.
    assert out["wt"].tolist()[-2:] == ["NA", "2.32"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_other_formats_equal_r(fmt, fixture_models, session, tmp_path):
    c = case(fixture_models, "randomforest_class_prob")
    src = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        src.write_text("".join(json.dumps(r) + "\n" for r in c["rows"]))
    elif fmt == "json":
        src.write_text(json.dumps(c["rows"], indent=2))
    else:
        pq.write_table(pa.Table.from_pylist(c["rows"]), src)
    scorer = LocalScorer(fixture_models / "randomforest_class.rds")
    score_file(scorer, src, tmp_path / f"out.{fmt}", chunk_size=4, args=c["args"], progress=False)
    if fmt == "parquet":
        got = pq.read_table(tmp_path / "out.parquet").to_pylist()
    elif fmt == "json":
        got = json.loads((tmp_path / "out.json").read_text())
    else:
        got = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [{k: g[k] for k in ("setosa", "versicolor", "virginica")} for g in got] == c["expected"]
    assert [g["soil"] for g in got] == [r["soil"] for r in c["rows"]]


def test_cli_against_a_server_matches_the_local_file(fixture_models, tmp_path):
    c = case(fixture_models, "glm_binomial")
    write_csv(tmp_path / "in.csv", c["rows"])
    server = Server(fixture_models, "--reload-interval", "0")
    try:
        remote = run_cli(f"{server.url}/models/glm_binomial", tmp_path / "in.csv",
                         "-o", tmp_path / "remote.csv", "--arg", "type=response", "--chunk-size", "5")
        assert remote.returncode == 0, remote.stderr
        by_url = run_cli("--url", server.url, "glm_binomial", tmp_path / "in.csv",
                         "-o", tmp_path / "by_url.csv", "--arg", "type=response")
        assert by_url.returncode == 0, by_url.stderr
    finally:
        server.stop()
    local = run_cli(fixture_models / "glm_binomial.rds", tmp_path / "in.csv",
                    "-o", tmp_path / "local.csv", "--arg", "type=response")
    assert local.returncode == 0, local.stderr
    assert f"wrote {len(c['rows'])} rows" in local.stderr
    text = (tmp_path / "local.csv").read_text()
    assert (tmp_path / "remote.csv").read_text() == text
    assert (tmp_path / "by_url.csv").read_text() == text
    got = pd.read_csv(tmp_path / "local.csv")["prediction"].tolist()
    assert got == c["expected"]


def test_cli_reports_the_file_row_of_a_bad_value(fixture_models, tmp_path):
    rows = case(fixture_models, "lm_factor")["rows"][:6]
    rows[4] = {**rows[4], "cyl": "5"}
    write_csv(tmp_path / "in.csv", rows)
    done = run_cli(fixture_models / "lm_factor.rds", tmp_path / "in.csv", "-o",
                   tmp_path / "out.csv", "--chunk-size", "2", "-q")
    assert done.returncode == 1
    assert "column 'cyl', row 5: expected one of the training levels" in done.stderr
    assert "Traceback" not in done.stderr


def test_json_array_is_read_a_block_at_a_time():
    rows = [{"x": i * 1.5, "s": "a,]}" * (i % 3), "n": None} for i in range(200)]
    text = " [\n" + ",\n".join(json.dumps(r) for r in rows) + "\n] \n"
    for block in (1, 7, 64, 1 << 16):
        fh = io.StringIO(text)
        assert list(iter_json_rows(fh, block=block)) == rows, block
    assert list(iter_json_rows(io.StringIO("[]"))) == []
    assert list(iter_json_rows(io.StringIO('{"a": 1}\n\n{"a": 12345}\n'))) == [{"a": 1}, {"a": 12345}]


# ---- failures: --on-error, the .partial output, --resume (issue 12) -----------------

from bridge.scoring.run import partial_paths, run  # noqa: E402


def same_numbers(got, expected):
    """R's numbers (None for NA) read back from a CSV column."""
    got = [None if pd.isna(v) else v for v in got]
    return len(got) == len(expected) and all(
        (g is None and e is None) or (g is not None and e is not None and g == pytest.approx(e, rel=1e-12))
        for g, e in zip(got, expected))


def bad_rows(fixture_models):
    """lm_factor's rows with three that cannot be scored: an unknown level,
    a number that is text, a missing column value R cannot take."""
    rows = [dict(r) for r in case(fixture_models, "lm_factor")["rows"]]
    expected = list(case(fixture_models, "lm_factor")["expected"])
    bad = {1: ("cyl", "5"), 4: ("wt", "heavy"), 6: ("power", "extreme")}
    for i, (col, value) in bad.items():
        rows[i][col] = value
    good = [e for i, e in enumerate(expected) if i not in bad]
    return rows, good, bad


@pytest.mark.parametrize("where", ["local", "server"])
def test_reject_sets_bad_rows_aside_with_their_input_row_and_reason(fixture_models, tmp_path, where):
    rows, good, bad = bad_rows(fixture_models)
    write_csv(tmp_path / "in.csv", rows)
    model = fixture_models / "lm_factor.rds"
    server = None
    if where == "server":
        server = Server(fixture_models, "--reload-interval", "0")
        model = f"{server.url}/models/lm_factor"
    try:
        done = run_cli(model, tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--chunk-size", "3",
                       "--on-error", "reject", "--reject-file", tmp_path / "rejects.csv", "-q")
    finally:
        if server:
            server.stop()
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert same_numbers(out["prediction"], good)
    rejects = pd.read_csv(tmp_path / "rejects.csv", dtype=str, keep_default_na=False)
    assert [int(r) for r in rejects["row"]] == [i + 1 for i in sorted(bad)]
    for (_, reject), i in zip(rejects.iterrows(), sorted(bad)):
        column, value = bad[i]
        assert column in reject["reason"] and "row" not in reject["reason"], reject["reason"]
        assert reject[column] == value  # the row as it was read
    assert f"rejected {len(bad)} rows" in done.stderr
    assert not partial_paths(tmp_path / "out.csv")[0].exists()


def test_skip_writes_the_same_output_without_a_reject_file(fixture_models, tmp_path):
    rows, good, bad = bad_rows(fixture_models)
    write_csv(tmp_path / "in.csv", rows)
    done = run_cli(fixture_models / "lm_factor.rds", tmp_path / "in.csv", "-o", tmp_path / "out.csv",
                   "--on-error", "skip", "-q")
    assert done.returncode == 0, done.stderr
    assert same_numbers(pd.read_csv(tmp_path / "out.csv")["prediction"], good)
    assert f"skipped {len(bad)} rows (first: row 2: column 'cyl'" in done.stderr


def test_stop_leaves_no_file_that_looks_complete(fixture_models, tmp_path):
    rows, _, _ = bad_rows(fixture_models)
    write_csv(tmp_path / "in.csv", rows)
    (tmp_path / "out.csv").write_text("an earlier run's output\n")
    done = run_cli(fixture_models / "lm_factor.rds", tmp_path / "in.csv", "-o", tmp_path / "out.csv",
                   "--chunk-size", "1", "-q")
    assert done.returncode == 1
    assert "row 2" in done.stderr and "is not written" in done.stderr
    # The output's name still holds what it held; the rows done so far are apart.
    assert (tmp_path / "out.csv").read_text() == "an earlier run's output\n"
    assert partial_paths(tmp_path / "out.csv")[0].read_text().count("\n") == 2  # header + row 1


class Interrupting:
    """A real scorer that is interrupted (Ctrl-C) at its nth chunk."""

    def __init__(self, scorer, at):
        self.scorer, self.at, self.calls = scorer, at, 0
        self.identity = scorer.identity

    def score(self, chunk, args):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.scorer.score(chunk, args)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet"])
def test_resume_continues_an_interrupted_run_to_the_same_output(lm_factor, fixture_models, tmp_path, fmt):
    rows = case(fixture_models, "lm_factor")["rows"] * 5   # 40 rows, 14 chunks of 3
    write_csv(tmp_path / "in.csv", rows)
    whole = tmp_path / f"whole.{fmt}"
    run(lm_factor, tmp_path / "in.csv", whole, chunk_size=3, progress=False)
    out = tmp_path / f"out.{fmt}"
    with pytest.raises(KeyboardInterrupt):
        run(Interrupting(lm_factor, at=6), tmp_path / "in.csv", out, chunk_size=3, progress=False)
    assert not out.exists()
    partial, checkpoint = partial_paths(out)
    assert json.loads(checkpoint.read_text())["rows_read"] == 15
    if fmt != "parquet":
        # A crash in the middle of a chunk leaves half a line behind: resume cuts it.
        with open(partial, "ab") as fh:
            fh.write(b'{"wt": 1.0, "cyl": "6", "pow')
    summary = run(lm_factor, tmp_path / "in.csv", out, chunk_size=3, progress=False, resume=True)
    assert summary.rows == len(rows)
    if fmt == "parquet":
        assert pq.read_table(out).equals(pq.read_table(whole))
    else:
        assert out.read_bytes() == whole.read_bytes()
    assert not partial.exists() and not checkpoint.exists()


def test_resume_refuses_a_changed_input(lm_factor, fixture_models, tmp_path):
    rows = case(fixture_models, "lm_factor")["rows"]
    write_csv(tmp_path / "in.csv", rows)
    with pytest.raises(KeyboardInterrupt):
        run(Interrupting(lm_factor, at=2), tmp_path / "in.csv", tmp_path / "out.csv", chunk_size=3,
            progress=False)
    write_csv(tmp_path / "in.csv", rows[:-1])
    done = run_cli(fixture_models / "lm_factor.rds", tmp_path / "in.csv", "-o", tmp_path / "out.csv",
                   "--chunk-size", "3", "--resume", "-q")
    assert done.returncode == 1 and "cannot resume: input changed" in done.stderr, done.stderr
