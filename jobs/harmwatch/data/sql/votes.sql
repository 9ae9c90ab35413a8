-- One vote per text, reporter and reason: the first such report (by reported_at, report id, read order).
SELECT key, reporter_id, reason, reported_at
FROM (
    SELECT
        p.*,
        row_number() OVER (
            PARTITION BY kh, reporter_id, reason ORDER BY reported_at, report_id, _row
        ) AS first
    FROM pending_reports AS p
) AS ranked
WHERE first = 1
