-- Per reported text still pending: its first report's text, posts and landing files ('|'-joined), how
-- many reports, when it was first reported (the full plan's weak_label_texts, read off s_reports).
SELECT
    key,
    key AS kh,
    w_text AS text,
    array_to_string(posts, '|') AS post_id,
    len(report_ids) AS n_reports,
    array_to_string(files, '|') AS source_files,
    first_seen
FROM s_reports
WHERE key IN (SELECT key FROM votes)
