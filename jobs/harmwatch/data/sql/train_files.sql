-- The landing files that fed the training snapshot: those of its moderated texts' labels and those of
-- its weak labels' reports.
SELECT DISTINCT source_file
FROM labelled
WHERE kh IN (SELECT kh FROM train WHERE label_source = 'moderator')
UNION
SELECT DISTINCT source_file
FROM pending_reports
WHERE kh IN (SELECT kh FROM train WHERE label_source = 'reports') AND coalesce(source_file, '') <> ''
