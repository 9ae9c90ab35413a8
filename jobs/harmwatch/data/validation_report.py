"""What validate writes besides the rows: a run's summary, its HTML report and the validated run's metadata.

Shared by the pandas and Spark engines of validate.
"""

from __future__ import annotations

from harmwatch.data import catalog
from harmwatch.htmlreport import render_validation_html
from harmwatch.storage import Store


def summarise(manifest: dict, rows: int, quarantined: int, expectations: list[dict], rejected: dict) -> dict:
    """A validated run's summary (both engines): ``rows_in == rows_valid + rows_quarantined``."""
    at_ingest = int(manifest.get("rows_quarantined", 0))
    return {
        "kind": manifest["kind"],
        "run_id": manifest["run_id"],
        "rows_in": rows + at_ingest,
        "rows_valid": rows - quarantined,
        "rows_quarantined": quarantined + at_ingest,
        "quarantined_at_ingest": at_ingest,
        "quarantined_at_validate": quarantined,
        "conflicting_label_rows": next(
            (e["unexpected"] for e in expectations if e["name"] == "label_variants"), 0
        ),
        "rejected_batches": rejected,
    }


SAMPLE_CELL_CHARS = 300  # a quarantined text in the report is cut here: enough to see what it is


SAMPLE_TOTAL_CHARS = 200_000  # and the sample stops here: the report is a page to read, not a copy


def cap_sample(sample: list[dict]) -> list[dict]:
    """The quarantine sample as the report shows it: each cell cut, and rows only up to a total size.

    The quarantine itself keeps every row whole; the report only points at it (a sample of 200 rows of
    large posts once made a 20 MB page out of an 8 MB file)."""
    out, total = [], 0
    for row in sample:
        cut = {
            k: (
                v[:SAMPLE_CELL_CHARS] + f"... [{len(v)} chars]"
                if isinstance(v, str) and len(v) > SAMPLE_CELL_CHARS
                else v
            )
            for k, v in row.items()
        }
        total += sum(len(str(v)) for v in cut.values())
        if total > SAMPLE_TOTAL_CHARS:
            break
        out.append(cut)
    return out


def write_report(reports: Store, summary: dict, expectations: list, batches: list, sample: list) -> str:
    """The run's HTML page and GX result JSON in the reports store; the page's URL."""
    rdir = catalog.validation_report(summary["kind"], summary["run_id"])
    page = render_validation_html(summary, expectations, batches, cap_sample(sample))
    reports.write_text(f"{rdir}/report.html", page)
    reports.write_json(f"{rdir}/result.json", {**summary, "expectations": expectations, "batches": batches})
    return reports.url(f"{rdir}/report.html")


def validated_meta(summary: dict, batch_dts: list[str]) -> dict:
    return {**summary, "batch_dts": batch_dts, "status": "rejected" if summary["rejected_batches"] else "ok"}
