"""The /monitor page: the drift reports (drift.py) as one HTML document,
charts drawn as inline SVG on the server (no script, no CDN: it works
offline and shows exactly the numbers GET /models/<name>/monitor gives),
and, for a folder of versions, its traffic split and the shadow's agreement
as GET /models/<name>/versions and /models/<name>/shadow give them
(bridge/versions/). Every name and label is escaped: column names and
levels come from models."""

from html import escape

STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em} h2{font-size:1.15em;margin:0 0 .4em}
.panel,.routing{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin:0 0 1.2em}
.routing{background:#f3f6fb}
.facts span{margin-right:1.4em} table{border-collapse:collapse;margin-top:.6em}
td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}
.psi{font-weight:600;padding:.15em .5em;border-radius:4px}
.ok{background:#d7f0d7} .warn{background:#fbe7b5} .drift{background:#f6c1c1} .none{background:#eee}
.legend i{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em}
"""
REF, LIVE = "#7a9cc6", "#e07b39"


def render(reports, threshold, routing=None):
    """`reports`: [drift.Monitor.report(...)] for every served model;
    `routing`: {name: (versions listing, shadow report or None)} for the
    folders of versions among them."""
    routing = routing or {}
    panels = [(_routing(r["model"], *routing[r["model"]]) if r["model"] in routing else "")
              + "".join(_panel(v, threshold) for v in r["versions"]) for r in reports]
    body = "".join(panels) or "<p>No model is served.</p>"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>R Bridge monitor</title><style>{STYLE}</style></head><body>"
            f"<h1>R Bridge monitor</h1><p class=legend>PSI over {threshold:g} is drifting."
            f"<i style='background:{REF}'></i>reference<i style='background:{LIVE}'></i>live</p>"
            f"{body}</body></html>")


def _routing(model, listing, shadow):
    """The split between versions and the shadow's agreement, for one model."""
    traffic = listing.get("traffic") or {}
    split = (", ".join(f"<span class=share data-version='{escape(str(v))}' data-weight='{w!r}'>"
                       f"{escape(str(v))}: {w:g}</span>" for v, w in traffic.items())
             if traffic else f"none (every call to {escape(str(listing.get('default')))})")
    aliases = ", ".join(f"{escape(str(a))} → {escape(str(v))}"
                        for a, v in sorted((listing.get("aliases") or {}).items())) or "none"
    out = (f"<section class=routing data-model='{escape(model)}'><h2>{escape(model)} "
           f"<small>routing</small></h2><div class=facts><span>traffic split: {split}</span>"
           f"<span>aliases: {aliases}</span>")
    if shadow and shadow.get("shadow_version") is not None:
        agreement = shadow["agreement"]
        out += (f"<span class=shadow data-version='{escape(str(shadow['shadow_version']))}'>"
                f"shadow {escape(str(shadow['shadow_version']))}: "
                f"<b class=shadowed>{shadow['shadowed']}</b> calls compared, "
                f"<b class=rows-compared>{shadow['rows_compared']}</b> rows; agreement "
                f"<b class=agreement data-value='{'' if agreement is None else repr(agreement)}'>"
                f"{_pct(agreement)}</b>; mean |difference| "
                f"<b class=mean-diff data-value='{_data(shadow['mean_abs_difference'])}'>"
                f"{_num(shadow['mean_abs_difference'])}</b>, max "
                f"{_num(shadow['max_abs_difference'])}; dropped {shadow['dropped']}; errors "
                f"{shadow['errors']['shadow']} shadow / {shadow['errors']['routed']} routed</span>")
    else:
        out += "<span>shadow: none</span>"
    return out + "</div></section>"


def _data(value):
    return "" if value is None else repr(value)


def psi_class(psi, threshold):
    if psi is None:
        return "none"
    if psi > threshold:
        return "drift"
    return "warn" if psi > threshold / 2 else "ok"


def _num(value, digits=3):
    return "–" if value is None else f"{value:.{digits}g}"


def _panel(report, threshold):
    version = report["version"] or "no version"
    lat = report["latency_ms"]
    refused = report["refused"]
    reasons = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(refused["reasons"].items())) or "none"
    rows = "".join(_column_row(name, col, threshold) for name, col in report["columns"].items())
    outputs = "".join(
        f"<tr><td>{escape(name)}</td><td>{_chart(None, out)}</td></tr>"
        for name, out in report["outputs"].items())
    drifting = ", ".join(escape(c) for c in report["drifting"]) or "none"
    model = escape(report["model"])
    return (
        f"<section class=panel data-model='{model}' data-version='{escape(version)}'>"
        f"<h2>{model} <small>{escape(version)}</small></h2><div class=facts>"
        f"<span>rows in window: <b class=rows>{report['rows']}</b></span>"
        f"<span>calls: {report['calls']}</span>"
        f"<span>shadow calls: {report['shadow_calls']}</span>"
        f"<span>refused rows: <b class=refused>{refused['rows']}</b> "
        f"({refused['share']:.1%}; {reasons})</span>"
        f"<span>latency p50/p90/p99: {_num(lat['p50'])} / {_num(lat['p90'])} / "
        f"{_num(lat['p99'])} ms</span>"
        f"<span>reference: {escape(report['reference_source'])}</span>"
        f"<span>drifting: <b class=drifting>{drifting}</b></span></div>"
        f"<table><tr><th>input</th><th>PSI</th><th>KS</th><th>missing (ref / live)</th>"
        f"<th>reference vs live</th></tr>{rows}</table>"
        + (f"<table><tr><th>output</th><th>live distribution</th></tr>{outputs}</table>"
           if outputs else "") + "</section>")


