"""Self-contained HTML pages for reports a person reads (validation results).

Every value that comes from data is passed through :func:`html.escape`: posts are user content and a
post such as ``<script>alert(1)</script>`` must show as text, never run. The page has no scripts and
a Content-Security-Policy that forbids them, so even a missed escape could not execute.
"""

from __future__ import annotations

import html
import json
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
