"""`bridge monitor DIR`: the report from a prediction-log folder (log.py),
offline, per model, version and period: calls, rows, refusals, latency,
each input's summary and its PSI against the first period (or a reference
file), and, given the truth (`--truth FILE --id-column id`), the metrics:
RMSE and MAE for numbers, accuracy (and log-loss where the log holds each
class's probability as `out.<class>`) for classes."""

import json
import math
import re
from pathlib import Path

import numpy as np

from . import summary
from .columns import INPUT, OUTPUT, UNION_FOLDER

PERIOD = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}


def frequency(text):
    match = PERIOD.match(str(text).strip())
    if not match:
        raise ValueError(f"--period: expected a number and s, m, h, d or w (1d, 6h), got {text!r}")
    return match.group(1) + UNITS[match.group(2)]


def read_log(folder):
    """Every model's rows, one DataFrame per model folder."""
    import pandas as pd

    folder = Path(folder)
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != UNION_FOLDER):
        if any(sub.glob("*.parquet")):
            frame = pd.read_parquet(sub)
            if len(frame):
                out[sub.name] = frame
    return out


def read_table(path):
    import pandas as pd

    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def report(folder, period="1d", truth=None, id_column="id", truth_column=None, reference=None):
    freq = frequency(period)
    truth_frame = read_table(truth) if truth else None
    ref_frame = read_table(reference) if reference else None
    models = []
    for name, frame in read_log(folder).items():
        frame = frame[~frame["shadow"]] if "shadow" in frame else frame
        for version, rows in frame.groupby(frame["version"].fillna(""), sort=True):
            models.append(_model(name, version, rows, freq, truth_frame, id_column,
                                 truth_column, ref_frame))
    return {"period": period, "models": models}


def _model(name, version, rows, freq, truth, id_column, truth_column, ref_frame):
    answered = rows[rows["status"] == 200]
    inputs = [c for c in rows.columns if c.startswith(INPUT)]
    first = answered[answered["time"].dt.floor(freq) == answered["time"].dt.floor(freq).min()]
    baseline = {c: _summary(ref_frame[c[len(INPUT):]] if ref_frame is not None and
                            c[len(INPUT):] in ref_frame else first[c]) for c in inputs}
    if truth is not None:
        answered = _join_truth(answered, truth, id_column, truth_column)
    periods = []
    for start, part in rows.groupby(rows["time"].dt.floor(freq), sort=True):
        ok = part[part["status"] == 200]
        calls = part.drop_duplicates("id")
        entry = {
            "start": start.isoformat(), "calls": int(len(calls)), "rows": int(len(ok)),
            "refused_calls": int((calls["status"] != 200).sum()),
            "latency_ms": _percentiles(calls["latency_ms"]),
            "inputs": {c[len(INPUT):]: _compare(baseline[c], ok[c]) for c in inputs},
        }
        if truth is not None:
            joined = answered[answered["time"].dt.floor(freq) == start]
            entry["metrics"] = metrics(joined)
        periods.append(entry)
    return {"model": name, "version": version or None, "periods": periods}


def _summary(series):
    if _numeric(series):
        return summary.summarize("numeric", series.to_numpy(dtype=np.float64, na_value=np.nan))
    return summary.summarize("character", [None if v is None else str(v)
                                           for v in series.astype(object).where(series.notna(), None)])


def _numeric(series):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and series.dtype != bool


def _compare(reference, series):
    if reference["type"] == "number":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        live = summary.summarize("numeric", values, reference["edges"])
        return {"live": live, "psi": summary.psi(reference, live), "ks": summary.ks(reference, values)}
    live = _summary(series)
    return {"live": live, "psi": summary.psi(reference, live), "ks": None}


def _percentiles(series):
    values = series.dropna().to_numpy()
    if not len(values):
        return {"p50": None, "p90": None, "p99": None}
    p50, p90, p99 = np.percentile(values, [50, 90, 99]).tolist()
    return {"p50": p50, "p90": p90, "p99": p99}


def _join_truth(rows, truth, id_column, truth_column):
    """The answered rows that have a true value: the truth's `id_column` is
    the log's request id (`id`); with a `row` column too, on (id, row)."""
    if id_column not in truth.columns:
        raise ValueError(f"--id-column {id_column!r} is not a column of the truth file "
                         f"(it has {', '.join(map(str, truth.columns))})")
    by_row = "row" in truth.columns and id_column != "row"
    value = truth_column or next((c for c in truth.columns if c not in (id_column, "row")), None)
    if value is None or value not in truth.columns:
        raise ValueError(f"the truth file has no value column {value!r}")
    right = truth[[id_column, *(["row"] if by_row else []), value]].rename(
        columns={id_column: "_truth_id", value: "truth"})
    right["_truth_id"] = right["_truth_id"].astype(str)
    return rows.merge(right, left_on=["id", *(["row"] if by_row else [])],
                      right_on=["_truth_id", *(["row"] if by_row else [])], how="inner")