def _column_row(name, col, threshold):
    psi = col["psi"]
    ref, live = col["reference"] or {}, col["live"] or {}
    return (f"<tr data-column='{escape(name)}'><td>{escape(name)}</td>"
            f"<td><span class='psi {psi_class(psi, threshold)}' data-psi='{'' if psi is None else repr(psi)}'>"
            f"{_num(psi)}</span></td><td>{_num(col['ks'])}</td>"
            f"<td>{_pct(ref.get('missing'))} / {_pct(live.get('missing'))}</td>"
            f"<td>{_chart(ref, live)}</td></tr>")


def _pct(value):
    return "–" if value is None else f"{value:.1%}"


def _shares(summary, labels=None):
    if not summary or not summary.get("n"):
        return None
    if summary["type"] == "number":
        counts = summary["counts"]
    else:
        counts = [summary["counts"].get(k) or 0 for k in labels]
    total = sum(counts) or 1
    return [c / total for c in counts]


def _chart(reference, live, width=240, height=48):
    """Bars per bin (numbers) or level: reference and live side by side."""
    source = live if live and live.get("n") else reference
    if not source or not source.get("n"):
        return "<span class=none>no data</span>"
    labels = None
    if source["type"] == "levels":
        labels = list(dict.fromkeys([*((reference or {}).get("counts") or {}),
                                     *((live or {}).get("counts") or {})]))[:30]
    series = [(s, c) for s, c in ((_shares(reference, labels), REF), (_shares(live, labels), LIVE))
              if s is not None]
    if not series:
        return "<span class=none>no data</span>"
    bins = max(len(s) for s, _ in series)
    if not bins:
        return "<span class=none>no data</span>"
    top = max(max(s) for s, _ in series) or 1
    slot = width / bins
    bar = slot / (len(series) + 0.5)
    rects = []
    for j, (shares, colour) in enumerate(series):
        for i, share in enumerate(shares):
            h = share / top * (height - 2)
            rects.append(f"<rect x='{i * slot + j * bar:.1f}' y='{height - h:.1f}' "
                         f"width='{bar:.1f}' height='{h:.1f}' fill='{colour}'/>")
    title = escape(", ".join(labels)) if labels else "bins: the reference's deciles"
    return (f"<svg width={width} height={height} role=img><title>{title}</title>"
            f"{''.join(rects)}</svg>")
