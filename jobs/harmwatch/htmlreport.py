"""HTML reports a person reads: validation pages and drift pages, safe to open when they quote hostile posts.

Posts are user content: a report that shows ``<script>…</script>`` or ``<img onerror=…>`` must show it as
text, never run it. Two rules, used by every HTML page harmwatch writes:

* Anything harmwatch writes into HTML goes through :func:`esc` (``html.escape``). harmwatch's own pages
  (:func:`page`) have no scripts and a Content-Security-Policy that forbids them, so even a missed escape
  could not execute.
* Evidently 0.7's standalone HTML embeds its widget data as ``var x = {json};`` inside a ``<script>``
  element, and ``json.dumps`` leaves ``</script>`` and ``<`` as they are: a post containing
  ``</script><img src=x onerror=…>`` ends the script element and becomes live markup.
  :func:`safe_evidently_html` rewrites exactly those two JSON literals so that ``<``, ``>`` and ``&``
  become ``\\u003c``, ``\\u003e``, ``\\u0026``. JSON only allows these characters inside strings, where
  the escape decodes to the same character, so the report shows the same text. It fails closed: if the
  page does not have the expected shape, it raises instead of writing an unsafe file.

The pages stay offline: Evidently inlines its JavaScript bundle and icon font, and nothing here adds an
external reference.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

_CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;max-width:60em;
overflow-wrap:anywhere}.ok{color:#176f2c}.fail{color:#b3261e;font-weight:600}.warn{color:#8a5a00}
code{background:#f4f4f4;padding:1px 3px}"""


def esc(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, dict | list):
        value = json.dumps(value, default=str)
    return html.escape(str(value), quote=True)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, sections: list[tuple[str, str]]) -> str:
    """A complete HTML document; ``sections`` are (heading, already-escaped HTML) pairs."""
    parts = [f"<h2>{esc(h)}</h2>\n{body}" for h, body in sections]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>\n" + "\n".join(parts) + "</body></html>\n"
    )


def status(ok: bool, warn: bool = False) -> str:
    if ok:
        return "<span class='ok'>passed</span>"
    return "<span class='warn'>warning</span>" if warn else "<span class='fail'>failed</span>"


def render_validation_html(
    summary: dict[str, Any],
    expectations: list[dict[str, Any]],
    batches: list[dict[str, Any]],
    quarantined_sample: list[dict[str, Any]],
) -> str:
    """The validation page of one run: summary, row expectations, batch verdicts, quarantine sample."""
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary.items())
    exp_rows = "".join(
        f"<tr><td>{esc(e['name'])}</td><td><code>{esc(e['type'])}</code></td>"
        f"<td>{status(e['success'], e.get('warn_only', False))}</td><td>{esc(e['unexpected'])}</td>"
        f"<td>{esc(e.get('kwargs', ''))}</td></tr>"
        for e in expectations
    )
    exp_table = (
        "<table><thead><tr><th>check</th><th>expectation</th><th>result</th><th>rows flagged</th>"
        f"<th>arguments</th></tr></thead><tbody>{exp_rows}</tbody></table>"
    )
    batch_cols = list(batches[0].keys()) if batches else ["source_file"]
    q_cols = ["source_file", "source_line", "reason", "text"]
    return page(
        f"harmwatch validation: {summary.get('kind', '')} run {summary.get('run_id', '')}",
        [
            ("Summary", f"<table>{facts}</table>"),
            ("Row-level expectations (Great Expectations)", exp_table),
            ("Batch-level expectations (one row per landing file)", table(batches, batch_cols)),
            (f"Quarantined rows (first {len(quarantined_sample)})", table(quarantined_sample, q_cols)),
        ],
    )


# -- Evidently pages ------------------------------------------------------------------------------

_DATA_START = re.compile(r"<script>\s*var (metric_[0-9a-f]{32}) = ")
_JSON_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


class UnsafeReport(ValueError):
    """The Evidently page did not have the shape :func:`safe_evidently_html` knows how to make safe."""


def json_for_script(text: str) -> str:
    """A JSON text made safe to sit inside ``<script>``: no ``<``, ``>``, ``&`` or line separators."""
    return text.translate(_JSON_UNSAFE)


