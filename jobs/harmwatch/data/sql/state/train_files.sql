-- The landing files that fed the training snapshot: every labelled file of its moderated texts and the
-- report files of its weak labels.
SELECT DISTINCT unnest(files) AS source_file
FROM s_labels
WHERE key IN (SELECT key FROM train WHERE label_source = 'moderator')
UNION
SELECT DISTINCT unnest(files) AS source_file
FROM s_reports
WHERE key IN (SELECT key FROM train WHERE label_source = 'reports')
