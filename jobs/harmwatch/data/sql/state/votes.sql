-- Fold the new reports into the per-vote state (s_votes): the new rows of the texts the reports touch
-- (they replace the old ones), one per text, reporter and reason, the first such report (by reported_at, report id, read order). A report older than the kept vote replaces
-- it; a later one changes nothing, so folding a day twice or out of order keeps the same row.
WITH cand AS (
    SELECT key, reporter_id, reason, reported_at, report_id, _file, _rn
    FROM s_votes
    WHERE key IN (SELECT key FROM new_reports)
    UNION ALL
    SELECT key, reporter_id, reason, reported_at, report_id, _file, _rn FROM new_reports
)
SELECT key, reporter_id, reason, reported_at, report_id, _file, _rn
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY key, reporter_id, reason ORDER BY reported_at, report_id, _file, _rn
    ) AS place
    FROM cand
)
WHERE place = 1
