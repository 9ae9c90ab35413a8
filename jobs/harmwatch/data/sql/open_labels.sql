-- Labelled rows of texts no review decision settled: ordinary moderator labels, one opinion each.
SELECT *
FROM labelled
WHERE kh NOT IN (SELECT kh FROM decided_labels)
