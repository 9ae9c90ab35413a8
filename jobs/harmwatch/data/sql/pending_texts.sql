-- The texts known only from reports (no moderator labelled them at all), with their first report's
-- text: what the champion is asked about for its check.
SELECT key, text
FROM (
    SELECT r.*, row_number() OVER (PARTITION BY kh ORDER BY reported_at, _row) AS first
    FROM reports AS r
    WHERE kh NOT IN (SELECT kh FROM all_labelled_keys)
) AS pending
WHERE first = 1
