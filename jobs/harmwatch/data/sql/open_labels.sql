-- Labelled rows of texts no review decision settled: ordinary moderator labels, one opinion each.
SELECT *
FROM labelled
WHERE key NOT IN (SELECT key FROM decided_labels)