def metrics(joined):
    """Metrics of the log's prediction against the truth, on the joined rows."""
    out = {"rows": int(len(joined))}
    if not len(joined):
        return out
    predicted = _prediction_column(joined)
    truth = joined["truth"]
    if predicted is not None and _numeric(joined[predicted]) and _numeric(truth):
        err = joined[predicted].to_numpy(float) - truth.to_numpy(float)
        out.update(rmse=float(math.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))))
        return out
    labels = truth.astype(str)
    if predicted is not None:
        out["accuracy"] = float((joined[predicted].astype(str) == labels).mean())
    probs = {c[len(OUTPUT):]: c for c in joined.columns if c.startswith(OUTPUT) and
             _numeric(joined[c])}
    if probs and set(labels) <= set(probs):
        p = np.array([joined[probs[label]].iloc[i] for i, label in enumerate(labels)], float)
        out["log_loss"] = float(-np.mean(np.log(np.clip(p, 1e-15, 1))))
        if predicted is None:
            chosen = joined[list(probs.values())].to_numpy(float).argmax(axis=1)
            names = list(probs)
            out["accuracy"] = float(np.mean([names[k] == t for k, t in zip(chosen, labels)]))
    return out


def _prediction_column(frame):
    for name in ("out.prediction", "out.class", "out.predictions", "out.mean"):
        if name in frame.columns:
            return name
    outs = [c for c in frame.columns if c.startswith(OUTPUT)]
    return outs[0] if len(outs) == 1 else None


def html(doc):
    """The report as a small HTML document (no script, no CDN)."""
    from html import escape

    parts = [f"<!doctype html><meta charset=utf-8><title>bridge monitor</title>"
             f"<h1>Prediction log report (period {escape(doc['period'])})</h1>"]
    for m in doc["models"]:
        parts.append(f"<h2>{escape(m['model'])} {escape(m['version'] or 'no version')}</h2>"
                     "<table border=1 cellpadding=4><tr><th>period</th><th>calls</th><th>rows</th>"
                     "<th>refused</th><th>p50 ms</th><th>PSI per input</th><th>metrics</th></tr>")
        for p in m["periods"]:
            psi = ", ".join(f"{escape(k)}: {v['psi']:.3g}" if v["psi"] is not None else
                            f"{escape(k)}: –" for k, v in p["inputs"].items())
            mets = ", ".join(f"{escape(k)}: {v:.4g}" for k, v in p.get("metrics", {}).items())
            p50 = p["latency_ms"]["p50"]
            parts.append(f"<tr><td>{escape(p['start'])}</td><td>{p['calls']}</td><td>{p['rows']}</td>"
                         f"<td>{p['refused_calls']}</td><td>{'' if p50 is None else f'{p50:.3g}'}</td>"
                         f"<td>{psi}</td><td>{mets}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def main(args):
    try:
        doc = report(args.folder, args.period, args.truth, args.id_column, args.truth_column,
                     args.reference)
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {exc}")
        return 2
    text = json.dumps(doc, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)
    if args.html:
        Path(args.html).write_text(html(doc))
    return 0


def add_parser(sub):
    p = sub.add_parser("monitor", help="a report from a prediction-log folder (docs/monitoring.md)")
    p.add_argument("folder", help="the --log-predictions folder")
    p.add_argument("--period", default="1d", help="group by this period: 30m, 6h, 1d, 1w (default 1d)")
    p.add_argument("--truth", help="a CSV or Parquet file of true values, to compute metrics")
    p.add_argument("--id-column", dest="id_column", default="id",
                   help="the truth file's column holding the log's request id (default id); "
                        "with a `row` column too, rows of one call are told apart")
    p.add_argument("--truth-column", dest="truth_column",
                   help="the truth file's value column (default: the one that is not the id)")
    p.add_argument("--reference", help="compare inputs with this CSV/Parquet file, not the first period")
    p.add_argument("--json", help="write the JSON here (default: stdout)")
    p.add_argument("--html", help="also write the report as HTML here")
    return p
