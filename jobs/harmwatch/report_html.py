"""HTML reports that are safe to open when they quote hostile posts.

Posts are user content: a report that shows ``<script>…</script>`` or ``<img onerror=…>`` must show
it as text, never run it. Two rules, used by every HTML report harmwatch writes:

* Anything harmwatch writes into HTML goes through :func:`harmwatch.reporting.esc` (``html.escape``).
* Evidently 0.7's standalone HTML embeds its widget data as ``var x = {json};`` inside a ``<script>``
  element, and ``json.dumps`` leaves ``</script>`` and ``<`` as they are: a post containing
  ``</script><img src=x onerror=…>`` ends the script element and becomes live markup.
  :func:`safe_evidently_html` rewrites exactly those two JSON literals so that ``<``, ``>`` and ``&``
  become ``\\u003c``, ``\\u003e``, ``\\u0026``. JSON only allows these characters inside strings, where
  the escape decodes to the same character, so the report shows the same text. It fails closed:
  if the page does not have the expected shape, it raises instead of writing an unsafe file.

The page also stays offline: Evidently inlines its JavaScript bundle and icon font, and nothing here
adds an external reference.
"""

from __future__ import annotations

import json
import re

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
