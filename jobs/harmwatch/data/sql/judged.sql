-- A reporter's vote on a moderated text: their first report of it over all reasons (by reported_at,
-- report id, read order `_row`), with the moderator's label. A report on a benign post is a disagreement
-- (reports claim harm). The full plan reads every report; the state tables' fold (incremental.py)
-- runs this same file on its per-text votes, with `reports` and `moderated` given as common table
-- expressions, the read order as the pair (landing file, row) and the key as the text's ``kh``.
SELECT
    v.reporter_id,
    v.key,
    v.reason,
    m.label,
    m.labelled_at,
    v.reason = m.label AND m.label <> :benign AS agree
FROM (
    SELECT
        r.*,
        row_number() OVER (PARTITION BY reporter_id, kh ORDER BY reported_at, report_id, _row) AS first
    FROM reports AS r
) AS v
JOIN moderated AS m ON m.kh = v.kh
WHERE v.first = 1