def safe_evidently_html(page: str) -> str:
    """Evidently's standalone HTML with its embedded data made inert (see the module docstring).

    The two literals are located with a JSON decoder, not a pattern, so their ends are exact even when
    a post contains ``};`` or ``</script>``. The data block is the first ``<script>`` of the page:
    the only thing before it is Evidently's own ``<style>``, which holds no user content.
    """
    start = _DATA_START.search(page)
    if start is None or page.find("<script", 0, start.start()) != -1:
        raise UnsafeReport("Evidently HTML: embedded data block not found where expected")
    dashboard_id = start.group(1)
    decoder = json.JSONDecoder()
    pos = start.end()
    pieces = [page[:pos]]
    for follow in (f";\n    var additional_graphs_{dashboard_id} = ", ";\n</script>"):
        try:
            _, end = decoder.raw_decode(page, pos)
        except json.JSONDecodeError as exc:
            raise UnsafeReport(f"Evidently HTML: embedded data is not JSON ({exc.msg})") from None
        if not page.startswith(follow, end):
            raise UnsafeReport("Evidently HTML: unexpected text after the embedded data")
        pieces.append(json_for_script(page[pos:end]))
        pieces.append(follow)
        pos = end + len(follow)
    pieces.append(page[pos:])
    return "".join(pieces)


SECTION_STYLE = (
    "<style>.hw-summary{font-family:sans-serif;margin:16px 24px;padding:12px 16px;border:1px solid #ccc;"
    "border-radius:6px}.hw-summary table{border-collapse:collapse;margin:8px 0}.hw-summary td,"
    ".hw-summary th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}"
    ".hw-alarm{color:#b00020;font-weight:bold}.hw-ok{color:#1b5e20;font-weight:bold}</style>"
)


def insert_after_body(page: str, fragment: str) -> str:
    """Put a harmwatch section (already escaped) at the top of an Evidently page."""
    marker = "<body>"
    at = page.find(marker)
    if at == -1:
        raise UnsafeReport("Evidently HTML: no <body>")
    at += len(marker)
    return page[:at] + SECTION_STYLE + fragment + page[at:]


def signal_evidence(signal: dict[str, Any]) -> str:
    """One line for a partial-shift signal: its score against its threshold and what moved."""
    if "threshold" not in signal:
        return ""
    (score,) = signal["scores"].values()
    found = signal.get("evidence")
    if isinstance(found, list):
        what = ", ".join(f"{t['term']} ({t['posts']} posts, {t['reference_posts']} before)" for t in found)
    else:
        what = "; ".join(f"{k}: {v['moved']}" for k, v in (found or {}).items())
    return f"{score:g} vs {signal['threshold']:g}: {what or 'nothing'}"


def drift_summary(verdict: Any, facts: dict[str, Any]) -> str:
    """The harmwatch verdict shown above Evidently's widgets; every value escaped."""
    cls, word = ("hw-alarm", "DRIFT DETECTED") if verdict.drift_detected else ("hw-ok", "no drift")
    fact_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts.items())
    sig_rows = [
        {
            "signal": k,
            "drift": v["drift_detected"],
            "drifted columns": f"{v['drifted_columns']}/{v['columns']}",
            "evidence": signal_evidence(v),
        }
        for k, v in verdict.signals.items()
    ]
    col_rows = [
        {"column": k, **{f: v[f] for f in ("signal", "method", "score", "threshold", "drifted")}}
        for k, v in verdict.columns.items()
    ]
    return (
        f"<div class='hw-summary'><h2>harmwatch drift: <span class='{cls}'>{word}</span> "
        f"(drift score {esc(f'{verdict.drift_score:.2f}')})</h2><table>{fact_rows}</table>"
        + table(sig_rows, ["signal", "drift", "drifted columns", "evidence"])
        + table(col_rows, ["column", "signal", "method", "score", "threshold", "drifted"])
        + "</div>"
    )


def render_drift_html(snapshot: Any, verdict: Any, facts: dict[str, Any]) -> str:
    """Evidently's standalone page, data made inert, with the harmwatch verdict on top."""
    evidently_page = safe_evidently_html(snapshot.get_html_str(as_iframe=False))
    return insert_after_body(evidently_page, drift_summary(verdict, facts))
