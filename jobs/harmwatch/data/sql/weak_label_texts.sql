-- Per reported text: its first report's text (by reported_at, report id, read order), its posts and
-- landing files (distinct, sorted, '|'-joined), how many reports, when it was first reported.
SELECT
    max(key) AS key,
    kh,
    max(CASE WHEN first = 1 THEN text END) AS text,
    coalesce(array_to_string(array_sort(array_agg(DISTINCT nullif(post_id, ''))), '|'), '') AS post_id,
    count(DISTINCT report_id) AS n_reports,
    coalesce(
        array_to_string(array_sort(array_agg(DISTINCT nullif(source_file, ''))), '|'), ''
    ) AS source_files,
    min(reported_at) AS first_seen
FROM (
    SELECT p.*, row_number() OVER (PARTITION BY kh ORDER BY reported_at, report_id, _row) AS first
    FROM pending_reports AS p
) AS ordered
GROUP BY kh
